package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// KeyError is one problem Validate found, with the key it concerns. It matches ErrInvalid.
type KeyError struct {
	// Key is the setting's path as written in YAML: "saml.sign", "serviceProviders[2].entityID".
	Key string
	// Problem says what is wrong and what is wanted.
	Problem string
}

// Error returns "key: problem".
func (e *KeyError) Error() string { return e.Key + ": " + e.Problem }

// Unwrap returns ErrInvalid, so that errors.Is(err, ErrInvalid) holds.
func (e *KeyError) Unwrap() error { return ErrInvalid }

// Limits Validate enforces.
const (
	// specRelayState is the RelayState limit of saml-bindings-2.0-os §3.4.3 and §3.5.3 ("MUST
	// NOT exceed 80 bytes"); more is an opt-in for legacy SPs, capped at 1 KiB
	// (SECURITY.md §4.4).
	specRelayState = 80
	maxRelayState  = 1024
	// maxEntityID is the length limit of an entity identifier (saml-core-2.0-os §8.3.6).
	maxEntityID = 1024
	// OWASP Password Storage Cheat Sheet, argon2id: at least m=19456 KiB (19 MiB), t=2, p=1.
	minArgon2MemoryKiB = 19456
	minArgon2Time      = 2
	minArgon2Threads   = 1
	// maxArgon2MemoryKiB (1 GiB per hash) catches a value written in bytes instead of KiB,
	// which would exhaust memory at the first sign-in.
	maxArgon2MemoryKiB = 1 << 20
)

// Validate checks every setting and reports every problem at once (errors.Join of
// [*KeyError], each naming its key), so an operator fixes a configuration in one pass. It
// normalises baseURL by trimming trailing slashes; it changes nothing else.
func (c *Config) Validate() error {
	var v validator
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")

	c.validateServer(&v)
	c.validateSession(&v)
	c.validateSAML(&v)
	c.validateSPs(&v)
	c.validateKeys(&v)
	c.validateIdPMetadata(&v)

	v.durationAtLeast("spMetadata.pollInterval", c.SPMetadata.PollInterval, 500*time.Millisecond)
	c.validateMetadataSources(&v)
	switch c.Store.Type {
	case "memory":
	case "redis":
		c.validateRedis(&v)
	default:
		// No fall-back to memory on a typo (STYLE.md Part C §13: no fail-open defaults).
		v.add("store.type", fmt.Sprintf("want memory or redis, got %q", c.Store.Type))
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")
	c.validateDirectory(&v)
	c.validateFactors(&v)
	c.validateCertificate(&v)
	c.validateSelfService(&v)
	c.validateMetrics(&v)
	return errors.Join(v.problems...)
}

func (c *Config) validateMetadataSources(v *validator) {
	names := map[string]bool{}
	for i, src := range c.SPMetadata.Sources {
		key := fmt.Sprintf("spMetadata.sources[%d]", i)
		if src.Name == "" || names[src.Name] {
			v.add(key+".name", "want a unique, non-empty name")
		}
		names[src.Name] = true
		v.oneOf(key+".type", src.Type, "url", "mdq")
		if u, err := url.Parse(src.URL); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
			v.add(key+".url", "want an https URL (http only on loopback)")
		}
		if src.TrustAnchorsFile == "" {
			v.add(key+".trustAnchorsFile", "a remote source needs trust anchors: its documents must be signed")
		}
		if src.Interval != 0 && src.Interval < time.Minute {
			v.add(key+".interval", fmt.Sprintf("want 0 or at least 1m, got %s", src.Interval))
		}
		if src.MaxBytes < 0 {
			v.add(key+".maxBytes", "must not be negative")
		}
	}
	// A cache file in the SP-metadata directory would be loaded from there without its
	// signature being checked; two sources sharing one would overwrite each other.
	mdDir, _ := filepath.Abs(c.SPMetadataDir())
	caches, seen := map[string]bool{}, map[string]bool{}
	for i, src := range c.SPMetadata.Sources {
		dupName := seen[src.Name] // reported above; its default cache file collides too
		seen[src.Name] = true
		if src.Type != "url" || dupName {
			continue
		}
		p, _ := filepath.Abs(c.MetadataCacheFile(i))
		key := fmt.Sprintf("spMetadata.sources[%d].cacheFile", i)
		if filepath.Dir(p) == mdDir {
			v.add(key, "must not be in the SP-metadata directory, which loads files without signature checks")
		}
		if caches[p] {
			v.add(key, "used by two sources")
		}
		caches[p] = true
	}
}

