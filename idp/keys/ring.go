package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Role is the part a key plays in the ring.
type Role string

// The roles of a key ring. A ring always has a current signing key and an encryption key; the
// next and previous signing keys exist only around a rollover.
const (
	// RoleCurrent signs everything Atea sends (responses, metadata, logout messages).
	RoleCurrent Role = "current"
	// RoleNext is published in metadata but signs nothing yet, so SPs can trust it before
	// the rollover makes it current.
	RoleNext Role = "next"
	// RolePrevious is the key a rollover replaced; it stays published until its RetireAfter
	// so messages and metadata it signed shortly before the rollover keep verifying.
	RolePrevious Role = "previous"
	// RoleEncryption is the RSA key SPs encrypt to (XML Encryption key transport needs RSA,
	// even when the signing keys are ECDSA).
	RoleEncryption Role = "encryption"
)

// Errors of the ring operations; test them with errors.Is.
var (
	// ErrNoNextKey: a rollover needs a published next key (run `atea keys generate` first).
	ErrNoNextKey = errors.New("keys: no next signing key")
	// ErrNextExists: GenerateNext refuses to replace a next key SPs may already trust.
	ErrNextExists = errors.New("keys: a next signing key already exists")
	// ErrPreviousPublished: a rollover would drop a previous key before its grace period ends.
	ErrPreviousPublished = errors.New("keys: the previous signing key is still in its grace period")
	// ErrState: the state file or a key file it names is missing, unreadable or does not
	// match the fingerprint recorded for it.
	ErrState = errors.New("keys: bad key ring state")
)

// StateFile is the name of the ring's state file in RingOptions.Dir.
const StateFile = "ring.json"

const (
	stateVersion = 1
	lockFile     = "ring.lock"
	encKeyFile   = "encryption.key"
	encCertFile  = "encryption.crt"
)

// Key is one key of the ring with its certificate.
type Key struct {
	Role   Role
	Signer crypto.Signer
	Cert   *x509.Certificate
	// KeyFile and CertFile are where the key lives (absolute, or relative to the working
	// directory as RingOptions.Dir is).
	KeyFile, CertFile string
	// RetireAfter is set on the previous key: from then on it is no longer published.
	RetireAfter time.Time
}

// Fingerprint returns the SHA-256 fingerprint of the key's certificate.
func (k *Key) Fingerprint() string { return Fingerprint(k.Cert) }

// Algorithm returns a short name of the key's algorithm: RSA-2048, ECDSA-P256, ….
func (k *Key) Algorithm() string {
	switch pk := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", pk.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + strings.ReplaceAll(pk.Curve.Params().Name, "-", "")
	}
	return fmt.Sprintf("%T", k.Signer.Public())
}

// Fingerprint returns the SHA-256 fingerprint of cert's DER encoding, as colon-separated
// upper-case hex (the form `openssl x509 -fingerprint -sha256` prints).
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// Ring is Atea's key ring as read from its state file: the current signing key, an optional
// next and previous one, and the encryption key. A Ring is a snapshot: the functions that
// change the ring (GenerateNext, Rollover) write the state file and return a new Ring.
type Ring struct {
	Current    *Key
	Next       *Key // nil when none
	Previous   *Key // nil when none (kept in the state after retirement until the next change)
	Encryption *Key
	// Generated lists the roles whose keys were created by the call that returned this Ring
	// (first start, an upgrade from the single-key layout, GenerateNext).
	Generated []Role
}

// PreviousPublished reports whether the previous key is still inside its grace period at now.
func (r *Ring) PreviousPublished(now time.Time) bool {
	return r.Previous != nil && now.Before(r.Previous.RetireAfter)
}

// SigningCerts returns the certificates to publish with use="signing" at now: current, next,
// and previous until it retires, in that order.
func (r *Ring) SigningCerts(now time.Time) []*x509.Certificate {
	out := []*x509.Certificate{r.Current.Cert}
	if r.Next != nil {
		out = append(out, r.Next.Cert)
	}
	if r.PreviousPublished(now) {
		out = append(out, r.Previous.Cert)
	}
	return out
}

// EncryptionCerts returns the certificates to publish with use="encryption".
func (r *Ring) EncryptionCerts() []*x509.Certificate { return []*x509.Certificate{r.Encryption.Cert} }

// EncryptionKeys returns the keys that decrypt what SPs encrypt to Atea, current first.
func (r *Ring) EncryptionKeys() []crypto.Decrypter {
	if d, ok := r.Encryption.Signer.(crypto.Decrypter); ok {
		return []crypto.Decrypter{d}
	}
	return nil
}

