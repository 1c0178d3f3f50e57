package idp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// CertSignIn reads the citizen's DNI/NIE from the verified client certificate of a request
// (mutual TLS, or a header from a trusted proxy): the electronic DNI / qualified certificate
// method, level high. cmd/atea adapts idp/authn/certauth to it.
type CertSignIn interface {
	// CitizenDNI returns the canonical DNI/NIE of the certificate's subject, or an error when
	// the request carries no certificate, an untrusted one, or one without a DNI/NIE.
	CitizenDNI(r *http.Request) (string, error)
}

// certLevel is what certificate sign-in reaches when it is configured (BRIEF.md: qualified
// certificate / electronic DNI = high).
func (s *Server) certLevel() authn.Level {
	if s.deps.Certificates == nil {
		return authn.LevelNone
	}
	return authn.LevelHigh
}

// certURL is the link the sign-in page offers for certificate sign-in, when the certificate
// reaches an acceptable level.
func (s *Server) certURL(f *store.Flow) string {
	if s.deps.Certificates == nil {
		return ""
	}
	if _, ok := pickLevel(f.Request.Levels, s.certLevel()); !ok {
		return ""
	}
	// CertBaseURL is the origin of Atea's mutual-TLS listener; "" when a trusted proxy asks for
	// the certificate on this same origin.
	return s.cfg.CertBaseURL + "/login/cert?flow=" + url.QueryEscape(f.ID)
}

// onlyCertificate reports whether the certificate is the one method that reaches an
// acceptable level: then the chooser is skipped and the browser goes straight to it.
func (s *Server) onlyCertificate(p *store.PendingRequest) bool {
	if s.deps.Certificates == nil {
		return false
	}
	_, byPassword := pickLevel(p.Levels, max(authn.LevelLow, s.factorLevel()))
	_, byCert := pickLevel(p.Levels, s.certLevel())
	return byCert && !byPassword
}