func (c *Config) validateMetrics(v *validator) {
	if c.Metrics.Listen == "" {
		return
	}
	if _, port, err := net.SplitHostPort(c.Metrics.Listen); err != nil || !validPort(port) {
		v.add("metrics.listen", fmt.Sprintf("want host:port or \"\", got %q", c.Metrics.Listen))
	} else if c.Metrics.Listen == c.Listen {
		v.add("metrics.listen", "must differ from listen: metrics are not for the public listener")
	}
}

func (c *Config) validateSelfService(v *validator) {
	s := c.SelfService
	if s.TermsVersion == "" || len(s.TermsVersion) > 64 || strings.ContainsFunc(s.TermsVersion, func(r rune) bool { return r < ' ' }) {
		v.add("selfService.termsVersion", "want 1 to 64 printable characters")
	}
	v.durationIn("selfService.activationCodeTTL", s.ActivationCodeTTL, time.Hour, 366*24*time.Hour)
	v.durationIn("selfService.enrolmentLinkTTL", s.EnrolmentLinkTTL, time.Hour, 366*24*time.Hour)
	v.intIn("selfService.minimumAge", s.MinimumAge, 14, 18)
	switch s.Mail.Type {
	case "maildir":
	case "smtp":
		if host, port, err := net.SplitHostPort(s.Mail.SMTPAddr); err != nil || host == "" || !validPort(port) {
			v.add("selfService.mail.smtpAddr", fmt.Sprintf("want host:port, got %q", s.Mail.SMTPAddr))
		}
		if (s.Mail.SMTPUsername == "") != (s.Mail.SMTPPasswordFile == "") {
			v.add("selfService.mail.smtpPasswordFile", "set both smtpUsername and smtpPasswordFile, or neither")
		}
	default:
		v.add("selfService.mail.type", fmt.Sprintf("want maildir or smtp, got %q", s.Mail.Type))
	}
	if _, err := mail.ParseAddress(s.Mail.From); err != nil {
		v.add("selfService.mail.from", fmt.Sprintf("want an address such as \"Atea <no-reply@example.org>\", got %q", s.Mail.From))
	}
}

