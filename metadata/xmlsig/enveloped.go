package xmlsig

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Namespaces read by the profile check.
const (
	nsDSig   = "http://www.w3.org/2000/09/xmldsig#"
	nsExcC14 = "http://www.w3.org/2001/10/xml-exc-c14n#"
)

// VerifyEnveloped verifies the enveloped signature on the root element of raw, a document that
// has passed xmlgate.Check, with the key of one of certs, and returns the verified element:
// goxmldsig's re-parse of exactly the canonical bytes that were digested (SECURITY.md R5), without
// the signature. Callers must read data only from that element.
//
// The signature must follow the SAML profile (saml-core-2.0-os §5.4; errors wrap ErrProfile): the
// root has a non-empty ID; it has exactly one ds:Signature child and the document has no other
// ds:Signature; the Signature holds SignedInfo, SignatureValue and at most one KeyInfo, in that
// order, and nothing else (no ds:Object, XSW8); SignedInfo holds one CanonicalizationMethod (exclusive
// C14N), one SignatureMethod and exactly one Reference whose URI is "#" + the root's ID; the
// Reference's transforms are exactly enveloped-signature then exclusive C14N. Algorithms outside
// the allow-list wrap ErrAlgorithm; a missing signature wraps ErrNoSignature; anything that does
// not verify wraps ErrSignature.
//
// Keys come only from certs (R4): any KeyInfo is removed before verification, and each cert is
// tried alone, so key rollover with several certificates works. Certificate validity dates are not
// enforced: metadata is the trust anchor (explicit key trust, as Shibboleth does), and its own
// validUntil governs how long a key is trusted; an expired certificate in current metadata is not
// an outage. For this reason now is not consulted; it is accepted so that a validity policy can
// be added without changing callers, and may be nil.
func VerifyEnveloped(raw []byte, certs []*x509.Certificate, now func() time.Time) (*etree.Element, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("%w: document does not parse", ErrMalformed)
	}
	root := doc.Root()
	if root == nil || len(doc.ChildElements()) != 1 {
		return nil, fmt.Errorf("%w: not exactly one root element", ErrMalformed)
	}
	sp, err := checkProfile(root)
	if err != nil {
		return nil, err
	}

	// R4: the key never comes from the message. Removing KeyInfo does not change what is
	// signed (it is outside SignedInfo and the enveloped transform removes the whole
	// Signature), and without it goxmldsig uses the one configured certificate.
	if sp.keyInfo != nil {
		sp.sig.RemoveChild(sp.keyInfo)
	}

	usable := 0
	var lastErr error
	for _, c := range certs {
		key, err := usableKey(c)
		if err != nil {
			continue
		}
		usable++
		for _, candidate := range signatureCandidates(key, sp) {
			el, err := validateOne(root, sp, c, candidate)
			if err == nil {
				return el, nil
			}
			lastErr = err
		}
	}
	if usable == 0 {
		return nil, fmt.Errorf("%w: no usable signing key (RSA ≥ 2048 bits or ECDSA P-256/384/521)", ErrSignature)
	}
	if lastErr == nil {
		return nil, fmt.Errorf("%w: signature value unusable with the given keys", ErrSignature)
	}
	return nil, lastErr
}

// signatureCandidates lists the SignatureValue texts to try with key: the value as sent, and for
// ECDSA its DER form when the sender wrote raw r||s (goxmldsig verifies only DER).
func signatureCandidates(key any, sp *sigParts) []string {
	k, ok := key.(*ecdsa.PublicKey)
	if !ok || !sp.alg.ecdsa {
		return []string{sp.sigValue}
	}
	decoded, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sp.sigValue), ""))
	if err != nil {
		return []string{sp.sigValue}
	}
	var out []string
	for _, der := range ecdsaDERForms(k, decoded) {
		out = append(out, base64.StdEncoding.EncodeToString(der))
	}
	return out
}

