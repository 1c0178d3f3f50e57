package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/directory"
)

// The admin socket lets the CLI reach a running server: bbolt locks its file, so `atea user
// add` and `atea user unlock` would otherwise fail while `atea serve` runs. It is a unix socket
// in the data directory, mode 0600: whoever can use it can already read the database file.

// userRecord is a user as the admin API shows it: no password hash.
type userRecord struct {
	ID         string `json:"id"`
	DNI        string `json:"dni"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	BirthDate  string `json:"birth_date"`
	// DocumentExpiry is YYYY-MM-DD; on add, DD/MM/YYYY is accepted too.
	DocumentExpiry  string    `json:"document_expiry,omitempty"`
	Email           string    `json:"email"`
	Phone           string    `json:"phone"`
	Credential      string    `json:"credential"`
	Status          string    `json:"status"`
	Failures        int       `json:"failures"`
	TermsVersion    string    `json:"terms_version,omitempty"`
	TermsAcceptedAt time.Time `json:"terms_accepted_at,omitzero"`
	CreatedAt       time.Time `json:"created_at"`
}

func recordOf(u directory.User) userRecord {
	return userRecord{ID: u.ID, DNI: u.DNI, GivenName: u.GivenName, FamilyName: u.FamilyName, BirthDate: u.BirthDate,
		DocumentExpiry: u.DocumentExpiry, Email: u.Email, Phone: u.Phone, Credential: u.Credential,
		Status: string(u.Status), Failures: u.Failures, TermsVersion: u.TermsVersion, TermsAcceptedAt: u.TermsAcceptedAt,
		CreatedAt: u.CreatedAt}
}

// reasonRequest is the body of POST /users/{id}/lock and /revoke.
type reasonRequest struct {
	Reason string `json:"reason"`
}

// historyLen is how many audit events `atea user show` prints.
const historyLen = 10

type addUserRequest struct {
	userRecord
	Password string `json:"password"`
}

// users is what both the socket and direct file access offer the CLI.
type users interface {
	add(ctx context.Context, u directory.User, password string) (userRecord, error)
	get(ctx context.Context, dniNumber string) (userRecord, error)
	list(ctx context.Context) ([]userRecord, error)
	unlock(ctx context.Context, dniNumber string) error
	lock(ctx context.Context, dniNumber, reason string) (statusChanged, error)
	revoke(ctx context.Context, dniNumber, reason string) (statusChanged, error)
	signout(ctx context.Context, dniNumber string) (statusChanged, error)
	history(ctx context.Context, dniNumber string, n int) ([]directory.Event, error)
	issueCard(ctx context.Context, dniNumber string) (string, error)
	check(ctx context.Context) error
}

// localUsers uses the directory file directly (no server running).
type localUsers struct {
	d    *directory.Directory
	card *coordcard.Method // nil when the coordinate card is disabled
}

func (l localUsers) add(ctx context.Context, u directory.User, pw string) (userRecord, error) {
	nu, err := l.d.Add(ctx, u, pw)
	return recordOf(nu), err
}

func (l localUsers) get(ctx context.Context, id string) (userRecord, error) {
	u, err := l.d.Get(ctx, id)
	return recordOf(u), err
}

func (l localUsers) list(ctx context.Context) ([]userRecord, error) {
	us, err := l.d.List(ctx)
	out := make([]userRecord, 0, len(us))
	for _, u := range us {
		out = append(out, recordOf(u))
	}
	return out, err
}

func (l localUsers) check(ctx context.Context) error { return l.d.Check(ctx) }

func (l localUsers) unlock(ctx context.Context, id string) error { return l.d.Unlock(ctx, id) }

// lock and revoke without a server change the directory only: no server holds sessions
// (a shared Redis store may; the server refuses them at their next use, idp.Server.issue).
func (l localUsers) lock(ctx context.Context, id, reason string) (statusChanged, error) {
	return statusChanged{Status: "locked"}, l.d.Lock(ctx, id, reason)
}

func (l localUsers) revoke(ctx context.Context, id, reason string) (statusChanged, error) {
	return statusChanged{Status: "revoked"}, l.d.Revoke(ctx, id, reason)
}

// signout without a server: no server holds sessions (see lock).
func (l localUsers) signout(ctx context.Context, id string) (statusChanged, error) {
	_, err := l.d.Get(ctx, id) // an unknown number is still an error
	return statusChanged{Status: "signed out"}, err
}

// statusChanged is the answer to lock, revoke and signout: with a server running, the citizen's
// sessions end at once and their services are told over the back channel where they can be.
type statusChanged struct {
	Status        string           `json:"status"`
	Served        bool             `json:"served,omitempty"` // a running server ended the sessions
	SessionsEnded int              `json:"sessionsEnded"`
	Services      []serviceOutcome `json:"services,omitempty"`
}

type serviceOutcome struct {
	EntityID string `json:"entityID"`
	State    string `json:"state"` // idp.LogoutOutcome.State
}

// sessionAuthority is what the admin API needs of the IdP server.
type sessionAuthority interface {
	ClearFailures(ctx context.Context, dniNumber string) error
	EndUserSessions(ctx context.Context, userID, keep string) (int, []idp.LogoutOutcome, error)
}

func (l localUsers) history(ctx context.Context, id string, n int) ([]directory.Event, error) {
	return l.d.History(ctx, id, n)
}

// issueCard gives the citizen a new coordinate card (replacing and unlocking an old one) and
// returns it printable: the only time its values exist in clear.
func (l localUsers) issueCard(ctx context.Context, id string) (string, error) {
	if l.card == nil {
		return "", fmt.Errorf("%w: the coordinate card is disabled (secondFactors.coordCard.enabled)", errBadInput)
	}
	u, err := l.d.Get(ctx, id)
	if err != nil {
		return "", err
	}
	c, err := l.card.Issue(ctx, u.ID)
	if err != nil {
		return "", err
	}
	return c.String(), nil
}

// adminHandler serves the admin API over the socket.
func adminHandler(d *directory.Directory, card *coordcard.Method, fc sessionAuthority, log *slog.Logger) http.Handler {
	m := http.NewServeMux()
	lu := localUsers{d: d, card: card}
	writeErr := func(w http.ResponseWriter, err error) {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, directory.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, directory.ErrExists):
			status = http.StatusConflict
		case errors.Is(err, directory.ErrTransition):
			status = http.StatusUnprocessableEntity
		case errors.Is(err, errBadInput), errors.Is(err, directory.ErrWeakPassword), errors.Is(err, directory.ErrInvalid):
			status = http.StatusBadRequest
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	m.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		var req addUserRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			writeErr(w, fmt.Errorf("%w: %w", errBadInput, err))
			return
		}
		rec, err := lu.add(r.Context(), userFromRecord(req.userRecord), req.Password)
		if err != nil {
			writeErr(w, err)
			return
		}
		log.InfoContext(r.Context(), "user added via admin socket", "user_id", rec.ID)
		writeJSON(w, http.StatusCreated, rec)
	})
	registerAdminActivation(m, d, log)
	registerAdminAgents(m, d, log)
	m.HandleFunc("GET /directory/check", func(w http.ResponseWriter, r *http.Request) {
		if err := lu.check(r.Context()); err != nil {
			// A broken invariant is the answer, not a failure of the call.
			writeJSON(w, http.StatusOK, map[string]string{"problems": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{})
	})
	m.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		recs, err := lu.list(r.Context())
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, recs)
	})
	m.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		rec, err := lu.get(r.Context(), r.PathValue("id"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rec)
	})
	m.HandleFunc("POST /users/{id}/unlock", func(w http.ResponseWriter, r *http.Request) {
		if err := lu.unlock(r.Context(), r.PathValue("id")); err != nil {
			writeErr(w, err)
			return
		}
		// The failures other instances counted live in the shared store: clear them too.
		if err := fc.ClearFailures(r.Context(), r.PathValue("id")); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "unlocked"})
	})
	// endSessions ends every session of the citizen named in the path, tells their services
	// and answers with res completed.
	endSessions := func(w http.ResponseWriter, r *http.Request, res statusChanged) {
		ctx := r.Context()
		u, err := d.Get(ctx, r.PathValue("id"))
		if err != nil {
			writeErr(w, err)
			return
		}
		n, outcomes, err := fc.EndUserSessions(ctx, u.ID, "")
		if err != nil {
			// What could be done is reported; the rest is in the log.
			log.ErrorContext(ctx, "end sessions", "change", res.Status, "err", err)
		}
		res.Served, res.SessionsEnded = true, n
		for _, o := range outcomes {
			res.Services = append(res.Services, serviceOutcome{EntityID: o.EntityID, State: o.State})
		}
		writeJSON(w, http.StatusOK, res)
	}
	statusChange := func(name string, fn func(ctx context.Context, id, reason string) (statusChanged, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req reasonRequest
			if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
				writeErr(w, fmt.Errorf("%w: %w", errBadInput, err))
				return
			}
			ctx := r.Context()
			res, err := fn(ctx, r.PathValue("id"), req.Reason)
			if err != nil {
				writeErr(w, err)
				return
			}
			// The directory wrote the audit event; this line only says where it came from.
			log.InfoContext(ctx, "user status changed via admin socket", "change", name)
			// A blocked or revoked credential must not stay signed in anywhere Atea can
			// reach: its sessions end now, and their services are told.
			endSessions(w, r, res)
		}
	}

	m.HandleFunc("POST /users/{id}/lock", statusChange("locked", lu.lock))
	m.HandleFunc("POST /users/{id}/revoke", statusChange("revoked", lu.revoke))
	m.HandleFunc("POST /users/{id}/signout", func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "sessions ended via admin socket")
		endSessions(w, r, statusChanged{Status: "signed out"})
	})
	m.HandleFunc("GET /users/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 || n > 1000 {
			n = historyLen
		}
		evs, err := lu.history(r.Context(), r.PathValue("id"), n)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, evs)
	})
	m.HandleFunc("POST /users/{id}/card", func(w http.ResponseWriter, r *http.Request) {
		c, err := lu.issueCard(r.Context(), r.PathValue("id"))
		if err != nil {
			writeErr(w, err)
			return
		}
		log.InfoContext(r.Context(), "coordinate card issued via admin socket")
		writeJSON(w, http.StatusOK, map[string]string{"card": c})
	})
	return m
}

var errBadInput = errors.New("bad input")

func userFromRecord(r userRecord) directory.User {
	return directory.User{DNI: r.DNI, GivenName: r.GivenName, FamilyName: r.FamilyName, BirthDate: r.BirthDate,
		DocumentExpiry: r.DocumentExpiry, Email: r.Email, Phone: r.Phone, Credential: r.Credential}
}

// listenAdmin opens the admin socket, replacing a stale one left by a crashed server.
func listenAdmin(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		_ = c.Close()
		return nil, fmt.Errorf("another atea serves on %s", path)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return l, nil
}

// remoteUsers talks to a running server over its admin socket.
type remoteUsers struct{ c *http.Client }

// dialAdmin returns a client for the socket at path, or an error when no server listens there.
func dialAdmin(path string) (*remoteUsers, error) {
	c, err := net.DialTimeout("unix", path, 500*time.Millisecond)
	if err != nil {
		return nil, err
	}
	_ = c.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &remoteUsers{c: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

func (ru *remoteUsers) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://atea-admin"+path, rd)
	if err != nil {
		return err
	}
	resp, err := ru.c.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		switch resp.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%w (server: %s)", directory.ErrNotFound, e.Error)
		case http.StatusConflict:
			return fmt.Errorf("%w (server: %s)", directory.ErrExists, e.Error)
		case http.StatusUnprocessableEntity:
			return fmt.Errorf("%w (server: %s)", directory.ErrTransition, e.Error)
		}
		return fmt.Errorf("server: %s", e.Error)
	}
	if out != nil {
		return json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out)
	}
	return nil
}

func (ru *remoteUsers) add(ctx context.Context, u directory.User, pw string) (userRecord, error) {
	var rec userRecord
	err := ru.do(ctx, http.MethodPost, "/users", addUserRequest{userRecord: recordOf(u), Password: pw}, &rec)
	return rec, err
}

func (ru *remoteUsers) get(ctx context.Context, id string) (userRecord, error) {
	var rec userRecord
	err := ru.do(ctx, http.MethodGet, "/users/"+pathEscape(id), nil, &rec)
	return rec, err
}

func (ru *remoteUsers) list(ctx context.Context) ([]userRecord, error) {
	var recs []userRecord
	err := ru.do(ctx, http.MethodGet, "/users", nil, &recs)
	return recs, err
}

func (ru *remoteUsers) check(ctx context.Context) error {
	var out map[string]string
	if err := ru.do(ctx, http.MethodGet, "/directory/check", nil, &out); err != nil {
		return err
	}
	if p := out["problems"]; p != "" {
		return fmt.Errorf("%w: %s", directory.ErrCorrupt, p)
	}
	return nil
}

func (ru *remoteUsers) unlock(ctx context.Context, id string) error {
	return ru.do(ctx, http.MethodPost, "/users/"+pathEscape(id)+"/unlock", nil, nil)
}

func (ru *remoteUsers) lock(ctx context.Context, id, reason string) (statusChanged, error) {
	var res statusChanged
	err := ru.do(ctx, http.MethodPost, "/users/"+pathEscape(id)+"/lock", reasonRequest{Reason: reason}, &res)
	return res, err
}

func (ru *remoteUsers) signout(ctx context.Context, id string) (statusChanged, error) {
	var res statusChanged
	err := ru.do(ctx, http.MethodPost, "/users/"+pathEscape(id)+"/signout", nil, &res)
	return res, err
}

func (ru *remoteUsers) revoke(ctx context.Context, id, reason string) (statusChanged, error) {
	var res statusChanged
	err := ru.do(ctx, http.MethodPost, "/users/"+pathEscape(id)+"/revoke", reasonRequest{Reason: reason}, &res)
	return res, err
}

func (ru *remoteUsers) history(ctx context.Context, id string, n int) ([]directory.Event, error) {
	var evs []directory.Event
	err := ru.do(ctx, http.MethodGet, "/users/"+pathEscape(id)+"/events?n="+strconv.Itoa(n), nil, &evs)
	return evs, err
}

func (ru *remoteUsers) issueCard(ctx context.Context, id string) (string, error) {
	var out struct {
		Card string `json:"card"`
	}
	err := ru.do(ctx, http.MethodPost, "/users/"+pathEscape(id)+"/card", nil, &out)
	return out.Card, err
}
