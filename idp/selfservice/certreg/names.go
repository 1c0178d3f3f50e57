package certreg

import (
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Names reads the citizen's given name and surnames from a certificate subject in RFC 2253 /
// RFC 4514 form (certauth.Identity.Subject, as Go's pkix.Name.String writes it), best effort:
//
//   - givenName (GN, 2.5.4.42) and surname (SN, 2.5.4.4) when present;
//   - the commonName of the Spanish certificates otherwise, or to complete a surname: the
//     DNIe's "SURNAME1 SURNAME2, NAME (AUTENTICACIÓN)" and FNMT's "SURNAME1 SURNAME2 NAME -
//     12345678Z". DNIe's SN holds the first surname only, so a CN that starts with SN and
//     says more gives the full surnames.
//
// Names in capitals, as certificates write them, are title-cased ("ETXEBERRIA GOÑI" →
// "Etxeberria Goñi", with "de", "la", "y"… in lower case). Either result is "" when the
// subject does not say.
func Names(subject string) (given, family string) {
	attrs := parseDN(subject)
	given, family = attrs["gn"], attrs["sn"]
	cn := attrs["cn"]
	// Drop "(AUTENTICACIÓN)", "(FIRMA)" and the like, then a " - 12345678Z" number.
	if i := strings.LastIndex(cn, "("); i > 0 && strings.HasSuffix(strings.TrimSpace(cn), ")") {
		cn = strings.TrimSpace(cn[:i])
	}
	if i := strings.LastIndex(cn, " - "); i > 0 {
		cn = strings.TrimSpace(cn[:i])
	}
	var cnFamily, cnGiven string
	if f, g, ok := strings.Cut(cn, ","); ok {
		cnFamily, cnGiven = strings.TrimSpace(f), strings.TrimSpace(g)
	} else if given != "" && len(cn) > len(given) && strings.EqualFold(cn[len(cn)-len(given):], given) &&
		cn[len(cn)-len(given)-1] == ' ' {
		cnFamily = strings.TrimSpace(cn[:len(cn)-len(given)])
	}
	if given == "" {
		given = cnGiven
	}
	if cnFamily != "" && (family == "" || (len(cnFamily) > len(family) && hasFoldPrefix(cnFamily, family))) {
		family = cnFamily
	}
	return displayName(given), displayName(family)
}

func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// parseDN returns the first value of each attribute of interest ("gn", "sn", "cn") in an
// RFC 4514 distinguished name. Values are unescaped (\, \+ \\ \XX…); a #hex value is the DER
// of an ASN.1 string. Malformed input yields what could be read.
func parseDN(s string) map[string]string {
	out := map[string]string{}
	var key, val strings.Builder
	inValue, hexValue := false, false
	flush := func() {
		k := attrKey(strings.TrimSpace(key.String()))
		v := val.String()
		if hexValue {
			v = derString(strings.TrimSpace(v))
		} else {
			v = strings.TrimSpace(v)
		}
		if _, seen := out[k]; k != "" && !seen && v != "" {
			out[k] = v
		}
		key.Reset()
		val.Reset()
		inValue, hexValue = false, false
	}
	var pending []byte // \XX escapes: bytes of one UTF-8 sequence
	emitPending := func() {
		if len(pending) > 0 {
			val.WriteString(strings.ToValidUTF8(string(pending), "\uFFFD"))
			pending = pending[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !inValue {
			if c == '=' {
				inValue = true
				hexValue = i+1 < len(s) && s[i+1] == '#'
				if hexValue {
					i++
				}
				continue
			}
			if c == ',' || c == '+' {
				key.Reset()
				continue
			}
			key.WriteByte(c)
			continue
		}
		switch {
		case c == '\\' && i+1 < len(s):
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b, _ := hex.DecodeString(s[i+1 : i+3])
				pending = append(pending, b...)
				i += 2
				continue
			}
			emitPending()
			val.WriteByte(s[i+1])
			i++
		case c == ',' || c == '+' || c == ';':
			emitPending()
			flush()
		default:
			emitPending()
			val.WriteByte(c)
		}
	}
	emitPending()
	if inValue {
		flush()
	}
	return out
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// attrKey names the attributes the journey reads, by short name or OID.
func attrKey(k string) string {
	switch strings.ToLower(k) {
	case "gn", "givenname", "2.5.4.42", "oid.2.5.4.42":
		return "gn"
	case "sn", "surname", "2.5.4.4", "oid.2.5.4.4":
		return "sn"
	case "cn", "commonname", "2.5.4.3", "oid.2.5.4.3":
		return "cn"
	}
	return ""
}

// derString decodes a #hex attribute value: the DER of a UTF8String, PrintableString,
// IA5String, T61String (read as Latin-1) or BMPString. Anything else is "".
func derString(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		return ""
	}
	var rv asn1.RawValue
	if rest, err := asn1.Unmarshal(b, &rv); err != nil || len(rest) > 0 || rv.Class != asn1.ClassUniversal {
		return ""
	}
	switch rv.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String:
		if utf8.Valid(rv.Bytes) {
			return string(rv.Bytes)
		}
	case asn1.TagT61String:
		r := make([]rune, len(rv.Bytes))
		for i, c := range rv.Bytes {
			r[i] = rune(c)
		}
		return string(r)
	case asn1.TagBMPString:
		if len(rv.Bytes)%2 != 0 {
			return ""
		}
		u := make([]uint16, len(rv.Bytes)/2)
		for i := range u {
			u[i] = uint16(rv.Bytes[2*i])<<8 | uint16(rv.Bytes[2*i+1])
		}
		return string(utf16.Decode(u))
	}
	return ""
}

// particles stay in lower case inside a title-cased name ("Pérez de la Fuente").
var particles = map[string]bool{"de": true, "del": true, "la": true, "las": true, "los": true, "y": true, "i": true, "e": true, "da": true, "das": true, "do": true, "dos": true}

// displayName collapses spaces and title-cases a name written all in capitals; a name in
// mixed case is kept as written (its holder chose it).
func displayName(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || strings.ToUpper(s) != s || strings.ToLower(s) == s {
		return s
	}
	words := strings.Split(strings.ToLower(s), " ")
	for i, w := range words {
		if i > 0 && particles[w] {
			continue
		}
		parts := strings.Split(w, "-")
		for j, p := range parts {
			parts[j] = capitalise(p)
		}
		words[i] = strings.Join(parts, "-")
	}
	return strings.Join(words, " ")
}

func capitalise(w string) string {
	r, n := utf8.DecodeRuneInString(w)
	if r == utf8.RuneError {
		return w
	}
	return string(unicode.ToTitle(r)) + w[n:]
}