// validateOne runs goxmldsig with cert as the only trusted certificate and sigValue as the
// SignatureValue text, on a copy of root.
func validateOne(root *etree.Element, sp *sigParts, cert *x509.Certificate, sigValue string) (el *etree.Element, err error) {
	// goxmldsig has had nil-pointer panics on malformed signatures (CVE-2020-7711); input
	// must never take the process down (STYLE.md B3.7).
	defer func() {
		if r := recover(); r != nil {
			el, err = nil, fmt.Errorf("%w: verifier failed", ErrSignature)
		}
	}()
	work := root
	if sigValue != sp.sigValue {
		work = root.Copy()
		sv := work.ChildElements()[sp.sigIndex].ChildElements()[1]
		sv.SetText(sigValue)
	}
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	// Explicit key trust: a clock inside the certificate's validity (see VerifyEnveloped).
	ctx.Clock = dsig.NewFakeClockAt(cert.NotBefore)
	verified, err := ctx.Validate(work)
	if err != nil {
		// goxmldsig's messages are fixed texts once the profile check has passed; %v keeps
		// them out of the error chain so that nobody branches on them.
		return nil, fmt.Errorf("%w: %v", ErrSignature, err) //nolint:errorlint // deliberate chain cut
	}
	// R5 sanity: what was digested is the element we were asked about, not something else.
	if verified == nil || verified.NamespaceURI() != root.NamespaceURI() || verified.Tag != root.Tag ||
		idOf(verified) != sp.id {
		return nil, fmt.Errorf("%w: verified element differs from the root", ErrSignature)
	}
	return verified, nil
}

// sigParts are the pieces of a profile-checked signature.
type sigParts struct {
	id       string
	sig      *etree.Element
	sigIndex int // index of sig among root.ChildElements()
	keyInfo  *etree.Element
	sigValue string
	alg      sigAlg
}

func profileErr(why string) error { return fmt.Errorf("%w: %s", ErrProfile, why) }

// isDS reports whether e is the XML-DSig element named local, by namespace URI, never by prefix
// (SECURITY.md §2.10).
func isDS(e *etree.Element, local string) bool {
	return e.Tag == local && e.NamespaceURI() == nsDSig
}

// idOf returns the root's unprefixed ID attribute (saml-core-2.0-os §1.3.4).
func idOf(e *etree.Element) string {
	for _, a := range e.Attr {
		if a.Space == "" && a.Key == "ID" {
			return a.Value
		}
	}
	return ""
}

// checkProfile enforces the SAML signature profile (saml-core-2.0-os §5.4; OpenSAML
// SAMLSignatureProfileValidator) and the algorithm allow-list on the raw tree, before any
// cryptography (SECURITY.md R2, R3).
func checkProfile(root *etree.Element) (*sigParts, error) {
	sp := &sigParts{}
	// goxmldsig finds the ID with etree's SelectAttr("ID"), which also matches x:ID; only the
	// unprefixed ID may exist, so both readings agree.
	for _, a := range root.Attr {
		if a.Key == "ID" && a.Space != "" {
			return nil, profileErr("prefixed ID attribute on the root")
		}
	}
	sp.id = idOf(root)

	// Every ds:Signature in the document, wherever it is: goxmldsig would search the whole
	// subtree and accept a signature moved into a descendant (SECURITY.md §2.1).
	var all []*etree.Element
	collectSignatures(root, &all)
	if len(all) == 0 {
		return nil, ErrNoSignature
	}
	if sp.id == "" {
		return nil, profileErr("root element has no ID")
	}
	if len(all) != 1 {
		return nil, profileErr("more than one ds:Signature in the document")
	}
	sp.sig = all[0]
	sp.sigIndex = -1
	for i, c := range root.ChildElements() {
		if c == sp.sig {
			sp.sigIndex = i
		}
	}
	if sp.sigIndex < 0 {
		return nil, profileErr("ds:Signature is not a child of the signed element")
	}
	if err := checkAttrs(sp.sig, "Id"); err != nil {
		return nil, err
	}

	// Signature: SignedInfo, SignatureValue, KeyInfo? (xmldsig-core §4.1), and no ds:Object:
	// unsigned XML inside the signature is XSW material (XSW1, XSW6, XSW8).
	kids := sp.sig.ChildElements()
	if len(kids) < 2 || len(kids) > 3 || !isDS(kids[0], "SignedInfo") || !isDS(kids[1], "SignatureValue") ||
		(len(kids) == 3 && !isDS(kids[2], "KeyInfo")) {
		return nil, profileErr("ds:Signature must hold SignedInfo, SignatureValue and at most one KeyInfo")
	}
	if err := noNonWhitespaceText(sp.sig); err != nil {
		return nil, err
	}
	if len(kids) == 3 {
		sp.keyInfo = kids[2]
	}
	sv := kids[1]
	if err := checkAttrs(sv, "Id"); err != nil {
		return nil, err
	}
	text, err := onlyText(sv)
	if err != nil {
		return nil, err
	}
	sp.sigValue = text

	alg, err := checkSignedInfo(kids[0], sp.id)
	if err != nil {
		return nil, err
	}
	sp.alg = alg
	return sp, nil
}

