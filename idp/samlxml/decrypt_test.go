package samlxml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"
)

// encData is one xenc:EncryptedData under construction; the fields are the XML written.
type encData struct {
	dataAlg   string // EncryptedData's EncryptionMethod
	keyAlg    string // EncryptedKey's EncryptionMethod
	keyMethod string // children of EncryptedKey's EncryptionMethod
	extraKI   string // more children of ds:KeyInfo
	extraData string // more children of EncryptedData, after CipherData
	ekValue   []byte
	ctValue   []byte
}

func (e encData) xml() string {
	return `<xenc:EncryptedData xmlns:xenc="` + nsXENC + `" xmlns:ds="` + nsDS + `" xmlns:xenc11="` + nsXENC11 + `" Type="` + typeElement + `">` +
		`<xenc:EncryptionMethod Algorithm="` + e.dataAlg + `"/>` +
		`<ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="` + e.keyAlg + `">` + e.keyMethod + `</xenc:EncryptionMethod>` +
		`<xenc:CipherData><xenc:CipherValue>` + base64.StdEncoding.EncodeToString(e.ekValue) + `</xenc:CipherValue></xenc:CipherData>` +
		`</xenc:EncryptedKey>` + e.extraKI + `</ds:KeyInfo>` +
		`<xenc:CipherData><xenc:CipherValue>` + base64.StdEncoding.EncodeToString(e.ctValue) + `</xenc:CipherValue></xenc:CipherData>` +
		e.extraData + `</xenc:EncryptedData>`
}

func parseEl(t *testing.T, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// sealGCM encrypts plain with a fresh AES key of size bytes (IV first, tag last) and wraps the
// key with RSA-OAEP under opts.
func sealGCM(t *testing.T, pub *rsa.PublicKey, size int, opts *rsa.OAEPOptions, plain []byte) (ek, ct []byte) {
	t.Helper()
	return sealGCMKey(pub, size, opts, plain)
}

// TestDecryptData: AES-128/192/256-GCM with RSA-OAEP (mgf1p, and xmlenc11#rsa-oaep with a
// SHA-256 digest and MGF) decrypts, with the right key found among several.
func TestDecryptData(t *testing.T) {
	t.Parallel()
	k := testRSAKey(t)
	other := testRSAKey(t)
	plain := []byte(`<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">n</saml:NameID>`)
	sha1 := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	sha256 := &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}
	for _, tc := range []struct {
		name      string
		dataAlg   string
		size      int
		keyAlg    string
		keyMethod string
		opts      *rsa.OAEPOptions
	}{
		{"aes128-gcm mgf1p", EncAES128GCM, 16, keyRSAOAEPMGF1P, `<ds:DigestMethod Algorithm="` + digSHA1 + `"/>`, sha1},
		{"aes256-gcm mgf1p no digest", EncAES256GCM, 32, keyRSAOAEPMGF1P, "", sha1},
		{"aes192-gcm rsa-oaep sha256", EncAES192GCM, 24, keyRSAOAEP11,
			`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><xenc11:MGF Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/>`, sha256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ek, ct := sealGCM(t, &k.PublicKey, tc.size, tc.opts, plain)
			el := parseEl(t, encData{dataAlg: tc.dataAlg, keyAlg: tc.keyAlg, keyMethod: tc.keyMethod, ekValue: ek, ctValue: ct}.xml())
			got, err := DecryptData(el, []crypto.Decrypter{other, k})
			if err != nil || string(got) != string(plain) {
				t.Fatalf("DecryptData = %q, %v; want the plaintext", got, err)
			}
		})
	}
}