func (c *Config) validateServer(v *validator) {
	if host, port, err := net.SplitHostPort(c.Listen); err != nil || !validPort(port) || strings.ContainsAny(host, " /") {
		v.add("listen", fmt.Sprintf("want host:port such as 127.0.0.1:8080 or :8443, got %q", c.Listen))
	}
	if problem := checkBaseURL(c.BaseURL); problem != "" {
		v.add("baseURL", problem)
	}
	if c.DataDir == "" {
		v.add("dataDir", "must not be empty")
	}
	if c.EntityIDSetting != "" {
		if problem := checkEntityID(c.EntityIDSetting); problem != "" {
			v.add("entityID", problem)
		}
	}
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

// checkBaseURL returns what is wrong with an (already slash-trimmed) base URL, or "".
func checkBaseURL(s string) string {
	// The literal, lower-case prefix is required because the IdP decides on HSTS and the
	// cookie checks by it.
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return fmt.Sprintf("want an absolute http:// or https:// URL, got %q", s)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil, u.Host == "", u.Hostname() == "":
		return fmt.Sprintf("want an absolute http:// or https:// URL with a host, got %q", s)
	case u.User != nil:
		return fmt.Sprintf("must not contain user information, got %q", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return fmt.Sprintf("must not have a query or fragment, got %q", s)
	case strings.ContainsAny(s, " \t\r\n"):
		return fmt.Sprintf("must not contain white space, got %q", s)
	}
	return ""
}

// checkEntityID returns what is wrong with a configured entityID, or "". An entityID is an
// absolute URI of at most 1024 characters (saml-core-2.0-os §8.3.6).
func checkEntityID(s string) string {
	u, err := url.Parse(s)
	switch {
	case len(s) > maxEntityID:
		return fmt.Sprintf("want at most %d characters, got %d", maxEntityID, len(s))
	case err != nil || u.Scheme == "" || strings.ContainsAny(s, " \t\r\n"):
		return fmt.Sprintf("want an absolute URI (saml-core-2.0-os §8.3.6), got %q", s)
	}
	return ""
}

func (c *Config) validateSession(v *validator) {
	s := c.Session
	for _, ck := range []struct{ key, name string }{
		{"session.cookieName", s.CookieName},
		{"session.flowCookieName", s.FlowCookieName},
	} {
		if !validCookieName(ck.name) {
			v.add(ck.key, fmt.Sprintf("want a cookie name (an RFC 6265 §4.1.1 token: letters, digits and !#$%%&'*+-.^_`|~), got %q", ck.name))
			continue
		}
		// Browsers refuse __Host- and __Secure- cookies without Secure (RFC 6265bis §4.1.3):
		// the sign-in would silently never keep a session.
		lower := strings.ToLower(ck.name)
		if (strings.HasPrefix(lower, "__host-") || strings.HasPrefix(lower, "__secure-")) && !s.CookieSecure {
			v.add(ck.key, fmt.Sprintf("the %s prefix requires session.cookieSecure: true", ck.name[:strings.IndexByte(ck.name, '-')+1]))
		}
	}
	if s.CookieName != "" && strings.EqualFold(s.CookieName, s.FlowCookieName) {
		v.add("session.flowCookieName", fmt.Sprintf("must differ from session.cookieName, both are %q", s.CookieName))
	}
	// Secure cookies are never sent over plain http, so the session would be lost after
	// every sign-in; the flag comes from configuration, never from the request
	// (SECURITY.md §4.18).
	if s.CookieSecure && !strings.HasPrefix(c.BaseURL, "https://") {
		v.add("session.cookieSecure", fmt.Sprintf("true requires an https baseURL, got %q", c.BaseURL))
	}
	v.durationAtLeast("session.lifetime", s.Lifetime, time.Minute)
	v.durationIn("session.flowLifetime", s.FlowLifetime, time.Minute, 2*time.Hour)
}

// validCookieName reports whether s is a cookie-name: an RFC 2616 §2.2 token, as RFC 6265
// §4.1.1 requires.
func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return true
}

func (c *Config) validateSAML(v *validator) {
	s := c.SAML
	v.oneOf("saml.defaultLevel", s.DefaultLevel, levels()...)
	seen := map[string]int{}
	for i, e := range s.ClassMapping {
		key := fmt.Sprintf("saml.classMapping[%d]", i)
		switch {
		case e.ClassRef == "" || strings.ContainsAny(e.ClassRef, " \t\r\n"):
			v.add(key+".classRef", fmt.Sprintf("want an AuthnContextClassRef URI, got %q", e.ClassRef))
		case strings.HasPrefix(e.ClassRef, "http://eidas.europa.eu/"):
			// The IdP reads eIDAS level URIs itself before consulting the mapping, so an
			// entry for one would be silently ignored.
			v.add(key+".classRef", fmt.Sprintf("%q is an eIDAS level URI, understood natively; it cannot be remapped", e.ClassRef))
		default:
			if j, dup := seen[e.ClassRef]; dup {
				v.add(key+".classRef", fmt.Sprintf("%q is already mapped by saml.classMapping[%d]", e.ClassRef, j))
			} else {
				seen[e.ClassRef] = i
			}
		}
		v.oneOf(key+".level", e.Level, levels()...)
	}
	v.durationIn("saml.assertionLifetime", s.AssertionLifetime, time.Minute, time.Hour)
	v.durationIn("saml.notBeforeSkew", s.NotBeforeSkew, 0, 10*time.Minute)
	v.durationIn("saml.clockSkew", s.ClockSkew, 0, 10*time.Minute)
	v.durationIn("saml.maxRequestAge", s.MaxRequestAge, time.Minute, time.Hour)
	v.relayState("saml.maxRelayState", s.MaxRelayState)
	v.oneOf("saml.defaultNameIDFormat", s.DefaultNameIDFormat, nameIDFormats()...)
	v.oneOf("saml.sign", s.Sign, signs()...)
	// SECURITY.md §4.10: time-box each logout hop (5 s for SOAP) and cap the fan-out.
	v.durationIn("saml.logoutTimeout", s.LogoutTimeout, 500*time.Millisecond, 30*time.Second)
	if s.MaxLogoutSPs < 1 || s.MaxLogoutSPs > 100 {
		v.add("saml.maxLogoutSPs", fmt.Sprintf("want 1 to 100, got %d", s.MaxLogoutSPs))
	}

	alg := s.SignatureAlgorithm
	if l := strings.ToLower(alg); strings.Contains(l, "sha1") || strings.Contains(l, "sha-1") {
		// SHA-1 collisions are practical (SHAttered, 2017); NIST SP 800-131A Rev. 2 disallows
		// SHA-1 for signature generation, and xmldsig-core1 §6.4 deprecates it.
		v.add("saml.signatureAlgorithm", fmt.Sprintf("SHA-1 is not allowed; want rsa-sha256, rsa-sha384, rsa-sha512 or ecdsa-sha256, got %q", alg))
	} else {
		v.oneOf("saml.signatureAlgorithm", alg, "rsa-sha256", "rsa-sha384", "rsa-sha512", "ecdsa-sha256")
	}
}

