package certreg

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/templates"
)

func TestNames(t *testing.T) {
	t.Parallel()
	oidGN, oidSN := asn1.ObjectIdentifier{2, 5, 4, 42}, asn1.ObjectIdentifier{2, 5, 4, 4}
	// As Go writes a DNIe authentication certificate's subject (certauth.Identity.Subject).
	dnie := pkix.Name{
		Country: []string{"ES"}, SerialNumber: "48151623L", CommonName: "ETXEBERRIA GOÑI, ANE (AUTENTICACIÓN)",
		Names: []pkix.AttributeTypeAndValue{{Type: oidGN, Value: "ANE"}, {Type: oidSN, Value: "ETXEBERRIA"}},
	}
	// The same with the names in ExtraNames, which Go writes as #hex DER.
	hexed := pkix.Name{CommonName: "DE LA FUENTE Y PÉREZ, MARÍA-JOSÉ", ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: oidGN, Value: "MARÍA-JOSÉ"}, {Type: oidSN, Value: "DE LA FUENTE"}}}
	for _, tc := range []struct {
		subject, given, family string
	}{
		{dnie.String(), "Ane", "Etxeberria Goñi"},
		{hexed.String(), "María-José", "De la Fuente y Pérez"},
		{"SERIALNUMBER=IDCES-12345678Z,2.5.4.42=MIKEL,2.5.4.4=ARANA LARRAÑAGA,CN=ARANA LARRAÑAGA MIKEL - 12345678Z,C=ES", "Mikel", "Arana Larrañaga"},
		{"CN=ARANA LARRAÑAGA MIKEL - 12345678Z,GN=MIKEL", "Mikel", "Arana Larrañaga"},
		{`CN=Etxeberria\, Jon,C=ES`, "Jon", "Etxeberria"},
		{`CN=S\C3\A1nchez\, Luc\C3\ADa`, "Lucía", "Sánchez"},
		{"CN=JUAN PEREZ", "", ""},
		{"SERIALNUMBER=12345678Z", "", ""},
		{"", "", ""},
		{"=,,+\\", "", ""},
	} {
		g, f := Names(tc.subject)
		if g != tc.given || f != tc.family {
			t.Errorf("Names(%q) = %q, %q; want %q, %q", tc.subject, g, f, tc.given, tc.family)
		}
	}
}

func TestNormalisePhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"600 111 222": "+34600111222", "+34 600-111-222": "+34600111222", "0033612345678": "+33612345678",
		"712345678": "+34712345678", "912345678": "", "12345": "", "+34abc11122": "", "+0123456789": "",
	} {
		got, ok := normalisePhone(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalisePhone(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestOlderThan(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	for _, tc := range []struct {
		birth, today string
		want         bool
	}{
		{"2010-03-10", "2026-03-10", true},
		{"2010-03-10", "2026-03-09", false},
		{"2008-02-29", "2024-02-29", true},
		{"2008-02-29", "2025-02-28", true},
		{"2009-02-28", "2025-02-27", false},
		{"garbage", "2026-01-01", false},
	} {
		if got := olderThan(tc.birth, 16, day(tc.today)); got != tc.want {
			t.Errorf("olderThan(%s, 16, %s) = %v", tc.birth, tc.today, got)
		}
	}
}

// TestMessageKeys: every key the journey picks at run time exists in every language.
func TestMessageKeys(t *testing.T) {
	t.Parallel()
	r, err := templates.Load(templates.FS())
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"certreg.eyebrow", "certreg.link.signin", "certreg.link.recovery", "certreg.link.retry"}
	for _, p := range []problem{problemNoCert, problemUntrusted, problemNoDNI, problemNoNames, problemRegistered, problemLocked,
		problemRevoked, problemInProgress, problemUnavailable, problemAttempts, problemSMSLimit} {
		keys = append(keys, p.title, p.message, p.helpKy)
	}
	for _, k := range []string{"required", "birth", "age", "expiry", "expired", "email", "phone", "invalid"} {
		keys = append(keys, "certreg.form.error."+k)
	}
	for _, k := range []string{"error.required", "error.wrong", "error.expired", "error.wait", "error.max", "error.failed", "notice.resent", "resend.wait", "resend.max"} {
		keys = append(keys, "certreg.sms."+k)
	}
	for _, k := range []string{"required", "repeat", "terms", "short", "long", "dni", "common", "weak"} {
		keys = append(keys, "certreg.password.error."+k)
	}
	for _, lang := range templates.Languages() {
		for _, k := range keys {
			if got := r.Message(lang, k, 1); got == k || got == "" {
				t.Errorf("%s: no message for %q", lang, k)
			}
		}
	}
}

// TestReceiptLanguages: the receipt is a PDF in each language, and an unknown one is Spanish.
func TestReceiptLanguages(t *testing.T) {
	t.Parallel()
	for lang, title := range map[string]string{"es": "Justificante de registro", "eu": "Erregistroaren egiaztagiria", "en": "Registration receipt", "fr": "Justificante de registro"} {
		b, err := buildReceipt(receipt{Lang: lang, At: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), GivenName: "Ane", FamilyName: "Goñi",
			MaskedDNI: "***623L", Reference: "ABCDE-FGHJK"})
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 500 || string(b[:5]) != "%PDF-" || !contains(b, title) || !contains(b, "ABCDE-FGHJK") {
			t.Errorf("%s: not the receipt (%d bytes)", lang, len(b))
		}
		// ñ is one Windows-1252 byte (0xF1) in the text, not its UTF-8 pair.
		if !contains(b, "Go\xf1i") {
			t.Errorf("%s: the name is not encoded as Windows-1252", lang)
		}
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
