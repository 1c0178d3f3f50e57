package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Algorithm names accepted by LoadOrCreate.
const (
	RSA2048   = "rsa2048"
	RSA3072   = "rsa3072"
	ECDSAP256 = "ecdsa-p256"
)

// ErrAlgorithm is returned for an unknown key algorithm name.
var ErrAlgorithm = errors.New("keys: unknown algorithm")

// SigningKey is the IdP's signing key and its certificate.
type SigningKey struct {
	Signer crypto.Signer
	Cert   *x509.Certificate
}

// LoadOrCreate reads the PEM key and certificate at keyFile and certFile; when neither exists it
// generates them with alg (created once, reused on every later start). A key without its
// certificate (or the reverse) is an error rather than a silent regeneration: SPs trust the
// published certificate, and replacing it would break them.
func LoadOrCreate(keyFile, certFile, alg, commonName string, now time.Time) (*SigningKey, bool, error) {
	return loadOrCreateWith(keyFile, certFile, alg, commonName, now, x509.KeyUsageDigitalSignature)
}

// loadOrCreateWith is LoadOrCreate with the certificate's key usage chosen (the key ring's
// encryption key is certified for key encipherment).
func loadOrCreateWith(keyFile, certFile, alg, commonName string, now time.Time, usage x509.KeyUsage) (*SigningKey, bool, error) {
	_, kerr := os.Stat(keyFile)
	_, cerr := os.Stat(certFile)
	switch {
	case kerr == nil && cerr == nil:
		k, err := load(keyFile, certFile)
		return k, false, err
	case errors.Is(kerr, os.ErrNotExist) && errors.Is(cerr, os.ErrNotExist):
		k, err := createWith(keyFile, certFile, alg, commonName, now, usage)
		return k, err == nil, err
	case kerr != nil && !errors.Is(kerr, os.ErrNotExist):
		return nil, false, fmt.Errorf("keys: stat key: %w", kerr)
	case cerr != nil && !errors.Is(cerr, os.ErrNotExist):
		return nil, false, fmt.Errorf("keys: stat certificate: %w", cerr)
	default:
		return nil, false, fmt.Errorf("keys: only one of %s and %s exists; restore the other or remove both", keyFile, certFile)
	}
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case RSA2048, "":
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: %q", ErrAlgorithm, alg)
}

func createWith(keyFile, certFile, alg, cn string, now time.Time, usage x509.KeyUsage) (*SigningKey, error) {
	signer, err := generate(alg)
	if err != nil {
		return nil, err
	}
	cert, err := selfSigned(signer, cn, now, usage)
	if err != nil {
		return nil, err
	}
	der := cert.Raw
	pkcs8, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o755); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := writeExclusive(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return nil, err
	}
	if err := writeExclusive(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return &SigningKey{Signer: signer, Cert: cert}, nil
}

// SelfSigned makes a self-signed certificate for signer. SAML peers trust the key published
// in metadata, not a chain, so a long validity avoids needless expiry outages.
func SelfSigned(signer crypto.Signer, cn string, now time.Time) (*x509.Certificate, error) {
	return selfSigned(signer, cn, now, x509.KeyUsageDigitalSignature)
}

func selfSigned(signer crypto.Signer, cn string, now time.Time, usage x509.KeyUsage) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, fmt.Errorf("keys: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Atea"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              usage,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("keys: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("keys: parse certificate: %w", err)
	}
	return cert, nil
}

// writeExclusive creates path and fails if it exists, so two processes starting at once
// cannot overwrite each other's key.
func writeExclusive(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("keys: sync %s: %w", path, err)
	}
	return f.Close()
}

func load(keyFile, certFile string) (*SigningKey, error) {
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	signer, err := ParsePrivateKeyPEM(kb)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", keyFile, err)
	}
	cert, err := ParseCertificatePEM(cb)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", certFile, err)
	}
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("keys: %s does not belong to %s", certFile, keyFile)
	}
	return &SigningKey{Signer: signer, Cert: cert}, nil
}

// ParsePrivateKeyPEM parses a PKCS#8, PKCS#1 or SEC1 PEM private key.
func ParsePrivateKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("keys: no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("keys: unsupported private key type")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("keys: unparseable private key")
}

// ParseCertificatePEM parses the first PEM certificate in b.
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("keys: no PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(eq)
	return ok && ea.Equal(b)
}

// Secrets holds the keys derived from the installation secret. Each purpose gets its own key
// (SECURITY.md §4.17: separate keys for cookies/CSRF, pairwise IDs, replay-cache keys).
type Secrets struct {
	CSRF     []byte
	Pairwise []byte
	Store    []byte
	Browser  []byte
	// RedisKeys derives Redis key names from IDs; RedisRecords encrypts the records stored
	// there (AES-256-GCM), so a dump of Redis reveals nothing usable (SECURITY.md §4.15).
	RedisKeys    []byte
	RedisRecords []byte
	// UserIDs derives citizens' internal IDs from their DNI/NIE, so instances that share the
	// secret agree on them.
	UserIDs []byte
	// Cards keys the hashes of coordinate-card cells; OTP the MACs of SMS codes.
	Cards []byte
	OTP   []byte
}

// LoadOrCreateSecrets reads the 32-byte hex secret at path (creating it with mode 0600 on first
// start) and derives the purpose keys from it with HMAC-SHA256.
func LoadOrCreateSecrets(path string) (*Secrets, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("keys: secret: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		if err := writeExclusive(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
			return nil, err
		}
		b = []byte(hex.EncodeToString(raw))
	} else if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	master, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(master) < 32 {
		return nil, fmt.Errorf("keys: %s must hold at least 32 hex-encoded bytes", path)
	}
	return DeriveSecrets(master), nil
}

// DeriveSecrets derives the purpose keys from a master secret.
func DeriveSecrets(master []byte) *Secrets {
	d := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("atea/v1/" + label))
		return m.Sum(nil)
	}
	return &Secrets{CSRF: d("csrf"), Pairwise: d("pairwise"), Store: d("store"), Browser: d("browser"),
		RedisKeys: d("redis-keys"), RedisRecords: d("redis-records"), UserIDs: d("user-ids"),
		Cards: d("coordinate-cards"), OTP: d("one-time-codes")}
}
