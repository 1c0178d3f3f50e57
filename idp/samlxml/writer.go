package samlxml

import (
	"strings"
	"time"
)

// Namespace URIs (saml-core-2.0-os §1.2; xmldsig-core §4; xmlenc-core §3).
const (
	nsSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsSAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDS    = "http://www.w3.org/2000/09/xmldsig#"
	nsXENC  = "http://www.w3.org/2001/04/xmlenc#"
)

// timeFormat is xs:dateTime in UTC with millisecond precision (saml-core-2.0-os §1.3.3: UTC,
// no time zone offset).
const timeFormat = "2006-01-02T15:04:05.000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// writer appends canonical XML. Callers pass attributes already in canonical order (namespace
// declarations first, by prefix; then unqualified attributes by name), and an empty value
// omits the attribute: every optional attribute Atea writes is meaningless when empty.
type writer struct{ b []byte }

func (w *writer) open(name string, attrs ...string) {
	w.b = append(w.b, '<')
	w.b = append(w.b, name...)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		w.b = append(w.b, ' ')
		w.b = append(w.b, attrs[i]...)
		w.b = append(w.b, '=', '"')
		w.b = appendAttr(w.b, attrs[i+1])
		w.b = append(w.b, '"')
	}
	w.b = append(w.b, '>')
}

func (w *writer) close(name string) {
	w.b = append(w.b, '<', '/')
	w.b = append(w.b, name...)
	w.b = append(w.b, '>')
}

func (w *writer) text(s string) { w.b = appendText(w.b, s) }

// elem writes <name attrs>text</name>; canonical XML never uses the empty-element form.
func (w *writer) elem(name, text string, attrs ...string) {
	w.open(name, attrs...)
	w.text(text)
	w.close(name)
}

// appendText escapes character data as C14N does (xml-c14n §2.3: &, <, > and CR).
func appendText(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "&<>\r") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '\r':
			b = append(b, "&#xD;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendAttr escapes an attribute value as C14N does (&, <, ", TAB, LF, CR).
func appendAttr(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "&<\"\t\n\r") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\t':
			b = append(b, "&#x9;"...)
		case '\n':
			b = append(b, "&#xA;"...)
		case '\r':
			b = append(b, "&#xD;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}
