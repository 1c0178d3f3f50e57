// Package upgrade is journey 3 of BRIEF.md: a B@k holder with an operational coordinate card
// moves to B@kQ online, without visiting a desk, by authenticating with the card (issue 5).
//
//	GET  /upgrade        Without a session: Atea's sign-in at level low, back here. With one:
//	                     the citizen's credential decides the page. Already B@kQ: "you hold
//	                     it". No card, or a locked card: a page pointing to a registration
//	                     desk (the card is what proves the citizen online; without it the
//	                     in-person step of journey 2 is the way). Otherwise a page explaining
//	                     B@kQ with a button, a form bound to the SSO session (its CSRF token).
//	POST /upgrade/start  Checks the session's token, starts a flow of journey "upgrade" bound
//	                     to the browser and naming the session's citizen, and shows the card
//	                     challenge (Card.Begin: the challenge is the account's sticky one, as
//	                     at sign-in, so reloading or restarting never shows other cells).
//	GET  /upgrade/card   Shows the flow's challenge again (a reload, a language switch).
//	POST /upgrade/card   The cells (cell_<position>) → Card.Verify, which counts the attempt
//	                     and locks the card after too many wrong answers. Right: the
//	                     credential becomes B@kQ (directory.Enrol, reason "online upgrade",
//	                     audit event credential_changed) and the flow ends. The session stays
//	                     at its level: the next service that asks for substantial steps it up
//	                     with the card, as for any B@kQ holder.
//
// Every post checks that the browser's SSO session still belongs to the flow's citizen, so a
// flow cannot be finished from another sign-in.
package upgrade

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// Journey is the flows' journey name.
const Journey = "upgrade"

// StateCard is the flow's one state: the card challenge is on screen.
const StateCard = "card"

// The routes.
const (
	PathStart = "/upgrade"
	PathBegin = "/upgrade/start"
	PathCard  = "/upgrade/card"
)

const maxForm = 4 << 10

// dataUser is the flow's citizen (directory ID).
const dataUser = "uid"

// Config tunes the journey. A zero field takes its default.
type Config struct {
	// ContinuePath is where "Continue" leads on the last page ("/").
	ContinuePath string
	// Digits is the number of digits of a card cell, for the page's hint (0 → 3, the
	// coordinate card's default).
	Digits int
}

// DefaultConfig is the journey's default tuning.
func DefaultConfig() Config { return Config{ContinuePath: "/", Digits: coordcard.DefaultDigits} }

// Directory is what the journey needs of the user directory (*directory.Directory).
type Directory interface {
	GetByID(ctx context.Context, id string) (directory.User, error)
	Enrol(ctx context.Context, e directory.Enrolment) (directory.User, error)
}

var _ Directory = (*directory.Directory)(nil)

// Card is the coordinate card's challenge and check (*coordcard.Method; the SecondFactor
// contract of idp/authn).
type Card interface {
	Begin(ctx context.Context, s authn.Subject, flowID string) (authn.Challenge, error)
	Verify(ctx context.Context, s authn.Subject, flowID, answer string) error
}

var _ Card = (*coordcard.Method)(nil)

// Deps are the journey's collaborators.
type Deps struct {
	Kit       *idp.Kit
	Directory Directory
	Card      Card
}

// Handler serves the journey.
type Handler struct {
	cfg  Config
	kit  *idp.Kit
	dir  Directory
	card Card
}

// New checks cfg and deps and returns the journey's handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	d := DefaultConfig()
	cfg.ContinuePath = cmp.Or(cfg.ContinuePath, d.ContinuePath)
	cfg.Digits = cmp.Or(cfg.Digits, d.Digits)
	if !strings.HasPrefix(cfg.ContinuePath, "/") || strings.HasPrefix(cfg.ContinuePath, "//") {
		return nil, errors.New("upgrade: config: ContinuePath want a local path")
	}
	if deps.Kit == nil || deps.Directory == nil || deps.Card == nil {
		return nil, errors.New("upgrade: Kit, Directory and Card are required")
	}
	return &Handler{cfg: cfg, kit: deps.Kit, dir: deps.Directory, card: deps.Card}, nil
}

// Mount registers the journey's routes on srv.
func (h *Handler) Mount(srv *idp.Server) {
	srv.Handle("GET "+PathStart, http.HandlerFunc(h.getStart))
	srv.Handle("POST "+PathBegin, http.HandlerFunc(h.postBegin))
	srv.Handle("GET "+PathCard, http.HandlerFunc(h.getCard))
	srv.Handle("POST "+PathCard, http.HandlerFunc(h.postCard))
}

// problem names a CertRegProblemPage.
type problem struct {
	status                 int
	title, message, helpKy string
}

