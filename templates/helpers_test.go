package templates_test

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/ateaidp/atea/templates"
)

// load returns the renderer over the embedded files, failing the test if they do not load.
func load(t *testing.T) *templates.Renderer {
	t.Helper()
	r, err := templates.Load(templates.FS())
	if err != nil {
		t.Fatalf("Load(FS()) = %v, want nil", err)
	}
	return r
}

// render renders page with data and returns the HTML.
func render(t *testing.T, r *templates.Renderer, page templates.Page, data any) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Render(&b, page, data); err != nil {
		t.Fatalf("Render(%s, %T) = %v, want nil", page, data, err)
	}
	return b.String()
}

// parse parses rendered HTML.
func parse(t *testing.T, s string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("html.Parse: %v", err)
	}
	return doc
}

// findAll returns every element below n for which match is true, in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// find returns the first element matching, or nil.
func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if all := findAll(n, match); len(all) > 0 {
		return all[0]
	}
	return nil
}

// tag matches elements by name and, optionally, attribute pairs ("name", "username", …).
func tag(name string, attrs ...string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		if n.Data != name {
			return false
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if v, ok := attr(n, attrs[i]); !ok || v != attrs[i+1] {
				return false
			}
		}
		return true
	}
}

// attr returns an attribute's value and whether it is present.
func attr(n *html.Node, key string) (string, bool) {
	if n == nil {
		return "", false
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// text is the text content of n, with runs of white space collapsed.
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// links is the language switcher the idp package builds.
func links(path, current string) []templates.LangLink {
	labels := map[string]string{"es": "Español", "eu": "Euskara", "en": "English"}
	var out []templates.LangLink
	for _, l := range templates.Languages() {
		out = append(out, templates.LangLink{Code: l, Label: labels[l], URL: path + "?lang=" + l, Current: l == current})
	}
	return out
}

// samples returns a filled view model of every page in language lang, as the callers build
// them.
func samples(lang string) map[templates.Page]any {
	return map[templates.Page]any{
		templates.PageHome: templates.HomePage{
			Base: templates.Base{Lang: lang, LangLinks: links("/", lang), Nonce: "n0nce"}, DemoURL: "/demo/", MetadataURL: "/saml/metadata",
		},
		templates.PageLogin: templates.LoginPage{
			Base:   templates.Base{Lang: lang, LangLinks: links("/login", lang), Nonce: "n0nce"},
			Action: "/login", FlowID: "flow-123", CSRF: "csrf-456", Username: "48151623X",
			ErrorKey: "login.error.letter", ErrorArgs: []any{"48151623", "L"},
			SPName: "https://sp-one.test/saml/metadata", LevelKey: "level.substantial",
		},
		templates.PagePost: templates.PostPage{
			Base:   templates.Base{Lang: lang, Nonce: "n0nce"},
			Action: "https://sp-one.test/saml/acs", FieldName: "SAMLResponse", Value: "PHNhbWxwOlJlc3BvbnNlLz4=",
			RelayState: "state-1", HasRelayState: true,
		},
		templates.PageError: templates.ErrorPage{
			Base:   templates.Base{Lang: lang, LangLinks: links("/", lang), CorrelationID: "a1b2c3d4e5f6", Nonce: "n0nce"},
			Status: 400, TitleKey: "error.title", MessageKey: "error.acs",
		},
		templates.PageDemo: templates.DemoPage{
			Base:   templates.Base{Lang: lang},
			SPName: "http://127.0.0.1:8080/demo/saml/metadata", NameID: "AAdzZWNyZXQx", NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
			Level: "http://eidas.europa.eu/LoA/low", SessionIndex: "_sess42",
			Attributes: []templates.DemoAttr{
				{Name: "FamilyName", FriendlyName: "FamilyName", Values: []string{"Etxeberria Goñi"}},
				{Name: "PersonIdentifier", FriendlyName: "PersonIdentifier", Values: []string{"ES/ES/48151623L"}},
				{Name: "urn:oid:0.9.2342.19200300.100.1.3", FriendlyName: "mail", Values: []string{"ane@example.eus", "ane@izenpe.test"}},
			},
			OtherSPURL: "/demo2/", OtherSPName: "Demo 2",
		},
		templates.PageChoose: templates.ChoosePage{
			Base:   templates.Base{Lang: lang, LangLinks: links("/login", lang), Nonce: "n0nce"},
			Action: "/login/method", FlowID: "flow-123", CSRF: "csrf-456",
			SPName: "https://sp-one.test/saml/metadata", LevelKey: "level.low",
			Methods: []templates.MethodChoice{
				{ID: "password", LabelKey: "method.password.label", DescKey: "method.password.desc", LevelKey: "level.low"},
				{ID: "bakq", LabelKey: "method.bakq.label", DescKey: "method.bakq.desc", LevelKey: "level.substantial"},
				{ID: "cert", LabelKey: "method.cert.label", DescKey: "method.cert.desc", LevelKey: "level.high"},
			},
		},
		templates.PageCard: templates.CardPage{
			Base:   templates.Base{Lang: lang, LangLinks: links("/login/card", lang), Nonce: "n0nce"},
			Action: "/login/card", FlowID: "flow-123", CSRF: "csrf-456",
			SPName: "https://sp-one.test/saml/metadata", LevelKey: "level.substantial",
			Positions: []string{"B3", "D1"}, Digits: 3, ErrorKey: "card.error.invalid",
		},
		templates.PageSMS: templates.SMSPage{
			Base:   templates.Base{Lang: lang, LangLinks: links("/login/sms", lang), Nonce: "n0nce"},
			Action: "/login/sms", ResendAction: "/login/sms/resend", FlowID: "flow-123", CSRF: "csrf-456",
			SPName: "https://sp-one.test/saml/metadata", LevelKey: "level.substantial",
			MaskedPhone: "***707", Prefix: "869", Typed: 4, ExpiresMinutes: 5, CanResend: true,
			ErrorKey: "sms.error.invalid", NoticeKey: "sms.notice.resent",
		},
		templates.PageUpgrade: templates.UpgradePage{
			Base:   templates.Base{Lang: lang, LangLinks: links("/login/upgrade", lang), Nonce: "n0nce"},
			SPName: "https://sp-one.test/saml/metadata", LevelKey: "level.substantial",
			BackURL: "https://sp-one.test/",
		},
	}
}