func collectSignatures(e *etree.Element, out *[]*etree.Element) {
	for _, c := range e.ChildElements() {
		if isDS(c, "Signature") {
			*out = append(*out, c)
		}
		collectSignatures(c, out)
	}
}

func checkSignedInfo(si *etree.Element, id string) (sigAlg, error) {
	if err := checkAttrs(si, "Id"); err != nil {
		return sigAlg{}, err
	}
	if err := noNonWhitespaceText(si); err != nil {
		return sigAlg{}, err
	}
	kids := si.ChildElements()
	if len(kids) != 3 || !isDS(kids[0], "CanonicalizationMethod") || !isDS(kids[1], "SignatureMethod") ||
		!isDS(kids[2], "Reference") {
		return sigAlg{}, profileErr("SignedInfo must hold CanonicalizationMethod, SignatureMethod and exactly one Reference")
	}

	cm, err := algorithmOf(kids[0])
	if err != nil {
		return sigAlg{}, err
	}
	if cm != ExcC14N {
		// Inclusive C14N and the #WithComments variants are refused: the signer and we must
		// canonicalise identically, and comments must stay outside what is signed.
		return sigAlg{}, profileErr("CanonicalizationMethod is not exclusive C14N without comments")
	}
	if err := inclusiveNamespacesOnly(kids[0]); err != nil {
		return sigAlg{}, err
	}

	smURI, err := algorithmOf(kids[1])
	if err != nil {
		return sigAlg{}, err
	}
	alg, ok := signatureAlg(smURI)
	if !ok {
		return sigAlg{}, fmt.Errorf("%w: SignatureMethod not in the allow-list", ErrAlgorithm)
	}
	if len(kids[1].ChildElements()) != 0 { // e.g. HMACOutputLength
		return sigAlg{}, profileErr("SignatureMethod has child elements")
	}

	if err := checkReference(kids[2], id); err != nil {
		return sigAlg{}, err
	}
	return alg, nil
}