var (
	problemAlready  = problem{http.StatusOK, "certreg.upgrade.already.title", "certreg.upgrade.already.text", "certreg.upgrade.already.help"}
	problemNoCard   = problem{http.StatusForbidden, "certreg.upgrade.nocard.title", "certreg.upgrade.nocard.text", "certreg.upgrade.nocard.help"}
	problemLocked   = problem{http.StatusForbidden, "certreg.upgrade.cardlocked.title", "certreg.upgrade.cardlocked.text", "certreg.upgrade.cardlocked.help"}
	problemInactive = problem{http.StatusForbidden, "certreg.upgrade.inactive.title", "certreg.upgrade.inactive.text", "certreg.upgrade.inactive.help"}
)

// eligibility is the page for a citizen who cannot (or need not) upgrade, or ok.
func eligibility(u directory.User) (problem, bool) {
	switch {
	case u.Credential == directory.CredentialBakQ:
		return problemAlready, false
	case u.Status != directory.StatusActive:
		return problemInactive, false
	case !u.HasCard:
		return problemNoCard, false
	case u.CardLocked:
		return problemLocked, false
	}
	return problem{}, true
}

// citizen returns the browser's session and its citizen; without a session it has sent the
// browser to sign in (back to PathStart) and ok is false.
func (h *Handler) citizen(w http.ResponseWriter, r *http.Request) (store.Session, directory.User, bool) {
	sess, err := h.kit.Session(r)
	if errors.Is(err, store.ErrNotFound) {
		h.kit.SignIn(w, r, authn.LevelLow, PathStart, false)
		return sess, directory.User{}, false
	}
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return sess, directory.User{}, false
	}
	u, err := h.dir.GetByID(r.Context(), sess.UserID)
	if err != nil {
		if errors.Is(err, directory.ErrNotFound) {
			h.kit.SignIn(w, r, authn.LevelLow, PathStart, true)
		} else {
			h.kit.Unavailable(w, r, err)
		}
		return sess, directory.User{}, false
	}
	return sess, u, true
}

func (h *Handler) getStart(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.citizen(w, r)
	if !ok {
		return
	}
	if p, ok := eligibility(u); !ok {
		h.renderProblem(w, r, p)
		return
	}
	h.kit.Render(w, r, http.StatusOK, templates.PageCertRegUpgrade, &templates.CertRegUpgradePage{
		Base: h.kit.Base(w, r, h.kit.Lang(r), ""), Action: PathBegin, CSRF: h.kit.SessionCSRF(sess), GivenName: u.GivenName,
	})
}

func (h *Handler) postBegin(w http.ResponseWriter, r *http.Request) {
	if !h.kit.ParseForm(w, r, maxForm) {
		return
	}
	sess, u, ok := h.citizen(w, r)
	if !ok {
		return
	}
	if !h.kit.CheckSessionCSRF(r, sess) {
		h.kit.Error(w, r, http.StatusForbidden, "error.csrf", errors.New("upgrade: bad session csrf"))
		return
	}
	if p, ok := eligibility(u); !ok {
		h.renderProblem(w, r, p)
		return
	}
	f, err := h.kit.StartFlow(w, r, Journey, StateCard, map[string]string{dataUser: u.ID})
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	h.audit(r.Context(), "upgrade_started", u)
	h.showCard(w, r, f, u, "")
}

// flowCitizen checks that the browser's session is the flow's citizen's.
func (h *Handler) flowCitizen(w http.ResponseWriter, r *http.Request, f store.Flow) (directory.User, bool) {
	sess, err := h.kit.Session(r)
	if err != nil || sess.UserID != f.Data[dataUser] {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", errors.New("upgrade: no session of the flow's citizen"))
		return directory.User{}, false
	}
	u, err := h.dir.GetByID(r.Context(), sess.UserID)
	if err != nil {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return directory.User{}, false
	}
	if p, ok := eligibility(u); !ok {
		h.endWith(w, r, f, p)
		return directory.User{}, false
	}
	return u, true
}

func (h *Handler) getCard(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.LoadFlow(w, r, Journey, r.URL.Query().Get("flow"))
	if !ok {
		return
	}
	u, ok := h.flowCitizen(w, r, f)
	if !ok {
		return
	}
	h.showCard(w, r, f, u, "")
}

