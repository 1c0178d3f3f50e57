package samlxml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // registers SHA-1 for RSA-OAEP key transport only
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
)

// XML-Enc algorithm URIs (xmlenc-core §5; xmlenc-core1 §5.2.4 for GCM).
const (
	EncAES256GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	EncAES128GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	EncAES256CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
	EncAES128CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"

	keyRSAOAEPMGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	digSHA1         = "http://www.w3.org/2000/09/xmldsig#sha1"
	typeElement     = "http://www.w3.org/2001/04/xmlenc#Element"
)

// ErrEncryption is returned when an assertion cannot be encrypted for an SP.
var ErrEncryption = errors.New("samlxml: cannot encrypt")

// Encryption says how to encrypt an assertion for one SP.
type Encryption struct {
	Cert      *x509.Certificate // the SP's encryption certificate (RSA)
	Algorithm string            // EncAES256GCM (default), EncAES128GCM, or a legacy CBC opt-in
}

// EncryptionByName maps config names to algorithm URIs.
func EncryptionByName(name string) (string, error) {
	switch name {
	case "aes256-gcm", "":
		return EncAES256GCM, nil
	case "aes128-gcm":
		return EncAES128GCM, nil
	case "aes256-cbc-legacy":
		return EncAES256CBC, nil
	case "aes128-cbc-legacy":
		return EncAES128CBC, nil
	}
	return "", fmt.Errorf("%w: unknown algorithm %q", ErrEncryption, name)
}

// encryptAssertion wraps the signed assertion bytes in saml:EncryptedAssertion
// (saml-core-2.0-os §2.3.4) as an xenc:EncryptedData of Type Element, with the content key
// transported by RSA-OAEP in ds:KeyInfo/xenc:EncryptedKey.
func (e *Encryption) encryptAssertion(plain []byte) ([]byte, error) {
	pub, ok := e.Cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: SP encryption key is %T, want RSA", ErrEncryption, e.Cert.PublicKey)
	}
	alg := e.Algorithm
	if alg == "" {
		alg = EncAES256GCM
	}
	var keyLen int
	switch alg {
	case EncAES256GCM, EncAES256CBC:
		keyLen = 32
	case EncAES128GCM, EncAES128CBC:
		keyLen = 16
	default:
		return nil, fmt.Errorf("%w: algorithm %q", ErrEncryption, alg)
	}
	key := make([]byte, keyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncryption, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncryption, err)
	}
	var ct []byte
	switch alg {
	case EncAES256GCM, EncAES128GCM:
		// xmlenc-core1 §5.2.4: the 96-bit IV is prepended, the 128-bit tag appended.
		g, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEncryption, err)
		}
		iv := make([]byte, g.NonceSize())
		if _, err := rand.Read(iv); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEncryption, err)
		}
		ct = g.Seal(iv, iv, plain, nil)
	default:
		// xmlenc-core §5.2: IV first; padding bytes arbitrary, the last one the pad length.
		bs := block.BlockSize()
		pad := bs - len(plain)%bs
		buf := make([]byte, bs+len(plain)+pad)
		if _, err := rand.Read(buf[:bs]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEncryption, err)
		}
		copy(buf[bs:], plain)
		buf[len(buf)-1] = byte(pad)
		cipher.NewCBCEncrypter(block, buf[:bs]).CryptBlocks(buf[bs:], buf[bs:])
		ct = buf
	}
	// Key transport: RSA-OAEP (mgf1p). Its hash is SHA-1, the value every SP stack decrypts
	// (xmlsec1, OpenSAML, crewjam); OAEP's security does not rest on SHA-1's collision
	// resistance, so this is not the SHA-1 that signatures must avoid.
	ek, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, key, &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncryption, err)
	}

	var w writer
	w.b = make([]byte, 0, 1024+base64.StdEncoding.EncodedLen(len(ct)))
	w.open("saml:EncryptedAssertion", "xmlns:saml", nsSAML)
	w.open("xenc:EncryptedData", "xmlns:xenc", nsXENC, "Type", typeElement)
	w.elem("xenc:EncryptionMethod", "", "Algorithm", alg)
	w.open("ds:KeyInfo", "xmlns:ds", nsDS)
	w.open("xenc:EncryptedKey")
	w.open("xenc:EncryptionMethod", "Algorithm", keyRSAOAEPMGF1P)
	w.elem("ds:DigestMethod", "", "Algorithm", digSHA1)
	w.close("xenc:EncryptionMethod")
	w.open("xenc:CipherData")
	w.elem("xenc:CipherValue", base64.StdEncoding.EncodeToString(ek))
	w.close("xenc:CipherData")
	w.close("xenc:EncryptedKey")
	w.close("ds:KeyInfo")
	w.open("xenc:CipherData")
	w.elem("xenc:CipherValue", base64.StdEncoding.EncodeToString(ct))
	w.close("xenc:CipherData")
	w.close("xenc:EncryptedData")
	w.close("saml:EncryptedAssertion")
	return w.b, nil
}