// TestDecryptDataRefuses: everything outside the allow-list, every malformed structure and a
// wrong key fail with the one ErrDecrypt, before or after the key is tried.
func TestDecryptDataRefuses(t *testing.T) {
	t.Parallel()
	k := testRSAKey(t)
	plain := []byte("<x/>")
	sha1 := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	ek, ct := sealGCM(t, &k.PublicKey, 16, sha1, plain)
	pkcs1, err := rsa.EncryptPKCS1v15(rand.Reader, &k.PublicKey, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	good := encData{dataAlg: EncAES128GCM, keyAlg: keyRSAOAEPMGF1P, ekValue: ek, ctValue: ct}
	if _, err := DecryptData(parseEl(t, good.xml()), []crypto.Decrypter{k}); err != nil {
		t.Fatalf("the unmodified message does not decrypt: %v", err)
	}
	tampered := append([]byte(nil), ct...)
	tampered[len(tampered)-1] ^= 1
	cases := map[string]encData{}
	set := func(name string, f func(e *encData)) {
		e := good
		f(&e)
		cases[name] = e
	}
	set("aes256-cbc", func(e *encData) { e.dataAlg = EncAES256CBC })
	set("aes128-cbc", func(e *encData) { e.dataAlg = EncAES128CBC })
	set("tripledes", func(e *encData) { e.dataAlg = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc" })
	set("rsa-1_5", func(e *encData) { e.keyAlg, e.ekValue = "http://www.w3.org/2001/04/xmlenc#rsa-1_5", pkcs1 })
	set("md5 digest", func(e *encData) {
		e.keyMethod = `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#md5"/>`
	})
	set("two digests", func(e *encData) {
		e.keyMethod = `<ds:DigestMethod Algorithm="` + digSHA1 + `"/><ds:DigestMethod Algorithm="` + digSHA1 + `"/>`
	})
	set("OAEPparams", func(e *encData) { e.keyMethod = `<xenc:OAEPparams>AAAA</xenc:OAEPparams>` })
	set("MGF on mgf1p", func(e *encData) { e.keyMethod = `<xenc11:MGF Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/>` })
	set("second EncryptedKey", func(e *encData) {
		e.extraKI = `<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="` + keyRSAOAEPMGF1P + `"/><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>`
	})
	set("RetrievalMethod too", func(e *encData) { e.extraKI = `<ds:RetrievalMethod URI="#x"/>` })
	set("second CipherData", func(e *encData) {
		e.extraData = `<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>`
	})
	set("tampered ciphertext", func(e *encData) { e.ctValue = tampered })
	set("short ciphertext", func(e *encData) { e.ctValue = ct[:10] })
	set("key for another size", func(e *encData) { e.dataAlg = EncAES256GCM })
	// Refused before the key is touched: no answer can depend on what the key would say.
	afterKey := map[string]bool{"tampered ciphertext": true, "short ciphertext": true, "key for another size": true}
	var msgs []string
	for name, e := range cases {
		ck := &countingKey{k: k}
		_, err := DecryptData(parseEl(t, e.xml()), []crypto.Decrypter{ck})
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: err %v, want ErrDecrypt", name, err)
			continue
		}
		if !afterKey[name] && ck.n != 0 {
			t.Errorf("%s: the key was used %d times before the refusal", name, ck.n)
		}
		msgs = append(msgs, err.Error())
	}
	// Shapes that the builder cannot make.
	for name, x := range map[string]string{
		"two EncryptionMethods": strings.Replace(good.xml(), `<ds:KeyInfo>`, `<xenc:EncryptionMethod Algorithm="`+EncAES128GCM+`"/><ds:KeyInfo>`, 1),
		"CipherReference":       strings.Replace(good.xml(), `<xenc:CipherData><xenc:CipherValue>`+base64.StdEncoding.EncodeToString(ct)+`</xenc:CipherValue></xenc:CipherData>`, `<xenc:CipherData><xenc:CipherReference URI="http://attacker.example/"/></xenc:CipherData>`, 1),
		"no KeyInfo":            `<xenc:EncryptedData xmlns:xenc="` + nsXENC + `"><xenc:EncryptionMethod Algorithm="` + EncAES128GCM + `"/><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>`,
		"not EncryptedData":     `<xenc:EncryptedKey xmlns:xenc="` + nsXENC + `"/>`,
	} {
		_, err := DecryptData(parseEl(t, x), []crypto.Decrypter{k})
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: err %v, want ErrDecrypt", name, err)
			continue
		}
		msgs = append(msgs, err.Error())
	}
	if _, err := DecryptData(parseEl(t, good.xml()), []crypto.Decrypter{testRSAKey(t)}); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong key: %v, want ErrDecrypt", err)
	}
	if _, err := DecryptData(nil, []crypto.Decrypter{k}); !errors.Is(err, ErrDecrypt) {
		t.Errorf("nil element: %v", err)
	}
	for _, m := range msgs {
		if m != ErrDecrypt.Error() {
			t.Errorf("error %q differs from the one message %q", m, ErrDecrypt.Error())
		}
	}
}

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// countingKey counts the decryptions asked of k.
type countingKey struct {
	k *rsa.PrivateKey
	n int
}