// The allowed values of the enumerated settings. Functions, not package variables, so that
// no caller can change them.
func levels() []string        { return []string{"low", "substantial", "high"} }
func nameIDFormats() []string { return []string{"transient", "persistent", "unspecified", "email"} }
func signs() []string         { return []string{"both", "response", "assertion"} }
func encryptions() []string {
	return []string{"aes256-gcm", "aes128-gcm", "aes256-cbc-legacy", "aes128-cbc-legacy"}
}

func (c *Config) validateSPs(v *validator) {
	seen := map[string]int{}
	for i, sp := range c.ServiceProviders {
		key := fmt.Sprintf("serviceProviders[%d]", i)
		if sp.EntityID == "" {
			v.add(key+".entityID", "must not be empty")
		} else if j, dup := seen[sp.EntityID]; dup {
			v.add(key+".entityID", fmt.Sprintf("%q is already configured by serviceProviders[%d]", sp.EntityID, j))
		} else {
			seen[sp.EntityID] = i
			if len(sp.EntityID) > maxEntityID {
				v.add(key+".entityID", fmt.Sprintf("want at most %d characters, got %d", maxEntityID, len(sp.EntityID)))
			}
		}
		// Empty values inherit the global setting.
		v.oneOfOrEmpty(key+".sign", sp.Sign, signs()...)
		v.oneOfOrEmpty(key+".encryption", sp.Encryption, encryptions()...)
		if sp.Encryption != "" && !sp.EncryptAssertions {
			// Naming an algorithm without switching encryption on almost certainly means the
			// operator expects encrypted assertions; say so rather than send them in clear.
			v.add(key+".encryption", fmt.Sprintf("is %q but encryptAssertions is false, so nothing is encrypted; set encryptAssertions: true or remove encryption", sp.Encryption))
		}
		v.oneOfOrEmpty(key+".nameIDFormat", sp.NameIDFormat, nameIDFormats()...)
		v.oneOfOrEmpty(key+".defaultLevel", sp.DefaultLevel, levels()...)
		v.oneOfOrEmpty(key+".reauthenticateFrom", sp.ReauthenticateFrom, levels()...)
		if sp.MaxRelayState != 0 {
			v.relayState(key+".maxRelayState", sp.MaxRelayState)
		}
		names := map[string]bool{}
		for j, a := range sp.Attributes {
			akey := fmt.Sprintf("%s.attributes[%d]", key, j)
			switch {
			case strings.TrimSpace(a) == "":
				v.add(akey, "must not be empty")
			case names[a]:
				v.add(akey, fmt.Sprintf("%q is listed twice", a))
			}
			names[a] = true
		}
	}
}

