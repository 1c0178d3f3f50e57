package idp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/metadata/xmlgate"
	"github.com/ateaidp/atea/metadata/xmlsig"
	"github.com/ateaidp/atea/templates"
)

// Config is the IdP's behaviour, already validated by package config and mapped by cmd/atea.
type Config struct {
	EntityID string
	BaseURL  string // scheme://host[:port][/prefix], no trailing slash

	CookieName      string
	FlowCookieName  string
	CookieSecure    bool
	SessionLifetime time.Duration
	FlowLifetime    time.Duration

	AssertionLifetime time.Duration
	NotBeforeSkew     time.Duration
	ClockSkew         time.Duration
	MaxRequestAge     time.Duration

	// MaxPasswordFailures blocks an account once this many failed passwords are counted in
	// the shared store within FailureWindow (0: only the directory's own lockout applies).
	MaxPasswordFailures int
	FailureWindow       time.Duration

	// CertBaseURL is the origin of the mutual-TLS listener for certificate sign-in ("" when a
	// trusted reverse proxy requests the certificate on BaseURL itself).
	CertBaseURL string

	RequireSignedRequests bool
	MaxRelayState         int
	DefaultNameIDFormat   string // transient | persistent | unspecified | email
	Sign                  string // both | response | assertion
	DefaultLevel          authn.Level
	// ClassMapping maps SAML 2.0 AuthnContextClassRefs of legacy SPs onto levels.
	ClassMapping map[string]authn.Level
	// SPs holds per-SP settings by entityID; they survive metadata refreshes.
	SPs map[string]SPSettings

	// LogoutTimeout bounds each hop of single logout: a SOAP call, or the browser's round trip
	// to one SP and back (0: 5 s, SECURITY.md §4.10). MaxLogoutSPs caps the participants one
	// logout contacts (0: 20); the rest are reported as not signed out. See slo.go.
	LogoutTimeout time.Duration
	MaxLogoutSPs  int
	// SOAPLogout accepts LogoutRequests over SOAP at PathSLO and publishes the SOAP
	// SingleLogoutService in the metadata (slo_soap_in.go).
	SOAPLogout bool

	// Metadata is what the IdP metadata publishes beyond endpoints and keys (issue 6).
	Metadata MetadataConfig

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MetadataConfig is the content and freshness of Atea's own metadata document. Zero values
// take the defaults given per field.
type MetadataConfig struct {
	// Validity sets validUntil = signing time + Validity (default 7 days). The served
	// document is re-signed once half of it has passed, so SPs always get one with at least
	// Validity/2 left.
	Validity time.Duration
	// CacheDuration is the published cacheDuration (default 1h).
	CacheDuration time.Duration
	// OrganizationName (default "Atea") and OrganizationURL (default BaseURL + "/").
	OrganizationName, OrganizationURL string
	// ContactEmail is the technical contact ("" publishes none).
	ContactEmail string
	// DisplayNames are the mdui:DisplayName values by language; nil means "Atea" in es, eu
	// and en.
	DisplayNames map[string]string
	// EIDASNodeCountry, when set, publishes the eIDAS extensions (EIDAS-CLAVE.md §5):
	// eidas:NodeCountry with this code, the signature and digest algorithms Atea verifies,
	// and the levels it can reach as the assurance-certification entity attribute.
	EIDASNodeCountry string
}

const (
	defaultMetadataValidity = 7 * 24 * time.Hour
	defaultCacheDuration    = time.Hour
)

// SPSettings are an administrator's choices for one SP.
type SPSettings struct {
	Sign                  string   // "" inherits Config.Sign
	EncryptAssertions     bool     // encrypt when the SP publishes an encryption key
	Encryption            string   // aes256-gcm (default) | aes128-gcm | aes256-cbc-legacy | aes128-cbc-legacy
	NameIDFormat          string   // "" inherits
	Attributes            []string // nil: the default release (eIDAS minimum data set)
	RequireSignedRequests bool
	DefaultLevel          authn.Level // LevelNone inherits
	MaxRelayState         int         // 0 inherits
	// ReauthFrom makes every request of this SP whose weakest acceptable level is at least
	// this one authenticate afresh, never reusing the SSO session (SPID-style policy for
	// levels 2 and 3); LevelNone allows reuse.
	ReauthFrom authn.Level
	// AllowUnsignedLogout accepts this SP's unsigned LogoutRequests (after the citizen confirms
	// on a page of Atea's, against logout CSRF) and LogoutResponses; otherwise both must be
	// signed (SECURITY.md §4.10).
	AllowUnsignedLogout bool
}

// Directory is what the IdP needs of the user directory.
type Directory interface {
	Authenticate(ctx context.Context, dniNumber, password string) (directory.User, error)
	GetByID(ctx context.Context, id string) (directory.User, error)
	Get(ctx context.Context, dniNumber string) (directory.User, error)
}

// SPLookup finds an SP's validated metadata; metadata.DirSource implements it.
type SPLookup interface {
	Lookup(entityID string) (*metadata.SP, error)
}

// Deps are the IdP's collaborators.
type Deps struct {
	Store     store.Store
	Directory Directory
	SPs       SPLookup
	Signer    *samlxml.Signer
	Cert      *x509.Certificate
	// EncryptionKeys decrypt what SPs encrypt to Atea, such as an EncryptedID in a
	// LogoutRequest (saml-core-2.0-os §3.6.3, §3.7.1), current key first. Their certificates are
	// published in the IdP metadata with use="encryption". They are RSA keys: XML Encryption key
	// transport (RSA-OAEP) needs one.
	EncryptionKeys []crypto.Decrypter
	Secrets        *keys.Secrets
	Templates      *templates.Renderer
	Logger         *slog.Logger
	Audit          *slog.Logger
	// Stats counts assertions, error Responses, failed sign-ins and logout outcomes for the
	// metrics listener; nil counts nothing.
	Stats *Stats
	// Factors are the second factors (B@kQ: coordinate card, SMS code) in order of
	// preference: a citizen gets the first one they have. None: only level low is offered.
	Factors []authn.SecondFactor
	// Certificates signs citizens in with a client certificate (level high); nil: not offered.
	Certificates CertSignIn
	// Extra mounts more handlers (the demo SP) on the IdP's mux.
	Extra map[string]http.Handler
	// SignIns, when set, is told of every sign-in (a new SSO session, not a reuse), for the
	// citizen's "recent sign-ins" list on the account page. Its failure is logged and does
	// not stop the sign-in.
	SignIns SignInRecorder

	// EncryptionCerts are the certificates of EncryptionKeys, published with use="encryption".
	EncryptionCerts []*x509.Certificate
	// SigningCerts are the signing certificates metadata publishes: the key ring's current
	// (Cert, which must be among them) and next keys. Nil publishes Cert alone.
	SigningCerts []*x509.Certificate
	// PreviousCert is the signing key a rollover replaced; metadata publishes it until
	// PreviousRetireAfter (by the server's clock, without a restart).
	PreviousCert        *x509.Certificate
	PreviousRetireAfter time.Time
}

// SignIn is one sign-in as the account page lists it: no SP, no full address.
type SignIn struct {
	Time   time.Time
	Level  string // low, substantial, high
	Method string // password, coordcard, smsotp, certificate
	// Network is the client address with its host part cut (IPv4 /24, IPv6 /48): enough for
	// a citizen to recognise "not me", too little to locate them.
	Network string
}

// SignInRecorder keeps the recent sign-ins of users.
type SignInRecorder interface {
	RecordSignIn(ctx context.Context, userID string, si SignIn) error
}

// Server is Atea's HTTP-facing identity provider. It is an http.Handler.
type Server struct {
	cfg      Config
	deps     Deps
	now      func() time.Time
	mux      *http.ServeMux
	log      *slog.Logger
	audit    *slog.Logger
	ssoURL   string
	origin   string
	inflater xmlgate.Inflater // reused decompressors for the Redirect binding

	// keys is the key material with the signed metadata that publishes it (keyset.go).
	// Handlers load it once per request; SetKeys swaps it. deps holds no key material.
	keys      atomic.Pointer[keyState]
	setKeysMu sync.Mutex
}

// metadataCache holds the signed metadata document served at /saml/metadata and re-signs it
// when half its validity has passed (checked on each request with the server's clock), so
// its validUntil stays in the future for as long as the server runs.
type metadataCache struct {
	cfg    Config
	inputs MetadataInputs
	signer *samlxml.Signer

	mu        sync.Mutex
	doc       []byte
	validTill time.Time
	refreshAt time.Time
}

// get returns the document valid at now, signing a fresh one when due. When re-signing
// fails, the previous document is served while it is still valid.
func (c *metadataCache) get(now time.Time) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doc != nil && now.Before(c.refreshAt) {
		return c.doc, nil
	}
	doc, err := BuildSignedMetadata(c.cfg, c.inputs, c.signer, now)
	if err != nil {
		if c.doc != nil && now.Before(c.validTill) {
			return c.doc, err
		}
		return nil, err
	}
	v := metadataValidity(c.cfg)
	c.doc, c.validTill, c.refreshAt = doc, now.Add(v), now.Add(v/2)
	if r := c.inputs.PreviousRetireAfter; c.inputs.Previous != nil && now.Before(r) && r.Before(c.refreshAt) {
		c.refreshAt = r // withdraw the previous key on time
	}
	return doc, nil
}

