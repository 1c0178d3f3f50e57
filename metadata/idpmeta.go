package metadata

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

// ErrInvalidIdPInfo is returned (wrapped) by BuildIdPMetadata when IdPInfo cannot make a valid
// metadata document.
var ErrInvalidIdPInfo = errors.New("metadata: invalid IdP info")

// IdPInfo is what Atea publishes about itself as an IdP.
type IdPInfo struct {
	// EntityID is Atea's entityID (required, at most 1024 bytes).
	EntityID string
	// SSOURL is the SingleSignOnService location for both HTTP-Redirect and HTTP-POST
	// (required; an absolute http or https URL).
	SSOURL string
	// SigningCerts are published as KeyDescriptor use="signing", in order (at least one; two
	// during a key rollover).
	SigningCerts []*x509.Certificate
	// NameIDFormats are the NameID formats Atea can issue, in order.
	NameIDFormats []string
	// WantAuthnRequestsSigned is published on the IDPSSODescriptor (saml-metadata-2.0-os §2.4.3).
	WantAuthnRequestsSigned bool
	// OrganizationName and OrganizationURL make the md:Organization element; both or neither.
	OrganizationName, OrganizationURL string
	// DisplayNames are optional mdui:DisplayName values by xml:lang (es, eu, en, …).
	DisplayNames map[string]string
	// ContactEmail is an optional technical contact ("mailto:" is added when missing).
	ContactEmail string
}

// BuildIdPMetadata returns Atea's IdP metadata: an md:EntityDescriptor with one
// IDPSSODescriptor (saml-metadata-2.0-os §2.4.3) holding the signing keys, the NameID
// formats and SingleSignOnService endpoints for HTTP-Redirect and HTTP-POST, plus
// mdui:UIInfo, Organization and a technical ContactPerson when given. Element order follows
// the schema. The output depends only on info (no clock, no randomness), so it is stable
// across restarts and can be compared byte for byte. The document is not signed.
//
// Atea writes its own document instead of crewjam's IdentityProvider.Metadata because crewjam
// refuses requests whenever WantAuthnRequestsSigned is published (STYLE.md §A2).
func BuildIdPMetadata(info IdPInfo) ([]byte, error) {
	if err := info.validate(); err != nil {
		return nil, err
	}
	w := &xmlWriter{}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	rootAttrs := []string{"xmlns:md", nsMD, "xmlns:ds", nsDS}
	if len(info.DisplayNames) > 0 {
		rootAttrs = append(rootAttrs, "xmlns:mdui", nsMDUI)
	}
	rootAttrs = append(rootAttrs, "entityID", info.EntityID)
	w.open("md:EntityDescriptor", rootAttrs...)

	want := "false"
	if info.WantAuthnRequestsSigned {
		want = "true"
	}
	w.open("md:IDPSSODescriptor", "protocolSupportEnumeration", protocolSAML2, "WantAuthnRequestsSigned", want)
	if len(info.DisplayNames) > 0 {
		w.open("md:Extensions")
		w.open("mdui:UIInfo")
		langs := make([]string, 0, len(info.DisplayNames))
		for l := range info.DisplayNames {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		for _, l := range langs {
			w.text("mdui:DisplayName", info.DisplayNames[l], "xml:lang", l)
		}
		w.close("mdui:UIInfo")
		w.close("md:Extensions")
	}
	for _, c := range info.SigningCerts {
		w.open("md:KeyDescriptor", "use", "signing")
		w.open("ds:KeyInfo")
		w.open("ds:X509Data")
		w.text("ds:X509Certificate", base64.StdEncoding.EncodeToString(c.Raw))
		w.close("ds:X509Data")
		w.close("ds:KeyInfo")
		w.close("md:KeyDescriptor")
	}
	for _, f := range info.NameIDFormats {
		w.text("md:NameIDFormat", f)
	}
	w.empty("md:SingleSignOnService", "Binding", BindingHTTPRedirect, "Location", info.SSOURL)
	w.empty("md:SingleSignOnService", "Binding", BindingHTTPPost, "Location", info.SSOURL)
	w.close("md:IDPSSODescriptor")

	if info.OrganizationName != "" {
		w.open("md:Organization")
		w.text("md:OrganizationName", info.OrganizationName, "xml:lang", "en")
		w.text("md:OrganizationDisplayName", info.OrganizationName, "xml:lang", "en")
		w.text("md:OrganizationURL", info.OrganizationURL, "xml:lang", "en")
		w.close("md:Organization")
	}
	if info.ContactEmail != "" {
		email := info.ContactEmail
		if !strings.HasPrefix(email, "mailto:") {
			email = "mailto:" + email
		}
		w.open("md:ContactPerson", "contactType", "technical")
		w.text("md:EmailAddress", email)
		w.close("md:ContactPerson")
	}
	w.close("md:EntityDescriptor")

	out := w.buf.Bytes()
	// What Atea publishes must pass the gate every peer of Atea's kind applies (R1).
	if err := xmlgate.Check(out, xmlgate.MetadataLimits()); err != nil {
		return nil, fmt.Errorf("metadata: IdP metadata fails the XML gate: %w", err)
	}
	return out, nil
}

func (info *IdPInfo) validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidIdPInfo}, a...)...))
	}
	if strings.TrimSpace(info.EntityID) == "" || len(info.EntityID) > maxEntityIDLen {
		bad("entityID empty or longer than %d bytes", maxEntityIDLen)
	}
	if err := checkPublishedURL(info.SSOURL); err != nil {
		bad("SSO URL: %v", err)
	}
	if len(info.SigningCerts) == 0 {
		bad("no signing certificate")
	}
	for i, c := range info.SigningCerts {
		if c == nil || len(c.Raw) == 0 {
			bad("signing certificate %d is empty", i)
		}
	}
	for i, f := range info.NameIDFormats {
		if strings.TrimSpace(f) == "" {
			bad("NameID format %d is empty", i)
		}
	}
	if (info.OrganizationName == "") != (info.OrganizationURL == "") {
		// md:Organization requires OrganizationName, DisplayName and URL (saml-metadata-2.0-os §2.3.2.1).
		bad("organization name and URL go together")
	}
	if info.OrganizationURL != "" {
		if err := checkPublishedURL(info.OrganizationURL); err != nil {
			bad("organization URL: %v", err)
		}
	}
	texts := []string{info.EntityID, info.SSOURL, info.OrganizationName, info.OrganizationURL, info.ContactEmail}
	texts = append(texts, info.NameIDFormats...)
	for l, n := range info.DisplayNames {
		if l == "" || !isLangTag(l) {
			bad("display name language %q is not a language tag", clip(l, 20))
		}
		if strings.TrimSpace(n) == "" {
			bad("display name for %q is empty", clip(l, 20))
		}
		texts = append(texts, n)
	}
	for _, s := range texts {
		if !plainText(s) {
			bad("text with invalid UTF-8 or control characters")
			break
		}
	}
	return errors.Join(errs...)
}

func checkPublishedURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("not an absolute URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("scheme not http or https")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return errors.New("has a fragment")
	}
	return nil
}

// plainText reports whether s is valid UTF-8 without control characters, so that it can be
// written into XML unchanged (XML 1.0 §2.2 forbids most C0 characters outright).
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF
	})
}

func isLangTag(s string) bool {
	for _, r := range s {
		if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return len(s) <= 35
}

// xmlWriter writes indented XML with fixed prefixes. Values are escaped with encoding/xml's
// EscapeText, which also escapes quotes, so it serves for attributes and text alike.
type xmlWriter struct {
	buf   bytes.Buffer
	depth int
}

func (w *xmlWriter) raw(s string) { w.buf.WriteString(s) }

func (w *xmlWriter) indent() {
	for range w.depth {
		w.buf.WriteString("  ")
	}
}

func (w *xmlWriter) start(name string, attrs []string) {
	w.indent()
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.buf.WriteByte(' ')
		w.buf.WriteString(attrs[i])
		w.buf.WriteString(`="`)
		_ = xml.EscapeText(&w.buf, []byte(attrs[i+1])) // writes to a bytes.Buffer: cannot fail
		w.buf.WriteByte('"')
	}
}

func (w *xmlWriter) open(name string, attrs ...string) {
	w.start(name, attrs)
	w.buf.WriteString(">\n")
	w.depth++
}

func (w *xmlWriter) close(name string) {
	w.depth--
	w.indent()
	w.buf.WriteString("</" + name + ">\n")
}

func (w *xmlWriter) empty(name string, attrs ...string) {
	w.start(name, attrs)
	w.buf.WriteString("/>\n")
}

func (w *xmlWriter) text(name, value string, attrs ...string) {
	w.start(name, attrs)
	w.buf.WriteByte('>')
	_ = xml.EscapeText(&w.buf, []byte(value))
	w.buf.WriteString("</" + name + ">\n")
}