func (c *Config) validateKeys(v *validator) {
	v.oneOf("keys.algorithm", c.Keys.Algorithm, "rsa2048", "rsa3072", "ecdsa-p256")
	alg := c.SAML.SignatureAlgorithm
	switch {
	case c.Keys.Algorithm == "ecdsa-p256" && strings.HasPrefix(alg, "rsa-") && alg != Default().SAML.SignatureAlgorithm:
		// The default rsa-sha256 is left alone because cmd/atea switches it to ecdsa-sha256
		// for an ECDSA key; any other rsa-* was chosen explicitly and cannot be honoured.
		v.add("saml.signatureAlgorithm", fmt.Sprintf("%q needs an RSA key, but keys.algorithm is ecdsa-p256; use ecdsa-sha256", alg))
	case strings.HasPrefix(c.Keys.Algorithm, "rsa") && alg == "ecdsa-sha256":
		v.add("saml.signatureAlgorithm", fmt.Sprintf("ecdsa-sha256 needs an ECDSA key, but keys.algorithm is %s", c.Keys.Algorithm))
	}
}

// validateIdPMetadata checks the settings of Atea's own metadata and of key rollover.
func (c *Config) validateIdPMetadata(v *validator) {
	m := c.IdPMetadata
	// At least an hour: the served document is re-signed at half its validity, and SPs need
	// time to fetch it. At most a year: a leaked old document should not stay valid longer.
	v.durationIn("metadata.validity", m.Validity, time.Hour, 365*24*time.Hour)
	if m.CacheDuration < time.Minute || m.CacheDuration > m.Validity {
		v.add("metadata.cacheDuration", fmt.Sprintf("want 1m to metadata.validity (%s), got %s", fmtDuration(m.Validity), fmtDuration(m.CacheDuration)))
	}
	v.durationIn("keys.gracePeriod", c.Keys.GracePeriod, 0, 365*24*time.Hour)
	if m.OrganizationURL != "" {
		if u, err := url.Parse(m.OrganizationURL); err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			v.add("metadata.organizationURL", fmt.Sprintf("want an absolute http(s) URL, got %q", m.OrganizationURL))
		}
	}
	if m.OrganizationURL != "" && strings.TrimSpace(m.OrganizationName) == "" {
		v.add("metadata.organizationName", "must be set when metadata.organizationURL is")
	}
	if e := m.ContactEmail; e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " \t\r\n<>\"")) {
		v.add("metadata.contactEmail", fmt.Sprintf("want an e-mail address, got %q", e))
	}
	if c.EIDAS.Enabled {
		cc := c.EIDAS.NodeCountry
		if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
			v.add("eidas.nodeCountry", fmt.Sprintf("want an ISO 3166-1 alpha-2 code such as ES, got %q", cc))
		}
	}
}

func (c *Config) validateDirectory(v *validator) {
	if w := c.Directory.FailureWindow; w < time.Minute || w > 90*24*time.Hour {
		v.add("directory.failureWindow", fmt.Sprintf("want 1m to 2160h (90 days), got %s", w))
	}
	a := c.Directory.Argon2
	const owasp = "OWASP's argon2id minimum is m=19456 KiB, t=2, p=1"
	switch {
	case a.MemoryKiB < minArgon2MemoryKiB:
		v.add("directory.argon2.memoryKiB", fmt.Sprintf("want at least %d (%s), got %d", minArgon2MemoryKiB, owasp, a.MemoryKiB))
	case a.MemoryKiB > maxArgon2MemoryKiB:
		v.add("directory.argon2.memoryKiB", fmt.Sprintf("want at most %d (1 GiB per hash; the unit is KiB), got %d", maxArgon2MemoryKiB, a.MemoryKiB))
	}
	if a.Time < minArgon2Time {
		v.add("directory.argon2.time", fmt.Sprintf("want at least %d (%s), got %d", minArgon2Time, owasp, a.Time))
	}
	if a.Threads < minArgon2Threads {
		v.add("directory.argon2.threads", fmt.Sprintf("want at least %d (%s), got %d", minArgon2Threads, owasp, a.Threads))
	}
	v.intIn("directory.maxFailures", c.Directory.MaxFailures, 1, 100)
	v.intIn("directory.maxConcurrentHashes", c.Directory.MaxConcurrentHashes, 1, 1024)
}

