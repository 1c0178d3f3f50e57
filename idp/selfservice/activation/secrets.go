package activation

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"strings"
)

// tempAlphabet has no 0/O, 1/I/L: characters a citizen copies from an SMS without doubt (the
// directory's code alphabet).
const tempAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// newTempPassword returns n uniform characters of tempAlphabet.
func newTempPassword(n int) (string, error) {
	b := make([]byte, n)
	limit := big.NewInt(int64(len(tempAlphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("activation: temporary password: %w", err)
		}
		b[i] = tempAlphabet[v.Int64()]
	}
	return string(b), nil
}

// normaliseTemp is a temporary password as typed: upper case, without spaces or dashes.
func normaliseTemp(s string) string {
	if len(s) > 64 {
		return s // too long to be one; compares unequal
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// newChallenge is a fresh proof-of-work challenge: 128 random bits, hex.
func newChallenge() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("activation: challenge: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// checkPoW reports whether SHA-256(challenge || nonce) has at least want leading zero bits.
// The nonce is the decimal number static/activation-pow.js found.
func checkPoW(challenge, nonce string, want int) bool {
	if challenge == "" || nonce == "" || len(nonce) > 20 {
		return false
	}
	for i := 0; i < len(nonce); i++ {
		if nonce[i] < '0' || nonce[i] > '9' {
			return false
		}
	}
	sum := sha256.Sum256([]byte(challenge + nonce))
	return leadingZeros(sum[:]) >= want
}

func leadingZeros(b []byte) int {
	n := 0
	for _, c := range b {
		if c != 0 {
			return n + bits.LeadingZeros8(c)
		}
		n += 8
	}
	return n
}

// sealer is the AES-GCM of flow flowID. Its key is a keyed hash of the flow ID under the
// IdP's MAC secret: only this IdP (and its replicas, which share the secret) can open what
// it sealed, and each flow has its own key.
func (h *Handler) sealer(flowID string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte(h.kit.MAC("activation-seal", flowID)))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts the activation code for the flow's data: Enrol needs it in clear at the
// end, and the store must not hold it so.
func (h *Handler) seal(flowID, code string) (string, error) {
	g, err := h.sealer(flowID)
	if err != nil {
		return "", fmt.Errorf("activation: seal: %w", err)
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("activation: seal: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, []byte(code), []byte(flowID))), nil
}

var errSealed = errors.New("activation: sealed code does not open")

// open reverses seal.
func (h *Handler) open(flowID, sealed string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", errSealed
	}
	g, err := h.sealer(flowID)
	if err != nil {
		return "", fmt.Errorf("activation: open: %w", err)
	}
	if len(raw) < g.NonceSize() {
		return "", errSealed
	}
	pt, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], []byte(flowID))
	if err != nil {
		return "", errSealed
	}
	return string(pt), nil
}

// smsText is the SMS with the temporary password in the page's language. Each fits one SMS:
// the Spanish one (UCS-2 because of "ñ") stays under 70 characters.
func smsText(lang, pw string, minutes int) string {
	switch lang {
	case "eu":
		return fmt.Sprintf("Atea B@k: aldi baterako pasahitza %s (%d min). Ez partekatu.", pw, minutes)
	case "en":
		return fmt.Sprintf("Atea B@k: temporary password %s (%d min). Do not share it.", pw, minutes)
	default:
		return fmt.Sprintf("Atea B@k: contraseña temporal %s (%d min). No la comparta.", pw, minutes)
	}
}
