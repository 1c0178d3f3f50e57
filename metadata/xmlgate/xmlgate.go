package xmlgate

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// ErrRejected is wrapped by every error Check and Inflate return for unacceptable input.
var ErrRejected = errors.New("xmlgate: rejected")

// ErrTooLarge is wrapped by errors for input (or inflated output) over the byte cap. It also
// satisfies errors.Is(err, ErrRejected), so callers that only care about rejection need one test.
var ErrTooLarge error = tooLargeError{}

// tooLargeError is the type of ErrTooLarge; its Is method makes it match ErrRejected too.
type tooLargeError struct{}

func (tooLargeError) Error() string { return "xmlgate: rejected: too large" }

// Is reports whether target is ErrRejected, so that ErrTooLarge is a kind of rejection.
func (tooLargeError) Is(target error) bool { return target == ErrRejected } //nolint:errorlint // identity of our own sentinel

// Namespaces whose prefixes may not be rebound anywhere in a document (SECURITY.md §2.10).
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	nsXMLEnc    = "http://www.w3.org/2001/04/xmlenc#"

	// Reserved by Namespaces in XML 1.0 §3.
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

func protected(uri string) bool {
	switch uri {
	case nsAssertion, nsProtocol, nsMetadata, nsDSig, nsXMLEnc:
		return true
	}
	return false
}

// Limits bounds what Check accepts. Every field must be positive: a zero field allows nothing
// (fail closed), so start from ProtocolLimits or MetadataLimits and adjust.
type Limits struct {
	// MaxBytes caps the document size in bytes.
	MaxBytes int
	// MaxDepth caps element nesting; the root element is at depth 1.
	MaxDepth int
	// MaxTokens caps the number of tokens (elements, end tags, text runs, comments, …).
	MaxTokens int
	// MaxAttrs caps the attributes on one element, namespace declarations included.
	MaxAttrs int
	// MaxNSDecls caps the xmlns / xmlns:p declarations on one element.
	MaxNSDecls int
	// MaxNameLen caps the length of an element or attribute name (prefix:local).
	MaxNameLen int
	// MaxAttrValueLen caps the length of one attribute value after entity decoding.
	MaxAttrValueLen int
	// AllowComments permits comments. Peers' protocol messages never need them (R1), and comment
	// injection is the Duo Labs 2018 truncation attack (SECURITY.md §2.4).
	AllowComments bool
	// AllowPrefixRebinding permits a prefix bound to a SAML, DSig or XMLEnc namespace to be
	// bound elsewhere to another URI (R1 refuses it). Only for a wrapper whose payload is
	// gated again on its own with the rule on: see SOAPEnvelopeLimits.
	AllowPrefixRebinding bool
}

// ProtocolLimits returns the limits for SAML protocol messages from peers (SECURITY.md §2.9): a
// real AuthnRequest or Response is a few KiB.
func ProtocolLimits() Limits {
	return Limits{
		MaxBytes:        256 << 10,
		MaxDepth:        64,
		MaxTokens:       20000,
		MaxAttrs:        64,
		MaxNSDecls:      32,
		MaxNameLen:      256,
		MaxAttrValueLen: 16 << 10,
		AllowComments:   false,
	}
}

// SOAPEnvelopeLimits returns the limits for a SOAP envelope around a protocol message:
// ProtocolLimits, with prefix rebinding allowed, because pysaml2 writes its envelopes as
// <ns0:Envelope xmlns:ns0="…soap/envelope/"> around <ns0:LogoutRequest xmlns:ns0="…protocol">.
// The caller must take the message out, serialise it standing alone and gate that with
// ProtocolLimits before reading or verifying anything in it.
func SOAPEnvelopeLimits() Limits {
	l := ProtocolLimits()
	l.AllowPrefixRebinding = true
	return l
}

// MetadataLimits returns the limits for SP and hub metadata documents. Aggregates may be larger
// than 4 MiB: the caller raises MaxBytes (and MaxTokens) for sources it knows to be aggregates.
// Comments are allowed because hand-edited metadata carries them; they are outside any data Atea
// extracts.
func MetadataLimits() Limits {
	return Limits{
		MaxBytes:        4 << 20,
		MaxDepth:        64,
		MaxTokens:       500000,
		MaxAttrs:        64,
		MaxNSDecls:      32,
		MaxNameLen:      256,
		MaxAttrValueLen: 64 << 10,
		AllowComments:   true,
	}
}

