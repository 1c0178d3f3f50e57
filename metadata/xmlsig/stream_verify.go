package xmlsig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

// VerifyEnvelopedStream is VerifyEnveloped for large documents such as federation aggregates:
// one pass over raw, with no DOM, that applies xmlgate's rules under lim, computes the
// exclusive-C14N digest of the root element minus its enveloped ds:Signature while tokenising,
// and then verifies the ds:SignedInfo (canonicalised the same way) with one of certs. It
// enforces the same SAML signature profile and algorithm allow-list as VerifyEnveloped (one
// ds:Signature in the document, a child of the root; one Reference to "#" + the root's ID;
// transforms exactly enveloped-signature then exclusive C14N; no SHA-1; keys only from certs).
//
// It returns the root element's name and attributes. Callers read the rest of the document
// with Scan and ParseCaptured, which use the same tokenizer, so that what they read is what was
// digested (SECURITY.md R5); the ds:Signature is not part of it.
//
// Errors wrap xmlgate.ErrRejected (a gate rule; xmlgate.ErrTooLarge for the size),
// ErrUnsupported (a construct this scanner does not canonicalise, such as an
// InclusiveNamespaces PrefixList or a literal line break in an attribute value: VerifyEnveloped
// decides those), or one of ErrNoSignature, ErrProfile, ErrAlgorithm and ErrSignature as
// VerifyEnveloped's do.
func VerifyEnvelopedStream(raw []byte, lim xmlgate.Limits, certs []*x509.Certificate) (*Element, error) {
	s := newScanner(raw, lim)
	// The verifying pass is the aggregate's gate: it must be no laxer than xmlgate.Check,
	// including the round-trip validator's verdict on tags with prefixed attributes.
	s.roundTrip = true
	sink := &digestSink{}
	// The digest is computed on another goroutine while this one tokenises and
	// canonicalises: on a 200 MB aggregate SHA-256 is a fifth of the pass.
	hasher := startAsyncDigest(sink)
	defer hasher.stop()
	s.out = newCanonWriter(hasher)
	s.keepRoot = true
	var sig *streamSig
	s.sigDone = func(start, end int, scope []Binding) error {
		n, err := parseTree(raw, start, end, scope, false, true)
		if err != nil {
			return err
		}
		sg, err := streamProfile(n, s.rootID, s.rootPrefID)
		if err != nil {
			return err
		}
		sig = sg
		hasher.choose(sg.digest)
		return nil
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	s.out.flush()
	hasher.stop() // sink is complete once the goroutine is done

	// The same checks, in the same order, as checkProfile.
	switch {
	case s.rootPrefID:
		return nil, profileErr("prefixed ID attribute on the root")
	case s.sigCount == 0:
		return nil, ErrNoSignature
	case s.rootID == "":
		return nil, profileErr("root element has no ID")
	case s.sigCount != 1:
		return nil, profileErr("more than one ds:Signature in the document")
	case sig == nil || s.sigNotChild:
		return nil, profileErr("ds:Signature is not a child of the signed element")
	}

	got := sink.h.Sum(nil)
	if subtle.ConstantTimeCompare(got, sig.digestValue) != 1 {
		return nil, fmt.Errorf("%w: digest of the signed element does not match", ErrSignature)
	}
	if err := verifySignedInfo(raw, sig, certs); err != nil {
		return nil, err
	}
	return s.rootElem, nil
}

// streamSig is what the profile check took from the ds:Signature.
type streamSig struct {
	signedInfo  *Node
	alg         sigAlg
	digest      crypto.Hash
	digestValue []byte
	sigValue    string
}

func isDSNode(n *Node, local string) bool { return n.Local == local && n.Space == nsDSig }

// streamProfile is checkProfile's rules for the ds:Signature tree n (a child of the root).
func streamProfile(n *Node, rootID string, rootPrefID bool) (*streamSig, error) {
	if rootPrefID {
		return nil, profileErr("prefixed ID attribute on the root")
	}
	if rootID == "" {
		return nil, profileErr("root element has no ID")
	}
	if err := nodeAttrs(n, "Id"); err != nil {
		return nil, err
	}
	kids := n.Kids
	if len(kids) < 2 || len(kids) > 3 || !isDSNode(kids[0], "SignedInfo") || !isDSNode(kids[1], "SignatureValue") ||
		(len(kids) == 3 && !isDSNode(kids[2], "KeyInfo")) {
		return nil, profileErr("ds:Signature must hold SignedInfo, SignatureValue and at most one KeyInfo")
	}
	if err := nodeNoText(n); err != nil {
		return nil, err
	}
	sv := kids[1]
	if err := nodeAttrs(sv, "Id"); err != nil {
		return nil, err
	}
	text, err := nodeOnlyText(sv)
	if err != nil {
		return nil, err
	}
	sg := &streamSig{signedInfo: kids[0], sigValue: text}

	si := kids[0]
	if err := nodeAttrs(si, "Id"); err != nil {
		return nil, err
	}
	if err := nodeNoText(si); err != nil {
		return nil, err
	}
	sk := si.Kids
	if len(sk) != 3 || !isDSNode(sk[0], "CanonicalizationMethod") || !isDSNode(sk[1], "SignatureMethod") ||
		!isDSNode(sk[2], "Reference") {
		return nil, profileErr("SignedInfo must hold CanonicalizationMethod, SignatureMethod and exactly one Reference")
	}
	cm, err := nodeAlgorithm(sk[0])
	if err != nil {
		return nil, err
	}
	if cm != ExcC14N {
		return nil, profileErr("CanonicalizationMethod is not exclusive C14N without comments")
	}
	if err := nodeInclusiveNamespaces(sk[0]); err != nil {
		return nil, err
	}
	smURI, err := nodeAlgorithm(sk[1])
	if err != nil {
		return nil, err
	}
	alg, ok := signatureAlg(smURI)
	if !ok {
		return nil, fmt.Errorf("%w: SignatureMethod not in the allow-list", ErrAlgorithm)
	}
	if len(sk[1].Kids) != 0 {
		return nil, profileErr("SignatureMethod has child elements")
	}
	sg.alg = alg

	ref := sk[2]
	if err := nodeAttrs(ref, "Id", "URI", "Type"); err != nil {
		return nil, err
	}
	if uri, ok := ref.Attr("", "URI"); !ok || uri != "#"+rootID {
		return nil, profileErr(`Reference URI is not "#" + the root's ID`)
	}
	if err := nodeNoText(ref); err != nil {
		return nil, err
	}
	rk := ref.Kids
	if len(rk) != 3 || !isDSNode(rk[0], "Transforms") || !isDSNode(rk[1], "DigestMethod") || !isDSNode(rk[2], "DigestValue") {
		return nil, profileErr("Reference must hold Transforms, DigestMethod and DigestValue")
	}
	if err := nodeAttrs(rk[0]); err != nil {
		return nil, err
	}
	if err := nodeNoText(rk[0]); err != nil {
		return nil, err
	}
	ts := rk[0].Kids
	if len(ts) != 2 || !isDSNode(ts[0], "Transform") || !isDSNode(ts[1], "Transform") {
		return nil, profileErr("Transforms must be exactly enveloped-signature and exclusive C14N")
	}
	t0, err := nodeAlgorithm(ts[0])
	if err != nil {
		return nil, err
	}
	t1, err := nodeAlgorithm(ts[1])
	if err != nil {
		return nil, err
	}
	if t0 != EnvelopedSignature || t1 != ExcC14N || len(ts[0].Kids) != 0 {
		return nil, profileErr("Transforms must be exactly enveloped-signature and exclusive C14N")
	}
	if err := nodeInclusiveNamespaces(ts[1]); err != nil {
		return nil, err
	}
	dm, err := nodeAlgorithm(rk[1])
	if err != nil {
		return nil, err
	}
	h, ok := digestAlg(dm)
	if !ok {
		return nil, fmt.Errorf("%w: DigestMethod not in the allow-list", ErrAlgorithm)
	}
	if len(rk[1].Kids) != 0 {
		return nil, profileErr("DigestMethod has child elements")
	}
	if err := nodeAttrs(rk[2]); err != nil {
		return nil, err
	}
	dv, err := nodeOnlyText(rk[2])
	if err != nil {
		return nil, err
	}
	d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(dv))
	if err != nil || len(d) != h.Size() {
		return nil, profileErr("DigestValue is not a base64 digest of the declared length")
	}
	sg.digest, sg.digestValue = h, d
	return sg, nil
}

