package certreg

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// parseDate reads a date as citizens write it: DD/MM/YYYY (one-digit day and month too, and
// "-" or "." as separators) or YYYY-MM-DD (what a date picker sends); 01/01/9999 is a
// permanent DNI's expiry. It returns YYYY-MM-DD.
func parseDate(s string) (string, bool) {
	for _, layout := range []string{"2/1/2006", "2-1-2006", "2.1.2006", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(time.DateOnly), true
		}
	}
	return "", false
}

// displayDate is a YYYY-MM-DD date as the form asks for it, DD/MM/YYYY.
func displayDate(s string) string {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	return t.Format("02/01/2006")
}

// olderThan reports whether someone born on birth (YYYY-MM-DD) has had their years-th
// birthday by today's calendar date. Someone born on 29 February turns a year older on 1
// March in a common year (time.AddDate normalises 29/02 to 01/03).
func olderThan(birth string, years int, today time.Time) bool {
	b, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		return false
	}
	return b.AddDate(years, 0, 0).Format(time.DateOnly) <= today.Format(time.DateOnly)
}

// normaliseEmail trims an address and checks its shape loosely (one @, a dotted domain, no
// spaces or control characters, RFC 5321 lengths): the directory checks again, and the only
// real check of an address is a message that arrives.
func normaliseEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 254 || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", false
		}
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || strings.Contains(domain, "@") || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", false
	}
	return s, true
}

// normalisePhone turns a mobile as typed into E.164: spaces, dashes, dots and brackets are
// dropped, a leading 00 becomes +, and 9 digits starting with 6 or 7 (a Spanish mobile
// without its prefix) get +34. It wants "+" and 8 to 15 digits (ITU-T E.164).
func normalisePhone(s string) (string, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\u00a0':
			return -1
		}
		return r
	}, s)
	if rest, ok := strings.CutPrefix(s, "00"); ok {
		s = "+" + rest
	}
	if len(s) == 9 && (s[0] == '6' || s[0] == '7') {
		s = "+34" + s
	}
	digits, ok := strings.CutPrefix(s, "+")
	if !ok || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return "", false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", false
		}
	}
	return s, true
}