func reject(rule string) error { return fmt.Errorf("%w: %s", ErrRejected, rule) }

func rejectf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRejected, fmt.Sprintf(format, args...))
}

// Check reports whether raw is acceptable XML under lim: nil if so, otherwise an error wrapping
// ErrRejected (ErrTooLarge for the size cap) that names the failed rule. It never panics and
// never echoes document content.
func Check(raw []byte, lim Limits) error {
	if len(raw) > lim.MaxBytes {
		return fmt.Errorf("%w: %d bytes exceed the limit of %d", ErrTooLarge, len(raw), lim.MaxBytes)
	}
	// etree ignores the declared charset and encoding/xml assumes UTF-8: only UTF-8 means the
	// same thing to every parser (SECURITY.md §2.1).
	if !utf8.Valid(raw) {
		return reject("invalid UTF-8")
	}
	if err := checkDeclaration(raw); err != nil {
		return err
	}
	g := &gate{
		lim:      lim,
		ids:      map[string]struct{}{},
		bindings: map[string]map[string]struct{}{},
	}
	if err := g.run(raw); err != nil {
		return err
	}
	return nil
}

// gate holds the state of one Check run.
type gate struct {
	lim    Limits
	tokens int
	// stack holds the open elements: raw name and the namespace scope they opened.
	stack []frame
	// ids is every value of an unprefixed ID attribute seen so far.
	ids map[string]struct{}
	// bindings is every URI each non-empty prefix was bound to anywhere in the document.
	bindings  map[string]map[string]struct{}
	rootSeen  bool
	rootDone  bool
	sawTokens bool
}

type frame struct {
	raw xml.Name
	ns  map[string]string // prefix → URI declared on this element ("" = default namespace)
}

func (g *gate) run(raw []byte) error {
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	for {
		offset := d.InputOffset()
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// Syntax errors quote content (entity names, element names): report only where.
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return rejectf("malformed XML at line %d", se.Line)
			}
			return reject("malformed XML")
		}
		g.tokens++
		if g.tokens > g.lim.MaxTokens {
			return rejectf("more than %d tokens", g.lim.MaxTokens)
		}
		// The round-trip validator catches encoding/xml namespace instabilities that make one
		// parse differ from the next (CVE-2020-29509, CVE-2020-29511; crewjam CVE-2020-27846).
		// xrv.Validate is exactly a RawToken loop calling CheckToken; running CheckToken on
		// this loop's tokens (from a stricter decoder) parses the message once instead of
		// twice. Its error text quotes tokens, so only its failure is reported.
		if err := xrv.CheckToken(tok); err != nil {
			return reject("XML round-trip validation failed")
		}
		first := !g.sawTokens
		g.sawTokens = true
		switch t := tok.(type) {
		case xml.ProcInst:
			if err := g.procInst(t, first, offset); err != nil {
				return err
			}
		case xml.Directive:
			if isDoctype(t) {
				return reject("DOCTYPE not allowed")
			}
			return reject("directive not allowed")
		case xml.Comment:
			if !g.lim.AllowComments {
				return reject("comments not allowed")
			}
		case xml.CharData:
			if len(g.stack) == 0 && len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
				if g.rootDone {
					return reject("content after the root element")
				}
				return reject("content before the root element")
			}
		case xml.StartElement:
			if err := g.start(t); err != nil {
				return err
			}
		case xml.EndElement:
			if err := g.end(t); err != nil {
				return err
			}
		}
	}
	if !g.rootSeen {
		return reject("no root element")
	}
	if len(g.stack) != 0 {
		return reject("unclosed element")
	}
	return nil
}

func isDoctype(d xml.Directive) bool {
	return len(d) >= 7 && strings.EqualFold(string(d[:7]), "DOCTYPE")
}