// New validates the wiring and builds the server.
func New(cfg Config, deps Deps) (*Server, error) {
	var problems []error
	if deps.Store == nil {
		problems = append(problems, errors.New("idp: no store"))
	}
	if deps.Directory == nil {
		problems = append(problems, errors.New("idp: no directory"))
	}
	if deps.SPs == nil {
		problems = append(problems, errors.New("idp: no SP source"))
	}
	ks := deps.keySet()
	problems = append(problems, ks.check()...)
	if deps.Secrets == nil {
		problems = append(problems, errors.New("idp: no secrets"))
	}
	if deps.Templates == nil {
		problems = append(problems, errors.New("idp: no templates"))
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		problems = append(problems, fmt.Errorf("idp: base URL %q is not absolute", cfg.BaseURL))
	}
	problems = append(problems, checkSPSettings(cfg.SPs)...)
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 24 * time.Hour
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Audit == nil {
		deps.Audit = deps.Logger
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	KeySet{}.Into(&deps) // the key material lives in s.keys only, so nothing reads a stale copy
	s := &Server{
		cfg:    cfg,
		deps:   deps,
		now:    cfg.Now,
		log:    deps.Logger,
		audit:  deps.Audit,
		ssoURL: base + "/saml/sso",
		origin: u.Scheme + "://" + u.Host,
	}
	// newKeyState signs the metadata once now: a metadata problem is a start-up error, not a
	// 500 on the first fetch.
	st, err := s.newKeyState(ks)
	if err != nil {
		return nil, err
	}
	s.keys.Store(st)
	s.routes()
	return s, nil
}

// checkSPSettings refuses per-SP settings that could only fail at sign-in time: an unknown
// attribute name, signing profile or encryption algorithm is a startup error (fail fast).
func checkSPSettings(sps map[string]SPSettings) []error {
	var problems []error
	defs := attributeDefs()
	for id, set := range sps {
		for _, a := range set.Attributes {
			if _, ok := defs[a]; !ok {
				problems = append(problems, fmt.Errorf("idp: SP %s: unknown attribute %q", id, a))
			}
		}
		switch set.Sign {
		case "", "both", "response", "assertion":
		default:
			problems = append(problems, fmt.Errorf("idp: SP %s: sign %q: want both, response or assertion", id, set.Sign))
		}
		if set.EncryptAssertions {
			if _, err := samlxml.EncryptionByName(set.Encryption); err != nil {
				problems = append(problems, fmt.Errorf("idp: SP %s: %w", id, err))
			}
		}
	}
	return problems
}

// MetadataInputs are the keys and capabilities the IdP metadata publishes.
type MetadataInputs struct {
	// SigningCerts: current first, then next.
	SigningCerts []*x509.Certificate
	// Previous is published after them while the time is before PreviousRetireAfter.
	Previous            *x509.Certificate
	PreviousRetireAfter time.Time
	// EncryptionCerts are published with use="encryption".
	EncryptionCerts []*x509.Certificate
	// Levels are the levels Atea can reach, for the eIDAS assurance-certification attribute.
	Levels []authn.Level
}

// metadataInputs derives what metadata publishes from the key set and the server's
// dependencies: the levels reachable are low always, substantial with a second factor and
// high with certificate sign-in.
func metadataInputs(k KeySet, deps Deps) MetadataInputs {
	in := MetadataInputs{SigningCerts: k.SigningCerts, EncryptionCerts: k.EncryptionCerts, Levels: []authn.Level{authn.LevelLow},
		Previous: k.PreviousCert, PreviousRetireAfter: k.PreviousRetireAfter}
	if len(in.SigningCerts) == 0 {
		in.SigningCerts = []*x509.Certificate{k.Cert}
	}
	if len(deps.Factors) > 0 {
		in.Levels = append(in.Levels, authn.LevelSubstantial)
	}
	if deps.Certificates != nil {
		in.Levels = append(in.Levels, authn.LevelHigh)
	}
	return in
}

func metadataValidity(cfg Config) time.Duration {
	if cfg.Metadata.Validity > 0 {
		return cfg.Metadata.Validity
	}
	return defaultMetadataValidity
}

// metadataInfo maps cfg and in onto the document's content. The endpoints are fixed paths
// under BaseURL: /saml/sso and /saml/slo, each for HTTP-Redirect and HTTP-POST.
func metadataInfo(cfg Config, in MetadataInputs, now time.Time) metadata.IdPInfo {
	base := strings.TrimRight(cfg.BaseURL, "/")
	m := cfg.Metadata
	signing := in.SigningCerts
	if in.Previous != nil && now.Before(in.PreviousRetireAfter) {
		signing = append(slices.Clip(signing), in.Previous)
	}
	info := metadata.IdPInfo{
		EntityID:                cfg.EntityID,
		CacheDuration:           m.CacheDuration,
		SSOURL:                  base + "/saml/sso",
		SLOURL:                  base + "/saml/slo",
		SLOSOAP:                 cfg.SOAPLogout,
		SigningCerts:            signing,
		EncryptionCerts:         in.EncryptionCerts,
		EncryptionMethods:       samlxml.DecryptionMethods(), // what decryptID accepts, so SPs pick one of them
		NameIDFormats:           []string{nameIDTransient, nameIDPersistent, nameIDUnspecified, nameIDEmail},
		WantAuthnRequestsSigned: cfg.RequireSignedRequests,
		OrganizationName:        m.OrganizationName,
		OrganizationURL:         m.OrganizationURL,
		DisplayNames:            m.DisplayNames,
		ContactEmail:            m.ContactEmail,
	}
	if info.CacheDuration <= 0 {
		info.CacheDuration = defaultCacheDuration
	}
	if info.OrganizationName == "" {
		info.OrganizationName = "Atea"
	}
	if info.OrganizationURL == "" {
		info.OrganizationURL = base + "/"
	}
	if info.DisplayNames == nil {
		info.DisplayNames = map[string]string{"es": "Atea", "eu": "Atea", "en": "Atea"}
	}
	if m.EIDASNodeCountry != "" {
		e := &metadata.EIDASInfo{
			NodeCountry: m.EIDASNodeCountry,
			// What metadata/xmlsig accepts from SPs and samlxml can sign with; SHA-1 never.
			SigningMethods: []string{xmlsig.AlgRSASHA256, xmlsig.AlgRSASHA384, xmlsig.AlgRSASHA512,
				xmlsig.AlgECDSASHA256, xmlsig.AlgECDSASHA384, xmlsig.AlgECDSASHA512},
			DigestMethods: []string{xmlsig.DigestSHA256, xmlsig.DigestSHA384, xmlsig.DigestSHA512},
		}
		for _, l := range in.Levels {
			e.Levels = append(e.Levels, l.URI())
		}
		info.EIDAS = e
	}
	return info
}

// BuildMetadata returns the unsigned IdP metadata document as of now, as `atea metadata
// export` prints it without --sign: no ID and no validUntil, because a file handed to an SP
// out of band carries no freshness guarantee and an expiry would only make it fail in the SP's
// configuration later. The served document is BuildSignedMetadata's.
func BuildMetadata(cfg Config, in MetadataInputs, now time.Time) ([]byte, error) {
	md, err := metadata.BuildIdPMetadata(metadataInfo(cfg, in, now))
	if err != nil {
		return nil, fmt.Errorf("idp: metadata: %w", err)
	}
	return md, nil
}

// BuildSignedMetadata returns the IdP metadata signed by signer (enveloped, exclusive C14N,
// the signer's algorithm: RSA-SHA256 or stronger, or ECDSA-SHA256), with a fresh ID and
// validUntil = now + the configured validity: the document served at /saml/metadata.
func BuildSignedMetadata(cfg Config, in MetadataInputs, signer *samlxml.Signer, now time.Time) ([]byte, error) {
	info := metadataInfo(cfg, in, now)
	info.ID = samlxml.NewID()
	info.ValidUntil = now.Add(metadataValidity(cfg)).UTC().Truncate(time.Second)
	md, err := metadata.BuildSignedIdPMetadata(info, signer)
	if err != nil {
		return nil, fmt.Errorf("idp: metadata: %w", err)
	}
	return md, nil
}

// Metadata returns Atea's signed IdP metadata document as served now.
func (s *Server) Metadata() []byte {
	md, err := s.currentKeys().metadata.get(s.now())
	if err != nil {
		s.log.Error("sign metadata", "err", err)
	}
	return md
}

// SSOURL returns the SingleSignOnService location.
func (s *Server) SSOURL() string { return s.ssoURL }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /saml/metadata", s.handleMetadata)
	m.HandleFunc("GET /saml/sso", s.handleSSO)
	m.HandleFunc("POST /saml/sso", s.handleSSO)
	m.HandleFunc("GET /login", s.handleLoginGet)
	m.HandleFunc("POST /login", s.handleLoginPost)
	m.HandleFunc("POST /login/factor", s.handleFactorPost)
	m.HandleFunc("GET /login/cert", s.handleCertLogin)
	m.HandleFunc("POST /login/choose", s.handleChoose)
	m.HandleFunc("POST /login/factor/resend", s.handleFactorResend)
	s.sloRoutes(m)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	m.HandleFunc("GET /readyz", s.handleReady)
	m.Handle("GET /static/", http.StripPrefix("/static/", s.deps.Templates.Static()))
	m.HandleFunc("GET /{$}", s.handleHome)
	for pattern, h := range s.deps.Extra {
		m.Handle(pattern, h)
	}
	m.HandleFunc("/", s.handleNotFound)
	s.mux = m
}

