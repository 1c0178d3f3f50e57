package samlxml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // OAEP digests
	_ "crypto/sha512"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/beevik/etree"
)

// Algorithms Atea decrypts (SECURITY.md R3 and §2.11; eIDAS crypto requirements): content
// AES-GCM only, key transport RSA-OAEP only. CBC, 3DES and RSA PKCS#1 v1.5 are not merely
// unpreferred but refused, because accepting them with the same key turns a captured GCM/OAEP
// ciphertext into an oracle (Jager, Paterson, Somorovsky, NDSS 2013).
const (
	EncAES192GCM = "http://www.w3.org/2009/xmlenc11#aes192-gcm"
	keyRSAOAEP11 = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
	nsXENC11     = "http://www.w3.org/2009/xmlenc11#"
	mgf1Prefix   = "http://www.w3.org/2009/xmlenc11#mgf1"
)

// DecryptionMethods are the algorithm URIs Atea decrypts, preferred first: what its metadata
// publishes as md:EncryptionMethod on the encryption key (saml-metadata-2.0-os §2.4.1.1), so
// an SP that reads them encrypts with one Atea accepts.
func DecryptionMethods() []string {
	return []string{EncAES256GCM, EncAES128GCM, EncAES192GCM, keyRSAOAEPMGF1P, keyRSAOAEP11}
}

// ErrDecrypt is every decryption failure: one value with one message whatever went wrong
// (an algorithm not allowed, a malformed structure, a wrong key, a failed tag), so a sender
// learns nothing from the answer (SECURITY.md §2.11).
var ErrDecrypt = errors.New("samlxml: cannot decrypt")

var contentKeySize = map[string]int{EncAES128GCM: 16, EncAES192GCM: 24, EncAES256GCM: 32}

var digestByURI = map[string]crypto.Hash{
	digSHA1: crypto.SHA1,
	"http://www.w3.org/2001/04/xmlenc#sha256":       crypto.SHA256,
	"http://www.w3.org/2001/04/xmlenc#sha512":       crypto.SHA512,
	"http://www.w3.org/2001/04/xmldsig-more#sha384": crypto.SHA384,
}

var mgfByURI = map[string]crypto.Hash{
	mgf1Prefix + "sha1": crypto.SHA1, mgf1Prefix + "sha256": crypto.SHA256,
	mgf1Prefix + "sha384": crypto.SHA384, mgf1Prefix + "sha512": crypto.SHA512,
}

// DecryptData decrypts an xenc:EncryptedData whose content key is carried in its
// ds:KeyInfo/xenc:EncryptedKey (xmlenc-core1 §3.4, §5.5), trying each key in turn, and
// returns the plaintext octets. The structure is checked strictly before any key is used:
// exactly one EncryptionMethod of EncryptedData (AES-GCM), exactly one KeyInfo holding exactly
// one EncryptedKey, whose one EncryptionMethod is RSA-OAEP with an allowed DigestMethod and
// MGF, an inline CipherValue each (no CipherReference, no RetrievalMethod). Keys are
// crypto.Decrypters, so one held in an HSM works too. The caller gates the plaintext.
func DecryptData(data *etree.Element, keys []crypto.Decrypter) ([]byte, error) {
	plain, err := decryptData(data, keys)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

var errShape = errors.New("shape") // internal: mapped to ErrDecrypt

func decryptData(data *etree.Element, keys []crypto.Decrypter) ([]byte, error) {
	if data == nil || data.Tag != "EncryptedData" || data.NamespaceURI() != nsXENC {
		return nil, errShape
	}
	em, ok := only(data, nsXENC, "EncryptionMethod")
	if !ok {
		return nil, errShape
	}
	size, ok := contentKeySize[em.SelectAttrValue("Algorithm", "")]
	if !ok || len(em.ChildElements()) != 0 {
		return nil, errShape
	}
	ki, ok := only(data, nsDS, "KeyInfo")
	if !ok || len(ki.ChildElements()) != 1 {
		return nil, errShape
	}
	ek, ok := only(ki, nsXENC, "EncryptedKey")
	if !ok {
		return nil, errShape
	}
	opts, err := oaepOptions(ek)
	if err != nil {
		return nil, err
	}
	wrapped, err := cipherValue(ek)
	if err != nil {
		return nil, err
	}
	ct, err := cipherValue(data)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k == nil {
			continue
		}
		if _, isRSA := k.Public().(*rsa.PublicKey); !isRSA {
			continue
		}
		cek, err := k.Decrypt(rand.Reader, wrapped, opts)
		if err != nil || len(cek) != size {
			continue
		}
		block, err := aes.NewCipher(cek)
		if err != nil {
			continue
		}
		gcm, err := cipher.NewGCM(block) // 96-bit IV, 128-bit tag: xmlenc-core1 §5.2.4
		if err != nil || len(ct) < gcm.NonceSize()+gcm.Overhead() {
			return nil, errShape
		}
		plain, err := gcm.Open(nil, ct[:gcm.NonceSize()], ct[gcm.NonceSize():], nil)
		if err != nil {
			continue
		}
		return plain, nil
	}
	return nil, errShape
}

// oaepOptions reads EncryptedKey's EncryptionMethod: rsa-oaep-mgf1p (MGF1 with SHA-1,
// xmlenc-core §5.4.2) or xmlenc11#rsa-oaep (xmlenc-core1 §5.5.2, MGF from its xenc11:MGF),
// each with an optional ds:DigestMethod (SHA-1 when absent). OAEPparams (a label) is refused:
// no SP sends one, and an unexpected field is better refused than interpreted.
func oaepOptions(ek *etree.Element) (*rsa.OAEPOptions, error) {
	em, ok := only(ek, nsXENC, "EncryptionMethod")
	if !ok {
		return nil, errShape
	}
	alg := em.SelectAttrValue("Algorithm", "")
	if alg != keyRSAOAEPMGF1P && alg != keyRSAOAEP11 {
		return nil, errShape
	}
	opts := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	seen := map[string]bool{}
	for _, c := range em.ChildElements() {
		key := c.NamespaceURI() + " " + c.Tag
		if seen[key] {
			return nil, errShape
		}
		seen[key] = true
		v := c.SelectAttrValue("Algorithm", "")
		switch {
		case c.NamespaceURI() == nsDS && c.Tag == "DigestMethod":
			h, ok := digestByURI[v]
			if !ok {
				return nil, errShape
			}
			opts.Hash = h
		case alg == keyRSAOAEP11 && c.NamespaceURI() == nsXENC11 && c.Tag == "MGF":
			h, ok := mgfByURI[v]
			if !ok {
				return nil, errShape
			}
			opts.MGFHash = h
		default:
			return nil, errShape
		}
	}
	return opts, nil
}

// cipherValue is the base64 content of el's one xenc:CipherData/xenc:CipherValue.
func cipherValue(el *etree.Element) ([]byte, error) {
	cd, ok := only(el, nsXENC, "CipherData")
	if !ok || len(cd.ChildElements()) != 1 {
		return nil, errShape
	}
	cv, ok := only(cd, nsXENC, "CipherValue")
	if !ok {
		return nil, errShape
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cv.Text()), ""))
	if err != nil || len(b) == 0 {
		return nil, errShape
	}
	return b, nil
}

// only returns el's single child space:tag; false when there is none or more than one.
func only(el *etree.Element, space, tag string) (*etree.Element, bool) {
	var found *etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == space {
			if found != nil {
				return nil, false
			}
			found = c
		}
	}
	return found, found != nil
}