// procInst allows exactly one processing instruction: the XML declaration, as the very first
// bytes of the document (XML 1.0 §2.8), declaring UTF-8 if it declares an encoding.
func (g *gate) procInst(p xml.ProcInst, first bool, offset int64) error {
	if !strings.EqualFold(p.Target, "xml") {
		return reject("processing instruction not allowed")
	}
	if !first || offset != 0 {
		return reject("XML declaration not at the start of the document")
	}
	// Its encoding was checked by checkDeclaration before decoding started.
	return nil
}

// checkDeclaration rejects a leading XML declaration that names an encoding other than UTF-8.
// It runs before the decoder, which would otherwise fail on such a declaration with an error
// that does not say which rule failed.
func checkDeclaration(raw []byte) error {
	const open = "<?xml"
	if !bytes.HasPrefix(raw, []byte(open)) || len(raw) == len(open) {
		return nil
	}
	switch raw[len(open)] {
	case ' ', '\t', '\r', '\n':
	default:
		return nil // a PI such as <?xml-stylesheet?>, refused by the token loop
	}
	end := bytes.Index(raw, []byte("?>"))
	if end < 0 {
		return reject("malformed XML declaration")
	}
	enc, ok, err := pseudoAttr(string(raw[len(open):end]), "encoding")
	if err != nil {
		return err
	}
	if ok && !strings.EqualFold(enc, "utf-8") {
		return reject("encoding other than UTF-8 declared")
	}
	return nil
}

// pseudoAttr reads one pseudo-attribute of the XML declaration. Unlike encoding/xml's lenient
// lookup it fails on a malformed declaration rather than guessing.
func pseudoAttr(inst, name string) (string, bool, error) {
	s := inst
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			return "", false, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", false, reject("malformed XML declaration")
		}
		key := strings.TrimRight(s[:eq], " \t\r\n")
		s = strings.TrimLeft(s[eq+1:], " \t\r\n")
		if s == "" || (s[0] != '"' && s[0] != '\'') {
			return "", false, reject("malformed XML declaration")
		}
		end := strings.IndexByte(s[1:], s[0])
		if end < 0 {
			return "", false, reject("malformed XML declaration")
		}
		val := s[1 : 1+end]
		s = s[end+2:]
		if key == name {
			return val, true, nil
		}
	}
}

func (g *gate) start(t xml.StartElement) error {
	if g.rootDone {
		return reject("more than one root element")
	}
	g.rootSeen = true
	if len(g.stack)+1 > g.lim.MaxDepth {
		return rejectf("nesting deeper than %d", g.lim.MaxDepth)
	}
	if err := g.checkName(t.Name); err != nil {
		return err
	}
	if len(t.Attr) > g.lim.MaxAttrs {
		return rejectf("more than %d attributes on one element", g.lim.MaxAttrs)
	}

	// First pass: namespace declarations of this element, so that its own name and attributes
	// resolve against them (Namespaces in XML 1.0 §6).
	f := frame{raw: t.Name}
	decls := 0
	for _, a := range t.Attr {
		prefix, isDecl := nsDecl(a.Name)
		if !isDecl {
			continue
		}
		decls++
		if decls > g.lim.MaxNSDecls {
			return rejectf("more than %d namespace declarations on one element", g.lim.MaxNSDecls)
		}
		if err := g.declare(prefix, a.Value); err != nil {
			return err
		}
		if f.ns == nil {
			f.ns = map[string]string{}
		}
		if _, dup := f.ns[prefix]; dup {
			return reject("duplicate namespace declaration")
		}
		f.ns[prefix] = a.Value
	}
	g.stack = append(g.stack, f)

	if _, ok := g.resolve(t.Name, true); !ok {
		return reject("element prefix not declared")
	}

	seenRaw := make(map[xml.Name]struct{}, len(t.Attr))
	seenResolved := make(map[xml.Name]struct{}, len(t.Attr))
	for _, a := range t.Attr {
		if err := g.checkName(a.Name); err != nil {
			return err
		}
		if len(a.Value) > g.lim.MaxAttrValueLen {
			return rejectf("attribute value longer than %d bytes", g.lim.MaxAttrValueLen)
		}
		// encoding/xml keeps the last of two equal attributes, etree too: an XML 1.0 §3.1
		// well-formedness error that must not reach them.
		if _, dup := seenRaw[a.Name]; dup {
			return reject("duplicate attribute")
		}
		seenRaw[a.Name] = struct{}{}
		if _, isDecl := nsDecl(a.Name); isDecl {
			continue
		}
		rn, ok := g.resolve(a.Name, false)
		if !ok {
			return reject("attribute prefix not declared")
		}
		if _, dup := seenResolved[rn]; dup {
			return reject("duplicate attribute")
		}
		seenResolved[rn] = struct{}{}
		// Only the unprefixed ID attribute is a SAML ID (saml-core-2.0-os §1.3.4); duplicate
		// values are how XSW variants make the reference resolve elsewhere (SECURITY.md §2.2).
		if a.Name.Space == "" && a.Name.Local == "ID" {
			if _, dup := g.ids[a.Value]; dup {
				return reject("duplicate ID value")
			}
			g.ids[a.Value] = struct{}{}
		}
	}
	return nil
}

