// Package demosp is the demonstration service provider built into Atea: a real SAML SP made
// with crewjam/saml's samlsp, mounted on Atea's own HTTP server at /demo/ (and a second one at
// /demo2/, to show single sign-on). It registers with Atea through its metadata like any other
// SP, and its page shows exactly what it received: NameID, attributes and level.
//
// It is not part of the IdP: it talks to Atea only through SAML messages in the browser.
package demosp

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ateaidp/atea/templates"
)

// Claim names under which the session codec keeps what crewjam's default codec drops.
const (
	claimClassRef = "atea-demo:class-ref"
	claimFormat   = "atea-demo:nameid-format"
)

// Options configure one demo SP.
type Options struct {
	Prefix      string // URL path prefix, e.g. "/demo"
	BaseURL     string // Atea's base URL
	Key         crypto.Signer
	Cert        *x509.Certificate
	IdPMetadata []byte
	// LiveIdPMetadata, when set, returns Atea's metadata as served now. The SP compares it
	// with the document it trusts on every request and rebuilds its crewjam middleware when it
	// changed, so a key rollover of a running Atea (keys generate / rollover) reaches the demo
	// SPs as it reaches an SP that refreshes metadata. Sessions survive: their cookies are
	// signed with the SP's own key, which does not change.
	LiveIdPMetadata func() []byte
	Templates       *templates.Renderer
	OtherURL        string // the other demo SP, for the single sign-on link
	OtherName       string
}

// SP is one demo service provider.
type SP struct {
	opts Options
	md   []byte
	cur  atomic.Pointer[trust]
	mu   sync.Mutex // serialises rebuilds; requests only Load cur
}

// trust is the middleware built for one IdP metadata document.
type trust struct {
	idpMD []byte
	mw    *samlsp.Middleware
	h     http.Handler
}

// New builds a demo SP. It signs its AuthnRequests with RSA-SHA256 (crewjam defaults to SHA-1).
func New(opts Options) (*SP, error) {
	sp := &SP{opts: opts}
	t, err := sp.build(opts.IdPMetadata)
	if err != nil {
		return nil, err
	}
	md, err := xmlMarshal(t.mw.ServiceProvider.Metadata())
	if err != nil {
		return nil, err
	}
	sp.md = md
	sp.cur.Store(t)
	return sp, nil
}

func (sp *SP) build(idpMetadata []byte) (*trust, error) {
	opts := sp.opts
	idpMD, err := samlsp.ParseMetadata(idpMetadata)
	if err != nil {
		return nil, fmt.Errorf("demosp: IdP metadata: %w", err)
	}
	root, err := url.Parse(strings.TrimRight(opts.BaseURL, "/") + opts.Prefix + "/")
	if err != nil {
		return nil, fmt.Errorf("demosp: %w", err)
	}
	mw, err := samlsp.New(samlsp.Options{
		URL:         *root,
		EntityID:    root.String() + "saml/metadata",
		Key:         opts.Key,
		Certificate: opts.Cert,
		IDPMetadata: idpMD,
		SignRequest: true,
		CookieName:  "atea_demo_" + strings.Trim(opts.Prefix, "/"),
	})
	if err != nil {
		return nil, fmt.Errorf("demosp: %w", err)
	}
	mw.ServiceProvider.SignatureMethod = dsig.RSASHA256SignatureMethod
	mw.ServiceProvider.AuthnNameIDFormat = saml.PersistentNameIDFormat
	// Each demo SP needs its own cookie names: SPs on one host overwrite each other's
	// cookies otherwise (INTEROP.md, loopback pitfalls).
	sess, ok := mw.Session.(samlsp.CookieSessionProvider)
	if !ok {
		return nil, errors.New("demosp: unexpected session provider")
	}
	sess.Domain = ""
	sess.Path = opts.Prefix + "/"
	codec, ok := sess.Codec.(samlsp.JWTSessionCodec)
	if !ok {
		return nil, errors.New("demosp: unexpected session codec")
	}
	sess.Codec = richCodec{codec}
	mw.Session = sess
	if rt, ok := mw.RequestTracker.(samlsp.CookieRequestTracker); ok {
		rt.NamePrefix = "atea_demo_" + strings.Trim(opts.Prefix, "/") + "_req_"
		mw.RequestTracker = rt
	}
	mux := http.NewServeMux()
	mux.Handle(opts.Prefix+"/saml/", mw)
	mux.Handle(opts.Prefix+"/", mw.RequireAccount(http.HandlerFunc(sp.page)))
	return &trust{idpMD: idpMetadata, mw: mw, h: mux}, nil
}