func (c *countingKey) Public() crypto.PublicKey { return c.k.Public() }

func (c *countingKey) Decrypt(r io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	c.n++
	return c.k.Decrypt(r, msg, opts)
}

// FuzzDecryptData mutates a valid EncryptedData as text: whatever comes in, DecryptData
// does not panic, fails only with ErrDecrypt, and succeeds only for a document that still
// names allowed algorithms and yields the original plaintext (the GCM tag authenticates it).
func FuzzDecryptData(f *testing.F) {
	k := fuzzKey()
	plain := []byte(`<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">n</saml:NameID>`)
	ek, ct := sealGCMKey(&k.PublicKey, 16, &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}, plain)
	good := encData{dataAlg: EncAES128GCM, keyAlg: keyRSAOAEPMGF1P, ekValue: ek, ctValue: ct}.xml()
	f.Add(good)
	f.Add(strings.Replace(good, EncAES128GCM, EncAES256CBC, 1))
	f.Add(strings.Replace(good, keyRSAOAEPMGF1P, "http://www.w3.org/2001/04/xmlenc#rsa-1_5", 1))
	f.Add(strings.Replace(good, "<ds:KeyInfo>", "<ds:KeyInfo><ds:KeyInfo>", 1))
	f.Fuzz(func(t *testing.T, x string) {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(x); err != nil || doc.Root() == nil {
			return
		}
		got, err := DecryptData(doc.Root(), []crypto.Decrypter{k})
		if err != nil {
			if !errors.Is(err, ErrDecrypt) || err.Error() != ErrDecrypt.Error() {
				t.Fatalf("error %v is not the one ErrDecrypt", err)
			}
			return
		}
		if string(got) != string(plain) {
			t.Fatalf("decrypted %q, want the original plaintext", got)
		}
		if em := doc.Root().SelectElement("EncryptionMethod"); em == nil || contentKeySize[em.SelectAttrValue("Algorithm", "")] == 0 {
			t.Fatalf("decrypted although the content algorithm is not allowed: %s", x)
		}
		if km := doc.Root().FindElement("./KeyInfo/EncryptedKey/EncryptionMethod"); km == nil ||
			(km.SelectAttrValue("Algorithm", "") != keyRSAOAEPMGF1P && km.SelectAttrValue("Algorithm", "") != keyRSAOAEP11) {
			t.Fatalf("decrypted although the key transport is not allowed: %s", x)
		}
	})
}

// fuzzKey is one RSA key for every fuzz iteration (generation is slow).
var fuzzKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// sealGCMKey is sealGCM without a testing.T (for the fuzz seed corpus too).
func sealGCMKey(pub *rsa.PublicKey, size int, opts *rsa.OAEPOptions, plain []byte) (ek, ct []byte) {
	key := make([]byte, size)
	_, _ = rand.Read(key)
	block, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(block)
	iv := make([]byte, g.NonceSize())
	_, _ = rand.Read(iv)
	ct = g.Seal(iv, iv, plain, nil)
	ek, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, key, opts)
	if err != nil {
		panic(err)
	}
	return ek, ct
}