func (g *gate) end(t xml.EndElement) error {
	if len(g.stack) == 0 {
		return reject("unexpected end element")
	}
	top := g.stack[len(g.stack)-1]
	if top.raw != t.Name {
		return reject("mismatched end element")
	}
	g.stack = g.stack[:len(g.stack)-1]
	if len(g.stack) == 0 {
		g.rootDone = true
	}
	return nil
}

func (g *gate) checkName(n xml.Name) error {
	if len(n.Space)+len(n.Local)+1 > g.lim.MaxNameLen {
		return rejectf("name longer than %d bytes", g.lim.MaxNameLen)
	}
	// encoding/xml puts names such as ":a" or "a:" whole into Local; they are not QNames.
	if n.Local == "" || strings.Contains(n.Local, ":") {
		return reject("name is not a QName")
	}
	return nil
}

// nsDecl reports whether the raw attribute name is a namespace declaration, and for which
// prefix ("" for the default namespace).
func nsDecl(n xml.Name) (string, bool) {
	switch {
	case n.Space == "" && n.Local == "xmlns":
		return "", true
	case n.Space == "xmlns":
		return n.Local, true
	}
	return "", false
}

// declare records a namespace declaration and applies the reserved-prefix rules of Namespaces in
// XML 1.0 §3 and Atea's no-rebinding rule (SECURITY.md §2.10).
func (g *gate) declare(prefix, uri string) error {
	switch {
	case prefix == "xmlns":
		return reject("the xmlns prefix must not be declared")
	case prefix == "xml" && uri != nsXML, prefix != "xml" && uri == nsXML:
		return reject("the xml prefix or namespace rebound")
	case uri == nsXMLNS:
		return reject("the xmlns namespace must not be bound")
	case prefix != "" && uri == "":
		// Undeclaring a prefix is not allowed in XML 1.0 namespaces.
		return reject("empty namespace URI for a prefix")
	}
	if prefix == "" {
		// Default-namespace switches are common and legitimate in metadata (ADFS writes
		// <KeyInfo xmlns="…xmldsig#">); resolution by URI in every consumer handles them.
		return nil
	}
	set := g.bindings[prefix]
	if set == nil {
		set = map[string]struct{}{}
		g.bindings[prefix] = set
	}
	set[uri] = struct{}{}
	if len(set) > 1 && !g.lim.AllowPrefixRebinding {
		for u := range set {
			if protected(u) {
				return reject("SAML, DSig or XMLEnc namespace prefix rebound")
			}
		}
	}
	return nil
}

// resolve maps a raw name to its namespace URI using the open elements' declarations. An
// unprefixed attribute has no namespace; a prefix nobody declared is an error.
func (g *gate) resolve(n xml.Name, element bool) (xml.Name, bool) {
	if n.Space == "" && !element {
		return n, true
	}
	if n.Space == "xml" {
		return xml.Name{Space: nsXML, Local: n.Local}, true
	}
	for i := len(g.stack) - 1; i >= 0; i-- {
		if uri, ok := g.stack[i].ns[n.Space]; ok {
			return xml.Name{Space: uri, Local: n.Local}, true
		}
	}
	if n.Space == "" {
		return n, true // no default namespace in scope
	}
	return n, false
}