// Keys returns every key of the ring: current, next, previous, encryption (absent ones left out).
func (r *Ring) Keys() []*Key {
	out := []*Key{r.Current}
	if r.Next != nil {
		out = append(out, r.Next)
	}
	if r.Previous != nil {
		out = append(out, r.Previous)
	}
	return append(out, r.Encryption)
}

// RingOptions says where the ring lives and how new keys are made.
type RingOptions struct {
	// Dir holds the state file, the lock file and the keys the ring generates
	// (<dataDir>/keys).
	Dir string
	// LegacyKeyFile and LegacyCertFile are the single signing key of earlier versions
	// (keys.keyFile / keys.certFile). Without a state file they become the current key
	// (created there when missing, as before), so an existing data directory keeps the key its
	// SPs trust. Once the state file exists it alone decides.
	LegacyKeyFile, LegacyCertFile string
	// Algorithm is the algorithm of generated signing keys (RSA2048, RSA3072, ECDSAP256).
	Algorithm string
	// CommonName is the subject of generated certificates.
	CommonName string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *RingOptions) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// ringState is the JSON state file. Paths are relative to the ring directory unless absolute.
// Each entry records the certificate fingerprint, so a key file swapped behind the ring's back
// is an error rather than a silent change of the published key.
type ringState struct {
	Version    int        `json:"version"`
	Current    slotState  `json:"current"`
	Next       *slotState `json:"next,omitempty"`
	Previous   *slotState `json:"previous,omitempty"`
	Encryption slotState  `json:"encryption"`
}

type slotState struct {
	Key         string     `json:"key"`
	Cert        string     `json:"cert"`
	SHA256      string     `json:"sha256"`
	RetireAfter *time.Time `json:"retireAfter,omitempty"`
}

// OpenRing reads the ring in o.Dir. On first start it creates what is missing — the current
// signing key (at the legacy paths, adopting an existing key there) and the encryption key —
// and writes the state file, under the ring lock.
func OpenRing(o RingOptions) (*Ring, error) {
	if r, err := readRing(o.Dir); err == nil {
		return r, nil
	} else if !errors.Is(err, errNoState) {
		return nil, err
	}
	var r *Ring
	err := withLock(o.Dir, func() error {
		var err error
		r, err = readRing(o.Dir)
		if !errors.Is(err, errNoState) {
			return err // another process created it meanwhile, or a real error
		}
		r, err = initRing(o)
		return err
	})
	return r, err
}

// ReadRing reads the ring in dir and never creates anything: a missing state file is an
// ErrState error. A running server reloading its ring uses it, because for it a missing
// state file is a mistake to report, never a reason to generate new keys (as OpenRing would).
func ReadRing(dir string) (*Ring, error) {
	r, err := readRing(dir)
	if errors.Is(err, errNoState) {
		return nil, fmt.Errorf("%w: %s is missing", ErrState, filepath.Join(dir, StateFile))
	}
	return r, err
}

func initRing(o RingOptions) (*Ring, error) {
	now := o.now()
	cn := o.CommonName
	if cn == "" {
		cn = "Atea IdP"
	}
	r := &Ring{}
	cur, created, err := LoadOrCreate(o.LegacyKeyFile, o.LegacyCertFile, o.Algorithm, cn, now)
	if err != nil {
		return nil, err
	}
	if created {
		r.Generated = append(r.Generated, RoleCurrent)
	}
	r.Current = &Key{Role: RoleCurrent, Signer: cur.Signer, Cert: cur.Cert, KeyFile: o.LegacyKeyFile, CertFile: o.LegacyCertFile}
	enc, created, err := loadOrCreateWith(filepath.Join(o.Dir, encKeyFile), filepath.Join(o.Dir, encCertFile),
		encryptionAlgorithm(o.Algorithm), cn+" encryption", now, x509.KeyUsageKeyEncipherment)
	if err != nil {
		return nil, err
	}
	if created {
		r.Generated = append(r.Generated, RoleEncryption)
	}
	r.Encryption = &Key{Role: RoleEncryption, Signer: enc.Signer, Cert: enc.Cert,
		KeyFile: filepath.Join(o.Dir, encKeyFile), CertFile: filepath.Join(o.Dir, encCertFile)}
	if err := writeState(o.Dir, r); err != nil {
		return nil, err
	}
	return r, nil
}

