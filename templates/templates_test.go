package templates_test

import (
	"encoding/json"
	"errors"
	"html"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	xhtml "golang.org/x/net/html"

	"github.com/ateaidp/atea/templates"
)

// callerKeys are the message keys that code outside this package chooses at run time
// (idp/login.go, idp/render.go, idp/request.go, idp/sso.go, idp/session.go, idp/issue.go):
// Load cannot see them in the templates, so this list is their check.
var callerKeys = []string{ //nolint:gochecknoglobals // test table
	"error.title", "error.internal", "error.notfound", "error.badrequest", "error.unavailable",
	"error.method", "error.unknownsp", "error.signature", "error.acs", "error.relaystate",
	"error.flowexpired", "error.csrf",
	"login.error.required", "login.error.letter", "login.error.format", "login.error.busy",
	"login.error.invalid",
	"level.low", "level.substantial", "level.high",
	// The method chooser, the B@kQ second factors and step-up (issue 4).
	"method.password.label", "method.password.desc", "method.bakq.label", "method.bakq.desc",
	"method.cert.label", "method.cert.desc",
	"card.error.invalid", "card.error.locked", "card.error.required", "card.error.attempts", "card.error.expired",
	"sms.error.invalid", "sms.error.expired", "sms.error.attempts", "sms.error.locked",
	"sms.error.cooldown", "sms.error.required", "sms.notice.resent",
	"error.nofactor",
}

// rawCatalogs reads the embedded catalogs with plain encoding/json, independently of Load.
func rawCatalogs(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, lang := range templates.Languages() {
		b, err := fs.ReadFile(templates.FS(), "locales/"+lang+".json")
		if err != nil {
			t.Fatalf("read %s catalog: %v", lang, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s catalog: %v", lang, err)
		}
		out[lang] = m
	}
	return out
}

func TestLoadEmbedded(t *testing.T) {
	t.Parallel()
	r := load(t)
	if got := len(r.Keys()); got < len(callerKeys) {
		t.Errorf("Keys() has %d keys, want at least %d", got, len(callerKeys))
	}
}

func TestLanguages(t *testing.T) {
	t.Parallel()
	got := templates.Languages()
	if want := []string{"es", "eu", "en"}; !slices.Equal(got, want) {
		t.Fatalf("Languages() = %v, want %v", got, want)
	}
	got[0] = "fr"
	if again := templates.Languages(); again[0] != "es" {
		t.Errorf("Languages() after the caller changed its copy = %v, want a fresh slice", again)
	}
}

// TestCatalogsHaveIdenticalKeys: a text present in one language and missing in another would
// show a raw key to some citizens (STYLE.md §B6).
func TestCatalogsHaveIdenticalKeys(t *testing.T) {
	t.Parallel()
	cats := rawCatalogs(t)
	keys := func(m map[string]string) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	want := keys(cats["es"])
	for _, lang := range []string{"eu", "en"} {
		if diff := cmp.Diff(want, keys(cats[lang])); diff != "" {
			t.Errorf("keys of %s differ from es (-es +%s):\n%s", lang, lang, diff)
		}
	}
}

func TestCallerKeysExist(t *testing.T) {
	t.Parallel()
	cats := rawCatalogs(t)
	r := load(t)
	for _, lang := range templates.Languages() {
		for _, key := range callerKeys {
			if _, ok := cats[lang][key]; !ok {
				t.Errorf("locales/%s.json lacks %q, which the idp package uses", lang, key)
			}
			if got := r.Message(lang, key, "48151623", "L"); got == key || got == "" {
				t.Errorf("Message(%q, %q) = %q, want a translation", lang, key, got)
			}
		}
	}
}

// TestTranslationsDiffer catches a text pasted untranslated into another catalog. Short
// technical labels that are the same in every language are listed.
func TestTranslationsDiffer(t *testing.T) {
	t.Parallel()
	same := map[string]bool{"login.eyebrow": true, "login.username": true, "method.password.label": true, "method.bakq.label": true}
	cats := rawCatalogs(t)
	for key, es := range cats["es"] {
		if same[key] {
			continue
		}
		if cats["eu"][key] == es || cats["en"][key] == es && !strings.HasPrefix(key, "level.") {
			t.Errorf("%q has the same text in two languages: %q", key, es)
		}
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	r := load(t)
	for _, tc := range []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"en", "login.error.letter", []any{"48151623", "L"}, "The letter for 48151623 is L: check your DNI/NIE."},
		{"es", "login.error.letter", []any{"48151623", "L"}, "La letra que corresponde a 48151623 es la L: compruebe su DNI/NIE."},
		{"eu", "login.error.letter", []any{"48151623", "L"}, "48151623 zenbakiari dagokion letra L da: egiaztatu zure NAN/AIZ zenbakia."},
		{"en", "login.submit", nil, "Sign in"},
		{"EU-es", "login.submit", nil, "Sartu"},
		{"fr", "login.submit", nil, "Entrar"},
		{"", "login.submit", nil, "Entrar"},
		{"en", "no.such.key", nil, "no.such.key"},
		{"en", "error.code", []any{404}, "Error code: 404"},
		// Basque puts the shown digits first: the catalog reorders with explicit indexes.
		{"eu", "sms.instructions", []any{4, "869"}, "Kodea 869 zifrekin hasten da: idatzi haren azken 4 zifrak."},
		{"es", "sms.instructions", []any{4, "869"}, "Introduzca los últimos 4 dígitos del código que empieza por 869."},
	} {
		if got := r.Message(tc.lang, tc.key, tc.args...); got != tc.want {
			t.Errorf("Message(%q, %q, %v) = %q, want %q", tc.lang, tc.key, tc.args, got, tc.want)
		}
	}
}

