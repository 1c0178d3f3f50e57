package directory

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters (RFC 9106 §3.1).
type Params struct {
	MemoryKiB uint32 // m, memory in KiB
	Time      uint32 // t, passes over the memory
	Threads   uint8  // p, lanes
}

// DefaultParams returns the OWASP Password Storage Cheat Sheet minimum for argon2id:
// m = 19456 KiB (19 MiB), t = 2, p = 1 (SECURITY.md §4.16). Raise it where the login latency
// budget allows; stored hashes are upgraded on the next successful login.
func DefaultParams() Params { return Params{MemoryKiB: 19456, Time: 2, Threads: 1} }

const (
	saltLen = 16 // bytes, RFC 9106 §3.1 recommends 128 bits
	keyLen  = 32 // bytes of tag

	// Sanity bounds, for configuration and, more importantly, for hashes read back from the
	// file: a record claiming m = 4 TiB or t = 0 must fail closed, not exhaust memory or make
	// argon2 panic.
	maxMemoryKiB = 4 << 20 // 4 GiB
	maxTime      = 64
	minSaltLen   = 8 // RFC 9106 §3.1: at least 8 bytes
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64

	// Password policy for Add (SECURITY.md §4.16: ASVS 5.0 minimum 8, allow ≥ 64, no
	// composition rules; a maximum so hashing is no DoS lever).
	minPasswordRunes = 8
	maxPasswordBytes = 256

	phcPrefix = "$argon2id$"
)

func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d outside 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		// RFC 9106 §3.1: m is at least 8*p KiB.
		return fmt.Errorf("memory %d KiB outside %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxMemoryKiB)
	}
	return nil
}

// idKey is argon2.IDKey with our parameter type.
func idKey(password, salt []byte, p Params, n uint32) []byte {
	return argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, n)
}

// phc is a parsed argon2id PHC string.
type phc struct {
	params Params
	salt   []byte
	hash   []byte
}

// b64 is the PHC string format's base64: standard alphabet, no padding; strict, so each hash
// has exactly one spelling.
func b64() *base64.Encoding { return base64.RawStdEncoding.Strict() }

// String formats the PHC string "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (the PHC
// string format, as used by the argon2 reference implementation).
func (h phc) String() string {
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", phcPrefix, argon2.Version,
		h.params.MemoryKiB, h.params.Time, h.params.Threads, b64().EncodeToString(h.salt), b64().EncodeToString(h.hash))
}

// errMalformedHash is wrapped, with ErrCorrupt, by everything parsePHC rejects.
var errMalformedHash = errors.New("malformed password hash")

// parsePHC parses what phc.String writes, strictly: only argon2id version 19, parameters in
// the order m, t, p, in canonical decimal, within the sanity bounds. Anything else is an error, so a damaged or
// tampered record fails closed rather than verifying against something unintended.
func parsePHC(s string) (phc, error) {
	bad := func(why string) (phc, error) {
		return phc{}, fmt.Errorf("%w: %w: %s", ErrCorrupt, errMalformedHash, why)
	}
	rest, ok := strings.CutPrefix(s, phcPrefix)
	if !ok {
		return bad("not argon2id")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 4 {
		return bad("want 4 fields")
	}
	if parts[0] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	kv := strings.Split(parts[1], ",")
	if len(kv) != 3 {
		return bad("want m, t and p")
	}
	var nums [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return bad("want m, t and p")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || strconv.FormatUint(n, 10) != v { // canonical decimal only: no leading zeros
			return bad("bad parameter " + name)
		}
		nums[i] = n
	}
	if nums[2] > 255 {
		return bad("bad parameter p")
	}
	h := phc{params: Params{MemoryKiB: uint32(nums[0]), Time: uint32(nums[1]), Threads: uint8(nums[2])}}
	if err := h.params.validate(); err != nil {
		return bad(err.Error())
	}
	var err error
	if h.salt, err = b64().DecodeString(parts[2]); err != nil || len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return bad("bad salt")
	}
	if h.hash, err = b64().DecodeString(parts[3]); err != nil || len(h.hash) < minKeyLen || len(h.hash) > maxKeyLen {
		return bad("bad hash")
	}
	// Go's base64 decoder skips '\r' and '\n'; insisting on the one spelling String writes
	// catches that and anything else lenient above.
	if h.String() != s {
		return bad("not in canonical form")
	}
	return h, nil
}

// derive runs one argon2id computation under the concurrency limit. Waiting for a slot ends
// with ctx; a computation once started runs to the end (argon2 cannot be interrupted).
func (d *Directory) derive(ctx context.Context, password, salt []byte, p Params, n uint32) ([]byte, error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("directory: wait for password hashing: %w", ctx.Err())
	}
	defer func() { <-d.sem }()
	return d.kdf(password, salt, p, n), nil
}

// hash returns the PHC string of a new argon2id hash of password at the configured cost.
func (d *Directory) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	sum, err := d.derive(ctx, []byte(password), salt, d.params, keyLen)
	if err != nil {
		return "", err
	}
	return phc{params: d.params, salt: salt, hash: sum}.String(), nil
}