// validator collects problems in the order they are found.
type validator struct{ problems []error }

func (v *validator) add(key, problem string) {
	v.problems = append(v.problems, &KeyError{Key: key, Problem: problem})
}

func (v *validator) oneOf(key, got string, allowed ...string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	v.add(key, fmt.Sprintf("want %s, got %q", orList(allowed), got))
}

func (v *validator) oneOfOrEmpty(key, got string, allowed ...string) {
	if got != "" {
		v.oneOf(key, got, allowed...)
	}
}

func (v *validator) intIn(key string, got, lo, hi int) {
	if got < lo || got > hi {
		v.add(key, fmt.Sprintf("want %d to %d, got %d", lo, hi, got))
	}
}

func (v *validator) relayState(key string, got int) {
	if got < specRelayState || got > maxRelayState {
		v.add(key, fmt.Sprintf("want %d (saml-bindings-2.0-os §3.4.3) to %d, got %d", specRelayState, maxRelayState, got))
	}
}

func (v *validator) durationIn(key string, got, lo, hi time.Duration) {
	if got < lo || got > hi {
		v.add(key, fmt.Sprintf("want %s to %s, got %s", fmtDuration(lo), fmtDuration(hi), fmtDuration(got)))
	}
}

func (v *validator) durationAtLeast(key string, got, lo time.Duration) {
	if got < lo {
		v.add(key, fmt.Sprintf("want at least %s, got %s", fmtDuration(lo), fmtDuration(got)))
	}
}

// orList formats {"a", "b", "c"} as "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// fmtDuration writes durations as an operator would: "1m", "2h", "1h30m", "500ms".
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (c *Config) validateRedis(v *validator) {
	r := c.Store.Redis
	if len(r.Addrs) == 0 {
		v.add("store.redis.addrs", "at least one address is needed")
	}
	for _, a := range r.Addrs {
		if strings.HasPrefix(a, "/") {
			continue // a unix socket
		}
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || !validPort(port) {
			v.add("store.redis.addrs", fmt.Sprintf("want host:port or an absolute socket path, got %q", a))
		}
	}
	if r.Cluster && r.MasterName != "" {
		v.add("store.redis.cluster", "cluster and masterName (Sentinel) exclude each other")
	}
	if r.Cluster && r.DB != 0 {
		v.add("store.redis.db", "Redis Cluster has only database 0")
	}
	if r.DB < 0 || r.DB > 15 {
		v.add("store.redis.db", fmt.Sprintf("want 0–15, got %d", r.DB))
	}
	if r.KeyPrefix == "" {
		v.add("store.redis.keyPrefix", `must not be empty (e.g. "atea:"): it keeps Atea's keys apart from anything else in Redis`)
	}
	if strings.ContainsAny(r.KeyPrefix, " \t\r\n{}") {
		v.add("store.redis.keyPrefix", "no whitespace or braces (braces are hash tags)")
	}
	for key, d := range map[string]time.Duration{
		"store.redis.dialTimeout": r.DialTimeout, "store.redis.readTimeout": r.ReadTimeout,
		"store.redis.writeTimeout": r.WriteTimeout, "store.redis.opTimeout": r.OpTimeout,
	} {
		if d < 10*time.Millisecond || d > 30*time.Second {
			v.add(key, fmt.Sprintf("want 10ms–30s, got %s", d))
		}
	}
	if r.PoolSize < 0 || r.PoolSize > 10000 {
		v.add("store.redis.poolSize", fmt.Sprintf("want 0–10000, got %d", r.PoolSize))
	}
	if (r.TLS.CertFile == "") != (r.TLS.KeyFile == "") {
		v.add("store.redis.tls.certFile", "certFile and keyFile go together")
	}
	if !r.TLS.Enabled && (r.TLS.CAFile != "" || r.TLS.CertFile != "" || r.TLS.ServerName != "") {
		v.add("store.redis.tls.enabled", "TLS files or serverName given but tls.enabled is false")
	}
}

