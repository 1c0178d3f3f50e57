package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The suite itself runs from .ci/interop/run.sh; these tests keep its offline parts honest
// in `go test ./...`: the page checks fail on wrong pages, and the Shibboleth templates
// render (a typo in a template key would otherwise show only in the interop run).

func TestCheckPage(t *testing.T) {
	t.Parallel()
	good := strings.Join([]string{
		"NameID: " + citizenEmail,
		"NameID-Format: " + nameIDEmail,
		"AuthnContextClassRef: " + levelLow,
		"PersonIdentifier: ES/ES/" + citizenDNI,
		"FirstName: Ane",
		"FamilyName: Etxeberria Goñi",
		"DateOfBirth: 1990-05-17",
	}, "\n")
	email := &spStack{name: "x", level: levelLow, nameID: expectValue(citizenEmail)}
	opaque := &spStack{name: "y", level: levelLow, nameID: expectOpaque(nameIDTransient)}
	for _, tc := range []struct {
		name    string
		page    string
		s       *spStack
		wantErr string
	}{
		{"all there", good, email, ""},
		{"wrong NameID", strings.Replace(good, citizenEmail, "someone@example.org", 1), email, "NameID ="},
		{"wrong level", strings.Replace(good, levelLow, levelSubstantial, 1), email, "AuthnContextClassRef"},
		{"attribute missing", strings.Replace(good, "DateOfBirth: 1990-05-17", "", 1), email, "1990-05-17"},
		{"opaque NameID is the DNI", strings.Replace(strings.Replace(good, citizenEmail, citizenDNI, 1), nameIDEmail, nameIDTransient, 1), opaque, "contains the DNI"},
		{"opaque NameID of another format", strings.Replace(good, citizenEmail, "_abc", 1), opaque, "format"},
		{"opaque NameID", strings.Replace(strings.Replace(good, citizenEmail, "_abc", 1), nameIDEmail, nameIDTransient, 1), opaque, ""},
		{"not encrypted", good + "\nAssertion: plain", &spStack{level: levelLow, nameID: expectValue(citizenEmail), encrypted: true}, "want encrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPage(tc.page, tc.s)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("checkPage() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("checkPage() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestShibbolethTemplatesRender(t *testing.T) {
	t.Parallel()
	dst := t.TempDir()
	vars := map[string]any{"Dir": dst, "Port": 1, "ShibdPort": 2, "EntityID": "http://127.0.0.1:1/shibboleth", "IdPEntityID": "http://127.0.0.1:3/saml/metadata"}
	if err := renderDir(filepath.Join("..", "..", ".ci", "interop", "shibboleth"), dst, vars); err != nil {
		t.Fatalf("renderDir: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dst, "shibboleth2.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`entityID="http://127.0.0.1:1/shibboleth"`, `<SSO entityID="http://127.0.0.1:3/saml/metadata">`, `port="2"`, dst + "/atea-idp.xml"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rendered shibboleth2.xml lacks %q", want)
		}
	}
	if info, err := os.Stat(filepath.Join(dst, "protected.cgi")); err != nil || info.Mode().Perm()&0o111 == 0 {
		t.Errorf("protected.cgi not rendered executable: %v %v", info, err)
	}
}
