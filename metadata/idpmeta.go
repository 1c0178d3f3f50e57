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
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

// ErrInvalidIdPInfo is returned (wrapped) by BuildIdPMetadata when IdPInfo cannot make a valid
// metadata document.
var ErrInvalidIdPInfo = errors.New("metadata: invalid IdP info")

// XML namespaces written only into Atea's own metadata.
const (
	nsSAMLAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	// nsMDAttr is the SAML V2.0 Metadata Extension for Entity Attributes.
	nsMDAttr = "urn:oasis:names:tc:SAML:metadata:attribute"
	// nsAlg is the SAML V2.0 Metadata Profile for Algorithm Support.
	nsAlg = "urn:oasis:names:tc:SAML:metadata:algsupport"
	// nsEIDAS is the eIDAS SAML extensions namespace (eidas:NodeCountry, eidas:SPType).
	nsEIDAS = "http://eidas.europa.eu/saml-extensions"

	attrNameFormatURI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	// AssuranceCertification is the entity attribute listing the levels of assurance an IdP
	// or eIDAS proxy service is certified for (eIDAS SAML Message Format §2.1; EIDAS-CLAVE.md §5).
	AssuranceCertification = "urn:oasis:names:tc:SAML:attribute:assurance-certification"
)

// IdPInfo is what Atea publishes about itself as an IdP.
type IdPInfo struct {
	// EntityID is Atea's entityID (required, at most 1024 bytes).
	EntityID string
	// ID is the EntityDescriptor's xs:ID: required to sign (the signature's Reference points
	// at it), optional otherwise (omitted when "").
	ID string
	// ValidUntil and CacheDuration are the EntityDescriptor's validUntil and cacheDuration
	// (saml-metadata-2.0-os §2.3.2); zero omits them.
	ValidUntil    time.Time
	CacheDuration time.Duration
	// SSOURL is the SingleSignOnService location for both HTTP-Redirect and HTTP-POST
	// (required; an absolute http or https URL).
	SSOURL string
	// SLOURL is the SingleLogoutService location for both bindings ("" publishes none).
	SLOURL string
	// SLOSOAP publishes SLOURL for the SOAP binding too.
	SLOSOAP bool
	// SigningCerts are published as KeyDescriptor use="signing", in order (at least one;
	// current, next and previous during a key rollover).
	SigningCerts []*x509.Certificate
	// EncryptionCerts are published as KeyDescriptor use="encryption", each with the
	// EncryptionMethods (algorithm URIs) when given.
	EncryptionCerts   []*x509.Certificate
	EncryptionMethods []string
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
	// EIDAS, when set, adds the eIDAS extensions (EIDAS-CLAVE.md §5).
	EIDAS *EIDASInfo
}

// EIDASInfo is what an eIDAS node expects in an IdP's (proxy service's) metadata
// (EIDAS-CLAVE.md §5, after the eIDAS-Node's EidasMetadata).
type EIDASInfo struct {
	// NodeCountry is the ISO 3166-1 alpha-2 code written as eidas:NodeCountry in the
	// IDPSSODescriptor's Extensions.
	NodeCountry string
	// Levels are the LoA URIs published as the assurance-certification entity attribute.
	Levels []string
	// SigningMethods and DigestMethods are the alg:SigningMethod and alg:DigestMethod
	// algorithm URIs in the entity's Extensions.
	SigningMethods, DigestMethods []string
}

// BuildIdPMetadata returns Atea's IdP metadata: an md:EntityDescriptor with one
// IDPSSODescriptor (saml-metadata-2.0-os §2.4.3) holding the signing and encryption keys, the
// SingleLogoutService and SingleSignOnService endpoints for HTTP-Redirect and HTTP-POST and the
// NameID formats, plus mdui:UIInfo, Organization, a technical ContactPerson and the eIDAS
// extensions when given. Element order follows the schema. The output depends only on info
// (no clock, no randomness), so it is stable across restarts and can be compared byte for
// byte. The document is not signed; see BuildSignedIdPMetadata.
//
// Atea writes its own document instead of crewjam's IdentityProvider.Metadata because crewjam
// refuses requests whenever WantAuthnRequestsSigned is published (STYLE.md §A2).
func BuildIdPMetadata(info IdPInfo) ([]byte, error) {
	head, tail, err := buildIdP(info)
	if err != nil {
		return nil, err
	}
	return gateIdP(append(head, tail...))
}

