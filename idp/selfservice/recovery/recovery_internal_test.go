package recovery

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ateaidp/atea/idp/directory"
)

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"17/05/2031", "2031-05-17", true},
		{" 17/5/2031 ", "2031-05-17", true},
		{"17-05-2031", "2031-05-17", true},
		{"17.05.2031", "2031-05-17", true},
		{"2031-05-17", "2031-05-17", true},
		{"01/01/9999", directory.PermanentDocument, true},
		{"31/02/2031", "", false},
		{"05/17/2031", "", false},
		{"17/05/31", "", false},
		{"", "", false},
		{"17/05/2031x", "", false},
	} {
		got, ok := parseExpiry(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseExpiry(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewCode(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		c, err := newCode(8)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 8 || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("newCode(8) = %q", c)
		}
		seen[c] = true
	}
	if len(seen) < 195 {
		t.Errorf("200 codes, only %d distinct", len(seen))
	}
}

// TestTexts: each SMS fits one message even in UCS-2 and carries the code once.
func TestTexts(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"es", "eu", "en", "fr"} {
		for _, s := range []string{codeText(lang, "12345678"), noticeText(lang)} {
			if n := utf8.RuneCountInString(s); n > 70 {
				t.Errorf("%s: %q has %d characters, want at most 70", lang, s, n)
			}
		}
		if got := strings.Count(codeText(lang, "12345678"), "12345678"); got != 1 {
			t.Errorf("%s: code appears %d times", lang, got)
		}
		if strings.ContainsAny(noticeText(lang), "0123456789") {
			t.Errorf("%s: notice %q has digits (a phone number or code in it would mislead)", lang, noticeText(lang))
		}
	}
	if codeText("fr", "1") != codeText("es", "1") {
		t.Error("an unknown language does not fall back to Spanish")
	}
}

func TestPolicyKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule error
		want string
	}{
		{directory.ErrPasswordShort, "recovery.error.short"},
		{directory.ErrPasswordLong, "recovery.error.long"},
		{directory.ErrPasswordHasID, "recovery.error.dni"},
		{directory.ErrPasswordCommon, "recovery.error.common"},
		{directory.ErrWeakPassword, "recovery.error.weak"},
	} {
		err := fmt.Errorf("directory: set password 4815****L: %w", fmt.Errorf("%w: detail", tc.rule))
		if got := policyKey(err); got != tc.want {
			t.Errorf("policyKey(%v) = %q, want %q", err, got, tc.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := Config{}.withDefaults()
	if err != nil || c != DefaultConfig() {
		t.Fatalf("Config{}.withDefaults() = %+v, %v; want the defaults", c, err)
	}
	for _, bad := range []Config{{CodeDigits: 4}, {CodeDigits: 11}, {MaxSends: -1}, {CodeTTL: -1}, {AccountURL: "https://evil.example/"}, {AccountURL: "//evil"}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Error("New without dependencies succeeded")
	}
}