// encryptionAlgorithm picks the RSA size of the encryption key: RSA whatever the signing
// algorithm, because RSA-OAEP key transport is what SAML peers implement (xmlenc-core1 §5.5).
func encryptionAlgorithm(signing string) string {
	if signing == RSA3072 {
		return RSA3072
	}
	return RSA2048
}

// GenerateNext creates a new signing key with o.Algorithm and publishes it as the next key.
// It refuses (ErrNextExists) when a next key exists, unless force is set: SPs may already
// trust that key, and replacing it silently would make the coming rollover break them.
// The key files are written first (new, unique names), then the state file is replaced
// atomically, so a crash leaves either the old ring or the new one.
func GenerateNext(o RingOptions, force bool) (*Ring, error) {
	return changeRing(o, func(r *Ring) error {
		if r.Next != nil && !force {
			return fmt.Errorf("%w (%s); use --force to replace it", ErrNextExists, r.Next.Fingerprint())
		}
		now := o.now()
		base := fmt.Sprintf("signing-%s-%s", now.UTC().Format("20060102T150405Z"), randomHex(4))
		kf, cf := filepath.Join(o.Dir, base+".key"), filepath.Join(o.Dir, base+".crt")
		cn := o.CommonName
		if cn == "" {
			cn = "Atea IdP"
		}
		sk, err := createWith(kf, cf, o.Algorithm, cn, now, x509.KeyUsageDigitalSignature)
		if err != nil {
			return err
		}
		if err := syncDir(o.Dir); err != nil {
			return err
		}
		r.Next = &Key{Role: RoleNext, Signer: sk.Signer, Cert: sk.Cert, KeyFile: kf, CertFile: cf}
		dropRetired(r, now)
		r.Generated = []Role{RoleNext}
		return nil
	})
}

// Rollover promotes the next key to current and keeps the old current published as the
// previous key until now+grace. It refuses without a next key (ErrNoNextKey), and while an
// earlier previous key is still in its grace period (ErrPreviousPublished) unless force is
// set: two rollovers inside one grace period would withdraw a key SPs may still need. Only the
// state file changes (atomic replace), so the rollover is crash-safe. A running `atea serve`
// notices the changed state file (cmd/atea keywatch.go) and swaps its keys without a restart.
func Rollover(o RingOptions, grace time.Duration, force bool) (*Ring, error) {
	return changeRing(o, func(r *Ring) error {
		if r.Next == nil {
			return ErrNoNextKey
		}
		now := o.now()
		if r.PreviousPublished(now) && !force {
			return fmt.Errorf("%w until %s", ErrPreviousPublished, r.Previous.RetireAfter.UTC().Format(time.RFC3339))
		}
		prev := r.Current
		prev.Role, prev.RetireAfter = RolePrevious, now.Add(grace)
		r.Current, r.Previous, r.Next = r.Next, prev, nil
		r.Current.Role = RoleCurrent
		r.Generated = nil
		return nil
	})
}

// changeRing is the frame of every change to an existing ring: it opens the ring (creating
// it as OpenRing does), then under the lock reads the state afresh, so that a change made by
// another process since is not lost, lets change edit it, and replaces the state file
// atomically. On failure it returns the ring as read, with the error.
func changeRing(o RingOptions, change func(r *Ring) error) (*Ring, error) {
	if _, err := OpenRing(o); err != nil {
		return nil, err
	}
	var r *Ring
	err := withLock(o.Dir, func() error {
		var err error
		if r, err = readRing(o.Dir); err != nil {
			return err
		}
		if err := change(r); err != nil {
			return err
		}
		return writeState(o.Dir, r)
	})
	return r, err
}

// dropRetired forgets a previous key whose grace period is over. Its files stay on disk: the
// ring never deletes key material; an operator removes it deliberately.
func dropRetired(r *Ring, now time.Time) {
	if r.Previous != nil && !r.PreviousPublished(now) {
		r.Previous = nil
	}
}

// errNoState is readRing's "no state file yet". It is told apart from every other failure
// (a key file the state names being missing is ErrState): only a missing state file may lead
// to creating keys, never a missing key file.
var errNoState = errors.New("keys: no ring state file")

