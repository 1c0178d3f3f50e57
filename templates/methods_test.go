package templates_test

import (
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"

	"github.com/ateaidp/atea/templates"
)

// The pages of the level-of-assurance methods (issue 4): the chooser, the two B@kQ second
// factors and the upgrade explanation.

// checkHidden: a form carries the flow and the CSRF token bound to it (STYLE.md §B6).
func checkHidden(t *testing.T, f *xhtml.Node) {
	t.Helper()
	for name, want := range map[string]string{"flow": "flow-123", "csrf": "csrf-456"} {
		in := find(f, tag("input", "name", name, "type", "hidden"))
		if got := mustAttr(in, "value"); in == nil || got != want {
			t.Errorf("form %s: hidden %s = %q, want %q", mustAttr(f, "action"), name, got, want)
		}
	}
}

// checkOTPInput: a one-time-code input that phones fill from the SMS and that offers a digit
// keyboard (SECURITY.md §4.8 asks nothing of the markup; usability does).
func checkOTPInput(t *testing.T, in *xhtml.Node, maxlength string) {
	t.Helper()
	if in == nil {
		t.Fatal("input missing")
	}
	for k, want := range map[string]string{
		"type": "text", "inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]*", "maxlength": maxlength,
	} {
		if got := mustAttr(in, k); got != want {
			t.Errorf("input %s: %s = %q, want %q", mustAttr(in, "name"), k, got, want)
		}
	}
	if _, ok := attr(in, "required"); !ok {
		t.Errorf("input %s is not required", mustAttr(in, "name"))
	}
}

// alerts returns the role=alert elements, checking each is a text-only <p class="alert"> (the
// idp tests read an alert up to the next "</").
func alerts(t *testing.T, doc *xhtml.Node) []*xhtml.Node {
	t.Helper()
	as := findAll(doc, func(n *xhtml.Node) bool { return mustAttr(n, "role") == "alert" })
	for _, a := range as {
		if a.Data != "p" || mustAttr(a, "class") != "alert" || a.FirstChild == nil || a.FirstChild != a.LastChild || a.FirstChild.Type != xhtml.TextNode {
			t.Errorf("alert = <%s class=%q> with children other than one text node", a.Data, mustAttr(a, "class"))
		}
	}
	return as
}

func TestChoosePage(t *testing.T) {
	t.Parallel()
	r := load(t)
	for _, tc := range []struct{ lang, heading, bakq string }{
		{"es", "Elija cómo identificarse", "Contraseña y tarjeta de coordenadas o código por SMS"},
		{"eu", "Aukeratu nola identifikatu nahi duzun", "Pasahitza eta koordenatu-txartela edo SMS bidezko kodea"},
		{"en", "Choose how to identify yourself", "Password and coordinate card or SMS code"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			p := samples(tc.lang)[templates.PageChoose].(templates.ChoosePage)
			doc := parse(t, render(t, r, templates.PageChoose, p))
			if got := text(find(doc, tag("h1"))); got != tc.heading {
				t.Errorf("<h1> = %q, want %q", got, tc.heading)
			}
			if !strings.Contains(text(doc), p.SPName) || !strings.Contains(text(find(doc, tag("dl"))), r.Message(tc.lang, "level.low")) {
				t.Errorf("page does not name the SP and the requested level: %q", text(find(doc, tag("dl"))))
			}
			forms := findAll(doc, tag("form"))
			if len(forms) != 1 {
				t.Fatalf("%d forms, want 1", len(forms))
			}
			f := forms[0]
			if mustAttr(f, "method") != "post" || mustAttr(f, "action") != p.Action {
				t.Errorf("form method=%q action=%q, want post %q", mustAttr(f, "method"), mustAttr(f, "action"), p.Action)
			}
			checkHidden(t, f)
			buttons := findAll(f, tag("button", "type", "submit", "name", "method"))
			if len(buttons) != len(p.Methods) {
				t.Fatalf("%d method buttons, want %d", len(buttons), len(p.Methods))
			}
			for i, m := range p.Methods {
				b := buttons[i]
				if got := mustAttr(b, "value"); got != m.ID {
					t.Errorf("button %d value = %q, want %q", i, got, m.ID)
				}
				got := text(b)
				for _, want := range []string{
					r.Message(tc.lang, m.LabelKey), r.Message(tc.lang, m.DescKey),
					r.Message(tc.lang, "choose.reaches", r.Message(tc.lang, m.LevelKey)),
				} {
					if !strings.Contains(got, want) {
						t.Errorf("button %s = %q, want it to contain %q", m.ID, got, want)
					}
				}
			}
			if got := text(buttons[1]); !strings.Contains(got, tc.bakq) {
				t.Errorf("B@kQ button = %q, want %q", got, tc.bakq)
			}
			if len(alerts(t, doc)) != 0 {
				t.Error("alert shown with methods to choose from")
			}

			// No method reaches the level: say so, and leave a way out.
			p.Methods = nil
			doc = parse(t, render(t, r, templates.PageChoose, p))
			as := alerts(t, doc)
			if len(as) != 1 || text(as[0]) != r.Message(tc.lang, "error.nofactor") {
				t.Errorf("alerts without methods = %d, want one saying %q", len(as), r.Message(tc.lang, "error.nofactor"))
			}
			if find(doc, tag("form")) != nil || find(doc, tag("a", "class", "button")) == nil {
				t.Error("without methods: want no form and a link onwards")
			}
		})
	}
}

