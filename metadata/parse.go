package metadata

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

// XML namespaces read by Parse and written by BuildIdPMetadata.
const (
	nsMD   = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDS   = "http://www.w3.org/2000/09/xmldsig#"
	nsMDUI = "urn:oasis:names:tc:SAML:metadata:ui"
	nsXML  = "http://www.w3.org/XML/1998/namespace"

	protocolSAML2 = "urn:oasis:names:tc:SAML:2.0:protocol"
)

const (
	// maxEntityIDLen is the limit of saml-core-2.0-os §8.3.6 on entity identifiers.
	maxEntityIDLen = 1024
	// maxCertDER bounds one certificate (SECURITY.md §2.9: KeyDescriptor certs ≤ 8 KiB).
	maxCertDER = 8 << 10
	// maxCertText bounds one X509Certificate element's text before base64 decoding; it leaves
	// room for line breaks and for crewjam's habit of concatenating intermediates into it.
	maxCertText = 64 << 10
	// RSA modulus bounds: below 2048 bits is weak; above 8192 bits verification cost becomes a
	// denial-of-service lever (SECURITY.md §2.9).
	minRSABits = 2048
	maxRSABits = 8192
)

// ErrNotMetadata is returned by Parse when the document's root element is not an
// md:EntityDescriptor or md:EntitiesDescriptor (by namespace URI and local name).
var ErrNotMetadata = errors.New("metadata: root element is not md:EntityDescriptor or md:EntitiesDescriptor")

// ErrInvalidEntity is matched (errors.Is) by every per-entity problem Parse reports: the entity
// was skipped, the rest of the document was still used.
var ErrInvalidEntity = errors.New("metadata: invalid entity")

// Reasons for skipping an entity. They are matched with errors.Is (in tests, for instance) and
// each one states the rule in the error text.
var (
	errEntityID        = errors.New("entityID empty or longer than 1024 bytes")
	errDuplicateEntity = errors.New("entityID appears more than once in the document")
	errNoSPSSO         = errors.New("no SPSSODescriptor supporting " + protocolSAML2)
	errManySPSSO       = errors.New("more than one SPSSODescriptor supporting " + protocolSAML2)
	errExpired         = errors.New("validUntil is in the past")
	errBadTime         = errors.New("validUntil is not an xs:dateTime")
	errBadBool         = errors.New("attribute is not an xs:boolean")
	errNoPOSTACS       = errors.New("no HTTP-POST AssertionConsumerService")
	errACSLocation     = errors.New("AssertionConsumerService Location not allowed")
	errACSIndex        = errors.New("AssertionConsumerService index missing or not an xs:unsignedShort")
	errDuplicateIndex  = errors.New("AssertionConsumerService index used twice")
	errSLOLocation     = errors.New("SingleLogoutService Location not allowed")
	errKeyDescriptor   = errors.New("KeyDescriptor malformed")
	errCertificate     = errors.New("certificate not acceptable")
)

// EntityError is one per-entity problem found by Parse: the entity was skipped. It matches
// ErrInvalidEntity and the specific reason with errors.Is.
type EntityError struct {
	// EntityID is the entity's entityID as written (possibly empty or over-long).
	EntityID string
	// Err is the reason.
	Err error
}

// Error implements error.
func (e *EntityError) Error() string {
	return fmt.Sprintf("metadata: entity %q: %v", clip(e.EntityID, 200), e.Err)
}

// Unwrap returns ErrInvalidEntity and the reason.
func (e *EntityError) Unwrap() []error { return []error{ErrInvalidEntity, e.Err} }

// Parse gates raw with xmlgate (SECURITY.md R1) and then reads an md:EntityDescriptor or an
// md:EntitiesDescriptor (nested EntitiesDescriptors allowed), telling the two apart by the root
// element's namespace URI and local name. Every entity is validated against Atea's rules at
// time now (see the package documentation); an invalid one is skipped and its problem, an
// *EntityError, is returned in the second result. The third result is a fatal error for the
// whole document: nothing in it was used. Signatures on the document are not verified here.
func Parse(raw []byte, now time.Time) ([]*SP, []error, error) {
	return parseWithLimitsDOM(raw, now, xmlgate.MetadataLimits())
}

