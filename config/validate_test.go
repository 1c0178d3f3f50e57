package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// keyErrors returns the KeyErrors joined in err, by key.
func keyErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err == nil {
		return out
	}
	joined, ok := err.(interface{ Unwrap() []error }) //nolint:errorlint // Validate's documented shape: errors.Join
	if !ok {
		t.Fatalf("Validate() error %q is not an errors.Join", err)
	}
	for _, e := range joined.Unwrap() {
		var ke *KeyError
		if !errors.As(e, &ke) {
			t.Fatalf("problem %q is not a *KeyError", e)
		}
		if !errors.Is(e, ErrInvalid) {
			t.Errorf("problem %q does not match ErrInvalid", e)
		}
		if prev, dup := out[ke.Key]; dup {
			ke.Problem = prev + "; " + ke.Problem
		}
		out[ke.Key] = ke.Problem
	}
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		key    string // "" means Validate must succeed
		want   string // a fragment of the problem
	}{
		{"listen without port", func(c *Config) { c.Listen = "localhost" }, "listen", "host:port"},
		{"listen bad port", func(c *Config) { c.Listen = "127.0.0.1:http" }, "listen", "host:port"},
		{"listen port too big", func(c *Config) { c.Listen = ":70000" }, "listen", "host:port"},
		{"listen all interfaces", func(c *Config) { c.Listen = ":8443" }, "", ""},
		{"listen IPv6", func(c *Config) { c.Listen = "[::1]:0" }, "", ""},

		{"baseURL relative", func(c *Config) { c.BaseURL = "/atea" }, "baseURL", "absolute"},
		{"baseURL other scheme", func(c *Config) { c.BaseURL = "ftp://idp.example.org" }, "baseURL", "http"},
		{"baseURL upper-case scheme", func(c *Config) { c.BaseURL = "HTTPS://idp.example.org" }, "baseURL", "http"},
		{"baseURL no host", func(c *Config) { c.BaseURL = "https://" }, "baseURL", "absolute"},
		{"baseURL empty host", func(c *Config) { c.BaseURL = "https://:8443" }, "baseURL", "host"},
		{"baseURL query", func(c *Config) { c.BaseURL = "https://idp.example.org/?a=b" }, "baseURL", "query"},
		{"baseURL fragment", func(c *Config) { c.BaseURL = "https://idp.example.org#x" }, "baseURL", "fragment"},
		{"baseURL user info", func(c *Config) { c.BaseURL = "https://user:pw@idp.example.org" }, "baseURL", "user"},
		{"baseURL with prefix", func(c *Config) { c.BaseURL = "https://example.org/atea/" }, "", ""},
		{"plain http allowed", func(c *Config) { c.BaseURL = "http://idp.internal:8080" }, "", ""},

		{"entityID relative", func(c *Config) { c.EntityIDSetting = "my-idp" }, "entityID", "absolute URI"},
		{"entityID too long", func(c *Config) { c.EntityIDSetting = "urn:x:" + strings.Repeat("a", 1100) }, "entityID", "1024"},
		{"entityID URN", func(c *Config) { c.EntityIDSetting = "urn:example:idp" }, "", ""},
		{"dataDir empty", func(c *Config) { c.DataDir = "" }, "dataDir", "empty"},

		{"metadata source without anchors", func(c *Config) {
			c.SPMetadata.Sources = []MetadataSource{{Name: "fed", Type: "url", URL: "https://md.example.org/a.xml"}}
		}, "spMetadata.sources[0].trustAnchorsFile", "signed"},
		{"metadata source over http", func(c *Config) {
			c.SPMetadata.Sources = []MetadataSource{{Name: "fed", Type: "mdq", URL: "http://md.example.org/", TrustAnchorsFile: "a.pem"}}
		}, "spMetadata.sources[0].url", "https"},
		{"metadata source unknown type", func(c *Config) {
			c.SPMetadata.Sources = []MetadataSource{{Name: "fed", Type: "ftp", URL: "https://md.example.org/", TrustAnchorsFile: "a.pem"}}
		}, "spMetadata.sources[0].type", "url"},
		{"metadata sources same name", func(c *Config) {
			s := MetadataSource{Name: "fed", Type: "url", URL: "https://md.example.org/a.xml", TrustAnchorsFile: "a.pem"}
			c.SPMetadata.Sources = []MetadataSource{s, s}
		}, "spMetadata.sources[1].name", "unique"},
		{"metadata source ok", func(c *Config) {
			c.SPMetadata.Sources = []MetadataSource{{Name: "fed", Type: "url", URL: "https://md.example.org/a.xml", TrustAnchorsFile: "a.pem", Interval: time.Hour}}
		}, "", ""},
		{"terms version empty", func(c *Config) { c.SelfService.TermsVersion = "" }, "selfService.termsVersion", "printable"},
		{"activation code forever", func(c *Config) { c.SelfService.ActivationCodeTTL = 1000 * 24 * time.Hour }, "selfService.activationCodeTTL", "want"},
		{"minimum age 12", func(c *Config) { c.SelfService.MinimumAge = 12 }, "selfService.minimumAge", "want"},
		{"mail type unknown", func(c *Config) { c.SelfService.Mail.Type = "pigeon" }, "selfService.mail.type", "maildir or smtp"},
		{"smtp without address", func(c *Config) { c.SelfService.Mail.Type = "smtp" }, "selfService.mail.smtpAddr", "host:port"},
		{"smtp user without password", func(c *Config) {
			c.SelfService.Mail.Type, c.SelfService.Mail.SMTPAddr, c.SelfService.Mail.SMTPUsername = "smtp", "mail.example.org:587", "atea"
		}, "selfService.mail.smtpPasswordFile", "both"},
		{"smtp ok", func(c *Config) { c.SelfService.Mail.Type, c.SelfService.Mail.SMTPAddr = "smtp", "mail.example.org:587" }, "", ""},
		{"mail from bad", func(c *Config) { c.SelfService.Mail.From = "nobody" }, "selfService.mail.from", "address"},

		{"cookieSecure over http", func(c *Config) { c.Session.CookieSecure = true }, "session.cookieSecure", "https"},
		{"cookieSecure over https", func(c *Config) { c.Session.CookieSecure, c.BaseURL = true, "https://idp.example.org" }, "", ""},
		{"cookie name empty", func(c *Config) { c.Session.CookieName = "" }, "session.cookieName", "cookie name"},
		{"cookie name separator", func(c *Config) { c.Session.CookieName = "atea;sso" }, "session.cookieName", "cookie name"},
		{"flow cookie name space", func(c *Config) { c.Session.FlowCookieName = "atea flow" }, "session.flowCookieName", "cookie name"},
		{"cookie names equal", func(c *Config) { c.Session.FlowCookieName = "ATEA_SSO" }, "session.flowCookieName", "differ"},
		{"__Host- without Secure", func(c *Config) { c.Session.CookieName = "__Host-atea_sso" }, "session.cookieName", "__Host-"},
		{"__Host- with Secure", func(c *Config) {
			c.Session.CookieName, c.Session.FlowCookieName = "__Host-atea_sso", "__Host-atea_flow"
			c.Session.CookieSecure, c.BaseURL = true, "https://idp.example.org"
		}, "", ""},
		{"session lifetime short", func(c *Config) { c.Session.Lifetime = 30 * time.Second }, "session.lifetime", "at least 1m"},
		{"session lifetime negative", func(c *Config) { c.Session.Lifetime = -time.Hour }, "session.lifetime", "at least 1m"},
		{"flow lifetime long", func(c *Config) { c.Session.FlowLifetime = 3 * time.Hour }, "session.flowLifetime", "1m to 2h"},
		{"flow lifetime bounds", func(c *Config) { c.Session.FlowLifetime = 2 * time.Hour }, "", ""},

		{"metadata validity short", func(c *Config) { c.IdPMetadata.Validity, c.IdPMetadata.CacheDuration = 30*time.Minute, time.Minute }, "metadata.validity", "1h to 8760h"},
		{"metadata cacheDuration beyond validity", func(c *Config) { c.IdPMetadata.CacheDuration = 200 * time.Hour }, "metadata.cacheDuration", "1m to metadata.validity"},
		{"metadata organization URL relative", func(c *Config) { c.IdPMetadata.OrganizationURL = "/about" }, "metadata.organizationURL", "absolute"},
		{"metadata organization URL without name", func(c *Config) {
			c.IdPMetadata.OrganizationURL, c.IdPMetadata.OrganizationName = "https://atea.example/", ""
		}, "metadata.organizationName", "must be set"},
		{"metadata contact not an address", func(c *Config) { c.IdPMetadata.ContactEmail = "ops" }, "metadata.contactEmail", "e-mail"},
		{"keys grace negative", func(c *Config) { c.Keys.GracePeriod = -time.Hour }, "keys.gracePeriod", "0s to"},
		{"keys grace zero", func(c *Config) { c.Keys.GracePeriod = 0 }, "", ""},
		{"eidas without country", func(c *Config) { c.EIDAS.Enabled = true }, "eidas.nodeCountry", "alpha-2"},
		{"eidas lower-case country", func(c *Config) { c.EIDAS.Enabled, c.EIDAS.NodeCountry = true, "es" }, "eidas.nodeCountry", "alpha-2"},
		{"eidas ok", func(c *Config) { c.EIDAS.Enabled, c.EIDAS.NodeCountry = true, "ES" }, "", ""},
		{"level unknown", func(c *Config) { c.SAML.DefaultLevel = "medium" }, "saml.defaultLevel", `want low, substantial or high, got "medium"`},
		{"level empty", func(c *Config) { c.SAML.DefaultLevel = "" }, "saml.defaultLevel", "want low"},
		{"class mapping level", func(c *Config) { c.SAML.ClassMapping[1].Level = "top" }, "saml.classMapping[1].level", "want low"},
		{"class mapping empty ref", func(c *Config) { c.SAML.ClassMapping[0].ClassRef = "" }, "saml.classMapping[0].classRef", "URI"},
		{"class mapping duplicate", func(c *Config) { c.SAML.ClassMapping[3].ClassRef = c.SAML.ClassMapping[0].ClassRef },
			"saml.classMapping[3].classRef", "saml.classMapping[0]"},
		{"class mapping eIDAS URI", func(c *Config) { c.SAML.ClassMapping[0].ClassRef = "http://eidas.europa.eu/LoA/high" },
			"saml.classMapping[0].classRef", "eIDAS"},
		{"class mapping empty list", func(c *Config) { c.SAML.ClassMapping = nil }, "", ""},
		{"assertion lifetime long", func(c *Config) { c.SAML.AssertionLifetime = 2 * time.Hour }, "saml.assertionLifetime", "1m to 1h, got 2h"},
		{"assertion lifetime zero", func(c *Config) { c.SAML.AssertionLifetime = 0 }, "saml.assertionLifetime", "got 0s"},
		{"notBefore skew zero", func(c *Config) { c.SAML.NotBeforeSkew = 0 }, "", ""},
		{"notBefore skew negative", func(c *Config) { c.SAML.NotBeforeSkew = -time.Second }, "saml.notBeforeSkew", "0s to 10m"},
		{"clock skew large", func(c *Config) { c.SAML.ClockSkew = 11 * time.Minute }, "saml.clockSkew", "0s to 10m"},
		{"request age short", func(c *Config) { c.SAML.MaxRequestAge = 10 * time.Second }, "saml.maxRequestAge", "1m to 1h"},
		{"relay state below spec", func(c *Config) { c.SAML.MaxRelayState = 79 }, "saml.maxRelayState", "80"},
		{"relay state too big", func(c *Config) { c.SAML.MaxRelayState = 1025 }, "saml.maxRelayState", "1024"},
		{"relay state opt-in", func(c *Config) { c.SAML.MaxRelayState = 1024 }, "", ""},
		{"nameID format", func(c *Config) { c.SAML.DefaultNameIDFormat = "dni" }, "saml.defaultNameIDFormat", "transient"},
		{"sign", func(c *Config) { c.SAML.Sign = "x" }, "saml.sign", `want both, response or assertion, got "x"`},
		{"signature algorithm", func(c *Config) { c.SAML.SignatureAlgorithm = "rsa-md5" }, "saml.signatureAlgorithm", "rsa-sha256"},
		{"SHA-1", func(c *Config) { c.SAML.SignatureAlgorithm = "rsa-sha1" }, "saml.signatureAlgorithm", "SHA-1 is not allowed"},
		{"SHA-1 spelled otherwise", func(c *Config) { c.SAML.SignatureAlgorithm = "ECDSA-SHA-1" }, "saml.signatureAlgorithm", "SHA-1 is not allowed"},

		{"key algorithm", func(c *Config) { c.Keys.Algorithm = "rsa1024" }, "keys.algorithm", "rsa2048, rsa3072 or ecdsa-p256"},
		{"ecdsa key, default algorithm", func(c *Config) { c.Keys.Algorithm = "ecdsa-p256" }, "", ""},
		{"ecdsa key, ecdsa algorithm", func(c *Config) { c.Keys.Algorithm, c.SAML.SignatureAlgorithm = "ecdsa-p256", "ecdsa-sha256" }, "", ""},
		{"ecdsa key, explicit rsa algorithm", func(c *Config) { c.Keys.Algorithm, c.SAML.SignatureAlgorithm = "ecdsa-p256", "rsa-sha512" },
			"saml.signatureAlgorithm", "RSA key"},
		{"rsa key, ecdsa algorithm", func(c *Config) { c.SAML.SignatureAlgorithm = "ecdsa-sha256" }, "saml.signatureAlgorithm", "ECDSA key"},

		{"sp entityID empty", func(c *Config) { c.ServiceProviders = []SP{{}} }, "serviceProviders[0].entityID", "empty"},
		{"sp entityID duplicate", func(c *Config) {
			c.ServiceProviders = []SP{{EntityID: "https://a"}, {EntityID: "https://b"}, {EntityID: "https://a"}}
		},
			"serviceProviders[2].entityID", "serviceProviders[0]"},
		{"sp sign", func(c *Config) { c.ServiceProviders = []SP{{EntityID: "https://a", Sign: "none"}} }, "serviceProviders[0].sign", "want both"},
		{"sp encryption", func(c *Config) {
			c.ServiceProviders = []SP{{EntityID: "https://a", EncryptAssertions: true, Encryption: "des"}}
		},
			"serviceProviders[0].encryption", "aes256-gcm"},
		{"sp encryption without encrypting", func(c *Config) { c.ServiceProviders = []SP{{EntityID: "https://a", Encryption: "aes128-gcm"}} },
			"serviceProviders[0].encryption", "encryptAssertions"},
		{"sp nameID", func(c *Config) { c.ServiceProviders = []SP{{EntityID: "https://a", NameIDFormat: "x"}} }, "serviceProviders[0].nameIDFormat", "transient"},
		{"sp level", func(c *Config) { c.ServiceProviders = []SP{{EntityID: "https://a", DefaultLevel: "x"}} }, "serviceProviders[0].defaultLevel", "low"},
		{"sp relay state", func(c *Config) { c.ServiceProviders = []SP{{EntityID: "https://a", MaxRelayState: 40}} }, "serviceProviders[0].maxRelayState", "80"},
		{"sp attribute empty", func(c *Config) { c.ServiceProviders = []SP{{EntityID: "https://a", Attributes: []string{"mail", " "}}} },
			"serviceProviders[0].attributes[1]", "empty"},
		{"sp attribute twice", func(c *Config) {
			c.ServiceProviders = []SP{{EntityID: "https://a", Attributes: []string{"mail", "mail"}}}
		},
			"serviceProviders[0].attributes[1]", "twice"},
		{"sp inheriting everything", func(c *Config) { c.ServiceProviders = []SP{{EntityID: "https://a"}} }, "", ""},
		{"sp all set", func(c *Config) {
			c.ServiceProviders = []SP{{EntityID: "https://a", Sign: "assertion", EncryptAssertions: true, Encryption: "aes128-cbc-legacy",
				NameIDFormat: "email", Attributes: []string{}, RequireSignedRequests: true, DefaultLevel: "high", MaxRelayState: 80}}
		}, "", ""},

		{"poll interval", func(c *Config) { c.SPMetadata.PollInterval = 100 * time.Millisecond }, "spMetadata.pollInterval", "at least 500ms"},
		{"store unknown", func(c *Config) { c.Store.Type = "sqlite" }, "store.type", "want memory or redis"},
		{"redis no addrs", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.Addrs = nil }, "store.redis.addrs", "at least one"},
		{"redis bad addr", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.Addrs = []string{"localhost"} }, "store.redis.addrs", "host:port"},
		{"redis cluster db", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.Cluster = true; c.Store.Redis.DB = 2 }, "store.redis.db", "only database 0"},
		{"redis cluster sentinel", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.Cluster = true; c.Store.Redis.MasterName = "m" }, "store.redis.cluster", "exclude"},
		{"redis empty prefix", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.KeyPrefix = "" }, "store.redis.keyPrefix", "must not be empty"},
		{"redis op timeout", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.OpTimeout = 0 }, "store.redis.opTimeout", "10ms"},
		{"redis half client cert", func(c *Config) {
			c.Store.Type = "redis"
			c.Store.Redis.TLS = RedisTLS{Enabled: true, CertFile: "c.pem"}
		}, "store.redis.tls.certFile", "together"},
		{"store empty", func(c *Config) { c.Store.Type = "" }, "store.type", "memory"},
		{"log level", func(c *Config) { c.Log.Level = "trace" }, "log.level", "debug, info, warn or error"},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", "text or json"},

		{"argon2 memory", func(c *Config) { c.Directory.Argon2.MemoryKiB = 19455 }, "directory.argon2.memoryKiB", "OWASP"},
		{"argon2 memory in bytes", func(c *Config) { c.Directory.Argon2.MemoryKiB = 19456 * 1024 }, "directory.argon2.memoryKiB", "KiB"},
		{"argon2 time", func(c *Config) { c.Directory.Argon2.Time = 1 }, "directory.argon2.time", "OWASP"},
		{"argon2 threads", func(c *Config) { c.Directory.Argon2.Threads = 0 }, "directory.argon2.threads", "OWASP"},
		{"argon2 stronger", func(c *Config) { c.Directory.Argon2 = Argon2{MemoryKiB: 65536, Time: 3, Threads: 4} }, "", ""},
		{"max failures zero", func(c *Config) { c.Directory.MaxFailures = 0 }, "directory.maxFailures", "1 to 100"},
		{"max failures large", func(c *Config) { c.Directory.MaxFailures = 101 }, "directory.maxFailures", "1 to 100"},
		{"max hashes", func(c *Config) { c.Directory.MaxConcurrentHashes = 1025 }, "directory.maxConcurrentHashes", "1 to 1024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tc.mutate(c)
			got := keyErrors(t, c.Validate())
			if tc.key == "" {
				if len(got) > 0 {
					t.Fatalf("Validate() problems = %v, want none", got)
				}
				return
			}
			problem, ok := got[tc.key]
			if !ok {
				t.Fatalf("Validate() problems = %v, want one for %s", got, tc.key)
			}
			if !strings.Contains(problem, tc.want) {
				t.Errorf("Validate() problem for %s = %q, want it to contain %q", tc.key, problem, tc.want)
			}
			if len(got) != 1 {
				t.Errorf("Validate() problems = %v, want only the one for %s", got, tc.key)
			}
		})
	}
}