// nodeAttrs allows only the listed unprefixed attributes (namespace declarations are not
// Attrs).
func nodeAttrs(n *Node, allowed ...string) error {
	for _, a := range n.Attrs {
		ok := false
		if a.Space == "" {
			for _, name := range allowed {
				ok = ok || a.Local == name
			}
		}
		if !ok {
			return profileErr("unexpected attribute on " + n.Local)
		}
	}
	return nil
}

func nodeAlgorithm(n *Node) (string, error) {
	if err := nodeAttrs(n, "Algorithm"); err != nil {
		return "", err
	}
	if v, ok := n.Attr("", "Algorithm"); ok {
		return v, nil
	}
	return "", profileErr(n.Local + " has no Algorithm")
}

// nodeInclusiveNamespaces is inclusiveNamespacesOnly; a non-empty PrefixList is
// ErrUnsupported here (the prefixes would have to be rendered inclusively: VerifyEnveloped
// handles that).
func nodeInclusiveNamespaces(n *Node) error {
	if err := nodeNoText(n); err != nil {
		return err
	}
	if len(n.Kids) == 0 {
		return nil
	}
	in := n.Kids[0]
	if len(n.Kids) != 1 || in.Local != "InclusiveNamespaces" || in.Space != nsExcC14 || len(in.Kids) != 0 ||
		len(in.TextBytes()) != 0 || in.comments != 0 {
		return profileErr("unexpected content in an exclusive C14N method")
	}
	if err := nodeAttrs(in, "PrefixList"); err != nil {
		return err
	}
	if pl, _ := in.Attr("", "PrefixList"); strings.TrimSpace(pl) != "" {
		return unsupported("InclusiveNamespaces PrefixList")
	}
	return nil
}