// verify reports whether password matches h, recomputing with h's own parameters, and
// comparing in constant time (SECURITY.md §4.9).
func (d *Directory) verify(ctx context.Context, h phc, password []byte) (bool, error) {
	sum, err := d.derive(ctx, password, h.salt, h.params, uint32(len(h.hash)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(sum, h.hash) == 1, nil
}

// dummySalt salts the hash computed for unknown users. It need not be secret or random: the
// result is thrown away; only the work matters.
const dummySalt = "atea-dummy-salt!"

// dummy does the work of verifying a password for a user that does not exist, at the current
// cost, so that response time does not tell which DNIs are registered (SECURITY.md §4.9,
// kratos password/login.go:80).
func (d *Directory) dummy(ctx context.Context, password []byte) error {
	sum, err := d.derive(ctx, password, []byte(dummySalt), d.params, keyLen)
	if err != nil {
		return err
	}
	// Also the comparison, to keep the two paths the same shape.
	_ = subtle.ConstantTimeCompare(sum, make([]byte, keyLen))
	return nil
}

// needsRehash reports whether h is cheaper than the configured cost in any parameter, or has
// a shorter salt or tag than new hashes get. Then a successful login re-hashes the password
// (the only moment the directory sees it) so raising Options.Params upgrades users as they
// come. A hash costlier than the configuration is kept: lowering the cost never downgrades.
func (d *Directory) needsRehash(h phc) bool {
	return h.params.MemoryKiB < d.params.MemoryKiB || h.params.Time < d.params.Time ||
		h.params.Threads < d.params.Threads || len(h.salt) < saltLen || len(h.hash) < keyLen
}

//go:embed commonpasswords.txt
var commonPasswordsText string

// commonPasswords parses the embedded list (one a line, '#' comments) into a set keyed by the
// lower-cased password.
func commonPasswords() map[string]struct{} {
	m := make(map[string]struct{})
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsText))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[strings.ToLower(line)] = struct{}{}
	}
	return m
}

// The rules of the password policy, each an ErrWeakPassword: test with errors.Is, or name the
// rule with PasswordRule, to tell the citizen which one a password broke.
var (
	ErrPasswordShort  = fmt.Errorf("%w: too short", ErrWeakPassword)
	ErrPasswordLong   = fmt.Errorf("%w: too long", ErrWeakPassword)
	ErrPasswordHasID  = fmt.Errorf("%w: contains the DNI/NIE", ErrWeakPassword)
	ErrPasswordCommon = fmt.Errorf("%w: too common", ErrWeakPassword)
)

// PasswordRule names the policy rule err broke: "short", "long", "dni", "common", or "" when
// err is not a policy error. The journeys map it onto their message keys.
func PasswordRule(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{{ErrPasswordShort, "short"}, {ErrPasswordLong, "long"}, {ErrPasswordHasID, "dni"}, {ErrPasswordCommon, "common"}} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return ""
}

// checkPassword applies the policy for a new password of the user with canonical DNI id. The
// errors name the rule and never contain the password.
//
// The password is checked exactly as typed (no trimming or normalisation: ASVS 5.0 V6.2.8)
// and there are no composition rules (ASVS 4.0.3 2.1.9, NIST SP 800-63B §5.1.1.2).
func (d *Directory) checkPassword(id, password string) error {
	switch {
	case len(password) > maxPasswordBytes:
		return fmt.Errorf("%w: longer than %d bytes", ErrPasswordLong, maxPasswordBytes)
	case utf8.RuneCountInString(password) < minPasswordRunes:
		return fmt.Errorf("%w: shorter than %d characters", ErrPasswordShort, minPasswordRunes)
	}
	for _, digits := range dniDigits(id) {
		if strings.Contains(password, digits) {
			return fmt.Errorf("%w: contains the DNI/NIE number", ErrPasswordHasID)
		}
	}
	// A context-specific and breached-password check (NIST SP 800-63B §5.1.1.2, ASVS 5.0
	// V6.2.4), kept small; case does not make a common password less common.
	if _, ok := d.common[strings.ToLower(password)]; ok {
		return fmt.Errorf("%w", ErrPasswordCommon)
	}
	return nil
}

// dniDigits returns the digit runs of a canonical DNI/NIE a password must not contain: the
// digits as written and, for a DNI with leading zeros, the number without them when it is still
// long enough to be specific (6 digits or more; "1" alone would forbid half of all passwords).
func dniDigits(id string) []string {
	if len(id) != 9 {
		return nil
	}
	digits := id[:8]
	if c := digits[0]; c < '0' || c > '9' {
		digits = digits[1:] // NIE: the 7 digits after X/Y/Z
	}
	out := []string{digits}
	if t := strings.TrimLeft(digits, "0"); t != digits && len(t) >= 6 {
		out = append(out, t)
	}
	return out
}