// The message format callers print: `key: problem`.
func TestValidateMessage(t *testing.T) {
	t.Parallel()
	c := Default()
	c.SAML.Sign = "x"
	err := c.Validate()
	if got, want := err.Error(), `saml.sign: want both, response or assertion, got "x"`; got != want {
		t.Errorf("Validate() = %q, want %q", got, want)
	}
}

// Validate reports every problem of a file at once.
func TestValidateCollectsEveryProblem(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/bad-values.yaml", nil)
	if err != nil {
		t.Fatalf("Load() = %v, want the file to load (its values are well-typed)", err)
	}
	got := keyErrors(t, c.Validate())
	for _, key := range []string{
		"listen", "baseURL", "session.cookieSecure", "session.flowCookieName", "session.flowLifetime",
		"saml.defaultLevel", "saml.sign", "saml.signatureAlgorithm", "saml.maxRelayState", "saml.assertionLifetime",
		"saml.classMapping[1].classRef", "serviceProviders[0].encryption", "serviceProviders[1].entityID",
		"serviceProviders[1].attributes[1]", "keys.algorithm", "store.type", "log.level", "log.format",
		"directory.argon2.memoryKiB", "directory.argon2.time", "directory.maxFailures",
		"directory.maxConcurrentHashes", "spMetadata.pollInterval",
	} {
		if _, ok := got[key]; !ok {
			t.Errorf("Validate() has no problem for %s; problems: %v", key, got)
		}
	}
	if !strings.Contains(got["saml.signatureAlgorithm"], "SHA-1 is not allowed") {
		t.Errorf("saml.signatureAlgorithm problem = %q, want the SHA-1 message", got["saml.signatureAlgorithm"])
	}
}

func TestValidateTrimsBaseURL(t *testing.T) {
	t.Parallel()
	c := Default()
	c.BaseURL = "https://idp.example.org/atea//"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if got, want := c.BaseURL, "https://idp.example.org/atea"; got != want {
		t.Errorf("BaseURL after Validate() = %q, want %q", got, want)
	}
	if got, want := c.EntityID(), "https://idp.example.org/atea/saml/metadata"; got != want {
		t.Errorf("EntityID() = %q, want %q", got, want)
	}
}

func TestProductionConfigValidates(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/production.yaml", nil)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	// Spot checks that the file was read as meant.
	if !c.Session.CookieSecure || c.Demo.Enabled || c.Log.Format != "json" || c.BaseURL != "https://idp.example.eus" {
		t.Errorf("production config = %+v, want cookieSecure, no demo, json logs, trimmed https baseURL", c)
	}
	if got, want := c.KeyFile(), "/etc/atea/keys/signing.key"; got != want {
		t.Errorf("KeyFile() = %q, want %q", got, want)
	}
	if got := len(c.ServiceProviders); got != 2 {
		t.Errorf("len(ServiceProviders) = %d, want 2", got)
	}
}
