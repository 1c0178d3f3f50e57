package desk

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/ateaidp/atea/idp/selfservice/internal/secret"
)

// tempAlphabet has no 0/O, 1/I/L: characters a citizen copies from an SMS without doubt.
const tempAlphabet = secret.Alphabet

// randomString returns n uniform characters of alphabet (crypto/rand, no modulo bias).
func randomString(alphabet string, n int) (string, error) {
	v, err := secret.Random(alphabet, n)
	if err != nil {
		return "", fmt.Errorf("desk: random: %w", err)
	}
	return v, nil
}

// normaliseTyped is a code or temporary password as typed: upper case, without spaces or
// dashes; anything overlong is returned as is (it compares unequal).
func normaliseTyped(s string) string { return secret.Normalise(s) }

// newSessionToken is the RA console cookie's value: 256 random bits.
func newSessionToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// seal encrypts the enrolment code for the flow's data: Enrol needs it in clear at the end,
// and the store must not hold it so (idp.Kit.Seal).
func (h *Handler) seal(flowID, code string) (string, error) {
	return h.kit.Seal("desk", flowID, code)
}

// open reverses seal.
func (h *Handler) open(flowID, sealed string) (string, error) {
	return h.kit.Open("desk", flowID, sealed)
}
