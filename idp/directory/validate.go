package directory

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ateaidp/atea/idp/dni"
)

const (
	maxNameRunes  = 100
	maxEmailBytes = 254 // RFC 5321 §4.5.3.1.3 path limit less the angle brackets (RFC 3696 errata)
	maxLocalBytes = 64  // RFC 5321 §4.5.3.1.1
	minPhone      = 8
	maxPhone      = 15 // ITU-T E.164: at most 15 digits
	earliestBirth = "1900-01-01"
)

// FieldError is one bad field of a user's data; it wraps ErrInvalid. Field is "dni",
// "given name", "family name", "birth date", "document expiry", "email", "phone" or
// "credential"; Problem says what is wrong without echoing the value. A form finds the
// field with errors.As (the first bad one of an errors.Join).
type FieldError struct {
	Field, Problem string
}

func (e *FieldError) Error() string { return ErrInvalid.Error() + " " + e.Field + ": " + e.Problem }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// normalise validates a new user's data and returns it in stored form. Every problem is
// reported (errors.Join), each wrapping ErrInvalid and naming its field; values are not
// echoed, since they are personal data and errors end up in logs.
func (d *Directory) normalise(u User) (User, error) {
	var errs []error
	bad := func(field, why string) { errs = append(errs, &FieldError{Field: field, Problem: why}) }

	if c, err := dni.Parse(u.DNI); err != nil {
		var cle *dni.CheckLetterError
		if errors.As(err, &cle) {
			bad("dni", "wrong check letter")
		} else {
			bad("dni", "not a DNI or NIE number")
		}
	} else {
		u.DNI = c
	}
	u.GivenName = strings.TrimSpace(u.GivenName)
	if why := checkName(u.GivenName); why != "" {
		bad("given name", why)
	}
	u.FamilyName = strings.TrimSpace(u.FamilyName)
	if why := checkName(u.FamilyName); why != "" {
		bad("family name", why)
	}
	if why := checkBirthDate(u.BirthDate, d.now()); why != "" {
		bad("birth date", why)
	}
	if u.DocumentExpiry != "" {
		exp, why := normaliseExpiry(u.DocumentExpiry)
		if why != "" {
			bad("document expiry", why)
		}
		u.DocumentExpiry = exp
	}
	u.Email = strings.TrimSpace(u.Email)
	if why := checkEmail(u.Email); u.Email != "" && why != "" {
		bad("email", why)
	}
	u.Phone = strings.ReplaceAll(strings.TrimSpace(u.Phone), " ", "")
	if why := checkPhone(u.Phone); u.Phone != "" && why != "" {
		bad("phone", why)
	}
	switch u.Credential {
	case "":
		u.Credential = CredentialBak
	case CredentialBak, CredentialBakQ:
	default:
		bad("credential", `want "bak" or "bakq"`)
	}
	if len(errs) > 0 {
		return User{}, errors.Join(errs...)
	}
	return u, nil
}

// checkName returns why a (trimmed) name is unacceptable, or "".
func checkName(s string) string {
	switch {
	case s == "":
		return "empty"
	case !utf8.ValidString(s):
		return "not UTF-8"
	case utf8.RuneCountInString(s) > maxNameRunes:
		return fmt.Sprintf("longer than %d characters", maxNameRunes)
	}
	for _, r := range s {
		if badRune(r) {
			return "contains a control character"
		}
	}
	return ""
}

// badRune reports control characters, line and paragraph separators and the bidirectional
// overrides and isolates: none belongs in a name or an address, and they can forge log lines
// or reorder what an operator reads (CVE-2021-42574, "Trojan Source").
func badRune(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
		return true
	}
	return false
}

// checkBirthDate returns why s is not a plausible YYYY-MM-DD birth date, or "". "Future" is
// judged by the calendar date in now's location.
func checkBirthDate(s string, now time.Time) string {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Format(time.DateOnly) != s {
		return "want a valid YYYY-MM-DD date"
	}
	// Fixed-width YYYY-MM-DD strings compare like the dates they name.
	if s > now.Format(time.DateOnly) {
		return "in the future"
	}
	if s < earliestBirth {
		return "before " + earliestBirth
	}
	return ""
}

// normaliseExpiry returns an ID document's expiry date as YYYY-MM-DD, accepting that form or
// the DD/MM/YYYY the citizen reads on the document (a permanent DNI shows 01/01/9999, stored
// as PermanentDocument), or why it is not a valid date. A past date is accepted: whether an
// expired document still serves is the caller's policy, not a data error.
func normaliseExpiry(s string) (string, string) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.DateOnly, "02/01/2006"} {
		if t, err := time.Parse(layout, s); err == nil && t.Format(layout) == s {
			return t.Format(time.DateOnly), ""
		}
	}
	return "", "want a valid YYYY-MM-DD or DD/MM/YYYY date"
}

// checkEmail returns why s is not an acceptable address, or "". Deliberately loose, one '@'
// and a dotted domain: the only real check of an address is a message that arrives.
func checkEmail(s string) string {
	if len(s) > maxEmailBytes {
		return fmt.Sprintf("longer than %d bytes", maxEmailBytes)
	}
	if !utf8.ValidString(s) {
		return "not UTF-8"
	}
	for _, r := range s {
		if unicode.IsSpace(r) || badRune(r) {
			return "contains spaces or control characters"
		}
	}
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case !ok || strings.Contains(domain, "@"):
		return "want exactly one @"
	case local == "":
		return "empty local part"
	case len(local) > maxLocalBytes:
		return fmt.Sprintf("local part longer than %d bytes", maxLocalBytes)
	case !strings.Contains(domain, "."), strings.HasPrefix(domain, "."), strings.HasSuffix(domain, "."),
		strings.Contains(domain, ".."):
		return "want a domain with a dot"
	}
	return ""
}

// checkPhone returns why s (spaces already removed) is not "+" and 8 to 15 digits, or "".
func checkPhone(s string) string {
	digits, ok := strings.CutPrefix(s, "+")
	if !ok {
		return "want + and the country code"
	}
	if len(digits) < minPhone || len(digits) > maxPhone {
		return fmt.Sprintf("want %d to %d digits", minPhone, maxPhone)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "want digits only"
		}
	}
	return ""
}
