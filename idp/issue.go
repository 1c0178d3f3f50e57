package idp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// NameID formats (saml-core-2.0-os §8.3).
const (
	nameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	nameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	nameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
)

var errNameIDFormat = errors.New("idp: NameID format not supported")

// nameIDFormat resolves the format to issue: the request's NameIDPolicy, else the SP's
// setting, else the global default.
func (s *Server) nameIDFormat(requested string, set SPSettings) (string, error) {
	f := requested
	if f == "" || f == nameIDUnspecified {
		f = set.NameIDFormat
		if f == "" {
			f = s.cfg.DefaultNameIDFormat
		}
		if requested == nameIDUnspecified && f == "" {
			f = "unspecified"
		}
	}
	switch f {
	case "transient", nameIDTransient:
		return nameIDTransient, nil
	case "persistent", nameIDPersistent:
		return nameIDPersistent, nil
	case "unspecified", nameIDUnspecified:
		return nameIDUnspecified, nil
	case "email", nameIDEmail:
		return nameIDEmail, nil
	}
	return "", fmt.Errorf("%w: %q", errNameIDFormat, f)
}

// pairwiseID is the persistent NameID of a user at one SP: stable, unlinkable between SPs and
// never the DNI itself (SECURITY.md §4.14).
func (s *Server) pairwiseID(spEntityID, userID string) string {
	m := hmac.New(sha256.New, s.deps.Secrets.Pairwise)
	m.Write([]byte(spEntityID))
	m.Write([]byte{0})
	m.Write([]byte(userID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue builds, signs (and maybe encrypts) the assertion for the pending request and sends it
// with the auto-POST page (saml-bindings-2.0-os §3.5.4). lr is the level entry to state.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, p *store.PendingRequest, sess store.Session, lr store.LevelRef) {
	if p.ReturnTo != "" {
		// A local sign-in: the session is made, no SP to answer.
		s.audit.InfoContext(r.Context(), "local_signin", "event", "local_signin", "level", sess.Level, "method", sess.Method)
		http.Redirect(w, r, p.ReturnTo, http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	sp, err := s.deps.SPs.Lookup(p.SPEntityID)
	if err != nil {
		// The SP vanished from metadata mid-flow: its ACS is no longer trusted.
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.unknownsp", err))
		return
	}
	set := s.spSettings(sp.EntityID)
	user, err := s.deps.Directory.GetByID(ctx, sess.UserID)
	if err != nil {
		if errors.Is(err, directory.ErrNotFound) {
			_ = s.deps.Store.DeleteSession(ctx, sess.ID)
			s.fail(w, r, p, statusErr(samlxml.StatusResponder, samlxml.StatusAuthnFailed, "", err))
			return
		}
		s.renderError(w, r, fmt.Errorf("%w: directory: %w", errUnavailable, err))
		return
	}
	if user.Status != directory.StatusActive {
		// Locked or revoked since the session began: the session ends here, nothing is asserted.
		_ = s.deps.Store.DeleteSession(ctx, sess.ID)
		s.audit.InfoContext(ctx, "session_refused", "event", "session_refused", "user_id", user.ID, "status", string(user.Status), "sp", sp.EntityID)
		s.fail(w, r, p, statusErr(samlxml.StatusResponder, samlxml.StatusAuthnFailed, "", errors.New("account not active")))
		return
	}
	format, err := s.nameIDFormat(p.NameIDFormat, set)
	if err != nil {
		s.fail(w, r, p, statusErr(samlxml.StatusRequester, samlxml.StatusInvalidNameIDPol, "", err))
		return
	}
	// A repeated SSO to an SP in the same session reuses its entry: the same SessionIndex, and
	// for transient NameIDs the same value (saml-core-2.0-os §8.3.8: a transient identifier
	// is opaque and short-lived; one per session and SP is what logout needs), so nothing
	// has to be written and an SSO with a session costs the store two round trips (replay
	// check, session read).
	prev := participation(sess.SPs, sp.EntityID)
	var nameID string
	switch format {
	case nameIDTransient:
		nameID = samlxml.NewID()
		if prev >= 0 && sess.SPs[prev].NameIDFormat == nameIDTransient {
			nameID = sess.SPs[prev].NameID
		}
	case nameIDEmail:
		if user.Email == "" {
			s.fail(w, r, p, statusErr(samlxml.StatusRequester, samlxml.StatusInvalidNameIDPol, "no e-mail address", errNameIDFormat))
			return
		}
		nameID = user.Email
	default:
		nameID = s.pairwiseID(sp.EntityID, user.ID)
	}
	now := s.now()
	a := &samlxml.Assertion{
		ID:           samlxml.NewID(),
		IssueInstant: now,
		Issuer:       s.cfg.EntityID,
		NameID:       nameID,
		NameIDFormat: format,
		Recipient:    p.ACSURL,
		InResponseTo: p.RequestID,
		// Several SPs allow no clock skew at all (INTEROP.md): back-date NotBefore.
		NotBefore:    now.Add(-s.cfg.NotBeforeSkew),
		NotOnOrAfter: now.Add(s.cfg.AssertionLifetime),
		Audience:     sp.EntityID,
		AuthnInstant: sess.AuthnInstant,
		ClassRef:     lr.ClassRef,
		Attributes:   releaseAttributes(user, set.Attributes),
	}
	if format == nameIDPersistent || format == nameIDTransient {
		a.SPNameQualifier = sp.EntityID
	}
	// Record the SP before the assertion leaves, so logout can always reach it. One entry per
	// SP: a repeated SSO to the same SP updates it (the NameID it knows now) and keeps its
	// SessionIndex, so the session record stays bounded by the number of SPs, not of SSOs.
	if prev >= 0 {
		a.SessionIndex = sess.SPs[prev].SessionIndex
	} else {
		a.SessionIndex = s.newSessionIndex(sess.ID, sp.EntityID) // names the session for SOAP logout (slo_soap_in.go)
	}
	entry := store.SPParticipation{
		EntityID: sp.EntityID, NameID: nameID, NameIDFormat: format, SessionIndex: a.SessionIndex, At: now,
	}
	if prev < 0 || sess.SPs[prev].NameID != nameID || sess.SPs[prev].NameIDFormat != format {
		if _, err := s.deps.Store.UpdateSession(ctx, sess.ID, func(cur store.Session) (store.Session, error) {
			if i := participation(cur.SPs, sp.EntityID); i >= 0 {
				cur.SPs[i] = entry
			} else {
				cur.SPs = append(cur.SPs, entry)
			}
			return cur, nil
		}); err != nil {
			s.renderError(w, r, fmt.Errorf("%w: record SP: %w", errUnavailable, err))
			return
		}
	}
	opts, err := s.responseOptions(sp.EncryptionCerts, set)
	if err != nil {
		s.fail(w, r, p, statusErr(samlxml.StatusResponder, "", "", err))
		return
	}
	resp := samlxml.Response{
		ID: samlxml.NewID(), IssueInstant: now, Issuer: s.cfg.EntityID,
		Destination: p.ACSURL, InResponseTo: p.RequestID,
	}
	out, err := s.currentKeys().set.Signer.BuildResponse(resp, a, opts)
	if err != nil {
		s.renderError(w, r, pageErr(http.StatusInternalServerError, "error.internal", err))
		return
	}
	s.deps.Stats.assertion(lr.Level)
	s.audit.InfoContext(ctx, "assertion_issued", "event", "assertion_issued", "sp", sp.EntityID,
		"user_id", user.ID, "level", lr.Level, "assertion_id", a.ID, "request_id_hash", s.storeKey("rid", p.RequestID))
	s.post(w, r, p, out)
}

// responseOptions chooses what to sign and whether to encrypt for one SP.
func (s *Server) responseOptions(encCerts []*x509.Certificate, set SPSettings) (samlxml.Options, error) {
	sign := s.cfg.Sign
	if set.Sign != "" {
		sign = set.Sign
	}
	o := samlxml.Options{SignResponse: sign != "assertion", SignAssertion: sign != "response"}
	if set.EncryptAssertions {
		if len(encCerts) == 0 {
			return o, errors.New("idp: encryption enabled but the SP publishes no encryption key")
		}
		alg, err := samlxml.EncryptionByName(set.Encryption)
		if err != nil {
			return o, err
		}
		o.Encrypt = &samlxml.Encryption{Cert: encCerts[0], Algorithm: alg}
	}
	return o, nil
}

// sendStatus answers a request with a signed status-only Response.
func (s *Server) sendStatus(w http.ResponseWriter, r *http.Request, p *store.PendingRequest, se *statusError) {
	resp := samlxml.Response{
		ID: samlxml.NewID(), IssueInstant: s.now(), Issuer: s.cfg.EntityID,
		Destination: p.ACSURL, InResponseTo: p.RequestID,
		StatusCode: se.code, SubStatusCode: se.sub, StatusMessage: se.msg,
	}
	out, err := s.currentKeys().set.Signer.BuildResponse(resp, nil, samlxml.Options{})
	if err != nil {
		s.renderError(w, r, pageErr(http.StatusInternalServerError, "error.internal", err))
		return
	}
	s.deps.Stats.errorResponse(se.code)
	s.post(w, r, p, out)
}

// post renders the auto-submitting form that carries the Response to the ACS.
func (s *Server) post(w http.ResponseWriter, r *http.Request, p *store.PendingRequest, xmlResp []byte) {
	acsOrigin := p.ACSURL
	if u, err := url.Parse(p.ACSURL); err == nil {
		acsOrigin = u.Scheme + "://" + u.Host
	}
	lang := s.lang(r)
	s.render(w, r, http.StatusOK, templates.PagePost, &templates.PostPage{
		Base:          templates.Base{Lang: lang},
		Action:        p.ACSURL,
		FieldName:     "SAMLResponse",
		Value:         base64.StdEncoding.EncodeToString(xmlResp),
		RelayState:    p.RelayState,
		HasRelayState: p.HasRelayState,
	}, acsOrigin)
}

// participation returns the index of the SP's entry in a session's SP list, or -1.
func participation(sps []store.SPParticipation, entityID string) int {
	for i := range sps {
		if sps[i].EntityID == entityID {
			return i
		}
	}
	return -1
}