func (c *Config) validateFactors(v *validator) {
	f := c.Factors
	seen := map[string]bool{}
	for i, id := range f.Order {
		key := fmt.Sprintf("secondFactors.order[%d]", i)
		switch {
		case id != "coordcard" && id != "smsotp":
			v.add(key, fmt.Sprintf("want coordcard or smsotp, got %q", id))
		case seen[id]:
			v.add(key, fmt.Sprintf("%q is listed twice", id))
		}
		seen[id] = true
	}
	v.oneOf("secondFactors.level", f.Level, "low", "substantial")
	v.oneOfOrEmpty("secondFactors.coordCard.level", f.CoordCard.Level, "low", "substantial")
	v.oneOfOrEmpty("secondFactors.sms.level", f.SMS.Level, "low", "substantial")
	if f.CoordCard.Enabled {
		v.intIn("secondFactors.coordCard.digits", f.CoordCard.Digits, 2, 6)
		v.intIn("secondFactors.coordCard.ask", f.CoordCard.Ask, 1, 4)
		v.intIn("secondFactors.coordCard.maxFailures", f.CoordCard.MaxFailures, 1, 10)
	}
	if f.SMS.Enabled {
		v.intIn("secondFactors.sms.digits", f.SMS.Digits, 6, 10)
		v.intIn("secondFactors.sms.shown", f.SMS.Shown, 0, f.SMS.Digits-4)
		v.intIn("secondFactors.sms.maxAttempts", f.SMS.MaxAttempts, 1, 10)
		v.intIn("secondFactors.sms.maxSends", f.SMS.MaxSends, 1, 20)
		v.intIn("secondFactors.sms.lockAfter", f.SMS.LockAfter, 1, 100)
		for key, d := range map[string]time.Duration{"secondFactors.sms.ttl": f.SMS.TTL, "secondFactors.sms.cooldown": f.SMS.Cooldown} {
			if d < 10*time.Second || d > time.Hour {
				v.add(key, fmt.Sprintf("want 10s to 1h, got %s", d))
			}
		}
		if f.SMS.LockWindow < time.Minute || f.SMS.LockWindow > 90*24*time.Hour {
			v.add("secondFactors.sms.lockWindow", fmt.Sprintf("want 1m to 2160h, got %s", f.SMS.LockWindow))
		}
	}
	switch f.Sender.Type {
	case "outbox":
	case "webhook":
		if u, err := url.Parse(f.Sender.WebhookURL); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
			v.add("secondFactors.sender.webhookURL", "want an https URL (http only on loopback)")
		}
		if f.Sender.WebhookAuthFile == "" {
			v.add("secondFactors.sender.webhookAuthFile", "a webhook needs a credential file")
		}
		if f.Sender.WebhookTimeout <= 0 || f.Sender.WebhookTimeout > time.Minute {
			v.add("secondFactors.sender.webhookTimeout", fmt.Sprintf("want up to 1m, got %s", f.Sender.WebhookTimeout))
		}
	default:
		v.add("secondFactors.sender.type", fmt.Sprintf("want outbox or webhook, got %q", f.Sender.Type))
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validateCertificate(v *validator) {
	k := c.Certificate
	if !k.Enabled {
		return
	}
	if k.TrustAnchorsFile == "" {
		v.add("certificate.trustAnchorsFile", "certificate sign-in needs the CAs to trust")
	}
	proxy, own := k.ProxyHeader != "", k.Listen != ""
	switch {
	case proxy == own:
		v.add("certificate.proxyHeader", "set either proxyHeader (with trustedProxies) or listen (Atea's own mutual-TLS listener), not both")
	case proxy && len(k.TrustedProxies) == 0:
		v.add("certificate.trustedProxies", "a proxy header is only believed from listed proxy addresses")
	case own && (k.TLSCertFile == "" || k.TLSKeyFile == "" || !strings.HasPrefix(k.BaseURL, "https://")):
		v.add("certificate.listen", "a mutual-TLS listener needs tlsCertFile, tlsKeyFile and an https baseURL")
	}
	for i, p := range k.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				v.add(fmt.Sprintf("certificate.trustedProxies[%d]", i), fmt.Sprintf("want a CIDR or an IP address, got %q", p))
			}
		}
	}
}
