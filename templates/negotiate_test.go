package templates_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ateaidp/atea/templates"
)

func TestNegotiate(t *testing.T) {
	t.Parallel()
	r := load(t)
	for _, tc := range []struct {
		name, explicit, accept, want string
	}{
		{"empty means Spanish", "", "", "es"},
		{"explicit wins over header", "eu", "en-GB,en;q=0.9", "eu"},
		{"explicit is case-insensitive", "EN", "eu", "en"},
		{"explicit region tag", "eu-ES", "en", "eu"},
		{"explicit underscore tag", "eu_ES", "en", "eu"},
		{"explicit unsupported falls to header", "fr", "eu,es;q=0.5", "eu"},
		{"explicit garbage falls to header", "<script>", "en", "en"},
		{"explicit garbage, no header", "e", "", "es"},
		{"header first choice", "", "en", "en"},
		{"header region prefix", "", "es-ES,es;q=0.9", "es"},
		{"header Basque region", "", "eu-ES", "eu"},
		{"header upper case", "", "EU", "eu"},
		{"header order by q not position", "", "en;q=0.5, eu;q=0.8", "eu"},
		{"header ties keep order", "", "en;q=0.7, eu;q=0.7", "en"},
		{"header skips unsupported", "", "fr-FR, de;q=0.9, eu;q=0.3", "eu"},
		{"header q=0 is not acceptable", "", "eu;q=0, en;q=0.1", "en"},
		{"q=0 excludes even a later region range", "", "en;q=0, en-GB;q=0.5, eu;q=0.4", "eu"},
		{"region q=0 does not exclude the language", "", "es-MX;q=0, es;q=0.2", "es"},
		{"only refusals means Spanish", "", "en;q=0, eu;q=0", "es"},
		{"wildcard means Spanish first", "", "fr, *;q=0.5", "es"},
		{"wildcard skips refused", "", "es;q=0, *", "eu"},
		{"wildcard below a real match", "", "*;q=0.1, en;q=0.2", "en"},
		{"q with three decimals", "", "eu;q=0.001, en;q=0.0001", "eu"},
		{"q=1.000 allowed", "", "en;q=1.000", "en"},
		{"malformed q skipped", "", "en;q=2, eu;q=abc, es;q=0.5", "es"},
		{"malformed q skipped, header otherwise empty", "", "en;q=1.5", "es"},
		{"garbage header", "", `;;;,,,=q,"eu",e u,123`, "es"},
		{"spaces and params", "", " eu ; q = 0.9 ; foo=bar , en ; q=0.8", "eu"},
		{"long subtag rejected", "", "eu-abcdefghij, en", "en"},
		{"script subtag", "", "eu-Latn-ES", "eu"},
		{"binary", "\x00\xff", "\xff\xfe;q=\x00", "es"},
		{"ranges beyond the limit ignored", "", strings.Repeat("fr,", 40) + "eu", "es"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := r.Negotiate(tc.explicit, tc.accept); got != tc.want {
				t.Errorf("Negotiate(%q, %q) = %q, want %q", tc.explicit, tc.accept, got, tc.want)
			}
		})
	}
}

// FuzzNegotiate: whatever the browser sends, Negotiate answers a supported language, and a
// supported explicit choice always wins.
func FuzzNegotiate(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"eu", "en"}, {"EU-es", ""}, {"", "es-ES,es;q=0.9,en;q=0.8"},
		{"", "*;q=0.5, eu;q=0"}, {"x", "en;q=0.x"}, {"", ",;=,"}, {"", "eu;q=1.0000"},
	} {
		f.Add(s[0], s[1])
	}
	r, err := templates.Load(templates.FS())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, explicit, accept string) {
		got := r.Negotiate(explicit, accept)
		if !slices.Contains(templates.Languages(), got) {
			t.Fatalf("Negotiate(%q, %q) = %q, not a supported language", explicit, accept, got)
		}
		if l := strings.ToLower(explicit); slices.Contains(templates.Languages(), l) && got != l {
			t.Fatalf("Negotiate(%q, %q) = %q, want the explicit choice", explicit, accept, got)
		}
	})
}