func readRing(dir string) (*Ring, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoState
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read ring state: %w", err)
	}
	var st ringState
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrState, StateFile, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("%w: %s: version %d, want %d", ErrState, StateFile, st.Version, stateVersion)
	}
	r := &Ring{}
	if r.Current, err = loadSlot(dir, RoleCurrent, &st.Current); err != nil {
		return nil, err
	}
	if r.Encryption, err = loadSlot(dir, RoleEncryption, &st.Encryption); err != nil {
		return nil, err
	}
	if _, ok := r.Encryption.Signer.(*rsa.PrivateKey); !ok {
		return nil, fmt.Errorf("%w: the encryption key must be RSA", ErrState)
	}
	if st.Next != nil {
		if r.Next, err = loadSlot(dir, RoleNext, st.Next); err != nil {
			return nil, err
		}
	}
	if st.Previous != nil {
		if r.Previous, err = loadSlot(dir, RolePrevious, st.Previous); err != nil {
			return nil, err
		}
		if st.Previous.RetireAfter == nil {
			return nil, fmt.Errorf("%w: previous key without retireAfter", ErrState)
		}
		r.Previous.RetireAfter = *st.Previous.RetireAfter
	}
	return r, nil
}

func loadSlot(dir string, role Role, s *slotState) (*Key, error) {
	if s.Key == "" || s.Cert == "" {
		return nil, fmt.Errorf("%w: %s key has no file", ErrState, role)
	}
	kf, cf := resolve(dir, s.Key), resolve(dir, s.Cert)
	sk, err := load(kf, cf)
	if err != nil {
		return nil, fmt.Errorf("%w: %s key: %w", ErrState, role, err)
	}
	if fp := Fingerprint(sk.Cert); !strings.EqualFold(fp, s.SHA256) {
		return nil, fmt.Errorf("%w: %s certificate %s has fingerprint %s, the ring recorded %s", ErrState, role, cf, fp, s.SHA256)
	}
	return &Key{Role: role, Signer: sk.Signer, Cert: sk.Cert, KeyFile: kf, CertFile: cf}, nil
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// relTo records p relative to dir when it lies directly in it, else as an absolute path, so
// the state file does not depend on the working directory of the process that wrote it.
func relTo(dir, p string) (string, error) {
	if filepath.Clean(filepath.Dir(p)) == filepath.Clean(dir) {
		return filepath.Base(p), nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("keys: %w", err)
	}
	return abs, nil
}

func slotOf(dir string, k *Key) (slotState, error) {
	kf, err := relTo(dir, k.KeyFile)
	if err != nil {
		return slotState{}, err
	}
	cf, err := relTo(dir, k.CertFile)
	if err != nil {
		return slotState{}, err
	}
	s := slotState{Key: kf, Cert: cf, SHA256: k.Fingerprint()}
	if k.Role == RolePrevious {
		t := k.RetireAfter.UTC()
		s.RetireAfter = &t
	}
	return s, nil
}

// writeState replaces the state file atomically: a temporary file in the same directory is
// written and fsynced, renamed over the old one, and the directory is fsynced, so after a
// crash the file is either the old state or the new one, never a mix.
func writeState(dir string, r *Ring) error {
	st := ringState{Version: stateVersion}
	var err error
	if st.Current, err = slotOf(dir, r.Current); err != nil {
		return err
	}
	if st.Encryption, err = slotOf(dir, r.Encryption); err != nil {
		return err
	}
	if r.Next != nil {
		s, err := slotOf(dir, r.Next)
		if err != nil {
			return err
		}
		st.Next = &s
	}
	if r.Previous != nil {
		s, err := slotOf(dir, r.Previous)
		if err != nil {
			return err
		}
		st.Previous = &s
	}
	b, err := json.MarshalIndent(&st, "", "  ")
	if err != nil {
		return fmt.Errorf("keys: encode ring state: %w", err)
	}
	b = append(b, '\n')
	f, err := os.CreateTemp(dir, StateFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("keys: write ring state: %w", err)
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }() // no-op after the rename
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("keys: write ring state: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("keys: sync ring state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keys: write ring state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StateFile)); err != nil {
		return fmt.Errorf("keys: replace ring state: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keys: sync %s: %w", dir, err)
	}
	return nil
}

// withLock runs fn holding an exclusive flock on the ring's lock file, so two `atea keys`
// commands (or a first `atea serve` start) cannot interleave their read-modify-write of the
// state. The lock is advisory and released by the kernel if the process dies.
func withLock(dir string, fn func() error) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("keys: lock ring: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("keys: lock ring: %w", err)
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	return fn()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand does not fail on supported platforms
	return hex.EncodeToString(b)
}

// EncodeCertificatePEM returns cert as a PEM block.
func EncodeCertificatePEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