// TestRenderEveryPage renders each page in each language with realistic data and checks
// what every page must have.
func TestRenderEveryPage(t *testing.T) {
	t.Parallel()
	r := load(t)
	keys := r.Keys()
	for _, lang := range templates.Languages() {
		for page, data := range samples(lang) {
			t.Run(lang+"/"+string(page), func(t *testing.T) {
				t.Parallel()
				out := render(t, r, page, data)
				doc := parse(t, out)
				if got, _ := attr(find(doc, tag("html")), "lang"); got != lang {
					t.Errorf("<html lang> = %q, want %q", got, lang)
				}
				if title := text(find(doc, tag("title"))); !strings.HasSuffix(title, "· Atea") || len(title) < len("x · Atea") {
					t.Errorf("<title> = %q, want a page title then \"· Atea\"", title)
				}
				if find(doc, tag("h1")) == nil {
					t.Error("no <h1>")
				}
				if css := find(doc, tag("link", "rel", "stylesheet")); css == nil || !strings.HasPrefix(mustAttr(css, "href"), "/static/atea.css?v=") {
					t.Errorf("style sheet link = %v, want /static/atea.css?v=…", css)
				}
				if strings.Contains(out, "%!") {
					t.Errorf("a message was formatted with the wrong arguments: %s", excerpt(out, "%!"))
				}
				for _, k := range keys {
					if strings.Contains(out, ">"+k+"<") || strings.Contains(out, `"`+k+`"`) {
						t.Errorf("page shows the raw key %q", k)
					}
				}
				checkCSPClean(t, doc, "n0nce")
			})
		}
	}
}

// checkCSPClean: the pages run under style-src 'self' and script-src 'nonce-…' (SECURITY.md
// §4.19), so no inline style, no event-handler attribute, no javascript: URL, and every script
// carries the page's nonce.
func checkCSPClean(t *testing.T, doc *xhtml.Node, nonce string) {
	t.Helper()
	for _, n := range findAll(doc, func(*xhtml.Node) bool { return true }) {
		for _, a := range n.Attr {
			if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has inline %s=%q", n.Data, a.Key, a.Val)
			}
			if (a.Key == "href" || a.Key == "action" || a.Key == "src") && strings.HasPrefix(strings.ToLower(a.Val), "javascript:") {
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
		}
		if n.Data == "style" {
			t.Error("inline <style> element")
		}
		if n.Data == "script" {
			if got, _ := attr(n, "nonce"); got != nonce {
				t.Errorf("<script nonce=%q>, want %q", got, nonce)
			}
			if _, ok := attr(n, "src"); ok {
				t.Error("script with src: all script is the one inline auto-submit")
			}
		}
	}
}

func mustAttr(n *xhtml.Node, key string) string {
	v, _ := attr(n, key)
	return v
}