// current returns the middleware for Atea's metadata as served now (Options.LiveIdPMetadata),
// rebuilding it when the document changed. A document that does not parse keeps the old trust.
func (sp *SP) current() *trust {
	t := sp.cur.Load()
	if sp.opts.LiveIdPMetadata == nil {
		return t
	}
	live := sp.opts.LiveIdPMetadata()
	if len(live) == 0 || bytes.Equal(live, t.idpMD) {
		return t
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if t = sp.cur.Load(); bytes.Equal(live, t.idpMD) {
		return t
	}
	nt, err := sp.build(live)
	if err != nil {
		return t
	}
	sp.cur.Store(nt)
	return nt
}

// Metadata returns the SP's metadata, to be dropped into Atea's SP-metadata directory.
func (sp *SP) Metadata() []byte { return sp.md }

// EntityID returns the SP's entityID.
func (sp *SP) EntityID() string { return sp.cur.Load().mw.ServiceProvider.EntityID }

// Handler serves everything under the prefix: the SAML endpoints and the protected page.
func (sp *SP) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sp.current().h.ServeHTTP(w, r)
	})
}

func (sp *SP) page(w http.ResponseWriter, r *http.Request) {
	s := samlsp.SessionFromContext(r.Context())
	claims, ok := s.(samlsp.JWTSessionClaims)
	if !ok {
		http.Error(w, "no session", http.StatusUnauthorized)
		return
	}
	lang := sp.opts.Templates.Negotiate(r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"))
	page := templates.DemoPage{
		Base:         templates.Base{Lang: lang},
		SPName:       sp.EntityID(),
		NameID:       claims.Subject,
		NameIDFormat: first(claims.Attributes[claimFormat]),
		Level:        first(claims.Attributes[claimClassRef]),
		SessionIndex: first(claims.Attributes["SessionIndex"]),
		OtherSPURL:   sp.opts.OtherURL,
		OtherSPName:  sp.opts.OtherName,
	}
	names := make([]string, 0, len(claims.Attributes))
	for k := range claims.Attributes {
		if !strings.HasPrefix(k, "atea-demo:") && k != "SessionIndex" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		page.Attributes = append(page.Attributes, templates.DemoAttr{Name: k, FriendlyName: k, Values: claims.Attributes[k]})
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := sp.opts.Templates.Render(w, templates.PageDemo, page); err != nil {
		http.Error(w, "render error", http.StatusInternalServerError)
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// richCodec keeps the AuthnContextClassRef and NameID format in the session, which crewjam's
// default codec drops, so the demo page can show the level received.
type richCodec struct{ samlsp.JWTSessionCodec }

func (c richCodec) New(a *saml.Assertion) (samlsp.Session, error) {
	s, err := c.JWTSessionCodec.New(a)
	if err != nil {
		return s, err
	}
	claims, ok := s.(samlsp.JWTSessionClaims)
	if !ok {
		return s, nil
	}
	for _, st := range a.AuthnStatements {
		if st.AuthnContext.AuthnContextClassRef != nil {
			claims.Attributes[claimClassRef] = []string{strings.TrimSpace(st.AuthnContext.AuthnContextClassRef.Value)}
		}
	}
	if a.Subject != nil && a.Subject.NameID != nil {
		claims.Attributes[claimFormat] = []string{a.Subject.NameID.Format}
	}
	return claims, nil
}