// EnvelopedSigner makes enveloped XML signatures; idp/samlxml.Signer is one.
type EnvelopedSigner interface {
	// SignCanonical returns a serialized ds:Signature element (declaring the ds namespace
	// itself) with one Reference to "#"+id whose digest is over canon, the exclusive
	// canonical form of the referenced element without its signature; transforms
	// enveloped-signature then exclusive C14N (saml-core-2.0-os §5.4).
	SignCanonical(id string, canon []byte) ([]byte, error)
}

// BuildSignedIdPMetadata is BuildIdPMetadata with an enveloped signature over the whole
// EntityDescriptor, placed as its first child where the schema wants it
// (saml-metadata-2.0-os §2.3.2; saml-core-2.0-os §5.4). info.ID is required.
//
// The digest is over the exclusive canonical form (goxmldsig's canonicaliser) of exactly the
// unsigned document; the signature is then inserted between the root's start tag and its
// first child without any whitespace, so removing it (the enveloped-signature transform)
// gives back the very bytes that were digested.
func BuildSignedIdPMetadata(info IdPInfo, s EnvelopedSigner) ([]byte, error) {
	if info.ID == "" {
		return nil, fmt.Errorf("%w: signing needs an ID", ErrInvalidIdPInfo)
	}
	head, tail, err := buildIdP(info)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(append(append([]byte(nil), head...), tail...)); err != nil {
		return nil, fmt.Errorf("metadata: reparse IdP metadata: %w", err)
	}
	canon, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("metadata: canonicalize IdP metadata: %w", err)
	}
	sig, err := s.SignCanonical(info.ID, canon)
	if err != nil {
		return nil, fmt.Errorf("metadata: sign IdP metadata: %w", err)
	}
	out := make([]byte, 0, len(head)+len(sig)+len(tail))
	out = append(append(append(out, head...), sig...), tail...)
	return gateIdP(out)
}

// gateIdP passes what Atea publishes through the gate every peer of Atea's kind applies (R1).
func gateIdP(out []byte) ([]byte, error) {
	if err := xmlgate.Check(out, xmlgate.MetadataLimits()); err != nil {
		return nil, fmt.Errorf("metadata: IdP metadata fails the XML gate: %w", err)
	}
	return out, nil
}

