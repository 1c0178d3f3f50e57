package templates_test

import (
	"bytes"
	"testing"

	"github.com/ateaidp/atea/templates"
)

// TestRenderPostMatchesRender: the pre-rendered fast path writes exactly what the template
// would, for every language and hostile values in each spliced field.
func TestRenderPostMatchesRender(t *testing.T) {
	t.Parallel()
	r, err := templates.Load(templates.FS())
	if err != nil {
		t.Fatal(err)
	}
	values := []string{"", "PHNhbWxwOlJlc3BvbnNlIC8+", "a+b/c=d==", `a'b"c<d>e&f%g+h`, "tab\there\nnl\rcr\x00nul\x7fdel", "ñ€😀 `=` ", "\u2028\u2029\ufeff"}
	actions := []string{"https://sp.test/saml/acs", "https://sp.test/acs?a=b&c=d e", "http://127.0.0.1:8080/demo/saml/acs", "https://sp.test/ñ/\"<x>'`{}|^"}
	for _, lang := range append(templates.Languages(), "fr", "") {
		for _, v := range values {
			for _, a := range actions {
				for _, has := range []bool{false, true} {
					p := templates.PostPage{Base: templates.Base{Lang: lang, Nonce: "n0nce+/=" + v}, Action: a, FieldName: "SAMLResponse",
						Value: v + "QUJD", RelayState: v, HasRelayState: has}
					var slow, fast bytes.Buffer
					if err := r.Render(&slow, templates.PagePost, p); err != nil {
						t.Fatal(err)
					}
					if err := r.RenderPost(&fast, p); err != nil {
						t.Fatal(err)
					}
					if slow.String() != fast.String() {
						t.Fatalf("RenderPost differs from Render for lang %q value %q action %q relay %v:\nslow: %s\nfast: %s", lang, v, a, has, slow.String(), fast.String())
					}
				}
			}
		}
	}
}

// FuzzRenderPost: the fast path agrees with html/template for any RelayState and value.
func FuzzRenderPost(f *testing.F) {
	r, err := templates.Load(templates.FS())
	if err != nil {
		f.Fatal(err)
	}
	f.Add("relay", "value", "https://sp.test/acs")
	f.Add(`'"<>&%+`, "a+b=", "https://sp.test/a b")
	f.Fuzz(func(t *testing.T, relay, value, action string) {
		p := templates.PostPage{Base: templates.Base{Lang: "eu", Nonce: "abc"}, Action: action, FieldName: "SAMLResponse",
			Value: value, RelayState: relay, HasRelayState: true}
		var slow, fast bytes.Buffer
		errS := r.Render(&slow, templates.PagePost, p)
		errF := r.RenderPost(&fast, p)
		if (errS == nil) != (errF == nil) || slow.String() != fast.String() {
			t.Fatalf("mismatch for %q %q %q:\nslow: %s\nfast: %s", relay, value, action, slow.String(), fast.String())
		}
	})
}
