package templates

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// The auto-POST page is rendered on every single sign-on, and html/template spends more time
// on it (reflection for every message lookup, escaping a ~10 KiB base64 value rune by rune)
// than everything else Atea does per SSO apart from the signatures. Its text never changes
// for a language except in four places, so Load renders the real template once per language
// and RelayState presence with placeholders, and RenderPost splices the values into the
// pre-rendered skeleton. The escaping is the one html/template applies in those contexts,
// and a test compares RenderPost with Render byte for byte.

// Placeholders: letters and digits only, so html/template leaves them as they are in every
// context they stand in (URL attribute, attribute value, script nonce).
const (
	phAction = "ATEAPHa7c1d9Action"
	phValue  = "ATEAPHa7c1d9Value"
	phRelay  = "ATEAPHa7c1d9Relay"
	phNonce  = "ATEAPHa7c1d9Nonce"
)

type postField int

const (
	fieldLiteral postField = iota
	fieldAction
	fieldValue
	fieldRelay
	fieldNonce
)

// postPart is a literal chunk of the skeleton or a field to fill in.
type postPart struct {
	field postField
	text  []byte
}

// postSkeletons holds, per language, the skeleton without ([0]) and with ([1]) RelayState.
type postSkeletons map[string][2][]postPart

func (r *Renderer) buildPostSkeletons() error {
	sk := postSkeletons{}
	for _, lang := range Languages() {
		var both [2][]postPart
		for i, hasRelay := range []bool{false, true} {
			var buf bytes.Buffer
			p := PostPage{Base: Base{Lang: lang, Nonce: phNonce}, Action: "https://" + phAction, FieldName: "SAMLResponse",
				Value: phValue, RelayState: phRelay, HasRelayState: hasRelay}
			if err := r.execute(&buf, PagePost, p); err != nil {
				return err
			}
			parts, err := splitSkeleton(buf.String(), hasRelay)
			if err != nil {
				return fmt.Errorf("templates: post page (%s): %w", lang, err)
			}
			both[i] = parts
		}
		sk[lang] = both
	}
	r.post = sk
	return nil
}

// splitSkeleton cuts the rendered page at the placeholders, each of which must occur exactly
// once (RelayState only when hasRelay).
func splitSkeleton(s string, hasRelay bool) ([]postPart, error) {
	marks := map[string]postField{"https://" + phAction: fieldAction, phValue: fieldValue, phNonce: fieldNonce}
	if hasRelay {
		marks[phRelay] = fieldRelay
	}
	for m := range marks {
		if n := strings.Count(s, m); n != 1 {
			return nil, fmt.Errorf("placeholder %s occurs %d times", m, n)
		}
	}
	var parts []postPart
	for len(s) > 0 {
		next, which := len(s), ""
		for m := range marks {
			if i := strings.Index(s, m); i >= 0 && i < next {
				next, which = i, m
			}
		}
		if next > 0 {
			parts = append(parts, postPart{field: fieldLiteral, text: []byte(s[:next])})
		}
		if which == "" {
			break
		}
		parts = append(parts, postPart{field: marks[which]})
		s = s[next+len(which):]
	}
	return parts, nil
}

// RenderPost writes the auto-POST page (saml-bindings-2.0-os §3.5.4) for p, exactly as
// Render(w, PagePost, p) would, but from the pre-rendered skeleton. p.FieldName must be
// "SAMLResponse" (the only message Atea posts so far); anything else falls back to Render.
func (r *Renderer) RenderPost(w io.Writer, p PostPage) error {
	u, err := url.Parse(p.Action)
	if p.FieldName != "SAMLResponse" || r.post == nil || err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return r.Render(w, PagePost, p)
	}
	parts := r.post[r.lang(p.Lang)][0]
	if p.HasRelayState {
		parts = r.post[r.lang(p.Lang)][1]
	}
	out := make([]byte, 0, 2048+len(p.Value)+len(p.Action)+6*len(p.RelayState))
	for _, part := range parts {
		switch part.field {
		case fieldLiteral:
			out = append(out, part.text...)
		case fieldAction:
			out = append(out, attrURL(p.Action)...)
		case fieldValue:
			out = appendAttrText(out, p.Value)
		case fieldRelay:
			out = appendAttrText(out, p.RelayState)
		case fieldNonce:
			out = appendAttrText(out, p.Nonce)
		}
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("templates: write post: %w", err)
	}
	return nil
}

// attrText escapes s for a double-quoted attribute value exactly as html/template does (its
// htmlEscaper and htmlReplacementTable): NUL as U+FFFD, the five HTML specials and '+' as
// references; everything else, invalid UTF-8 included, is copied as it is.
func attrText(s string) string { return string(appendAttrText(nil, s)) }

// appendAttrText appends attrText(s) to dst, copying the runs between specials in one go (a
// SAMLResponse is ~10 KiB of base64 whose only special is '+').
func appendAttrText(dst []byte, s string) []byte {
	for {
		i := strings.IndexAny(s, "\x00\"&'+<>")
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		switch s[i] {
		case 0:
			dst = append(dst, "\uFFFD"...)
		case '"':
			dst = append(dst, "&#34;"...)
		case '&':
			dst = append(dst, "&amp;"...)
		case '\'':
			dst = append(dst, "&#39;"...)
		case '+':
			dst = append(dst, "&#43;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		}
		s = s[i+1:]
	}
}

// attrURL is html/template's treatment of a URL in an attribute (its urlNormalizer, then the
// attribute escaper): bytes outside RFC 3986's unreserved and reserved sets, and ' ( ), are
// percent-encoded with lower-case hex; existing escapes are kept. Callers checked the scheme.
func attrURL(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case strings.IndexByte("-._~!#$&*+,/:;=?@[]", c) >= 0:
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			// A valid escape is kept (html/template's exact condition, quirk included).
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return attrText(b.String())
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