func excerpt(s, sub string) string {
	i := strings.Index(s, sub)
	lo, hi := max(i-60, 0), min(i+60, len(s))
	return s[lo:hi]
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	r := load(t)
	for _, tc := range []struct {
		lang, password, submit, label, invalid string
	}{
		{"es", "Contraseña", "Entrar", "DNI/NIE", "DNI/NIE o contraseña incorrectos"},
		{"eu", "Pasahitza", "Sartu", "NAN/AIZ", "NAN/AIZ zenbakia edo pasahitza ez da zuzena"},
		{"en", "Password", "Sign in", "DNI/NIE", "Incorrect DNI/NIE or password"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			page := samples(tc.lang)[templates.PageLogin].(templates.LoginPage)
			out := render(t, r, templates.PageLogin, page)
			doc := parse(t, out)

			if h1 := text(find(doc, tag("h1"))); !strings.Contains(strings.ToLower(h1), strings.ToLower(tc.password)) {
				t.Errorf("<h1> = %q, want it to name the password (%q)", h1, tc.password)
			}
			// The browser test looks for the capitalised word anywhere on the page.
			if body := text(find(doc, tag("body"))); !strings.Contains(body, tc.password) {
				t.Errorf("page text lacks %q", tc.password)
			}
			forms := findAll(doc, tag("form"))
			if len(forms) != 1 {
				t.Fatalf("%d forms, want 1", len(forms))
			}
			f := forms[0]
			if m, a := mustAttr(f, "method"), mustAttr(f, "action"); m != "post" || a != "/login" {
				t.Errorf("form method=%q action=%q, want post /login", m, a)
			}
			for name, want := range map[string]string{"flow": "flow-123", "csrf": "csrf-456"} {
				in := find(f, tag("input", "name", name, "type", "hidden"))
				if got := mustAttr(in, "value"); in == nil || got != want {
					t.Errorf("hidden %s = %q, want %q", name, got, want)
				}
			}
			user := find(f, tag("input", "name", "username"))
			for k, want := range map[string]string{
				"autocomplete": "username", "autocapitalize": "characters", "spellcheck": "false",
				"value": "48151623X", "id": "username", "maxlength": "16",
			} {
				if got := mustAttr(user, k); got != want {
					t.Errorf("username %s = %q, want %q", k, got, want)
				}
			}
			pass := find(f, tag("input", "name", "password"))
			for k, want := range map[string]string{"type": "password", "autocomplete": "current-password", "id": "password"} {
				if got := mustAttr(pass, k); got != want {
					t.Errorf("password %s = %q, want %q", k, got, want)
				}
			}
			for _, in := range []*xhtml.Node{user, pass} {
				if _, ok := attr(in, "required"); !ok {
					t.Errorf("input %s is not required", mustAttr(in, "name"))
				}
				label := find(doc, tag("label", "for", mustAttr(in, "id")))
				if label == nil {
					t.Errorf("input %s has no <label for>", mustAttr(in, "name"))
				}
			}
			if got := text(find(doc, tag("label", "for", "username"))); got != tc.label {
				t.Errorf("username label = %q, want %q", got, tc.label)
			}
			if got := text(find(doc, tag("label", "for", "password"))); got != tc.password {
				t.Errorf("password label = %q, want %q", got, tc.password)
			}
			buttons := findAll(f, tag("button", "type", "submit"))
			if len(buttons) != 1 || text(buttons[0]) != tc.submit {
				t.Errorf("submit buttons = %d %q, want one %q", len(buttons), text(find(f, tag("button"))), tc.submit)
			}
			if !strings.Contains(text(doc), page.SPName) {
				t.Errorf("page does not name the SP %q", page.SPName)
			}
			if lvl := r.Message(tc.lang, "level.substantial"); !strings.Contains(text(doc), lvl) {
				t.Errorf("page does not show the level %q", lvl)
			}

			// The alert: one text-only element (idp's tests read it up to the next "</").
			alerts := findAll(doc, func(n *xhtml.Node) bool { return mustAttr(n, "role") == "alert" })
			if len(alerts) != 1 {
				t.Fatalf("%d role=alert elements, want 1", len(alerts))
			}
			a := alerts[0]
			if a.Data != "p" || mustAttr(a, "class") != "alert" || a.FirstChild == nil || a.FirstChild != a.LastChild || a.FirstChild.Type != xhtml.TextNode {
				t.Errorf("alert = <%s class=%q> with children other than one text node", a.Data, mustAttr(a, "class"))
			}
			if got := text(a); !strings.Contains(got, "48151623") || !strings.Contains(got, " L") {
				t.Errorf("letter hint = %q, want the digits and the letter L", got)
			}

			page.ErrorKey, page.ErrorArgs = "login.error.invalid", nil
			if got := text(find(parse(t, render(t, r, templates.PageLogin, page)), tag("p", "role", "alert"))); !strings.HasPrefix(got, tc.invalid) {
				t.Errorf("invalid-credentials alert = %q, want it to start %q", got, tc.invalid)
			}
			page.ErrorKey = ""
			if out := render(t, r, templates.PageLogin, page); strings.Contains(out, `role="alert"`) {
				t.Error("alert shown without an error")
			}
		})
	}
}