func TestCardPage(t *testing.T) {
	t.Parallel()
	r := load(t)
	for _, tc := range []struct{ lang, heading, explain, invalid string }{
		{"es", "Tarjeta de coordenadas", "Escriba los números de su tarjeta que están en estas posiciones", "Los números no coinciden"},
		{"eu", "Koordenatu-txartela", "Idatzi zure txartelak posizio hauetan dituen zenbakiak", "Zenbakiak ez datoz bat"},
		{"en", "Coordinate card", "Type the numbers of your card at these positions", "The numbers do not match your card"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			p := samples(tc.lang)[templates.PageCard].(templates.CardPage)
			doc := parse(t, render(t, r, templates.PageCard, p))
			if got := text(find(doc, tag("h1"))); got != tc.heading {
				t.Errorf("<h1> = %q, want %q", got, tc.heading)
			}
			if got := text(find(doc, tag("legend"))); got != tc.explain {
				t.Errorf("<legend> = %q, want %q", got, tc.explain)
			}
			if got, want := text(find(doc, tag("p", "id", "card-hint"))), r.Message(tc.lang, "card.digits", 3); !strings.Contains(got, want) {
				t.Errorf("hint = %q, want it to say %q", got, want)
			}
			forms := findAll(doc, tag("form"))
			if len(forms) != 1 {
				t.Fatalf("%d forms, want 1", len(forms))
			}
			f := forms[0]
			if mustAttr(f, "method") != "post" || mustAttr(f, "action") != p.Action {
				t.Errorf("form method=%q action=%q, want post %q", mustAttr(f, "method"), mustAttr(f, "action"), p.Action)
			}
			checkHidden(t, f)
			inputs := findAll(f, func(n *xhtml.Node) bool { return n.Data == "input" && mustAttr(n, "type") != "hidden" })
			if len(inputs) != len(p.Positions) {
				t.Fatalf("%d cell inputs, want %d", len(inputs), len(p.Positions))
			}
			for i, pos := range p.Positions {
				in := inputs[i]
				if mustAttr(in, "id") != "cell-"+pos || mustAttr(in, "name") != "cell_"+pos {
					t.Errorf("input %d id=%q name=%q, want cell-%s cell_%s", i, mustAttr(in, "id"), mustAttr(in, "name"), pos, pos)
				}
				checkOTPInput(t, in, "3")
				if l := find(doc, tag("label", "for", "cell-"+pos)); text(l) != pos {
					t.Errorf("label for cell-%s = %q, want %q", pos, text(l), pos)
				}
				if _, af := attr(in, "autofocus"); af != (i == 0) {
					t.Errorf("input %s autofocus = %v, want %v", pos, af, i == 0)
				}
				if got := mustAttr(in, "aria-describedby"); got != "card-hint card-error" {
					t.Errorf("input %s aria-describedby = %q, want the hint and the error", pos, got)
				}
			}
			if b := findAll(f, tag("button", "type", "submit")); len(b) != 1 || text(b[0]) != r.Message(tc.lang, "card.submit") {
				t.Errorf("submit buttons = %d, want one %q", len(b), r.Message(tc.lang, "card.submit"))
			}
			as := alerts(t, doc)
			if len(as) != 1 || !strings.HasPrefix(text(as[0]), tc.invalid) {
				t.Errorf("alerts = %d, want one starting %q", len(as), tc.invalid)
			}

			p.ErrorKey = "card.error.locked"
			if as := alerts(t, parse(t, render(t, r, templates.PageCard, p))); len(as) != 1 || text(as[0]) != r.Message(tc.lang, "card.error.locked") {
				t.Error("locked card not explained")
			}
			p.ErrorKey = ""
			doc = parse(t, render(t, r, templates.PageCard, p))
			if len(alerts(t, doc)) != 0 {
				t.Error("alert shown without an error")
			}
			if got := mustAttr(find(doc, tag("input", "id", "cell-B3")), "aria-describedby"); got != "card-hint" {
				t.Errorf("aria-describedby without an error = %q, want card-hint", got)
			}
		})
	}
}

