package config

import (
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// Config is Atea's whole configuration. The mapstructure tags are the YAML keys; the ATEA_
// variable of a scalar key is derived from them (see the package documentation).
type Config struct {
	// Listen is the TCP address the HTTP server listens on (host:port).
	Listen string `mapstructure:"listen"`
	// BaseURL is the public URL of Atea as browsers and SPs see it, scheme://host[:port][/prefix]
	// without a trailing slash (Validate trims one).
	BaseURL string `mapstructure:"baseURL"`
	// DataDir holds keys, the user directory, SP metadata and the admin socket by default.
	DataDir string `mapstructure:"dataDir"`
	// EntityIDSetting is the configured IdP entityID; "" derives it from BaseURL. Read it
	// through [Config.EntityID].
	EntityIDSetting string `mapstructure:"entityID"`

	Session          Session     `mapstructure:"session"`
	SAML             SAML        `mapstructure:"saml"`
	ServiceProviders []SP        `mapstructure:"serviceProviders"`
	Keys             Keys        `mapstructure:"keys"`
	SPMetadata       SPMetadata  `mapstructure:"spMetadata"`
	Store            Store       `mapstructure:"store"`
	Demo             Demo        `mapstructure:"demo"`
	Log              Log         `mapstructure:"log"`
	Directory        Directory   `mapstructure:"directory"`
	Factors          Factors     `mapstructure:"secondFactors"`
	Certificate      Certificate `mapstructure:"certificate"`
	SelfService      SelfService `mapstructure:"selfService"`
	Metrics          Metrics     `mapstructure:"metrics"`
	// IdPMetadata is what Atea publishes about itself at /saml/metadata (issue 6).
	IdPMetadata IdPMetadata `mapstructure:"metadata"`
	// EIDAS adds the eIDAS metadata extensions (EIDAS-CLAVE.md §5).
	EIDAS EIDAS `mapstructure:"eidas"`
}

// IdPMetadata configures Atea's own metadata document.
type IdPMetadata struct {
	// Validity is how long a signed document is valid: validUntil = signing time + Validity.
	// The served document is re-signed once half of it has passed, so it never has less
	// than Validity/2 left.
	Validity time.Duration `mapstructure:"validity"`
	// CacheDuration is the cacheDuration published: how often SPs should re-fetch, which is
	// how fast they learn a new next key.
	CacheDuration time.Duration `mapstructure:"cacheDuration"`
	// OrganizationName and OrganizationURL make md:Organization; "" URL is baseURL + "/".
	OrganizationName string `mapstructure:"organizationName"`
	OrganizationURL  string `mapstructure:"organizationURL"`
	// ContactEmail is the technical ContactPerson; "" publishes none.
	ContactEmail string `mapstructure:"contactEmail"`
	// DisplayName is the mdui:DisplayName in each language; "" leaves a language out.
	DisplayName DisplayNames `mapstructure:"displayName"`
}

// DisplayNames holds one text per interface language.
type DisplayNames struct {
	ES string `mapstructure:"es"`
	EU string `mapstructure:"eu"`
	EN string `mapstructure:"en"`
}

// EIDAS configures the eIDAS extensions of Atea's metadata.
type EIDAS struct {
	// Enabled publishes eidas:NodeCountry, alg:SigningMethod/DigestMethod and the
	// assurance-certification entity attribute with the levels Atea can reach.
	Enabled bool `mapstructure:"enabled"`
	// NodeCountry is the ISO 3166-1 alpha-2 country code (required when enabled).
	NodeCountry string `mapstructure:"nodeCountry"`
}

// Metrics configures the Prometheus endpoint (issue 6: metrics per SP metadata source).
type Metrics struct {
	// Listen is the host:port of a separate plain-HTTP listener serving /metrics; "" (the
	// default) serves no metrics. It is never the public listener: metrics reveal which SPs
	// and federations Atea trusts and when their metadata fails, so bind it to loopback or an
	// internal interface (e.g. 127.0.0.1:9464, the port Prometheus tooling expects).
	Listen string `mapstructure:"listen"`
}

// SelfService configures the credential journeys (issue 5): activation by letter,
// issuance at a registration desk, recovery, the account pages, registration with a
// certificate and the online upgrade.
type SelfService struct {
	// TermsVersion is the version of the terms of use citizens accept; a change makes the
	// next journey ask again.
	TermsVersion string `mapstructure:"termsVersion"`
	// ActivationCodeTTL is how long an activation letter's code is valid; EnrolmentLinkTTL
	// how long the e-mailed link after a registration desk is.
	ActivationCodeTTL time.Duration `mapstructure:"activationCodeTTL"`
	EnrolmentLinkTTL  time.Duration `mapstructure:"enrolmentLinkTTL"`
	// MinimumAge is the youngest a citizen registered at a desk or with a certificate may be.
	MinimumAge int  `mapstructure:"minimumAge"`
	Mail       Mail `mapstructure:"mail"`
}

// Mail configures e-mail to citizens (the card and link after a desk, confirmation codes
// for a new address): maildir writes .eml files (the embedded default), smtp submits them.
type Mail struct {
	Type string `mapstructure:"type"`
	// Dir is the maildir directory; "" is <DataDir>/mail.
	Dir  string `mapstructure:"dir"`
	From string `mapstructure:"from"`
	// SMTPAddr is host:port of the submission server (STARTTLS required off loopback);
	// SMTPUsername and SMTPPasswordFile enable AUTH PLAIN.
	SMTPAddr         string `mapstructure:"smtpAddr"`
	SMTPUsername     string `mapstructure:"smtpUsername"`
	SMTPPasswordFile string `mapstructure:"smtpPasswordFile"`
}

// MailDir is where the maildir e-mail sender writes.
func (c *Config) MailDir() string { return c.orData(c.SelfService.Mail.Dir, "mail") }

// Certificate configures sign-in with an electronic DNI or a qualified certificate (level
// high): either a trusted reverse proxy terminates TLS and passes the verified certificate in
// a header, or Atea runs its own mutual-TLS listener.
type Certificate struct {
	// Enabled offers certificate sign-in.
	Enabled bool `mapstructure:"enabled"`
	// TrustAnchorsFile holds the PEM CA certificates citizens' certificates must chain to;
	// IntermediatesFile optional intermediates; CRLFiles optional CRLs (PEM or DER).
	TrustAnchorsFile  string   `mapstructure:"trustAnchorsFile"`
	IntermediatesFile string   `mapstructure:"intermediatesFile"`
	CRLFiles          []string `mapstructure:"crlFiles"`
	// ProxyHeader is the header in which a trusted proxy passes the client certificate
	// (URL-escaped PEM or base64 DER); only requests from TrustedProxies (CIDRs) may use it.
	ProxyHeader    string   `mapstructure:"proxyHeader"`
	TrustedProxies []string `mapstructure:"trustedProxies"`
	// Listen, TLSCertFile and TLSKeyFile run Atea's own mutual-TLS listener; BaseURL is its
	// public URL (https://host:port).
	Listen      string `mapstructure:"listen"`
	BaseURL     string `mapstructure:"baseURL"`
	TLSCertFile string `mapstructure:"tlsCertFile"`
	TLSKeyFile  string `mapstructure:"tlsKeyFile"`
}

// Factors configures the second factors of B@kQ (level substantial): the coordinate card and
// the SMS code, and how messages are sent.
type Factors struct {
	// Order is the preference: a citizen gets the first enabled factor they have.
	Order []string `mapstructure:"order"`
	// Level is the level password + second factor reaches: substantial (the eIDAS notified
	// rating of B@kQ) or low, if policy says so.
	Level     string    `mapstructure:"level"`
	CoordCard CoordCard `mapstructure:"coordCard"`
	SMS       SMS       `mapstructure:"sms"`
	Sender    Sender    `mapstructure:"sender"`
}

// CoordCard configures the coordinate card.
type CoordCard struct {
	// Enabled offers the card to citizens who hold one.
	Enabled bool `mapstructure:"enabled"`
	// Digits is the number of digits per cell (2–6).
	Digits int `mapstructure:"digits"`
	// Ask is how many distinct cells a challenge asks (1–4).
	Ask int `mapstructure:"ask"`
	// MaxFailures blocks the card after this many consecutive wrong answers.
	MaxFailures int `mapstructure:"maxFailures"`
	// Level overrides secondFactors.level for the card ("" inherits).
	Level string `mapstructure:"level"`
}

// SMS configures the SMS code (seed 001: the screen shows the first digits, the citizen types
// the rest).
type SMS struct {
	// Enabled offers the SMS code to B@kQ holders with a mobile number.
	Enabled bool `mapstructure:"enabled"`
	// Digits is the length of the code; Shown how many of its first digits the page shows.
	Digits int `mapstructure:"digits"`
	Shown  int `mapstructure:"shown"`
	// TTL is how long a code is valid; Cooldown how long before "I did not receive the code"
	// sends another.
	TTL      time.Duration `mapstructure:"ttl"`
	Cooldown time.Duration `mapstructure:"cooldown"`
	// MaxAttempts per code; MaxSends per sign-in flow.
	MaxAttempts int `mapstructure:"maxAttempts"`
	MaxSends    int `mapstructure:"maxSends"`
	// LockAfter wrong codes within LockWindow block the SMS factor of the account.
	LockAfter  int           `mapstructure:"lockAfter"`
	LockWindow time.Duration `mapstructure:"lockWindow"`
	// Level overrides secondFactors.level for the SMS code ("" inherits).
	Level string `mapstructure:"level"`
}

// Sender configures message delivery: outbox (a file in the data directory: the embedded
// default, for trying Atea out), webhook (an SMS gateway) or smtp (e-mail).
type Sender struct {
	// Type is outbox or webhook (SMTP, for e-mail, comes with the credential journeys).
	Type string `mapstructure:"type"`
	// OutboxFile is the outbox; "" is <DataDir>/outbox.txt.
	OutboxFile string `mapstructure:"outboxFile"`
	// WebhookURL receives a JSON POST per message; the header WebhookAuthHeader carries the
	// first line of WebhookAuthFile.
	WebhookURL        string        `mapstructure:"webhookURL"`
	WebhookAuthHeader string        `mapstructure:"webhookAuthHeader"`
	WebhookAuthFile   string        `mapstructure:"webhookAuthFile"`
	WebhookTimeout    time.Duration `mapstructure:"webhookTimeout"`
}

// OutboxPath is where the outbox sender writes.
func (c *Config) OutboxPath() string { return c.orData(c.Factors.Sender.OutboxFile, "outbox.txt") }

// Session configures the SSO session and the short-lived sign-in flow cookies.
type Session struct {
	// CookieName is the SSO session cookie's name.
	CookieName string `mapstructure:"cookieName"`
	// FlowCookieName is the name of the cookie that binds a sign-in flow to the browser.
	FlowCookieName string `mapstructure:"flowCookieName"`
	// CookieSecure sets the Secure attribute on both cookies; it requires an https BaseURL.
	CookieSecure bool `mapstructure:"cookieSecure"`
	// Lifetime is the absolute lifetime of an SSO session.
	Lifetime time.Duration `mapstructure:"lifetime"`
	// FlowLifetime is how long a started sign-in may take.
	FlowLifetime time.Duration `mapstructure:"flowLifetime"`
}

// SAML holds the protocol settings every SP gets unless its [SP] entry overrides them.
type SAML struct {
	// DefaultLevel is the level asked of a request that names none: low, substantial or high.
	DefaultLevel string `mapstructure:"defaultLevel"`
	// ClassMapping maps legacy SAML 2.0 AuthnContextClassRefs onto levels. A configured list
	// replaces the default one; read it as a map through [Config.ClassMapping].
	ClassMapping []ClassRefLevel `mapstructure:"classMapping"`
	// AssertionLifetime is NotOnOrAfter − IssueInstant of issued assertions.
	AssertionLifetime time.Duration `mapstructure:"assertionLifetime"`
	// NotBeforeSkew back-dates NotBefore to tolerate SP clocks that run behind.
	NotBeforeSkew time.Duration `mapstructure:"notBeforeSkew"`
	// ClockSkew is the tolerance for the IssueInstant of incoming requests.
	ClockSkew time.Duration `mapstructure:"clockSkew"`
	// MaxRequestAge is how old an AuthnRequest's IssueInstant may be.
	MaxRequestAge time.Duration `mapstructure:"maxRequestAge"`
	// RequireSignedRequests refuses unsigned AuthnRequests from every SP.
	RequireSignedRequests bool `mapstructure:"requireSignedRequests"`
	// MaxRelayState is the longest RelayState accepted, in bytes.
	MaxRelayState int `mapstructure:"maxRelayState"`
	// DefaultNameIDFormat is transient, persistent, unspecified or email.
	DefaultNameIDFormat string `mapstructure:"defaultNameIDFormat"`
	// Sign says what is signed: both, response or assertion.
	Sign string `mapstructure:"sign"`
	// SignatureAlgorithm is rsa-sha256, rsa-sha384, rsa-sha512 or ecdsa-sha256.
	SignatureAlgorithm string `mapstructure:"signatureAlgorithm"`
	// LogoutTimeout bounds each hop of single logout (a SOAP call, or the browser's round
	// trip to one SP); a participant that takes longer is reported as not answering.
	LogoutTimeout time.Duration `mapstructure:"logoutTimeout"`
	// MaxLogoutSPs caps the participants one logout contacts (fan-out abuse); the others are
	// reported as not signed out.
	MaxLogoutSPs int `mapstructure:"maxLogoutSPs"`
	// SOAPLogout accepts LogoutRequests over the SOAP back channel at /saml/slo and
	// publishes that endpoint in the IdP metadata.
	SOAPLogout bool `mapstructure:"soapLogout"`
}

// ClassRefLevel is one entry of saml.classMapping.
type ClassRefLevel struct {
	// ClassRef is a SAML AuthnContextClassRef URI.
	ClassRef string `mapstructure:"classRef"`
	// Level is low, substantial or high.
	Level string `mapstructure:"level"`
}

// SP is an administrator's choices for one service provider, found by entityID. Zero values
// inherit the global setting.
type SP struct {
	// EntityID is the SP's entityID, as in its metadata.
	EntityID string `mapstructure:"entityID"`
	// Sign overrides saml.sign: both, response or assertion.
	Sign string `mapstructure:"sign"`
	// EncryptAssertions encrypts assertions to the SP's metadata encryption key.
	EncryptAssertions bool `mapstructure:"encryptAssertions"`
	// Encryption is the data-encryption algorithm; "" is aes256-gcm.
	Encryption string `mapstructure:"encryption"`
	// NameIDFormat overrides saml.defaultNameIDFormat.
	NameIDFormat string `mapstructure:"nameIDFormat"`
	// Attributes lists the attribute names released; nil releases the default set.
	Attributes []string `mapstructure:"attributes"`
	// RequireSignedRequests refuses unsigned AuthnRequests from this SP.
	RequireSignedRequests bool `mapstructure:"requireSignedRequests"`
	// DefaultLevel overrides saml.defaultLevel.
	DefaultLevel string `mapstructure:"defaultLevel"`
	// MaxRelayState overrides saml.maxRelayState.
	MaxRelayState int `mapstructure:"maxRelayState"`
	// ReauthenticateFrom: requests of this SP at this level or above never reuse the SSO
	// session (SPID-style); "" always allows reuse.
	ReauthenticateFrom string `mapstructure:"reauthenticateFrom"`
	// AllowUnsignedLogout accepts this SP's unsigned LogoutRequests (the citizen confirms
	// on an Atea page first) and LogoutResponses; by default both must be signed.
	AllowUnsignedLogout bool `mapstructure:"allowUnsignedLogout"`
}

// Keys names the signing key and the secret files; "" paths are derived from DataDir.
type Keys struct {
	// Algorithm is the algorithm of a generated signing key: rsa2048, rsa3072 or ecdsa-p256.
	Algorithm string `mapstructure:"algorithm"`
	// KeyFile is the PEM signing key; "" is <DataDir>/keys/signing.key.
	KeyFile string `mapstructure:"keyFile"`
	// CertFile is the PEM signing certificate; "" is <DataDir>/keys/signing.crt.
	CertFile string `mapstructure:"certFile"`
	// SecretFile holds the server-side MAC secrets; "" is <DataDir>/keys/secret.
	SecretFile string `mapstructure:"secretFile"`
	// GracePeriod is how long `atea keys rollover` keeps the replaced signing key published
	// in metadata. It should be at least metadata.validity, so every document the old key
	// signed has expired before its certificate disappears.
	GracePeriod time.Duration `mapstructure:"gracePeriod"`
}

// SPMetadata configures the directory SP metadata files are read from.
type SPMetadata struct {
	// Dir is the directory of *.xml SP metadata files; "" is <DataDir>/sp-metadata.
	Dir string `mapstructure:"dir"`
	// PollInterval is how often the directory is checked for changes.
	PollInterval time.Duration `mapstructure:"pollInterval"`
	// Sources are remote SP metadata sources, consulted after the directory in this order:
	// the first source that knows an entityID wins (a conflict is logged).
	Sources []MetadataSource `mapstructure:"sources"`
}

// MetadataSource is one remote SP metadata source (issue 6): a URL serving one
// EntityDescriptor or an aggregate EntitiesDescriptor, or an MDQ service. Its documents must
// be signed by one of the certificates in TrustAnchorsFile.
type MetadataSource struct {
	Name string `mapstructure:"name"`
	// Type is url or mdq.
	Type string `mapstructure:"type"`
	// URL is the document's URL (url) or the MDQ base URL (mdq).
	URL string `mapstructure:"url"`
	// TrustAnchorsFile holds the PEM certificates a document's signature must verify with.
	TrustAnchorsFile string `mapstructure:"trustAnchorsFile"`
	// Interval is how often a url source is refreshed (0: 1h); MaxBytes bounds a document
	// (0: 256 MiB for url, 4 MiB per entity for mdq).
	Interval time.Duration `mapstructure:"interval"`
	MaxBytes int64         `mapstructure:"maxBytes"`
	// RequireValidUntil refuses documents without a validUntil.
	RequireValidUntil bool `mapstructure:"requireValidUntil"`
	// CacheFile keeps the last good document of a url source (signed, as fetched), loaded
	// and verified again at start so a restart during a publisher outage keeps its SPs; ""
	// is <DataDir>/metadata-cache/<name>.xml. Read it through [Config.MetadataCacheFile].
	CacheFile string `mapstructure:"cacheFile"`
}

// MetadataCacheFile returns spMetadata.sources[i].cacheFile, else
// <DataDir>/metadata-cache/<name>.xml with the name's characters outside [A-Za-z0-9._-]
// replaced by '_'.
func (c *Config) MetadataCacheFile(i int) string {
	s := c.SPMetadata.Sources[i]
	if s.CacheFile != "" {
		return s.CacheFile
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s.Name)
	return filepath.Join(c.DataDir, "metadata-cache", strings.TrimLeft(name, ".")+".xml")
}

// Store selects the session-state backend.
type Store struct {
	// Type is the backend: memory (one process, lost on restart) or redis (shared by several
	// instances, the production choice).
	Type string `mapstructure:"type"`
	// Redis configures the redis backend; ignored for memory.
	Redis Redis `mapstructure:"redis"`
}

// Redis configures the connection to Redis: a single server, Sentinel (MasterName set) or
// Cluster (Cluster true). Secrets are read from files, never written inline.
type Redis struct {
	// Addrs are host:port addresses (or unix socket paths): the server, the sentinels, or
	// some cluster nodes.
	Addrs []string `mapstructure:"addrs"`
	// MasterName selects Sentinel: the name of the monitored master.
	MasterName string `mapstructure:"masterName"`
	// Cluster selects Redis Cluster.
	Cluster bool `mapstructure:"cluster"`
	// Username is the Redis 6 ACL user ("" is the default user).
	Username string `mapstructure:"username"`
	// PasswordFile holds the password of Username (first line).
	PasswordFile string `mapstructure:"passwordFile"`
	// SentinelPasswordFile holds the sentinels' password, when they have one.
	SentinelPasswordFile string `mapstructure:"sentinelPasswordFile"`
	// DB is the database number (single server and Sentinel only).
	DB int `mapstructure:"db"`
	// KeyPrefix starts every key Atea writes, so several deployments can share a server.
	KeyPrefix string `mapstructure:"keyPrefix"`
	// TLS configures encrypted connections.
	TLS RedisTLS `mapstructure:"tls"`
	// DialTimeout, ReadTimeout and WriteTimeout bound each network step.
	DialTimeout  time.Duration `mapstructure:"dialTimeout"`
	ReadTimeout  time.Duration `mapstructure:"readTimeout"`
	WriteTimeout time.Duration `mapstructure:"writeTimeout"`
	// OpTimeout bounds each store operation as a whole: a slow Redis never stalls a sign-in
	// beyond it (the citizen gets the "temporarily unavailable" page).
	OpTimeout time.Duration `mapstructure:"opTimeout"`
	// PoolSize is the connection pool size per node (0: go-redis's default, 10 per CPU).
	PoolSize int `mapstructure:"poolSize"`
}

// RedisTLS configures TLS towards Redis.
type RedisTLS struct {
	// Enabled turns TLS on.
	Enabled bool `mapstructure:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the server certificate ("" = system pool).
	CAFile string `mapstructure:"caFile"`
	// CertFile and KeyFile are a client certificate, for servers that require one.
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `mapstructure:"serverName"`
}

// Demo controls the demo SPs and the demo citizen.
type Demo struct {
	// Enabled mounts the demo SPs and creates the demo citizen.
	Enabled bool `mapstructure:"enabled"`
}

// Log configures the process logger.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `mapstructure:"level"`
	// Format is text or json.
	Format string `mapstructure:"format"`
}

// Directory configures the user directory (bbolt file, argon2id password hashes).
type Directory struct {
	// Path is the directory file; "" is <DataDir>/directory.db.
	Path   string `mapstructure:"path"`
	Argon2 Argon2 `mapstructure:"argon2"`
	// MaxFailures is the number of consecutive wrong passwords that blocks an account.
	MaxFailures int `mapstructure:"maxFailures"`
	// FailureWindow is how long failed passwords are remembered in the shared session store
	// (what several instances count together); the directory's own count lasts until unlock.
	FailureWindow time.Duration `mapstructure:"failureWindow"`
	// MaxConcurrentHashes bounds the argon2id computations running at once (memory bound).
	MaxConcurrentHashes int `mapstructure:"maxConcurrentHashes"`
}

// Argon2 are the argon2id parameters of new password hashes.
type Argon2 struct {
	// MemoryKiB is the memory cost m, in KiB.
	MemoryKiB uint32 `mapstructure:"memoryKiB"`
	// Time is the number of passes t.
	Time uint32 `mapstructure:"time"`
	// Threads is the parallelism p.
	Threads uint8 `mapstructure:"threads"`
}

// The SAML 2.0 authentication context classes of the default mapping
// (saml-authn-context-2.0-os §3.4).
const (
	classPrefix = "urn:oasis:names:tc:SAML:2.0:ac:classes:"

	classPasswordProtectedTransport = classPrefix + "PasswordProtectedTransport"
	classPassword                   = classPrefix + "Password"
	classUnspecified                = classPrefix + "unspecified"
	classMobileTwoFactorContract    = classPrefix + "MobileTwoFactorContract"
	classTimeSyncToken              = classPrefix + "TimeSyncToken"
	classX509                       = classPrefix + "X509"
	classSmartcard                  = classPrefix + "Smartcard"
	classSmartcardPKI               = classPrefix + "SmartcardPKI"
	classTLSClient                  = classPrefix + "TLSClient"
)

// Default returns the built-in defaults: the embedded, try-it-out configuration. Each call
// returns a fresh value that the caller may modify.
func Default() *Config {
	return &Config{
		Listen:  "127.0.0.1:8080",
		BaseURL: "http://127.0.0.1:8080",
		DataDir: "./atea-data",
		Session: Session{
			CookieName:     "atea_sso",
			FlowCookieName: "atea_flow",
			CookieSecure:   false,
			Lifetime:       8 * time.Hour,
			FlowLifetime:   15 * time.Minute,
		},
		SAML: SAML{
			DefaultLevel: "low",
			// Password-based classes are what B@k (low) gives; two-factor classes match B@kQ
			// (substantial); certificate classes need a qualified certificate (high).
			ClassMapping: []ClassRefLevel{
				{classPasswordProtectedTransport, "low"},
				{classPassword, "low"},
				{classUnspecified, "low"},
				{classMobileTwoFactorContract, "substantial"},
				{classTimeSyncToken, "substantial"},
				{classX509, "high"},
				{classSmartcard, "high"},
				{classSmartcardPKI, "high"},
				{classTLSClient, "high"},
			},
			AssertionLifetime:     5 * time.Minute,
			NotBeforeSkew:         60 * time.Second,
			ClockSkew:             180 * time.Second,
			MaxRequestAge:         5 * time.Minute,
			RequireSignedRequests: false,
			MaxRelayState:         80,
			DefaultNameIDFormat:   "transient",
			Sign:                  "both",
			SignatureAlgorithm:    "rsa-sha256",
			LogoutTimeout:         5 * time.Second,
			MaxLogoutSPs:          20,
		},
		Keys: Keys{Algorithm: "rsa2048", GracePeriod: 7 * 24 * time.Hour},
		IdPMetadata: IdPMetadata{
			Validity: 7 * 24 * time.Hour, CacheDuration: time.Hour, OrganizationName: "Atea",
			DisplayName: DisplayNames{ES: "Atea", EU: "Atea", EN: "Atea"},
		},
		SPMetadata: SPMetadata{PollInterval: 2 * time.Second, Sources: []MetadataSource{}},
		Store: Store{Type: "memory", Redis: Redis{
			Addrs: []string{"127.0.0.1:6379"}, KeyPrefix: "atea:",
			DialTimeout: 2 * time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, OpTimeout: 500 * time.Millisecond,
		}},
		Demo: Demo{Enabled: true},
		Log:  Log{Level: "info", Format: "text"},
		Factors: Factors{
			Order: []string{"coordcard", "smsotp"}, Level: "substantial",
			CoordCard: CoordCard{Enabled: true, Digits: 3, Ask: 2, MaxFailures: 3},
			SMS: SMS{Enabled: true, Digits: 7, Shown: 3, TTL: 5 * time.Minute, Cooldown: time.Minute,
				MaxAttempts: 3, MaxSends: 5, LockAfter: 10, LockWindow: 24 * time.Hour},
			Sender: Sender{Type: "outbox", WebhookAuthHeader: "Authorization", WebhookTimeout: 5 * time.Second},
		},
		Certificate: Certificate{CRLFiles: []string{}, TrustedProxies: []string{}},
		SelfService: SelfService{
			TermsVersion: "2026-01", ActivationCodeTTL: 30 * 24 * time.Hour, EnrolmentLinkTTL: 30 * 24 * time.Hour,
			MinimumAge: 16, Mail: Mail{Type: "maildir", From: "Atea <no-reply@atea.invalid>"},
		},
		Directory: Directory{
			// OWASP Password Storage Cheat Sheet, argon2id minimum: m=19456 KiB, t=2, p=1.
			Argon2:              Argon2{MemoryKiB: 19456, Time: 2, Threads: 1},
			MaxFailures:         5,
			FailureWindow:       24 * time.Hour,
			MaxConcurrentHashes: 16,
		},
	}
}

// EntityID returns the IdP's entityID: the entityID setting if set, else BaseURL +
// "/saml/metadata" (the metadata URL, the usual convention for SAML entity IDs).
func (c *Config) EntityID() string {
	if c.EntityIDSetting != "" {
		return c.EntityIDSetting
	}
	return strings.TrimRight(c.BaseURL, "/") + "/saml/metadata"
}

// ClassMapping returns saml.classMapping as a map from AuthnContextClassRef to level name.
// Validate rejects duplicate class refs, so no entry is lost.
func (c *Config) ClassMapping() map[string]string {
	m := make(map[string]string, len(c.SAML.ClassMapping))
	for _, e := range c.SAML.ClassMapping {
		m[e.ClassRef] = e.Level
	}
	return m
}

// SPMetadataDir returns spMetadata.dir, else <DataDir>/sp-metadata.
func (c *Config) SPMetadataDir() string { return c.orData(c.SPMetadata.Dir, "sp-metadata") }

// KeyFile returns keys.keyFile, else <DataDir>/keys/signing.key.
func (c *Config) KeyFile() string { return c.orData(c.Keys.KeyFile, "keys", "signing.key") }

// CertFile returns keys.certFile, else <DataDir>/keys/signing.crt.
func (c *Config) CertFile() string { return c.orData(c.Keys.CertFile, "keys", "signing.crt") }

// KeyRingDir returns the directory of the key ring (its state file and generated keys),
// <DataDir>/keys. It is not configurable: keys.keyFile/certFile only name the key an
// existing installation adopts as current.
func (c *Config) KeyRingDir() string { return filepath.Join(c.DataDir, "keys") }

// SecretFile returns keys.secretFile, else <DataDir>/keys/secret.
func (c *Config) SecretFile() string { return c.orData(c.Keys.SecretFile, "keys", "secret") }

// DirectoryPath returns directory.path, else <DataDir>/directory.db.
func (c *Config) DirectoryPath() string { return c.orData(c.Directory.Path, "directory.db") }

// AdminSocket returns the path of the admin unix socket, <DataDir>/admin.sock. It is not
// configurable: the user commands find a running server through the data directory alone.
func (c *Config) AdminSocket() string { return filepath.Join(c.DataDir, "admin.sock") }

func (c *Config) orData(set string, elem ...string) string {
	if set != "" {
		return set
	}
	return filepath.Join(append([]string{c.DataDir}, elem...)...)
}

// LogValue implements slog.LogValuer. It shows the settings an operator needs to see in the
// start-up log, with derived paths resolved. The configuration holds no inline secrets (keys
// and secrets are files), so only file names appear; should inline secrets be added, they
// must be redacted here (STYLE.md §B5, §B9).
func (c *Config) LogValue() slog.Value {
	sps := make([]string, 0, len(c.ServiceProviders))
	for _, sp := range c.ServiceProviders {
		sps = append(sps, sp.EntityID)
	}
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("base_url", c.BaseURL),
		slog.String("entity_id", c.EntityID()),
		slog.String("data_dir", c.DataDir),
		slog.Group("session",
			slog.String("cookie_name", c.Session.CookieName),
			slog.String("flow_cookie_name", c.Session.FlowCookieName),
			slog.Bool("cookie_secure", c.Session.CookieSecure),
			slog.Duration("lifetime", c.Session.Lifetime),
			slog.Duration("flow_lifetime", c.Session.FlowLifetime),
		),
		slog.Group("saml",
			slog.String("default_level", c.SAML.DefaultLevel),
			slog.Int("class_mappings", len(c.SAML.ClassMapping)),
			slog.Duration("assertion_lifetime", c.SAML.AssertionLifetime),
			slog.Duration("not_before_skew", c.SAML.NotBeforeSkew),
			slog.Duration("clock_skew", c.SAML.ClockSkew),
			slog.Duration("max_request_age", c.SAML.MaxRequestAge),
			slog.Bool("require_signed_requests", c.SAML.RequireSignedRequests),
			slog.Int("max_relay_state", c.SAML.MaxRelayState),
			slog.String("default_name_id_format", c.SAML.DefaultNameIDFormat),
			slog.String("sign", c.SAML.Sign),
			slog.String("signature_algorithm", c.SAML.SignatureAlgorithm),
		),
		slog.Any("service_providers", sps),
		slog.Group("keys",
			slog.String("algorithm", c.Keys.Algorithm),
			slog.String("key_file", c.KeyFile()),
			slog.String("cert_file", c.CertFile()),
			slog.String("secret_file", c.SecretFile()),
			slog.String("ring_dir", c.KeyRingDir()),
			slog.Duration("grace_period", c.Keys.GracePeriod),
		),
		slog.Group("metadata",
			slog.Duration("validity", c.IdPMetadata.Validity),
			slog.Duration("cache_duration", c.IdPMetadata.CacheDuration),
		),
		slog.Group("eidas", slog.Bool("enabled", c.EIDAS.Enabled), slog.String("node_country", c.EIDAS.NodeCountry)),
		slog.Group("sp_metadata",
			slog.String("dir", c.SPMetadataDir()),
			slog.Duration("poll_interval", c.SPMetadata.PollInterval),
		),
		slog.String("store", c.Store.Type),
		slog.Bool("demo", c.Demo.Enabled),
		slog.Group("log", slog.String("level", c.Log.Level), slog.String("format", c.Log.Format)),
		slog.Group("directory",
			slog.String("path", c.DirectoryPath()),
			slog.Uint64("argon2_memory_kib", uint64(c.Directory.Argon2.MemoryKiB)),
			slog.Uint64("argon2_time", uint64(c.Directory.Argon2.Time)),
			slog.Uint64("argon2_threads", uint64(c.Directory.Argon2.Threads)),
			slog.Int("max_failures", c.Directory.MaxFailures),
			slog.Int("max_concurrent_hashes", c.Directory.MaxConcurrentHashes),
		),
	)
}