// TestLanguageSwitcher: visible links with hreflang/lang, aria-current on the current one.
func TestLanguageSwitcher(t *testing.T) {
	t.Parallel()
	r := load(t)
	doc := parse(t, render(t, r, templates.PageHome, samples("eu")[templates.PageHome]))
	nav := find(doc, tag("nav"))
	if nav == nil || mustAttr(nav, "aria-label") != "Hizkuntza" {
		t.Fatalf("language <nav> = %v, want aria-label Hizkuntza", nav)
	}
	as := findAll(nav, tag("a"))
	if len(as) != 3 {
		t.Fatalf("%d language links, want 3", len(as))
	}
	for i, lang := range templates.Languages() {
		a := as[i]
		if mustAttr(a, "hreflang") != lang || mustAttr(a, "lang") != lang || mustAttr(a, "href") != "/?lang="+lang {
			t.Errorf("link %d = %v, want hreflang, lang and href for %s", i, a.Attr, lang)
		}
		if _, cur := attr(a, "aria-current"); cur != (lang == "eu") {
			t.Errorf("link %s aria-current present = %v, want %v", lang, cur, lang == "eu")
		}
	}
	post := parse(t, render(t, r, templates.PagePost, samples("eu")[templates.PagePost]))
	if find(post, tag("nav")) != nil {
		t.Error("a page without LangLinks shows a language switcher")
	}
}

// TestPostPageRelayState: RelayState comes back byte-exact (saml-bindings-2.0-os §3.5.3: the
// IdP must return the value it received), whatever characters it holds.
func TestPostPageRelayState(t *testing.T) {
	t.Parallel()
	r := load(t)
	const relay = `a'b"c<d>e&f%g+h`
	for _, tc := range []struct {
		name    string
		relay   string
		has     bool
		wantRaw bool
	}{
		{"hostile characters", relay, true, true},
		{"empty but present", "", true, true},
		{"absent", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := samples("en")[templates.PagePost].(templates.PostPage)
			p.RelayState, p.HasRelayState = tc.relay, tc.has
			out := render(t, r, templates.PagePost, p)

			// Read the attribute as raw bytes, the way a browser tokenizer sees it.
			m := regexp.MustCompile(`<input type="hidden" name="RelayState" value="([^"]*)">`).FindStringSubmatch(out)
			if (m != nil) != tc.wantRaw {
				t.Fatalf("RelayState input present = %v, want %v", m != nil, tc.wantRaw)
			}
			if m != nil {
				if got := html.UnescapeString(m[1]); got != tc.relay {
					t.Errorf("html.UnescapeString(value) = %q, want %q", got, tc.relay)
				}
				if strings.ContainsAny(m[1], `<>'`) {
					t.Errorf("raw value %q is not escaped", m[1])
				}
			}
			doc := parse(t, out)
			forms := findAll(doc, tag("form"))
			if len(forms) != 1 {
				t.Fatalf("%d forms, want exactly 1 (the script submits document.forms[0])", len(forms))
			}
			f := forms[0]
			if mustAttr(f, "method") != "post" || mustAttr(f, "action") != p.Action {
				t.Errorf("form method=%q action=%q, want post %q", mustAttr(f, "method"), mustAttr(f, "action"), p.Action)
			}
			if in := find(f, tag("input", "type", "hidden", "name", "SAMLResponse")); mustAttr(in, "value") != p.Value {
				t.Errorf("SAMLResponse value = %q, want %q", mustAttr(in, "value"), p.Value)
			}
			if b := find(f, tag("button", "type", "submit")); b == nil || text(b) != "Continue" {
				t.Error("no visible Continue button: the page must work without JavaScript")
			} else if _, named := attr(b, "name"); named {
				t.Error("the submit button has a name: it would shadow form.submit()")
			}
			if ns := find(doc, tag("noscript")); ns == nil || !strings.Contains(text(ns), "Continue") {
				t.Error("no <noscript> explanation")
			}
			s := find(doc, tag("script"))
			if s == nil || mustAttr(s, "nonce") != "n0nce" || text(s) != "document.forms[0].submit()" {
				t.Errorf("auto-submit script = %v %q", s, text(s))
			}
		})
	}
}

