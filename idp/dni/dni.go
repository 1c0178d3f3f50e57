package dni

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// letters is the check-letter table indexed by number mod 23.
const letters = "TRWAGMYFPDXBNJZSQVHLCKE"

// maxInput bounds what Parse looks at: a number with generous separators ("48.151.623-L")
// is far shorter, and anything longer is not an identity number.
const maxInput = 64

// ErrFormat is wrapped by every error Parse returns for input that is not shaped like a DNI or a
// NIE. A well-shaped number whose letter does not match is a *CheckLetterError instead.
var ErrFormat = errors.New("dni: not a DNI or NIE number")

// CheckLetterError reports a well-formed number whose check letter is wrong, typically a typo.
// Want is the letter the number calls for, so a form can suggest it. The error text carries
// neither the number nor the letters: errors end up in logs (SECURITY.md §4.22).
type CheckLetterError struct {
	Got  rune // the letter typed (upper-cased)
	Want rune // the letter the digits call for
}

// Error implements error.
func (e *CheckLetterError) Error() string { return "dni: check letter does not match the number" }

// Parse validates a DNI or NIE number and returns its canonical form: upper-case, without
// spaces, dashes or dots, e.g. "48151623L" or "X1234567L".
//
// Surrounding white space is trimmed, and spaces, '-' and '.' anywhere are dropped, because
// people copy numbers as "48.151.623-L" or "X-1234567-L". Only ASCII letters are upper-cased:
// Unicode case mapping would turn characters like 'ſ' into 'S', letting look-alikes through.
//
// A DNI typed with 7 digits ("1234567L") is read as having a leading zero ("01234567L"): older
// DNIs below 10 000 000 are printed and often typed without it, and padding cannot change which
// number is meant (the value, hence the letter, is the same). A NIE must have its 7 digits.
//
// A wrong check letter yields a *CheckLetterError; any other malformed input an error wrapping
// ErrFormat. Neither error text contains the input.
func Parse(s string) (string, error) {
	if len(s) > maxInput {
		return "", fmt.Errorf("%w: too long", ErrFormat)
	}
	s = strings.TrimSpace(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch {
		case c == '-' || c == '.' || unicode.IsSpace(c):
			continue
		case c >= 'a' && c <= 'z':
			b.WriteByte(byte(c - 'a' + 'A'))
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			b.WriteByte(byte(c))
		default:
			return "", fmt.Errorf("%w: unexpected character", ErrFormat)
		}
	}
	id := b.String()
	if len(id) == 8 && isDigits(id[:7]) && id[7] >= 'A' && id[7] <= 'Z' {
		id = "0" + id // 7-digit DNI, see above
	}
	if len(id) != 9 {
		return "", fmt.Errorf("%w: want 8 digits and a letter, or X/Y/Z, 7 digits and a letter", ErrFormat)
	}
	body, got := id[:8], rune(id[8])
	if got < 'A' || got > 'Z' {
		return "", fmt.Errorf("%w: the last character must be a letter", ErrFormat)
	}
	digits := body
	switch body[0] {
	case 'X':
		digits = "0" + body[1:]
	case 'Y':
		digits = "1" + body[1:]
	case 'Z':
		digits = "2" + body[1:]
	}
	if !isDigits(digits) {
		return "", fmt.Errorf("%w: want 8 digits and a letter, or X/Y/Z, 7 digits and a letter", ErrFormat)
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		n = n*10 + int(digits[i]-'0')
	}
	if want := rune(letters[n%23]); got != want {
		return "", &CheckLetterError{Got: got, Want: want}
	}
	return id, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// maskPrefix stands for the hidden part of a number. It has a fixed width, so the mask does not
// tell a DNI from a NIE, and matches the seed's "***707" style for phone numbers.
const maskPrefix = "***"

// Mask shortens an identity number for logs and audit records: the last three digits and the
// letter of its canonical form behind a fixed "***", e.g. "***623L" for "48151623L" and
// "***567L" for "X1234567L". Enough to tell citizens apart in an incident, never the whole
// number (SECURITY.md §4.22). Input that Parse rejects is masked entirely as "***", since its
// shape is unknown and it may be a whole number with a typo.
func Mask(id string) string {
	c, err := Parse(id)
	if err != nil {
		return maskPrefix
	}
	return maskPrefix + c[len(c)-4:]
}