func nodeNoText(n *Node) error {
	if strings.TrimSpace(n.Text()) != "" {
		return profileErr("text inside " + n.Local)
	}
	if n.comments != 0 {
		return profileErr("comment or instruction inside " + n.Local)
	}
	return nil
}

func nodeOnlyText(n *Node) (string, error) {
	if len(n.Kids) != 0 || n.comments != 0 {
		return "", profileErr(n.Local + " holds more than text")
	}
	return n.Text(), nil
}

// verifySignedInfo canonicalises ds:SignedInfo (exclusive C14N of that subtree, in its
// namespace scope) and verifies the SignatureValue over it with each usable key in certs.
func verifySignedInfo(raw []byte, sg *streamSig, certs []*x509.Certificate) error {
	si := sg.signedInfo
	var buf bytes.Buffer
	c := &scanner{raw: raw, pos: si.start, end: si.end, hDepth: 1 << 30}
	c.binds = append(c.binds, si.scope...)
	c.out = newCanonWriter(&buf)
	if err := c.run(); err != nil {
		return err
	}
	c.out.flush()
	h := sg.alg.hash.New()
	h.Write(buf.Bytes())
	digest := h.Sum(nil)

	sigBytes, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sg.sigValue), ""))
	if err != nil {
		return fmt.Errorf("%w: SignatureValue is not base64", ErrSignature)
	}
	usable := 0
	for _, cert := range certs {
		key, err := usableKey(cert)
		if err != nil {
			continue
		}
		usable++
		switch k := key.(type) {
		case *rsa.PublicKey:
			if !sg.alg.ecdsa && rsa.VerifyPKCS1v15(k, sg.alg.hash, digest, sigBytes) == nil {
				return nil
			}
		case *ecdsa.PublicKey:
			if !sg.alg.ecdsa {
				continue
			}
			for _, der := range ecdsaDERForms(k, sigBytes) {
				if ecdsa.VerifyASN1(k, digest, der) {
					return nil
				}
			}
		}
	}
	if usable == 0 {
		return fmt.Errorf("%w: no usable signing key (RSA ≥ 2048 bits or ECDSA P-256/384/521)", ErrSignature)
	}
	return fmt.Errorf("%w: signature does not verify with the given keys", ErrSignature)
}

// IsStreamFallback reports whether err from VerifyEnvelopedStream or Scan leaves the decision
// to the DOM path: an unsupported construct, or a gate rule that xmlgate.Check itself must
// confirm (the scanner may be stricter than the gate; it is never more lenient).
func IsStreamFallback(err error) bool {
	return errors.Is(err, ErrUnsupported) || errors.Is(err, xmlgate.ErrRejected)
}