func rootElement(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return xml.StartElement{}, fmt.Errorf("%w (no root element)", ErrNotMetadata)
		}
		if err != nil {
			return xml.StartElement{}, fmt.Errorf("metadata: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

type parser struct {
	now      time.Time
	seen     map[string]bool
	sps      []*SP
	problems []error
}

// entities walks an EntitiesDescriptor in document order. Its validUntil bounds every entity
// inside it (saml-metadata-2.0-os §2.3.1).
func (p *parser) entities(d *xml.Decoder, start xml.StartElement, inherited time.Time) error {
	vu, err := timeAttr(start.Attr, "validUntil")
	if err != nil {
		return fmt.Errorf("metadata: EntitiesDescriptor: %w", err)
	}
	bound := earliest(inherited, vu)
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name {
			case xml.Name{Space: nsMD, Local: "EntityDescriptor"}:
				err = p.entity(d, t, bound)
			case xml.Name{Space: nsMD, Local: "EntitiesDescriptor"}:
				err = p.entities(d, t, bound)
			default: // ds:Signature, md:Extensions, …
				err = d.Skip()
			}
			if err != nil {
				return fmt.Errorf("metadata: %w", err)
			}
		case xml.EndElement:
			return nil
		}
	}
}

func (p *parser) entity(d *xml.Decoder, start xml.StartElement, bound time.Time) error {
	var x xEntity
	if err := d.DecodeElement(&x, &start); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	id, _ := attr(x.Attrs, "entityID")
	sp, err := p.build(&x, id, bound)
	switch {
	case err != nil:
		p.problems = append(p.problems, &EntityError{EntityID: id, Err: err})
	case p.seen[id]:
		p.problems = append(p.problems, &EntityError{EntityID: id, Err: errDuplicateEntity})
	default:
		p.seen[id] = true
		p.sps = append(p.sps, sp)
	}
	return nil
}

// build validates one EntityDescriptor and extracts its SAML 2.0 SP role.
func (p *parser) build(x *xEntity, id string, bound time.Time) (*SP, error) {
	if strings.TrimSpace(id) == "" || len(id) > maxEntityIDLen {
		return nil, errEntityID
	}
	entityVU, err := timeAttr(x.Attrs, "validUntil")
	if err != nil {
		return nil, err
	}
	var role *xSPSSO
	for i := range x.SPSSO {
		protos, _ := attr(x.SPSSO[i].Attrs, "protocolSupportEnumeration")
		if !hasToken(protos, protocolSAML2) {
			continue
		}
		if role != nil {
			// Two SAML 2.0 SP roles leave it open which keys and endpoints apply.
			return nil, errManySPSSO
		}
		role = &x.SPSSO[i]
	}
	if role == nil {
		return nil, errNoSPSSO
	}
	roleVU, err := timeAttr(role.Attrs, "validUntil")
	if err != nil {
		return nil, err
	}
	sp := &SP{EntityID: id, ValidUntil: earliest(bound, entityVU, roleVU)}
	// Metadata past its validUntil must not be used (saml-metadata-2.0-os §2.3.1; SECURITY.md
	// §4.11: a replayed old document would bring back old keys and endpoints).
	if !sp.ValidUntil.IsZero() && !sp.ValidUntil.After(p.now) {
		return nil, fmt.Errorf("%w (%s)", errExpired, sp.ValidUntil.UTC().Format(time.RFC3339))
	}
	if sp.AuthnRequestsSigned, err = boolAttr(role.Attrs, "AuthnRequestsSigned"); err != nil {
		return nil, err
	}
	if err := sp.readACS(role.ACS); err != nil {
		return nil, err
	}
	if err := sp.readSLO(role.SLO); err != nil {
		return nil, err
	}
	if err := sp.readKeys(role.Keys); err != nil {
		return nil, err
	}
	for _, f := range role.NameIDFormats {
		if f = strings.TrimSpace(f); f != "" {
			sp.NameIDFormats = append(sp.NameIDFormats, f)
		}
	}
	// mdui:UIInfo belongs in the role's Extensions (mdui §2.1); some operators put it on the
	// entity, which is accepted as a fallback.
	sp.DisplayNames = displayNames(role.Extensions)
	if sp.DisplayNames == nil {
		sp.DisplayNames = displayNames(x.Extensions)
	}
	return sp, nil
}

