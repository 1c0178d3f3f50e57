package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeFile writes a YAML file into a fresh temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantErrs fails unless err matches target and its message contains every fragment.
func wantErrs(t *testing.T, err, target error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want one matching %v containing %q", target, fragments)
	}
	if !errors.Is(err, target) {
		t.Errorf("error %q does not match %v", err, target)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}

func TestLoadWithoutSourcesIsDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"nil env", nil},
		// Other variables, and entries that are not KEY=VALUE, are not Atea's business.
		{"foreign env", []string{"PATH=/usr/bin", "HOME=/root", "ATEAX=1", "atea_listen=:1", "ATEA_NOEQUALS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Load("", tc.env)
			if err != nil {
				t.Fatalf("Load(\"\", %q) = %v", tc.env, err)
			}
			if diff := cmp.Diff(Default(), got); diff != "" {
				t.Errorf("Load(\"\", %q) differs from Default() (-want +got):\n%s", tc.env, diff)
			}
		})
	}
}

func TestLoadYAMLOverrides(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "atea.yaml", `
listen: 0.0.0.0:9000
BaseURL: https://idp.example.org   # keys are case-insensitive
saml:
  sign: response
  maxRelayState: 200
  notBeforeSkew: 0s
session:
  lifetime: 1h30m
directory:
  argon2:
    memoryKiB: 65536
    threads: 4
serviceProviders:
  - entityID: https://sp.example.org/saml/metadata
    encryptAssertions: true
    attributes: [mail, PersonIdentifier]
  - entityID: https://sp2.example.org
    attributes: []
`)
	got, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	want := Default()
	want.Listen = "0.0.0.0:9000"
	want.BaseURL = "https://idp.example.org"
	want.SAML.Sign = "response"
	want.SAML.MaxRelayState = 200
	want.SAML.NotBeforeSkew = 0
	want.Session.Lifetime = 90 * time.Minute
	want.Directory.Argon2.MemoryKiB = 65536
	want.Directory.Argon2.Threads = 4
	want.ServiceProviders = []SP{
		{EntityID: "https://sp.example.org/saml/metadata", EncryptAssertions: true, Attributes: []string{"mail", "PersonIdentifier"}},
		// An empty list stays empty (release nothing), distinct from an absent one.
		{EntityID: "https://sp2.example.org", Attributes: []string{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load() mismatch (-want +got):\n%s", diff)
	}
	if got.ServiceProviders[1].Attributes == nil {
		t.Error("attributes: [] decoded as nil, want an empty non-nil list")
	}
}

func TestLoadEnvOverrides(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "atea.yaml", "saml:\n  sign: assertion\nlisten: 127.0.0.1:7000\n")
	for _, tc := range []struct {
		name  string
		file  string
		env   []string
		check func(*Config) bool
	}{
		{"string", "", []string{"ATEA_SAML_SIGN=response"}, func(c *Config) bool { return c.SAML.Sign == "response" }},
		{"env beats the file", file, []string{"ATEA_SAML_SIGN=response"}, func(c *Config) bool {
			return c.SAML.Sign == "response" && c.Listen == "127.0.0.1:7000"
		}},
		{"bool and https base URL", "", []string{"ATEA_SESSION_COOKIESECURE=true", "ATEA_BASEURL=https://idp.example.org"}, func(c *Config) bool {
			return c.Session.CookieSecure && c.BaseURL == "https://idp.example.org" && c.Validate() == nil
		}},
		{"bool false", "", []string{"ATEA_DEMO_ENABLED=false"}, func(c *Config) bool { return !c.Demo.Enabled }},
		{"int", "", []string{"ATEA_SAML_MAXRELAYSTATE=512"}, func(c *Config) bool { return c.SAML.MaxRelayState == 512 }},
		{"uint8", "", []string{"ATEA_DIRECTORY_ARGON2_THREADS=4"}, func(c *Config) bool { return c.Directory.Argon2.Threads == 4 }},
		{"duration", "", []string{"ATEA_SESSION_LIFETIME=2h"}, func(c *Config) bool { return c.Session.Lifetime == 2*time.Hour }},
		{"entityID", "", []string{"ATEA_ENTITYID=urn:example:idp"}, func(c *Config) bool { return c.EntityID() == "urn:example:idp" }},
		{"data dir moves derived paths", "", []string{"ATEA_DATADIR=/srv/atea"}, func(c *Config) bool {
			return c.KeyFile() == filepath.Join("/srv/atea", "keys", "signing.key")
		}},
		{"suffix is case-insensitive", "", []string{"ATEA_saml_Sign=response"}, func(c *Config) bool { return c.SAML.Sign == "response" }},
		{"last one wins", "", []string{"ATEA_LOG_LEVEL=warn", "ATEA_LOG_LEVEL=debug"}, func(c *Config) bool { return c.Log.Level == "debug" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tc.file, tc.env)
			if err != nil {
				t.Fatalf("Load(%q, %q) = %v", tc.file, tc.env, err)
			}
			if !tc.check(c) {
				t.Errorf("Load(%q, %q) = %+v, which fails the check", tc.file, tc.env, c)
			}
		})
	}
}

func TestLoadUnknownKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"typo in saml", "testdata/unknown-key.yaml", []string{"saml.sing", "did you mean saml.sign?"}},
		{"inside a serviceProviders item and at the top", "testdata/unknown-sp-key.yaml", []string{
			"serviceProviders[0].encrypt", "baseuri", "did you mean baseURL?",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tc.file, nil)
			if c != nil {
				t.Errorf("Load(%q) returned a config with error %v", tc.file, err)
			}
			wantErrs(t, err, ErrUnknownKey, append(tc.want, tc.file)...)
		})
	}
}

func TestLoadUnknownEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		env    string
		target error
		want   []string
	}{
		{"typo", "ATEA_SAML_SING=response", ErrUnknownKey, []string{"ATEA_SAML_SING", "unknown variable", "did you mean ATEA_SAML_SIGN?"}},
		{"no such setting", "ATEA_REDIS_URL=redis://x", ErrUnknownKey, []string{"ATEA_REDIS_URL"}},
		{"a section", "ATEA_SAML=x", ErrUnknownKey, []string{"ATEA_SAML"}},
		{"a list", "ATEA_SERVICEPROVIDERS=x", ErrBadValue, []string{"ATEA_SERVICEPROVIDERS", "list"}},
		{"the class mapping list", "ATEA_SAML_CLASSMAPPING=x", ErrBadValue, []string{"ATEA_SAML_CLASSMAPPING", "list"}},
		{"not a bool", "ATEA_DEMO_ENABLED=perhaps", ErrBadValue, []string{"ATEA_DEMO_ENABLED", "true or false"}},
		{"not a number", "ATEA_SAML_MAXRELAYSTATE=lots", ErrBadValue, []string{"ATEA_SAML_MAXRELAYSTATE", "whole number"}},
		{"negative uint", "ATEA_DIRECTORY_ARGON2_TIME=-1", ErrBadValue, []string{"ATEA_DIRECTORY_ARGON2_TIME"}},
		{"overflow", "ATEA_DIRECTORY_ARGON2_THREADS=256", ErrBadValue, []string{"ATEA_DIRECTORY_ARGON2_THREADS", "uint8"}},
		{"not a duration", "ATEA_SESSION_LIFETIME=forever", ErrBadValue, []string{"ATEA_SESSION_LIFETIME", "duration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load("", []string{tc.env})
			wantErrs(t, err, tc.target, tc.want...)
			// The value is not echoed: the environment is where secrets tend to live.
			_, value, _ := strings.Cut(tc.env, "=")
			if strings.Contains(err.Error(), value) {
				t.Errorf("error %q contains the value %q", err, value)
			}
		})
	}
}

func TestLoadBadTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml, key, want string }{
		{"bare number for a duration", "saml:\n  assertionLifetime: 300\n", "saml.assertionLifetime", "duration"},
		{"bad duration string", "session:\n  lifetime: 8 hours\n", "session.lifetime", "duration"},
		{"fraction", "saml:\n  maxRelayState: 80.5\n", "saml.maxRelayState", "whole number"},
		{"overflow uint8", "directory:\n  argon2:\n    threads: 300\n", "directory.argon2.threads", "does not fit"},
		{"negative uint32", "directory:\n  argon2:\n    time: -2\n", "directory.argon2.time", "does not fit"},
		{"yes is not a bool", "demo:\n  enabled: yes\n", "demo.enabled", "true or false"},
		{"number for a string", "listen: 8080\n", "listen", "string"},
		{"scalar for a section", "saml: strict\n", "saml", ""},
		{"scalar for a list", "serviceProviders: https://sp.example.org\n", "serviceProviders", ""},
		{"map for a scalar", "listen:\n  host: x\n", "listen", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeFile(t, "bad.yaml", tc.yaml), nil)
			wantErrs(t, err, ErrBadValue, tc.key+":", tc.want)
		})
	}
}

// Every problem of a file is reported in one error, so one edit fixes them all.
func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/bad-types.yaml", []string{"ATEA_LISTN=:1"})
	wantErrs(t, err, ErrBadValue, "saml.assertionLifetime:", "saml.maxRelayState:", "directory.argon2.threads:", "session.cookieSecure:")
	wantErrs(t, err, ErrUnknownKey, "ATEA_LISTN")
	path := writeFile(t, "mixed.yaml", "saml:\n  sing: both\n  maxRelayState: 80.5\nlisten: 1\nfoo: bar\n")
	_, err = Load(path, nil)
	// Unknown keys are reported even beside bad values in the same section.
	wantErrs(t, err, ErrUnknownKey, "saml.sing", "foo")
	wantErrs(t, err, ErrBadValue, "saml.maxRelayState", "listen")
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an fs.ErrNotExist error", err)
	}
	for _, bad := range []string{"listen: [unclosed\n", "- a list\n- at the top\n", "saml:\n  sign: a\n  sign: b\n"} {
		if _, err := Load(writeFile(t, "bad.yaml", bad), nil); err == nil {
			t.Errorf("Load(%q) = nil error, want a YAML error", bad)
		}
	}
}

func TestLoadEmptyFileIsDefault(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"", "# only a comment\n", "saml:\n"} {
		got, err := Load(writeFile(t, "empty.yaml", content), nil)
		if err != nil {
			t.Fatalf("Load(%q) = %v", content, err)
		}
		if diff := cmp.Diff(Default(), got); diff != "" {
			t.Errorf("Load(%q) differs from Default() (-want +got):\n%s", content, diff)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	kids := knownChildren()
	for _, tc := range []struct{ key, want string }{
		{"saml.sing", "saml.sign"},
		{"saml.maxrelaystat", "saml.maxRelayState"},
		{"serviceProviders[12].entityd", "serviceProviders[12].entityID"},
		{"directory.argon2.memorykb", "directory.argon2.memoryKiB"},
		{"basurl", "baseURL"},
		{"foo", ""},
		{"saml.completelydifferent", ""},
	} {
		if got := suggestKey(kids, tc.key); got != tc.want {
			t.Errorf("suggestKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

// FuzzLoad checks that no configuration file makes Load or Validate panic, and that a
// configuration Load accepts can be validated and queried.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"atea.example.yaml", "testdata/production.yaml", "testdata/bad-values.yaml",
		"testdata/bad-types.yaml", "testdata/unknown-key.yaml", "testdata/unknown-sp-key.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("saml: {classMapping: [{classRef: 1, level: [x]}]}\n"))
	f.Add([]byte("serviceProviders: [1, null, {attributes: {a: b}}]\n"))
	f.Add([]byte("directory: {argon2: {memoryKiB: 99999999999999999999}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, nil)
		if err != nil {
			if c != nil {
				t.Errorf("Load returned a config together with error %v", err)
			}
			return
		}
		_ = c.Validate()
		_ = c.ClassMapping()
		_ = c.EntityID()
		_ = c.LogValue().Resolve()
	})
}
