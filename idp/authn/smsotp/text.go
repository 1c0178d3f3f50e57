package smsotp

import (
	"context"

	"github.com/ateaidp/atea/idp/authn"
)

// knownLang reports whether lang has an SMS text.
func knownLang(lang string) bool {
	switch lang {
	case "es", "eu", "en":
		return true
	}
	return false
}

// Text is the SMS body carrying code in lang ("es", "eu", "en"; anything else gives "es").
// Each is short enough for one SMS even in UCS-2 (70 characters, "ó" forces it) and tells
// the citizen not to share the code, the warning against relay phishing.
func Text(lang, code string) string {
	switch lang {
	case "eu":
		return "Atea: zure kodea " + code + " da. Ez partekatu."
	case "en":
		return "Atea: your code is " + code + ". Do not share it."
	default:
		return "Atea: su código es " + code + ". No lo comparta."
	}
}

// WithLang returns ctx carrying the citizen's page language, which Begin and Resend use for
// the SMS text; it is authn.WithLang, the key every method reads.
func WithLang(ctx context.Context, lang string) context.Context { return authn.WithLang(ctx, lang) }

// langFrom is the language in ctx if it has a text, else def.
func langFrom(ctx context.Context, def string) string {
	if l, ok := authn.LangFrom(ctx); ok && knownLang(l) {
		return l
	}
	return def
}