// readACS validates every AssertionConsumerService (whatever its binding: a bad endpoint is a
// sign of bad metadata) and keeps the HTTP-POST ones.
func (sp *SP) readACS(list []xEndpoint) error {
	seen := map[int]bool{}
	var explicitFalse []bool
	for _, x := range list {
		binding, _ := attr(x.Attrs, "Binding")
		loc, _ := attr(x.Attrs, "Location")
		raw, ok := attr(x.Attrs, "index")
		idx, err := strconv.ParseUint(strings.TrimSpace(raw), 10, 16)
		if !ok || err != nil {
			return errACSIndex
		}
		i := int(idx)
		// Indexes are unique within the role (saml-metadata-2.0-os §2.2.3); a duplicate makes
		// AssertionConsumerServiceIndex ambiguous.
		if seen[i] {
			return fmt.Errorf("%w (%d)", errDuplicateIndex, i)
		}
		seen[i] = true
		if err := checkLocation(loc); err != nil {
			return fmt.Errorf("%w: index %d: %w", errACSLocation, i, err)
		}
		def, err := boolAttr(x.Attrs, "isDefault")
		if err != nil {
			return err
		}
		if strings.TrimSpace(binding) != BindingHTTPPost {
			continue
		}
		_, set := attr(x.Attrs, "isDefault")
		sp.ACS = append(sp.ACS, Endpoint{Binding: BindingHTTPPost, Location: loc, Index: i, IsDefault: def})
		explicitFalse = append(explicitFalse, set && !def)
	}
	if len(sp.ACS) == 0 {
		return errNoPOSTACS
	}
	sp.defaultPos = defaultPosition(sp.ACS, explicitFalse)
	return nil
}

// readSLO validates every SingleLogoutService (whatever its binding, as readACS does) and keeps
// those of HTTP-Redirect, HTTP-POST and SOAP. A LogoutRequest or LogoutResponse goes only to
// an address from here (SECURITY.md §4.10: never to one named in a message or RelayState).
func (sp *SP) readSLO(list []xEndpoint) error {
	for i, x := range list {
		binding, _ := attr(x.Attrs, "Binding")
		loc, _ := attr(x.Attrs, "Location")
		if err := checkLocation(loc); err != nil {
			return fmt.Errorf("%w: #%d: %w", errSLOLocation, i, err)
		}
		respLoc, hasResp := attr(x.Attrs, "ResponseLocation")
		if hasResp {
			if err := checkLocation(respLoc); err != nil {
				return fmt.Errorf("%w: #%d ResponseLocation: %w", errSLOLocation, i, err)
			}
		}
		switch b := strings.TrimSpace(binding); b {
		case BindingHTTPRedirect, BindingHTTPPost, BindingSOAP:
			sp.SLO = append(sp.SLO, Endpoint{Binding: b, Location: loc, ResponseLocation: respLoc})
		}
	}
	return nil
}

// checkLocation allows only absolute https URLs with a host and no fragment or user info;
// plain http only for loopback hosts (local development). SECURITY.md §4.1 and §4.11; this
// also rules out javascript: and data: (CVE-2023-45683).
func checkLocation(loc string) error {
	if strings.ContainsFunc(loc, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("contains whitespace or control characters")
	}
	if strings.Contains(loc, "#") {
		return errors.New("has a fragment")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return errors.New("not a URL")
	}
	if !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("not an absolute URL: %q", clip(loc, 200))
	}
	if u.User != nil {
		return errors.New("has user info")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("plain http to a non-loopback host: %q", clip(loc, 200))
	default:
		return fmt.Errorf("scheme %q not allowed", clip(u.Scheme, 20))
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// readKeys takes the certificates of every KeyDescriptor. A KeyDescriptor without a
// certificate, or with one that does not parse or has a weak key, makes the entity invalid:
// it must fail at load time, not on the first request (crewjam indexes X509Certificates[0]
// unchecked, SECURITY.md §4.11).
func (sp *SP) readKeys(list []xKeyDescriptor) error {
	for _, kd := range list {
		use, _ := attr(kd.Attrs, "use")
		use = strings.TrimSpace(use)
		if use != "" && use != "signing" && use != "encryption" {
			return fmt.Errorf("%w: use %q", errKeyDescriptor, clip(use, 40))
		}
		if len(kd.KeyInfo) != 1 {
			return fmt.Errorf("%w: want exactly one ds:KeyInfo, have %d", errKeyDescriptor, len(kd.KeyInfo))
		}
		var certs []*x509.Certificate
		for _, xd := range kd.KeyInfo[0].X509Data {
			for _, text := range xd.Certs {
				cs, err := parseCerts(text)
				if err != nil {
					return err
				}
				certs = append(certs, cs...)
			}
			for _, text := range xd.certViews { // the stream path's (aggregate.go)
				cs, err := xd.cache.parse(text)
				if err != nil {
					return err
				}
				certs = append(certs, cs...)
			}
		}
		if len(certs) == 0 {
			return fmt.Errorf("%w: no ds:X509Certificate", errKeyDescriptor)
		}
		if use != "encryption" {
			sp.SigningCerts = append(sp.SigningCerts, certs...)
		}
		if use != "signing" {
			sp.EncryptionCerts = append(sp.EncryptionCerts, certs...)
		}
	}
	return nil
}

// parseCerts decodes one ds:X509Certificate (base64 with any whitespace). The DER may hold
// several certificates back to back: crewjam's ServiceProvider.Metadata appends its
// Intermediates that way.
func parseCerts[T string | []byte](text T) ([]*x509.Certificate, error) {
	if len(text) > maxCertText {
		return nil, fmt.Errorf("%w: X509Certificate text of %d bytes", errCertificate, len(text))
	}
	der, err := decodeCertText(text)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", errCertificate)
	}
	certs, err := x509.ParseCertificates(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCertificate, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: empty", errCertificate)
	}
	for _, c := range certs {
		if len(c.Raw) > maxCertDER {
			return nil, fmt.Errorf("%w: %d bytes, more than %d", errCertificate, len(c.Raw), maxCertDER)
		}
		if err := checkKey(c); err != nil {
			return nil, err
		}
	}
	return certs, nil
}

