package templates

import (
	"slices"
	"strings"
)

// defaultLang is the language of last resort: most of Atea's users read Spanish.
const defaultLang = "es"

// maxRanges bounds how much of an Accept-Language header is looked at. Real browsers send a
// handful of ranges; a header with thousands is an attack on the sort, not a preference.
const maxRanges = 32

// Languages returns the supported page languages, in the order the language switcher shows
// them: Spanish, Basque, English. It returns a fresh slice on every call, so callers may
// modify it.
func Languages() []string { return []string{"es", "eu", "en"} }

// supported reports whether primary is one of Languages.
func supported(primary string) bool { return slices.Contains(Languages(), primary) }

// Negotiate picks the language of a page:
//
//  1. explicit (the language switcher's ?lang=), when it names a supported language: its
//     primary subtag is compared case-insensitively, so "EU" and "eu-ES" mean Basque;
//  2. else the supported language the Accept-Language header prefers most (RFC 9110
//     §12.5.4): ranges are ordered by q-value, ties keep header order, "es-ES" matches es by
//     its primary subtag, q=0 marks a language as not acceptable, "*" stands for any
//     language not otherwise excluded, and malformed ranges are skipped;
//  3. else Spanish.
//
// It never fails and always returns one of Languages.
func (r *Renderer) Negotiate(explicit, acceptLanguage string) string {
	if p, ok := primaryTag(explicit); ok && supported(p) {
		return p
	}
	if l, ok := fromAcceptLanguage(acceptLanguage); ok {
		return l
	}
	return defaultLang
}

// primaryTag returns the lower-cased primary subtag of a language tag such as "eu-ES" or
// "eu_ES" (RFC 5646 §2.1: 2*8ALPHA for the languages Atea could ever support). ok is false
// for anything that is not a plausible tag.
func primaryTag(tag string) (string, bool) {
	tag = strings.TrimSpace(tag)
	p, rest, hasRest := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	if len(p) < 2 || len(p) > 8 || !isAlpha(p) {
		return "", false
	}
	if hasRest && !validSubtags(rest) {
		return "", false
	}
	return strings.ToLower(p), true
}

// fromAcceptLanguage is step 2 of Negotiate.
func fromAcceptLanguage(h string) (string, bool) {
	type candidate struct {
		primary string // "*" for the wildcard
		q       int    // thousandths
	}
	var cands []candidate
	excluded := map[string]bool{}
	parts := strings.SplitN(h, ",", maxRanges+1)
	if len(parts) > maxRanges {
		parts = parts[:maxRanges]
	}
	for _, part := range parts {
		rng, params, _ := strings.Cut(part, ";")
		rng = strings.TrimSpace(rng)
		q, ok := weight(params)
		if !ok || rng == "" {
			continue
		}
		primary := "*"
		if rng != "*" {
			p, rest, hasRest := strings.Cut(rng, "-")
			if len(p) < 1 || len(p) > 8 || !isAlpha(p) || hasRest && !validSubtags(rest) {
				continue
			}
			primary = strings.ToLower(p)
			if q == 0 && !hasRest {
				// "eu;q=0": Basque is not acceptable (RFC 9110 §12.4.2). A region-only
				// refusal such as "es-MX;q=0" does not refuse Spanish as a whole.
				excluded[primary] = true
			}
		}
		if q > 0 {
			cands = append(cands, candidate{primary, q})
		}
	}
	slices.SortStableFunc(cands, func(a, b candidate) int { return b.q - a.q })
	for _, c := range cands {
		if c.primary == "*" {
			for _, l := range Languages() {
				if !excluded[l] {
					return l, true
				}
			}
			continue
		}
		if supported(c.primary) && !excluded[c.primary] {
			return c.primary, true
		}
	}
	return "", false
}

// weight parses the parameters after a language range and returns its q-value in
// thousandths (RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )).
// No q parameter means 1. ok is false for a malformed q-value, and the range is then ignored.
func weight(params string) (int, bool) {
	q := 1000
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
			return 0, false
		}
		n := int(v[0]-'0') * 1000
		if len(v) > 1 {
			if v[1] != '.' {
				return 0, false
			}
			scale := 100
			for _, c := range v[2:] {
				if c < '0' || c > '9' {
					return 0, false
				}
				n += int(c-'0') * scale
				scale /= 10
			}
		}
		if n > 1000 {
			return 0, false
		}
		q = n
	}
	return q, true
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

// validSubtags checks "ES", "Latn-ES", … : 1*8 alphanumerics separated by hyphens.
func validSubtags(s string) bool {
	for sub := range strings.SplitSeq(s, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for i := 0; i < len(sub); i++ {
			c := sub[i]
			if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z') {
				return false
			}
		}
	}
	return true
}
