package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultValidates(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v, want nil", err)
	}
}

func TestDefaultIsFresh(t *testing.T) {
	t.Parallel()
	a := Default()
	a.SAML.ClassMapping[0].Level = "high"
	a.Session.CookieName = "changed"
	b := Default()
	if got := b.SAML.ClassMapping[0].Level; got != "low" {
		t.Errorf("second Default() class mapping level = %q after changing the first, want low", got)
	}
	if got := b.Session.CookieName; got != "atea_sso" {
		t.Errorf("second Default() cookie name = %q after changing the first, want atea_sso", got)
	}
}

// The defaults the callers (cmd/atea, README) rely on.
func TestDefaultValues(t *testing.T) {
	t.Parallel()
	c := Default()
	for _, tc := range []struct{ name, got, want string }{
		{"Listen", c.Listen, "127.0.0.1:8080"},
		{"BaseURL", c.BaseURL, "http://127.0.0.1:8080"},
		{"DataDir", c.DataDir, "./atea-data"},
		{"Session.CookieName", c.Session.CookieName, "atea_sso"},
		{"Session.FlowCookieName", c.Session.FlowCookieName, "atea_flow"},
		{"Session.Lifetime", c.Session.Lifetime.String(), "8h0m0s"},
		{"Session.FlowLifetime", c.Session.FlowLifetime.String(), "15m0s"},
		{"SAML.DefaultLevel", c.SAML.DefaultLevel, "low"},
		{"SAML.AssertionLifetime", c.SAML.AssertionLifetime.String(), "5m0s"},
		{"SAML.NotBeforeSkew", c.SAML.NotBeforeSkew.String(), "1m0s"},
		{"SAML.ClockSkew", c.SAML.ClockSkew.String(), "3m0s"},
		{"SAML.MaxRequestAge", c.SAML.MaxRequestAge.String(), "5m0s"},
		{"SAML.DefaultNameIDFormat", c.SAML.DefaultNameIDFormat, "transient"},
		{"SAML.Sign", c.SAML.Sign, "both"},
		{"SAML.SignatureAlgorithm", c.SAML.SignatureAlgorithm, "rsa-sha256"},
		{"Keys.Algorithm", c.Keys.Algorithm, "rsa2048"},
		{"SPMetadata.PollInterval", c.SPMetadata.PollInterval.String(), "2s"},
		{"Store.Type", c.Store.Type, "memory"},
		{"Log.Level", c.Log.Level, "info"},
		{"Log.Format", c.Log.Format, "text"},
	} {
		if tc.got != tc.want {
			t.Errorf("Default().%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if c.Session.CookieSecure || c.SAML.RequireSignedRequests || !c.Demo.Enabled {
		t.Errorf("Default() cookieSecure=%v requireSignedRequests=%v demo=%v, want false false true",
			c.Session.CookieSecure, c.SAML.RequireSignedRequests, c.Demo.Enabled)
	}
	if c.SAML.MaxRelayState != 80 {
		t.Errorf("Default().SAML.MaxRelayState = %d, want 80", c.SAML.MaxRelayState)
	}
	if got, want := c.Directory, (Directory{Argon2: Argon2{MemoryKiB: 19456, Time: 2, Threads: 1}, MaxFailures: 5, FailureWindow: 24 * time.Hour, MaxConcurrentHashes: 16}); got != want {
		t.Errorf("Default().Directory = %+v, want %+v", got, want)
	}
}

func TestClassMapping(t *testing.T) {
	t.Parallel()
	const c = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
	want := map[string]string{
		c + "PasswordProtectedTransport": "low",
		c + "Password":                   "low",
		c + "unspecified":                "low",
		c + "MobileTwoFactorContract":    "substantial",
		c + "TimeSyncToken":              "substantial",
		c + "X509":                       "high",
		c + "Smartcard":                  "high",
		c + "SmartcardPKI":               "high",
		c + "TLSClient":                  "high",
	}
	if diff := cmp.Diff(want, Default().ClassMapping()); diff != "" {
		t.Errorf("Default().ClassMapping() mismatch (-want +got):\n%s", diff)
	}

	// A configured list replaces the default one; the URIs keep their case and dots.
	path := writeFile(t, "classes.yaml", `
saml:
  classMapping:
    - classRef: urn:example:Gold.Level
      level: high
    - {classRef: "urn:oasis:names:tc:SAML:2.0:ac:classes:Password", level: substantial}
`)
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	want = map[string]string{"urn:example:Gold.Level": "high", c + "Password": "substantial"}
	if diff := cmp.Diff(want, cfg.ClassMapping()); diff != "" {
		t.Errorf("ClassMapping() of a configured list mismatch (-want +got):\n%s", diff)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
}

func TestEntityID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, baseURL, set, want string }{
		{"derived", "https://idp.example.org", "", "https://idp.example.org/saml/metadata"},
		{"derived with prefix", "https://example.org/atea", "", "https://example.org/atea/saml/metadata"},
		{"derived, trailing slash", "https://idp.example.org/", "", "https://idp.example.org/saml/metadata"},
		{"explicit", "https://idp.example.org", "urn:example:idp", "urn:example:idp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			c.BaseURL, c.EntityIDSetting = tc.baseURL, tc.set
			if got := c.EntityID(); got != tc.want {
				t.Errorf("EntityID() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDerivedPaths(t *testing.T) {
	t.Parallel()
	data := filepath.Join("srv", "atea")
	derived := Default()
	derived.DataDir = data
	explicit := Default()
	explicit.DataDir = data
	explicit.SPMetadata.Dir = "/etc/atea/sp"
	explicit.Keys = Keys{Algorithm: "rsa2048", KeyFile: "/k/key.pem", CertFile: "/k/cert.pem", SecretFile: "/k/secret"}
	explicit.Directory.Path = "/db/users.db"

	for _, tc := range []struct {
		name          string
		got           func(*Config) string
		derived, expl string
	}{
		{"SPMetadataDir", (*Config).SPMetadataDir, filepath.Join(data, "sp-metadata"), "/etc/atea/sp"},
		{"KeyFile", (*Config).KeyFile, filepath.Join(data, "keys", "signing.key"), "/k/key.pem"},
		{"CertFile", (*Config).CertFile, filepath.Join(data, "keys", "signing.crt"), "/k/cert.pem"},
		{"SecretFile", (*Config).SecretFile, filepath.Join(data, "keys", "secret"), "/k/secret"},
		{"DirectoryPath", (*Config).DirectoryPath, filepath.Join(data, "directory.db"), "/db/users.db"},
		// The admin socket always lives in the data directory.
		{"AdminSocket", (*Config).AdminSocket, filepath.Join(data, "admin.sock"), filepath.Join(data, "admin.sock")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.got(derived); got != tc.derived {
				t.Errorf("%s() without explicit key = %q, want %q", tc.name, got, tc.derived)
			}
			if got := tc.got(explicit); got != tc.expl {
				t.Errorf("%s() with explicit key = %q, want %q", tc.name, got, tc.expl)
			}
		})
	}
}

func TestLogValue(t *testing.T) {
	t.Parallel()
	c := Default()
	c.DataDir = "/data"
	c.ServiceProviders = []SP{{EntityID: "https://sp.example.org"}}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	var got struct {
		Config struct {
			BaseURL  string   `json:"base_url"`
			EntityID string   `json:"entity_id"`
			SPs      []string `json:"service_providers"`
			Keys     struct {
				KeyFile string `json:"key_file"`
			} `json:"keys"`
			SAML struct {
				Sign string `json:"sign"`
			} `json:"saml"`
		} `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log output %s: %v", buf.Bytes(), err)
	}
	if got.Config.BaseURL != c.BaseURL || got.Config.EntityID != c.EntityID() || got.Config.SAML.Sign != "both" {
		t.Errorf("logged %+v, want base_url %q, entity_id %q, saml.sign both", got.Config, c.BaseURL, c.EntityID())
	}
	// Derived paths are logged resolved, so operators see where files really are.
	if want := filepath.Join("/data", "keys", "signing.key"); got.Config.Keys.KeyFile != want {
		t.Errorf("logged keys.key_file = %q, want %q", got.Config.Keys.KeyFile, want)
	}
	if diff := cmp.Diff([]string{"https://sp.example.org"}, got.Config.SPs); diff != "" {
		t.Errorf("logged service_providers mismatch (-want +got):\n%s", diff)
	}
}
