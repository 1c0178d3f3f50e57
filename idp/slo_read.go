package idp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/metadata/xmlgate"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

const nsXENC = "http://www.w3.org/2001/04/xmlenc#"

// sloMessage is a LogoutRequest or LogoutResponse read from either front-channel binding,
// its signature checked against the metadata of the SP named as its Issuer.
type sloMessage struct {
	isRequest bool
	binding   string
	relay     string
	hasRelay  bool
	sp        *metadata.SP
	issuer    string
	// el is the message to read from: for a signed POST message, exactly what the signature
	// covered (SECURITY.md R5); otherwise the parsed message.
	el     *etree.Element
	signed bool
}

// errUnsigned marks a message without a signature from an SP that must sign: refused outright
// for a LogoutRequest, recorded as "not confirmed" for a LogoutResponse.
var errUnsigned = errors.New("idp: unsigned logout message")

// readSLOMessage decodes a SAMLRequest or SAMLResponse sent to /saml/slo, gates the XML, finds
// the Issuer's metadata and verifies the signature with its keys only (SECURITY.md R4):
//
//   - HTTP-Redirect: the query signature over the raw received octets (saml-bindings-2.0-os
//     §3.4.4.1, xmlsig.RedirectParams.Verify). One SP stack tested (INTEROP.md) signs its
//     Redirect LogoutRequest with an enveloped XML signature and no SigAlg instead; that is
//     accepted when it is the only signature, never together with a query signature.
//   - HTTP-POST: the enveloped signature (xmlsig.VerifyEnveloped), and the message is then
//     read from the verified element only.
//
// An unsigned message comes back with signed false: the caller decides by SP setting. Every
// error is a pageError: until the issuer is authenticated nothing is sent anywhere.
func (s *Server) readSLOMessage(r *http.Request) (*sloMessage, error) {
	var (
		raw    []byte
		m      = &sloMessage{}
		params *xmlsig.RedirectParams
	)
	bad := func(format string, args ...any) error {
		return pageErr(http.StatusBadRequest, "error.badrequest", fmt.Errorf(format, args...))
	}
	switch r.Method {
	case http.MethodGet:
		if len(r.URL.RawQuery) > maxQueryBytes {
			return nil, pageErr(http.StatusRequestURITooLong, "error.badrequest", errors.New("query too long"))
		}
		p, msg, err := s.readRedirect(r.URL.RawQuery)
		if err != nil {
			return nil, bad("%w", err)
		}
		raw, params = msg, p
		m.isRequest, m.binding, m.relay, m.hasRelay = p.IsRequest, bindingRedirect, p.RelayState, p.HasRelay
	case http.MethodPost:
		if err := parseSAMLForm(r); err != nil {
			return nil, err
		}
		reqs, resps, relays := r.PostForm["SAMLRequest"], r.PostForm["SAMLResponse"], r.PostForm["RelayState"]
		if len(reqs)+len(resps) != 1 || len(relays) > 1 {
			return nil, bad("need exactly one SAMLRequest or SAMLResponse")
		}
		v := ""
		if len(reqs) == 1 {
			v = reqs[0]
		} else {
			v = resps[0]
		}
		dec, err := base64.StdEncoding.DecodeString(stripSpace(v))
		if err != nil {
			return nil, bad("base64: %w", err)
		}
		raw = dec
		m.isRequest, m.binding = len(reqs) == 1, bindingPOST
		if len(relays) == 1 {
			m.relay, m.hasRelay = relays[0], true
		}
	default:
		return nil, pageErr(http.StatusMethodNotAllowed, "error.method", errors.New("method"))
	}

	if err := xmlsig.GateCheck(raw, xmlgate.ProtocolLimits()); err != nil {
		return nil, bad("xml gate: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return nil, bad("xml: %v", err)
	}
	root := doc.Root()
	want := "LogoutResponse"
	if m.isRequest {
		want = "LogoutRequest"
	}
	if root.Tag != want || root.NamespaceURI() != nsSAMLP {
		return nil, bad("root element %s is not samlp:%s", root.Tag, want)
	}
	issuer := childText(root, nsSAML, "Issuer")
	if issuer == "" {
		return nil, bad("no Issuer")
	}
	sp, err := s.deps.SPs.Lookup(issuer)
	if err != nil {
		return nil, pageErr(http.StatusBadRequest, "error.unknownsp", fmt.Errorf("issuer lookup: %w", err))
	}
	m.sp, m.issuer, m.el = sp, issuer, root

	enveloped := hasEnvelopedSignature(raw)
	sigErr := func(err error) error { return pageErr(http.StatusBadRequest, "error.signature", err) }
	switch {
	case params != nil && params.Signed():
		if enveloped {
			return nil, sigErr(errors.New("query signature and enveloped signature in one message"))
		}
		if err := params.Verify(sp.SigningCerts); err != nil {
			return nil, sigErr(fmt.Errorf("redirect signature: %w", err))
		}
		m.signed = true
	case enveloped:
		el, err := xmlsig.VerifyEnveloped(raw, sp.SigningCerts, s.now)
		if err != nil {
			return nil, sigErr(fmt.Errorf("enveloped signature: %w", err))
		}
		if el.Tag != want || el.NamespaceURI() != nsSAMLP || childText(el, nsSAML, "Issuer") != issuer {
			return nil, sigErr(errors.New("verified message differs"))
		}
		m.el, m.signed = el, true
	}
	return m, nil
}

// child returns the first child element of el in namespace ns with local name local.
func child(el *etree.Element, ns, local string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func childText(el *etree.Element, ns, local string) string {
	if c := child(el, ns, local); c != nil {
		return strings.TrimSpace(c.Text())
	}
	return ""
}

// sloNameID is a NameID as a LogoutRequest states it (saml-core-2.0-os §2.2.3).
type sloNameID struct {
	Value           string `json:"value"`
	Format          string `json:"format,omitempty"`
	SPNameQualifier string `json:"spnq,omitempty"`
}

// logoutNameID reads the LogoutRequest's identifier: a saml:NameID, or a saml:EncryptedID
// (saml-core-2.0-os §2.2.4) that Atea decrypts with its encryption keys. Some SPs encrypt the
// NameID whenever the IdP metadata publishes an encryption key (INTEROP.md).
func (s *Server) logoutNameID(req *etree.Element) (sloNameID, error) {
	nid := child(req, nsSAML, "NameID")
	if enc := child(req, nsSAML, "EncryptedID"); enc != nil {
		if nid != nil {
			return sloNameID{}, errors.New("both NameID and EncryptedID")
		}
		var err error
		if nid, err = s.decryptID(enc); err != nil {
			return sloNameID{}, err
		}
	}
	if nid == nil {
		// BaseID is not something Atea issues.
		return sloNameID{}, errors.New("no NameID")
	}
	v := strings.TrimSpace(nid.Text())
	if v == "" {
		return sloNameID{}, errors.New("empty NameID")
	}
	return sloNameID{Value: v, Format: nid.SelectAttrValue("Format", ""), SPNameQualifier: nid.SelectAttrValue("SPNameQualifier", "")}, nil
}

// decryptID decrypts a saml:EncryptedID (saml-core-2.0-os §2.2.4) with Atea's encryption
// keys through samlxml.DecryptData: AES-GCM content, RSA-OAEP key transport, nothing else
// (SECURITY.md R3). An xenc:EncryptedKey given as a sibling of EncryptedData, which §2.2.4
// allows and OpenSAML does (with a ds:RetrievalMethod in EncryptedData's KeyInfo pointing at
// it), is put in EncryptedData's KeyInfo in place of what was there. Exactly one such sibling
// may exist. The plaintext must be one saml:NameID, and is gated like any inbound XML.
func (s *Server) decryptID(enc *etree.Element) (*etree.Element, error) {
	data := child(enc, nsXENC, "EncryptedData")
	if data == nil {
		return nil, errors.New("EncryptedID without EncryptedData")
	}
	data = data.Copy()
	var siblings []*etree.Element
	for _, c := range enc.ChildElements() {
		if c.Tag == "EncryptedKey" && c.NamespaceURI() == nsXENC {
			siblings = append(siblings, c)
		}
	}
	if len(siblings) > 1 {
		return nil, fmt.Errorf("EncryptedID: %w", samlxml.ErrDecrypt)
	}
	if len(siblings) == 1 && data.FindElement("./KeyInfo/EncryptedKey") == nil {
		ki := etree.NewElement("ds:KeyInfo")
		ki.CreateAttr("xmlns:ds", nsDS)
		ki.AddChild(siblings[0].Copy())
		at := 0
		if old := data.FindElement("./KeyInfo"); old != nil {
			at = old.Index()
			data.RemoveChild(old)
		} else if cd := data.FindElement("./CipherData"); cd != nil {
			at = cd.Index()
		}
		data.InsertChildAt(at, ki)
	}
	plain, err := samlxml.DecryptData(data, s.currentKeys().set.EncryptionKeys)
	if err != nil {
		return nil, fmt.Errorf("EncryptedID: %w", err)
	}
	// The plaintext is an element whose saml prefix may be declared only on an ancestor in
	// the sender's document: parse it inside a wrapper that declares it.
	wrapped := append(append([]byte(`<w xmlns:saml="`+nsSAML+`">`), plain...), "</w>"...)
	if err := xmlsig.GateCheck(wrapped, xmlgate.ProtocolLimits()); err != nil {
		return nil, fmt.Errorf("EncryptedID plaintext: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(wrapped); err != nil {
		return nil, fmt.Errorf("EncryptedID plaintext: %w", err)
	}
	kids := doc.Root().ChildElements()
	if len(kids) != 1 || kids[0].Tag != "NameID" || kids[0].NamespaceURI() != nsSAML {
		return nil, errors.New("EncryptedID does not hold one saml:NameID")
	}
	return kids[0], nil
}
