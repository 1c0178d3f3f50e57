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
	"strings"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/metadata/xmlgate"
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

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

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
	metadata []byte
	inflater xmlgate.Inflater // reused decompressors for the Redirect binding
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
	if deps.Signer == nil || deps.Cert == nil {
		problems = append(problems, errors.New("idp: no signing key"))
	}
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
	s := &Server{
		cfg:    cfg,
		deps:   deps,
		now:    cfg.Now,
		log:    deps.Logger,
		audit:  deps.Audit,
		ssoURL: base + "/saml/sso",
		origin: u.Scheme + "://" + u.Host,
	}
	md, err := BuildMetadata(cfg, deps.Cert)
	if err != nil {
		return nil, err
	}
	s.metadata = md
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

// BuildMetadata returns the IdP metadata document for cfg and the signing certificate: the
// one served at /saml/metadata and printed by `atea metadata export`.
func BuildMetadata(cfg Config, cert *x509.Certificate) ([]byte, error) {
	base := strings.TrimRight(cfg.BaseURL, "/")
	md, err := metadata.BuildIdPMetadata(metadata.IdPInfo{
		EntityID:                cfg.EntityID,
		SSOURL:                  base + "/saml/sso",
		SigningCerts:            []*x509.Certificate{cert},
		NameIDFormats:           []string{nameIDTransient, nameIDPersistent, nameIDUnspecified, nameIDEmail},
		WantAuthnRequestsSigned: cfg.RequireSignedRequests,
		OrganizationName:        "Atea",
		OrganizationURL:         base + "/",
	})
	if err != nil {
		return nil, fmt.Errorf("idp: metadata: %w", err)
	}
	return md, nil
}

// Metadata returns Atea's IdP metadata document.
func (s *Server) Metadata() []byte { return s.metadata }

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

func (s *Server) handleMetadata(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.metadata)
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
