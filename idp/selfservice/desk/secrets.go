package desk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// tempAlphabet has no 0/O, 1/I/L: characters a citizen copies from an SMS without doubt.
const tempAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// randomString returns n uniform characters of alphabet (crypto/rand, no modulo bias).
func randomString(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	limit := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("desk: random: %w", err)
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b), nil
}

// normaliseTyped is a code or temporary password as typed: upper case, without spaces or
// dashes; anything overlong is returned as is (it compares unequal).
func normaliseTyped(s string) string {
	if len(s) > 64 {
		return s
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

// newSessionToken is the RA console cookie's value: 256 random bits.
func newSessionToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sealer is the AES-GCM of flow flowID, keyed by a keyed hash of the flow ID under the IdP's
// MAC secret: only this IdP (and replicas sharing the secret) opens what it sealed, and each
// flow has its own key.
func (h *Handler) sealer(flowID string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte(h.kit.MAC("desk-seal", flowID)))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts the enrolment code for the flow's data: Enrol needs it in clear at the end,
// and the store must not hold it so.
func (h *Handler) seal(flowID, code string) (string, error) {
	g, err := h.sealer(flowID)
	if err != nil {
		return "", fmt.Errorf("desk: seal: %w", err)
	}
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, []byte(code), []byte(flowID))), nil
}

var errSealed = errors.New("desk: sealed code does not open")

// open reverses seal.
func (h *Handler) open(flowID, sealed string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", errSealed
	}
	g, err := h.sealer(flowID)
	if err != nil {
		return "", fmt.Errorf("desk: open: %w", err)
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