func checkReference(ref *etree.Element, id string) error {
	if err := checkAttrs(ref, "Id", "URI", "Type"); err != nil {
		return err
	}
	// goxmldsig accepts URI="" and does not check the leading '#' (SECURITY.md §2.6).
	if uri := ref.SelectAttr("URI"); uri == nil || uri.Value != "#"+id {
		return profileErr(`Reference URI is not "#" + the root's ID`)
	}
	if err := noNonWhitespaceText(ref); err != nil {
		return err
	}
	kids := ref.ChildElements()
	if len(kids) != 3 || !isDS(kids[0], "Transforms") || !isDS(kids[1], "DigestMethod") || !isDS(kids[2], "DigestValue") {
		return profileErr("Reference must hold Transforms, DigestMethod and DigestValue")
	}

	if err := checkAttrs(kids[0]); err != nil {
		return err
	}
	if err := noNonWhitespaceText(kids[0]); err != nil {
		return err
	}
	ts := kids[0].ChildElements()
	if len(ts) != 2 || !isDS(ts[0], "Transform") || !isDS(ts[1], "Transform") {
		return profileErr("Transforms must be exactly enveloped-signature and exclusive C14N")
	}
	t0, err := algorithmOf(ts[0])
	if err != nil {
		return err
	}
	t1, err := algorithmOf(ts[1])
	if err != nil {
		return err
	}
	if t0 != EnvelopedSignature || t1 != ExcC14N || len(ts[0].ChildElements()) != 0 {
		return profileErr("Transforms must be exactly enveloped-signature and exclusive C14N")
	}
	if err := inclusiveNamespacesOnly(ts[1]); err != nil {
		return err
	}

	dm, err := algorithmOf(kids[1])
	if err != nil {
		return err
	}
	hash, ok := digestAlg(dm)
	if !ok {
		return fmt.Errorf("%w: DigestMethod not in the allow-list", ErrAlgorithm)
	}
	if len(kids[1].ChildElements()) != 0 {
		return profileErr("DigestMethod has child elements")
	}

	// The DigestValue must be plain text: a comment inside it is the xml-crypto
	// CVE-2025-29775 shape, and its length must match the digest.
	if err := checkAttrs(kids[2]); err != nil {
		return err
	}
	dv, err := onlyText(kids[2])
	if err != nil {
		return err
	}
	d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(dv))
	if err != nil || len(d) != hash.Size() {
		return profileErr("DigestValue is not a base64 digest of the declared length")
	}
	return nil
}

// algorithmOf returns the Algorithm attribute, which must be present, unprefixed and the only
// attribute: etree's SelectAttr and encoding/xml (used inside goxmldsig) pick different ones
// among x:Algorithm and Algorithm, so only one may exist.
func algorithmOf(e *etree.Element) (string, error) {
	if err := checkAttrs(e, "Algorithm"); err != nil {
		return "", err
	}
	for _, a := range e.Attr {
		if a.Space == "" && a.Key == "Algorithm" {
			return a.Value, nil
		}
	}
	return "", profileErr(e.Tag + " has no Algorithm")
}

// checkAttrs allows namespace declarations and the listed unprefixed attributes only.
func checkAttrs(e *etree.Element, allowed ...string) error {
	for _, a := range e.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		ok := false
		if a.Space == "" {
			for _, name := range allowed {
				ok = ok || a.Key == name
			}
		}
		if !ok {
			return profileErr("unexpected attribute on " + e.Tag)
		}
	}
	return nil
}

// inclusiveNamespacesOnly allows at most one ec:InclusiveNamespaces child with a PrefixList
// (xml-exc-c14n §3), and nothing else.
func inclusiveNamespacesOnly(e *etree.Element) error {
	if err := noNonWhitespaceText(e); err != nil {
		return err
	}
	kids := e.ChildElements()
	if len(kids) == 0 {
		return nil
	}
	in := kids[0]
	if len(kids) != 1 || in.Tag != "InclusiveNamespaces" || in.NamespaceURI() != nsExcC14 || len(in.Child) != 0 {
		return profileErr("unexpected content in an exclusive C14N method")
	}
	return checkAttrs(in, "PrefixList")
}

// noNonWhitespaceText refuses character data, comments and processing instructions directly in
// e: DSig structure elements carry only elements and indentation.
func noNonWhitespaceText(e *etree.Element) error {
	for _, t := range e.Child {
		switch c := t.(type) {
		case *etree.CharData:
			if strings.TrimSpace(c.Data) != "" {
				return profileErr("text inside " + e.Tag)
			}
		case *etree.Comment, *etree.ProcInst, *etree.Directive:
			return profileErr("comment or instruction inside " + e.Tag)
		}
	}
	return nil
}

// onlyText returns the text of e, which may hold nothing but character data.
func onlyText(e *etree.Element) (string, error) {
	var b strings.Builder
	for _, t := range e.Child {
		c, ok := t.(*etree.CharData)
		if !ok {
			return "", profileErr(e.Tag + " holds more than text")
		}
		b.WriteString(c.Data)
	}
	return b.String(), nil
}