// buildIdP writes the document in two parts: head ends with the root's start tag, tail is the
// rest, so a signature can go between them.
func buildIdP(info IdPInfo) (head, tail []byte, err error) {
	if err := info.validate(); err != nil {
		return nil, nil, err
	}
	w := &xmlWriter{}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	rootAttrs := []string{"xmlns:md", nsMD, "xmlns:ds", nsDS}
	if len(info.DisplayNames) > 0 {
		rootAttrs = append(rootAttrs, "xmlns:mdui", nsMDUI)
	}
	if info.EIDAS != nil {
		rootAttrs = append(rootAttrs, "xmlns:alg", nsAlg, "xmlns:eidas", nsEIDAS, "xmlns:mdattr", nsMDAttr, "xmlns:saml", nsSAMLAssertion)
	}
	if info.ID != "" {
		rootAttrs = append(rootAttrs, "ID", info.ID)
	}
	if info.CacheDuration > 0 {
		rootAttrs = append(rootAttrs, "cacheDuration", XSDuration(info.CacheDuration))
	}
	rootAttrs = append(rootAttrs, "entityID", info.EntityID)
	if !info.ValidUntil.IsZero() {
		rootAttrs = append(rootAttrs, "validUntil", info.ValidUntil.UTC().Format("2006-01-02T15:04:05Z"))
	}
	w.open("md:EntityDescriptor", rootAttrs...)
	split := w.buf.Len()

	if e := info.EIDAS; e != nil {
		w.open("md:Extensions")
		if len(e.Levels) > 0 {
			w.open("mdattr:EntityAttributes")
			w.open("saml:Attribute", "Name", AssuranceCertification, "NameFormat", attrNameFormatURI)
			for _, l := range e.Levels {
				w.text("saml:AttributeValue", l)
			}
			w.close("saml:Attribute")
			w.close("mdattr:EntityAttributes")
		}
		for _, a := range e.DigestMethods {
			w.empty("alg:DigestMethod", "Algorithm", a)
		}
		for _, a := range e.SigningMethods {
			w.empty("alg:SigningMethod", "Algorithm", a)
		}
		w.close("md:Extensions")
	}

	want := "false"
	if info.WantAuthnRequestsSigned {
		want = "true"
	}
	w.open("md:IDPSSODescriptor", "protocolSupportEnumeration", protocolSAML2, "WantAuthnRequestsSigned", want)
	if len(info.DisplayNames) > 0 || info.EIDAS != nil {
		w.open("md:Extensions")
		if info.EIDAS != nil {
			w.text("eidas:NodeCountry", info.EIDAS.NodeCountry)
		}
		if len(info.DisplayNames) > 0 {
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
		}
		w.close("md:Extensions")
	}
	keyDescriptor := func(use string, c *x509.Certificate, methods []string) {
		w.open("md:KeyDescriptor", "use", use)
		w.open("ds:KeyInfo")
		w.open("ds:X509Data")
		w.text("ds:X509Certificate", base64.StdEncoding.EncodeToString(c.Raw))
		w.close("ds:X509Data")
		w.close("ds:KeyInfo")
		for _, m := range methods {
			w.empty("md:EncryptionMethod", "Algorithm", m)
		}
		w.close("md:KeyDescriptor")
	}
	for _, c := range info.SigningCerts {
		keyDescriptor("signing", c, nil)
	}
	for _, c := range info.EncryptionCerts {
		keyDescriptor("encryption", c, info.EncryptionMethods)
	}
	// SSODescriptorType order: SingleLogoutService before NameIDFormat (saml-metadata-2.0-os §2.4.2).
	if info.SLOURL != "" {
		w.empty("md:SingleLogoutService", "Binding", BindingHTTPRedirect, "Location", info.SLOURL)
		w.empty("md:SingleLogoutService", "Binding", BindingHTTPPost, "Location", info.SLOURL)
		if info.SLOSOAP {
			w.empty("md:SingleLogoutService", "Binding", BindingSOAP, "Location", info.SLOURL)
		}
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

	b := w.buf.Bytes()
	return b[:split:split], b[split:], nil
}

// XSDuration writes d as an xs:duration (XML Schema Part 2 §3.2.6) in hours, minutes and
// seconds, e.g. PT1H30M; saml-metadata-2.0-os §2.3.2 types cacheDuration so.
func XSDuration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	d = d.Round(time.Second)
	h, m, s := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	out := "PT"
	if h > 0 {
		out += strconv.FormatInt(h, 10) + "H"
	}
	if m > 0 {
		out += strconv.FormatInt(m, 10) + "M"
	}
	if s > 0 || out == "PT" {
		out += strconv.FormatInt(s, 10) + "S"
	}
	return out
}

func (info *IdPInfo) validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidIdPInfo}, a...)...))
	}
	if strings.TrimSpace(info.EntityID) == "" || len(info.EntityID) > maxEntityIDLen {
		bad("entityID empty or longer than %d bytes", maxEntityIDLen)
	}
	if info.ID != "" && !isNCName(info.ID) {
		// saml-core-2.0-os §1.3.4: xs:ID values are NCNames.
		bad("ID is not an xs:NCName")
	}
	if err := checkPublishedURL(info.SSOURL); err != nil {
		bad("SSO URL: %v", err)
	}
	if info.SLOURL != "" {
		if err := checkPublishedURL(info.SLOURL); err != nil {
			bad("SLO URL: %v", err)
		}
	}
	if len(info.SigningCerts) == 0 {
		bad("no signing certificate")
	}
	for i, c := range info.SigningCerts {
		if c == nil || len(c.Raw) == 0 {
			bad("signing certificate %d is empty", i)
		}
	}
	for i, c := range info.EncryptionCerts {
		if c == nil || len(c.Raw) == 0 {
			bad("encryption certificate %d is empty", i)
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
	texts := []string{info.EntityID, info.SSOURL, info.SLOURL, info.OrganizationName, info.OrganizationURL, info.ContactEmail}
	texts = append(texts, info.NameIDFormats...)
	texts = append(texts, info.EncryptionMethods...)
	if e := info.EIDAS; e != nil {
		if len(e.NodeCountry) != 2 || strings.ToUpper(e.NodeCountry) != e.NodeCountry || !isLangTag(e.NodeCountry) {
			bad("eIDAS node country %q is not an ISO 3166-1 alpha-2 code", clip(e.NodeCountry, 20))
		}
		texts = append(texts, e.Levels...)
		texts = append(texts, e.SigningMethods...)
		texts = append(texts, e.DigestMethods...)
	}
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

// isNCName is a conservative xs:NCName check: a letter or "_" first, then letters, digits,
// "_", "-" and ".". Atea's IDs are "_" + hex.
func isNCName(s string) bool {
	for i, r := range s {
		letter := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return s != ""
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