// TestEscaping: whatever a citizen types or an SP sends is text, never markup.
func TestEscaping(t *testing.T) {
	t.Parallel()
	r := load(t)
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	login := samples("es")[templates.PageLogin].(templates.LoginPage)
	login.Username, login.SPName = evil, evil
	login.ErrorArgs = []any{evil, "L"}
	demo := samples("es")[templates.PageDemo].(templates.DemoPage)
	demo.NameID, demo.SPName = evil, evil
	demo.Attributes = []templates.DemoAttr{{Name: evil, FriendlyName: evil, Values: []string{evil}}}
	post := samples("es")[templates.PagePost].(templates.PostPage)
	post.Action = "javascript:alert(3)"
	choose := samples("es")[templates.PageChoose].(templates.ChoosePage)
	choose.SPName, choose.Action = evil, "javascript:alert(4)"
	choose.Methods = []templates.MethodChoice{{ID: evil, LabelKey: evil, DescKey: evil, LevelKey: evil}}
	card := samples("es")[templates.PageCard].(templates.CardPage)
	card.SPName, card.Positions, card.ErrorArgs = evil, []string{evil}, []any{evil}
	sms := samples("es")[templates.PageSMS].(templates.SMSPage)
	sms.MaskedPhone, sms.Prefix, sms.SPName, sms.ResendAction = evil, evil, evil, "javascript:alert(5)"
	upgrade := samples("es")[templates.PageUpgrade].(templates.UpgradePage)
	upgrade.SPName, upgrade.BackURL = evil, "javascript:alert(6)"
	for _, tc := range []struct {
		page templates.Page
		data any
	}{
		{templates.PageLogin, login}, {templates.PageDemo, demo}, {templates.PagePost, post},
		{templates.PageChoose, choose}, {templates.PageCard, card}, {templates.PageSMS, sms},
		{templates.PageUpgrade, upgrade},
	} {
		out := render(t, r, tc.page, tc.data)
		if strings.Contains(out, "<script>alert") || strings.Contains(out, "<img") {
			t.Errorf("%s: injected markup survived: %s", tc.page, excerpt(out, "alert"))
		}
		if strings.Contains(out, `action="javascript:`) || strings.Contains(out, `href="javascript:`) {
			t.Errorf("%s: javascript: URL in a form action or link", tc.page)
		}
	}
}

func TestErrorPage(t *testing.T) {
	t.Parallel()
	r := load(t)
	for _, tc := range []struct{ lang, ref, home string }{
		{"es", "Referencia", "Volver al inicio"},
		{"eu", "Erreferentzia", "Itzuli hasierara"},
		{"en", "Reference", "Back to the home page"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			p := samples(tc.lang)[templates.PageError].(templates.ErrorPage)
			doc := parse(t, render(t, r, templates.PageError, p))
			if got, want := text(find(doc, tag("h1"))), r.Message(tc.lang, "error.title"); got != want {
				t.Errorf("<h1> = %q, want %q", got, want)
			}
			if got, want := text(find(doc, tag("p", "role", "alert"))), r.Message(tc.lang, "error.acs"); got != want {
				t.Errorf("alert = %q, want %q", got, want)
			}
			if got, want := text(find(doc, tag("p", "class", "reference"))), tc.ref+": a1b2c3d4e5f6"; got != want {
				t.Errorf("reference = %q, want %q", got, want)
			}
			if !strings.Contains(text(doc), "400") {
				t.Error("status code not shown")
			}
			if a := find(doc, tag("a", "class", "button")); mustAttr(a, "href") != "/?lang="+tc.lang || text(a) != tc.home {
				t.Errorf("home link = %q %q", mustAttr(a, "href"), text(a))
			}
			p.CorrelationID = ""
			if out := render(t, r, templates.PageError, p); strings.Contains(out, tc.ref) {
				t.Errorf("reference shown without a correlation ID")
			}
		})
	}
}