// ServeHTTP adds the headers every page needs and turns a panic into a 500 page, so no
// request can take the process down or leak a stack trace.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	// The Redirect binding carries SAMLRequest in the URL: never leak it in Referer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if strings.HasPrefix(s.cfg.BaseURL, "https://") {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, not an error chain
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v))
			s.renderError(w, r, &pageError{status: http.StatusInternalServerError, key: "error.internal", err: fmt.Errorf("panic: %v", v)})
		}
	}()
	s.mux.ServeHTTP(w, r)
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	md, err := s.currentKeys().metadata.get(s.now())
	if err != nil {
		s.log.ErrorContext(r.Context(), "sign metadata", "err", err)
	}
	if md == nil {
		http.Error(w, "metadata unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(md)
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.deps.Store.Ping(ctx); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, &pageError{status: http.StatusNotFound, key: "error.notfound", err: errors.New("no route")})
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	lang := s.lang(r)
	page := templates.HomePage{
		Base:        s.base(w, r, lang, ""),
		DemoURL:     "/demo/",
		MetadataURL: "/saml/metadata",
	}
	if _, ok := s.deps.Extra["/demo/"]; !ok {
		page.DemoURL = ""
	}
	s.render(w, r, http.StatusOK, templates.PageHome, &page)
}

// newCorrelationID returns a short random reference shown on error pages and logged with the
// private detail, so support can find one from the other.
func newCorrelationID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