func (h *Handler) postCard(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateCard)
	if !ok {
		return
	}
	u, ok := h.flowCitizen(w, r, f)
	if !ok {
		return
	}
	ctx := r.Context()
	subject := subjectOf(u)
	// The pending challenge (Begin returns it again) says which cells the answer has.
	ch, err := h.card.Begin(ctx, subject, f.ID)
	if err != nil {
		h.beginFailed(w, r, f, u, err)
		return
	}
	parts := make([]string, 0, len(ch.Positions))
	for _, pos := range ch.Positions {
		v := strings.TrimSpace(r.PostForm.Get("cell_" + pos))
		if v == "" {
			h.renderCard(w, r, http.StatusBadRequest, f, ch, "certreg.upgradecard.error.required")
			return
		}
		parts = append(parts, v)
	}
	err = h.card.Verify(ctx, subject, f.ID, strings.Join(parts, " "))
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrInvalidCredentials):
		h.audit(ctx, "upgrade_card_failed", u)
		h.showCard(w, r, f, u, "certreg.upgradecard.error.invalid")
		return
	case errors.Is(err, authn.ErrTooManyAttempts):
		h.showCard(w, r, f, u, "certreg.upgradecard.error.attempts")
		return
	case errors.Is(err, authn.ErrExpired):
		h.showCard(w, r, f, u, "certreg.upgradecard.error.expired")
		return
	case errors.Is(err, authn.ErrLocked):
		h.audit(ctx, "upgrade_card_locked", u)
		h.endWith(w, r, f, problemLocked)
		return
	case errors.Is(err, authn.ErrNoFactor):
		h.endWith(w, r, f, problemNoCard)
		return
	default:
		h.kit.Unavailable(w, r, err)
		return
	}
	// The card answered: end the flow first, so a replayed post cannot upgrade twice.
	if err := h.kit.EndFlow(ctx, f.ID); err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	u, err = h.dir.Enrol(ctx, directory.Enrolment{DNI: u.DNI, Credential: directory.CredentialBakQ, Reason: "online upgrade"})
	if err != nil {
		h.kit.Unavailable(w, r, fmt.Errorf("upgrade: enrol: %w", err))
		return
	}
	h.audit(ctx, "upgrade_completed", u)
	lang := h.kit.Lang(r)
	h.kit.Render(w, r, http.StatusOK, templates.PageCertRegUpgradeDone, &templates.CertRegUpgradeDonePage{
		Base: h.kit.Base(w, withPath(r, PathStart), lang, ""), GivenName: u.GivenName,
		ContinueURL: h.cfg.ContinuePath + "?lang=" + url.QueryEscape(lang),
	})
}

// showCard begins (or re-shows) the card challenge.
func (h *Handler) showCard(w http.ResponseWriter, r *http.Request, f store.Flow, u directory.User, errKey string) {
	ch, err := h.card.Begin(r.Context(), subjectOf(u), f.ID)
	if err != nil {
		h.beginFailed(w, r, f, u, err)
		return
	}
	status := http.StatusOK
	if errKey != "" {
		status = http.StatusUnauthorized
	}
	h.renderCard(w, r, status, f, ch, errKey)
}

func (h *Handler) beginFailed(w http.ResponseWriter, r *http.Request, f store.Flow, u directory.User, err error) {
	switch {
	case errors.Is(err, authn.ErrNoFactor):
		h.endWith(w, r, f, problemNoCard)
	case errors.Is(err, authn.ErrLocked):
		h.audit(r.Context(), "upgrade_card_locked", u)
		h.endWith(w, r, f, problemLocked)
	default:
		h.kit.Unavailable(w, r, err)
	}
}

func (h *Handler) renderCard(w http.ResponseWriter, r *http.Request, status int, f store.Flow, ch authn.Challenge, errKey string) {
	base := h.kit.Base(w, withPath(r, PathCard), h.kit.Lang(r), f.ID)
	h.kit.Render(w, r, status, templates.PageCertRegUpgradeCard, &templates.CertRegUpgradeCardPage{
		Base: base, Action: PathCard, FlowID: f.ID, CSRF: h.kit.CSRF(f),
		Positions: ch.Positions, Digits: cmp.Or(ch.Digits, h.cfg.Digits), ErrorKey: errKey,
	})
}

func (h *Handler) renderProblem(w http.ResponseWriter, r *http.Request, p problem) {
	h.kit.Render(w, r, p.status, templates.PageCertRegProblem, &templates.CertRegProblemPage{
		Base: h.kit.Base(w, withPath(r, PathStart), h.kit.Lang(r), ""), EyebrowKey: "certreg.upgrade.eyebrow",
		TitleKey: p.title, MessageKey: p.message, HelpKey: p.helpKy,
	})
}

func (h *Handler) endWith(w http.ResponseWriter, r *http.Request, f store.Flow, p problem) {
	if err := h.kit.EndFlow(r.Context(), f.ID); err != nil {
		h.kit.Logger().WarnContext(r.Context(), "upgrade: end flow", "err", err)
	}
	h.renderProblem(w, r, p)
}

func (h *Handler) audit(ctx context.Context, event string, u directory.User) {
	h.kit.Audit().InfoContext(ctx, "upgrade", "event", event, "journey", Journey, "user_id", u.ID, "dni", dni.Mask(u.DNI))
}

func subjectOf(u directory.User) authn.Subject {
	return authn.Subject{UserID: u.ID, DNI: u.DNI, Phone: u.Phone, Email: u.Email}
}

// withPath is r as if it had asked for path, so that the language links of a page rendered
// in answer to a POST point at a GET address (Kit.Base uses the request's path).
func withPath(r *http.Request, path string) *http.Request {
	r2 := r.WithContext(r.Context())
	u := *r.URL
	u.Path, u.RawPath = path, ""
	r2.URL = &u
	return r2
}