func TestHomePage(t *testing.T) {
	t.Parallel()
	r := load(t)
	p := samples("en")[templates.PageHome].(templates.HomePage)
	doc := parse(t, render(t, r, templates.PageHome, p))
	if find(doc, tag("a", "href", "/demo/")) == nil || find(doc, tag("a", "href", "/saml/metadata")) == nil {
		t.Error("home page lacks the demo or metadata link")
	}
	if !strings.Contains(text(doc), "identity provider") {
		t.Error("home page does not say what Atea is")
	}
	p.DemoURL = ""
	doc = parse(t, render(t, r, templates.PageHome, p))
	if find(doc, tag("a", "href", "/demo/")) != nil || strings.Contains(text(doc), "Open the demo service") {
		t.Error("demo link shown without a demo")
	}
}

func TestDemoPage(t *testing.T) {
	t.Parallel()
	r := load(t)
	p := samples("eu")[templates.PageDemo].(templates.DemoPage)
	doc := parse(t, render(t, r, templates.PageDemo, p))
	res := find(doc, tag("section", "id", "demo-result"))
	if res == nil {
		t.Fatal("no #demo-result")
	}
	got := text(res)
	for _, want := range []string{p.SPName, p.NameID, p.NameIDFormat, p.Level, p.SessionIndex, "Etxeberria Goñi", "ES/ES/48151623L", "urn:oid:0.9.2342.19200300.100.1.3", "mail", "ane@izenpe.test"} {
		if !strings.Contains(got, want) {
			t.Errorf("#demo-result lacks %q", want)
		}
	}
	rows := findAll(find(res, tag("tbody")), tag("tr"))
	if len(rows) != len(p.Attributes) {
		t.Errorf("%d attribute rows, want %d", len(rows), len(p.Attributes))
	}
	if a := find(doc, tag("a", "href", "/demo2/")); a == nil || !strings.Contains(text(a), "Demo 2") {
		t.Error("no link to the other demo SP")
	}

	p.Attributes, p.OtherSPURL, p.NameIDFormat = nil, "", ""
	doc = parse(t, render(t, r, templates.PageDemo, p))
	if find(doc, tag("table")) != nil || !strings.Contains(text(doc), r.Message("eu", "demo.noattributes")) {
		t.Error("empty attribute list not explained")
	}
	if !strings.Contains(text(doc), r.Message("eu", "demo.none")) {
		t.Error("empty NameID format not marked")
	}
	if find(doc, tag("a", "href", "/demo2/")) != nil {
		t.Error("single sign-on link shown without another SP")
	}
}

func TestRenderLanguageAndErrors(t *testing.T) {
	t.Parallel()
	r := load(t)
	home := samples("en")[templates.PageHome].(templates.HomePage)
	for _, tc := range []struct {
		lang, want string
	}{{"EU", "eu"}, {"eu-ES", "eu"}, {"fr", "es"}, {"", "es"}, {"<script>", "es"}} {
		home.Lang = tc.lang
		doc := parse(t, render(t, r, templates.PageHome, &home))
		if got := mustAttr(find(doc, tag("html")), "lang"); got != tc.want {
			t.Errorf("Base.Lang %q: <html lang> = %q, want %q", tc.lang, got, tc.want)
		}
	}
	var b strings.Builder
	if err := r.Render(&b, "nope", home); !errors.Is(err, templates.ErrUnknownPage) {
		t.Errorf("Render(unknown page) = %v, want ErrUnknownPage", err)
	}
	if err := r.Render(&b, templates.PageLogin, home); !errors.Is(err, templates.ErrViewModel) {
		t.Errorf("Render(login, HomePage) = %v, want ErrViewModel", err)
	}
	if err := r.Render(&b, templates.PageHome, map[string]any{"Lang": "en"}); !errors.Is(err, templates.ErrViewModel) {
		t.Errorf("Render(home, map) = %v, want ErrViewModel", err)
	}
	if err := r.Render(&b, templates.PageHome, (*templates.HomePage)(nil)); !errors.Is(err, templates.ErrViewModel) {
		t.Errorf("Render(home, nil pointer) = %v, want ErrViewModel", err)
	}
	if b.Len() != 0 {
		t.Errorf("failed renders wrote %d bytes", b.Len())
	}
}

// TestRenderConcurrent: one Renderer serves every request; run under -race.
func TestRenderConcurrent(t *testing.T) {
	t.Parallel()
	r := load(t)
	var wg sync.WaitGroup
	for i := range 24 {
		lang := templates.Languages()[i%3]
		wg.Go(func() {
			for page, data := range samples(lang) {
				var b strings.Builder
				if err := r.Render(&b, page, data); err != nil {
					t.Errorf("Render(%s, %s): %v", lang, page, err)
				}
			}
		})
	}
	wg.Wait()
}