// decodeCertText is base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
// with one allocation instead of four (an aggregate holds 100,000 certificates). The base64
// decoder itself skips CR and LF wherever they are, so text whose only white space is line
// breaks is decoded as it is; other ASCII white space is removed first; strings.Fields's only
// white space outside ASCII is U+0085 and U+00A0, so non-ASCII text takes the long way.
func decodeCertText[T string | []byte](text T) ([]byte, error) {
	var seen uint8
	i := 0
	for ; i+8 <= len(text); i += 8 {
		// Eight bytes at a time while they are all printable ASCII (no byte ≥ 0x80, and
		// with that, (x - 0x21·lo) &^ x & hi is non-zero exactly when a byte is ≤ 0x20).
		const lo, hi = 0x0101010101010101, 0x8080808080808080
		x := uint64(text[i]) | uint64(text[i+1])<<8 | uint64(text[i+2])<<16 | uint64(text[i+3])<<24 |
			uint64(text[i+4])<<32 | uint64(text[i+5])<<40 | uint64(text[i+6])<<48 | uint64(text[i+7])<<56
		if x&hi == 0 && (x-0x21*lo)&^x&hi == 0 {
			continue
		}
		for j := i; j < i+8; j++ {
			seen |= certTextClass[text[j]]
		}
	}
	for ; i < len(text); i++ {
		seen |= certTextClass[text[i]]
	}
	if seen&certNonASCII != 0 {
		return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(text)), ""))
	}
	src, isBytes := any(text).([]byte) // Decode does not modify its input
	if !isBytes || seen&certSpace != 0 {
		src = append([]byte(nil), text...)
	}
	if seen&certSpace != 0 {
		compact := src[:0]
		for _, c := range src {
			if certTextClass[c] == 0 {
				compact = append(compact, c)
			}
		}
		src = compact
	}
	der := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	n, err := base64.StdEncoding.Decode(der, src)
	return der[:n], err
}

// Classes of certificate text bytes, for decodeCertText.
const (
	certLineBreak = 1 << iota // CR, LF: the base64 decoder skips them
	certSpace                 // the rest of strings.Fields's ASCII white space
	certNonASCII
)

var certTextClass = func() (t [256]uint8) {
	t['\r'], t['\n'] = certLineBreak, certLineBreak
	for _, c := range "\t\v\f " {
		t[c] = certSpace
	}
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = certNonASCII
	}
	return t
}()

// checkKey allows RSA 2048–8192 bits and ECDSA on P-256, P-384 and P-521 (the curves of the
// XML-Signature algorithms Atea verifies).
func checkKey(c *x509.Certificate) error {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits", errCertificate, n)
		}
		return nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("%w: ECDSA curve not allowed", errCertificate)
	default:
		return fmt.Errorf("%w: %s key not allowed", errCertificate, c.PublicKeyAlgorithm)
	}
}

func displayNames(ext *xExtensions) map[string]string {
	if ext == nil {
		return nil
	}
	var m map[string]string
	for _, ui := range ext.UIInfo {
		for _, dn := range ui.DisplayNames {
			name := strings.TrimSpace(dn.Value)
			if name == "" {
				continue
			}
			lang, _ := attrNS(dn.Attrs, nsXML, "lang")
			lang = strings.ToLower(strings.TrimSpace(lang))
			if m == nil {
				m = map[string]string{}
			}
			if _, dup := m[lang]; !dup {
				m[lang] = name
			}
		}
	}
	return m
}