func TestSMSPage(t *testing.T) {
	t.Parallel()
	r := load(t)
	for _, tc := range []struct{ lang, sent, instructions, validity, resend string }{
		{"es", "Le hemos enviado un código al ***707.", "Introduzca los últimos 4 dígitos del código que empieza por 869.", "El código es válido durante 5 minutos.", "No he recibido el código"},
		{"eu", "Kode bat bidali dizugu ***707 zenbakira.", "Kodea 869 zifrekin hasten da: idatzi haren azken 4 zifrak.", "Kodeak 5 minutuz balio du.", "Ez dut kodea jaso"},
		{"en", "We have sent a code to ***707.", "Enter the last 4 digits of the code that starts with 869.", "The code is valid for 5 minutes.", "I did not receive the code"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			p := samples(tc.lang)[templates.PageSMS].(templates.SMSPage)
			doc := parse(t, render(t, r, templates.PageSMS, p))
			body := text(find(doc, tag("body")))
			for _, want := range []string{tc.sent, tc.instructions, tc.validity} {
				if !strings.Contains(body, want) {
					t.Errorf("page text lacks %q", want)
				}
			}
			forms := findAll(doc, tag("form"))
			if len(forms) != 2 {
				t.Fatalf("%d forms, want 2 (the code and the resend)", len(forms))
			}
			code, resend := forms[0], forms[1]
			for f, action := range map[*xhtml.Node]string{code: p.Action, resend: p.ResendAction} {
				if mustAttr(f, "method") != "post" || mustAttr(f, "action") != action {
					t.Errorf("form method=%q action=%q, want post %q", mustAttr(f, "method"), mustAttr(f, "action"), action)
				}
				checkHidden(t, f)
			}

			// The input, with the shown digits visibly in front of it and in its label.
			in := find(code, tag("input", "name", "code"))
			checkOTPInput(t, in, "4")
			if _, ok := attr(in, "autofocus"); !ok {
				t.Error("code input has no autofocus")
			}
			prefix := find(code, tag("span", "class", "prefix"))
			if prefix == nil || text(prefix) != "869" || mustAttr(prefix, "aria-hidden") != "true" {
				t.Fatalf("prefix = %q, want a visible, aria-hidden 869", text(prefix))
			}
			if prefix.Parent != in.Parent || prefix.NextSibling != in {
				t.Error("the prefix is not right in front of the input")
			}
			label := find(doc, tag("label", "for", mustAttr(in, "id")))
			if got := text(label); !strings.HasPrefix(got, r.Message(tc.lang, "sms.code")) || !strings.Contains(got, "869") || !strings.Contains(got, "4") {
				t.Errorf("label = %q, want the code label naming the 4 digits after 869", got)
			}
			if b := findAll(code, tag("button", "type", "submit")); len(b) != 1 || text(b[0]) != r.Message(tc.lang, "sms.submit") {
				t.Errorf("code form submit = %d buttons, want one %q", len(b), r.Message(tc.lang, "sms.submit"))
			}

			b := find(resend, tag("button", "type", "submit"))
			if text(b) != tc.resend {
				t.Errorf("resend button = %q, want %q", text(b), tc.resend)
			}
			if _, dis := attr(b, "disabled"); dis {
				t.Error("resend disabled although CanResend")
			}
			as := alerts(t, doc)
			if len(as) != 1 || text(as[0]) != r.Message(tc.lang, "sms.error.invalid") {
				t.Errorf("alerts = %d, want one %q", len(as), r.Message(tc.lang, "sms.error.invalid"))
			}
			st := find(doc, func(n *xhtml.Node) bool { return mustAttr(n, "role") == "status" })
			if text(st) != r.Message(tc.lang, "sms.notice.resent") {
				t.Errorf("status = %q, want %q", text(st), r.Message(tc.lang, "sms.notice.resent"))
			}

			// During the cooldown: the button is disabled and says when it comes back; the code
			// expires in a minute (singular); no error, no notice.
			p.CanResend, p.ErrorKey, p.NoticeKey, p.ExpiresMinutes = false, "", "", 1
			doc = parse(t, render(t, r, templates.PageSMS, p))
			b = find(findAll(doc, tag("form"))[1], tag("button"))
			if _, dis := attr(b, "disabled"); !dis {
				t.Error("resend enabled during the cooldown")
			}
			wait := r.Message(tc.lang, "sms.resend.wait")
			if note := find(doc, tag("p", "id", mustAttr(b, "aria-describedby"))); text(note) != wait {
				t.Errorf("cooldown note = %q, want %q described by the button", text(note), wait)
			}
			body = text(find(doc, tag("body")))
			if !strings.Contains(body, r.Message(tc.lang, "sms.validity.one")) {
				t.Errorf("one-minute validity not shown")
			}
			if len(alerts(t, doc)) != 0 || find(doc, func(n *xhtml.Node) bool { return mustAttr(n, "role") == "status" }) != nil {
				t.Error("alert or status shown without a key")
			}
		})
	}
}

