// Package secret holds the small pieces of one-time secrets the self-service journeys share:
// uniform random strings for temporary passwords and codes, and the normal form a typed code
// is compared in. (Sealing a value into a flow is idp.Kit's Seal/Open.)
package secret

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// Alphabet has no 0/O, 1/I/L: characters a citizen copies from an SMS or a letter without
// doubt (the directory's code alphabet).
const Alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// Random returns n uniform characters of alphabet (crypto/rand, no modulo bias).
func Random(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	limit := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", err
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b), nil
}

// Normalise is a code or temporary password as typed: upper case, without spaces or dashes.
// Anything longer than 64 bytes is returned as is: too long to be one, it compares unequal.
func Normalise(s string) string {
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