// handleCertLogin signs the citizen in with their certificate for the flow named in the
// query, at level high, and answers the AuthnRequest. It is reached by a top-level GET on
// which the TLS layer (Atea's dedicated listener, or the trusted proxy) asked for the client
// certificate.
func (s *Server) handleCertLogin(w http.ResponseWriter, r *http.Request) {
	if s.deps.Certificates == nil {
		s.renderError(w, r, pageErr(http.StatusNotFound, "error.notfound", errors.New("certificate sign-in not configured")))
		return
	}
	f, err := s.loadFlow(r, r.URL.Query().Get("flow"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if f.State != StateAwaitPassword && f.State != StateNew && f.State != StateChooseMethod {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", fmt.Errorf("flow in state %s", f.State)))
		return
	}
	ctx := r.Context()
	id, err := s.deps.Certificates.CitizenDNI(r)
	if err != nil {
		s.deps.Stats.signInFailure("certificate")
		s.audit.InfoContext(ctx, "login_failed", "event", "login_failed", "method", "certificate", "reason", "certificate", "sp", f.Request.SPEntityID)
		s.renderError(w, r, pageErr(http.StatusUnauthorized, "error.certificate", err))
		return
	}
	u, err := s.deps.Directory.Get(ctx, id)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		// Journey 6 (registration with a certificate) is where such a citizen goes next.
		s.deps.Stats.signInFailure("certificate")
		s.audit.InfoContext(ctx, "login_failed", "event", "login_failed", "method", "certificate", "user", dni.Mask(id), "reason", "not registered")
		s.renderError(w, r, pageErr(http.StatusForbidden, "error.nocitizen", err))
		return
	case err != nil:
		s.renderError(w, r, fmt.Errorf("%w: directory: %w", errUnavailable, err))
		return
	}
	if u.Status != directory.StatusActive {
		s.deps.Stats.signInFailure("certificate")
		s.audit.InfoContext(ctx, "login_failed", "event", "login_failed", "method", "certificate", "user", dni.Mask(id), "reason", "not active")
		s.renderError(w, r, pageErr(http.StatusForbidden, "error.nocitizen", errors.New("account not active")))
		return
	}
	level := s.certLevel()
	sess, err := s.startSession(w, r, u.ID, level.String(), "certificate")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	_ = s.deps.Store.DeleteFlow(ctx, f.ID)
	s.audit.InfoContext(ctx, "login_succeeded", "event", "login_succeeded", "user", dni.Mask(id), "user_id", u.ID, "level", level.String(), "method", "certificate", "sp", f.Request.SPEntityID)
	lr, ok := pickLevel(f.Request.Levels, level)
	if !ok {
		s.fail(w, r, &f.Request, statusErr(samlxml.StatusResponder, samlxml.StatusNoAuthnContext, "level not available", errNoLevel))
		return
	}
	s.issue(w, r, &f.Request, sess, lr)
}

// StateChooseMethod: several methods reach an acceptable level; the chooser is shown
// (Cl@ve style: only the methods that can reach the requested level).
const StateChooseMethod = "choose_method"

// needsChooser reports whether the citizen must choose: the password (B@k, and B@kQ with its
// second factor) and the certificate both reach an acceptable level.
func (s *Server) needsChooser(p *store.PendingRequest) bool {
	if s.deps.Certificates == nil {
		return false
	}
	_, byPassword := pickLevel(p.Levels, max(authn.LevelLow, s.factorLevel()))
	_, byCert := pickLevel(p.Levels, s.certLevel())
	return byPassword && byCert
}

func (s *Server) renderChooser(w http.ResponseWriter, r *http.Request, f *store.Flow) {
	lang := s.lang(r)
	var methods []templates.MethodChoice
	if lr, ok := pickLevel(f.Request.Levels, authn.LevelLow); ok {
		methods = append(methods, templates.MethodChoice{ID: "password", LabelKey: "method.password.label", DescKey: "method.password.desc", LevelKey: "level." + lr.Level})
	}
	if l := s.factorLevel(); l > authn.LevelLow {
		if lr, ok := pickLevel(f.Request.Levels, l); ok {
			methods = append(methods, templates.MethodChoice{ID: "bakq", LabelKey: "method.bakq.label", DescKey: "method.bakq.desc", LevelKey: "level." + lr.Level})
		}
	}
	if lr, ok := pickLevel(f.Request.Levels, s.certLevel()); ok {
		methods = append(methods, templates.MethodChoice{ID: "cert", LabelKey: "method.cert.label", DescKey: "method.cert.desc", LevelKey: "level." + lr.Level})
	}
	s.render(w, r, http.StatusOK, templates.PageChoose, &templates.ChoosePage{
		Base: s.base(w, r, lang, f.ID), Action: "/login/choose", FlowID: f.ID, CSRF: s.csrfToken(*f),
		SPName: s.displayName(f.Request.SPEntityID, lang), LevelKey: "level." + f.Request.Levels[0].Level, Methods: methods,
	})
}

// handleChoose continues with the method the citizen chose: the password form (B@k, or the
// first step of B@kQ) or certificate sign-in.
func (s *Server) handleChoose(w http.ResponseWriter, r *http.Request) {
	f, ok := s.flowPost(w, r, maxFactorForm, StateChooseMethod)
	if !ok {
		return
	}
	switch r.PostForm.Get("method") {
	case "cert":
		http.Redirect(w, r, s.certURL(&f), http.StatusSeeOther)
	case "password", "bakq":
		chosen := r.PostForm.Get("method")
		updated, err := s.deps.Store.UpdateFlow(r.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
			cur.State = StateAwaitPassword
			cur.Chosen = chosen
			return cur, nil
		})
		if err != nil {
			s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
		s.renderLogin(w, r, &updated, "", nil, "")
	default:
		s.renderChooser(w, r, &f)
	}
}