// timeAttr reads an optional xs:dateTime attribute. SAML times are UTC (saml-core-2.0-os
// §1.3.3); a value without a zone is read as UTC. crewjam marshals a zero time.Time as
// "0001-01-01T00:00:00Z", which means "no validUntil", not "expired two thousand years ago".
func timeAttr(attrs []xml.Attr, name string) (time.Time, error) {
	v, ok := attr(attrs, name)
	if !ok {
		return time.Time{}, nil
	}
	v = strings.TrimSpace(v)
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02T15:04:05", v, time.UTC)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s", errBadTime, name)
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t, nil
}

// boolAttr reads an optional xs:boolean attribute ("true", "false", "1", "0"; absent is false).
// Anything else is an error rather than false: a security switch must not fail open on a typo.
func boolAttr(attrs []xml.Attr, name string) (bool, error) {
	v, ok := attr(attrs, name)
	if !ok {
		return false, nil
	}
	switch strings.TrimSpace(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%w: %s", errBadBool, name)
}

// attr returns the value of the unqualified attribute local. encoding/xml's `xml:"name,attr"`
// would also match a same-named attribute in any namespace (and let the last one win); the
// metadata schema's attributes are all unqualified, so only those are read.
func attr(attrs []xml.Attr, local string) (string, bool) {
	return attrNS(attrs, "", local)
}

func attrNS(attrs []xml.Attr, space, local string) (string, bool) {
	for _, a := range attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if f == tok {
			return true
		}
	}
	return false
}

// earliest returns the earliest non-zero time, or zero.
func earliest(ts ...time.Time) time.Time {
	var e time.Time
	for _, t := range ts {
		if !t.IsZero() && (e.IsZero() || t.Before(e)) {
			e = t
		}
	}
	return e
}

// clip shortens s for error messages and logs.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// The encoding/xml view of the metadata schema (saml-metadata-2.0-os §2), limited to what
// Atea reads. Elements are matched by namespace URI and local name; attributes are collected
// raw and read with attr, so that namespaced look-alikes are ignored.
type (
	xEntity struct {
		Attrs      []xml.Attr   `xml:",any,attr"`
		Extensions *xExtensions `xml:"urn:oasis:names:tc:SAML:2.0:metadata Extensions"`
		SPSSO      []xSPSSO     `xml:"urn:oasis:names:tc:SAML:2.0:metadata SPSSODescriptor"`
	}
	xSPSSO struct {
		Attrs         []xml.Attr       `xml:",any,attr"`
		Extensions    *xExtensions     `xml:"urn:oasis:names:tc:SAML:2.0:metadata Extensions"`
		Keys          []xKeyDescriptor `xml:"urn:oasis:names:tc:SAML:2.0:metadata KeyDescriptor"`
		NameIDFormats []string         `xml:"urn:oasis:names:tc:SAML:2.0:metadata NameIDFormat"`
		ACS           []xEndpoint      `xml:"urn:oasis:names:tc:SAML:2.0:metadata AssertionConsumerService"`
		SLO           []xEndpoint      `xml:"urn:oasis:names:tc:SAML:2.0:metadata SingleLogoutService"`
	}
	xExtensions struct {
		UIInfo []xUIInfo `xml:"urn:oasis:names:tc:SAML:metadata:ui UIInfo"`
	}
	xUIInfo struct {
		DisplayNames []xLocalized `xml:"urn:oasis:names:tc:SAML:metadata:ui DisplayName"`
	}
	xLocalized struct {
		Attrs []xml.Attr `xml:",any,attr"`
		Value string     `xml:",chardata"`
	}
	xKeyDescriptor struct {
		Attrs   []xml.Attr `xml:",any,attr"`
		KeyInfo []xKeyInfo `xml:"http://www.w3.org/2000/09/xmldsig# KeyInfo"`
	}
	xKeyInfo struct {
		X509Data []xX509Data `xml:"http://www.w3.org/2000/09/xmldsig# X509Data"`
	}
	xX509Data struct {
		Certs []string `xml:"http://www.w3.org/2000/09/xmldsig# X509Certificate"`
		// certViews are the stream path's X509Certificate texts, views of the document
		// (aggregate.go): the same texts as Certs without a copy of each. cache, if set,
		// parses them.
		certViews [][]byte
		cache     *certCache
	}
	xEndpoint struct {
		Attrs []xml.Attr `xml:",any,attr"`
	}
)
