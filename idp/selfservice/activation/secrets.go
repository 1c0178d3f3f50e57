package activation

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/bits"

	"github.com/ateaidp/atea/idp/selfservice/internal/secret"
)

// tempAlphabet has no 0/O, 1/I/L: characters a citizen copies from an SMS without doubt (the
// directory's code alphabet).
const tempAlphabet = secret.Alphabet

// newTempPassword returns n uniform characters of tempAlphabet.
func newTempPassword(n int) (string, error) {
	pw, err := secret.Random(tempAlphabet, n)
	if err != nil {
		return "", fmt.Errorf("activation: temporary password: %w", err)
	}
	return pw, nil
}

// normaliseTemp is a temporary password as typed: upper case, without spaces or dashes.
func normaliseTemp(s string) string { return secret.Normalise(s) }

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

// seal encrypts the activation code for the flow's data: Enrol needs it in clear at the
// end, and the store must not hold it so (idp.Kit.Seal).
func (h *Handler) seal(flowID, code string) (string, error) {
	return h.kit.Seal("activation", flowID, code)
}

// open reverses seal.
func (h *Handler) open(flowID, sealed string) (string, error) {
	return h.kit.Open("activation", flowID, sealed)
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