func TestSMSErrors(t *testing.T) {
	t.Parallel()
	r := load(t)
	for _, key := range []string{"sms.error.invalid", "sms.error.expired", "sms.error.attempts", "sms.error.locked", "sms.error.cooldown", "sms.error.required"} {
		p := samples("en")[templates.PageSMS].(templates.SMSPage)
		p.ErrorKey = key
		as := alerts(t, parse(t, render(t, r, templates.PageSMS, p)))
		if len(as) != 1 || text(as[0]) != r.Message("en", key) {
			t.Errorf("%s: alerts = %d, want one %q", key, len(as), r.Message("en", key))
		}
	}
	if got := r.Message("en", "sms.error.expired"); got != "The code has expired; ask for a new one." {
		t.Errorf("sms.error.expired = %q", got)
	}
}

func TestUpgradePage(t *testing.T) {
	t.Parallel()
	r := load(t)
	for _, tc := range []struct{ lang, needs, back string }{
		{"es", "El servicio https://sp-one.test/saml/metadata exige el nivel de seguridad «Sustancial».", "Volver al servicio"},
		{"eu", "https://sp-one.test/saml/metadata zerbitzuak «Substantziala» segurtasun-maila eskatzen du.", "Itzuli zerbitzura"},
		{"en", "The service https://sp-one.test/saml/metadata requires the “Substantial” assurance level.", "Back to the service"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			p := samples(tc.lang)[templates.PageUpgrade].(templates.UpgradePage)
			doc := parse(t, render(t, r, templates.PageUpgrade, p))
			body := text(find(doc, tag("body")))
			for _, want := range []string{
				tc.needs, "B@kQ", "KZgune", "Zuzenean", "Osakidetza", "16",
				r.Message(tc.lang, "upgrade.what.text"), r.Message(tc.lang, "upgrade.online.text"),
				r.Message(tc.lang, "upgrade.needs.email"), r.Message(tc.lang, "upgrade.needs.mobile"),
			} {
				if !strings.Contains(body, want) {
					t.Errorf("page text lacks %q", want)
				}
			}
			if a := find(doc, tag("a", "class", "button")); mustAttr(a, "href") != p.BackURL || text(a) != tc.back {
				t.Errorf("back link = %q %q, want %q %q", mustAttr(a, "href"), text(a), p.BackURL, tc.back)
			}

			// No way back to the service: still no dead end.
			p.BackURL, p.SPName = "", ""
			doc = parse(t, render(t, r, templates.PageUpgrade, p))
			if a := find(doc, tag("a", "class", "button")); mustAttr(a, "href") != "/?lang="+tc.lang {
				t.Errorf("link without BackURL = %q, want the home page", mustAttr(a, "href"))
			}
			if want := r.Message(tc.lang, "upgrade.need", r.Message(tc.lang, "level.substantial")); !strings.Contains(text(doc), want) {
				t.Errorf("page without SPName lacks %q", want)
			}
		})
	}
}
