package directory

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Registration agents (issue 5, journey 2) are the staff of the in-person desks who register
// citizens for B@kQ. They are not citizens: they live in buckets of their own, sign in to the
// /ra console by username, and their audit events name them as "agent:<id>" so the trail
// tells staff actions from citizens' own.

// AgentStatus is the state of an agent's account.
type AgentStatus string

// The agent statuses: an active agent may sign in; a locked one (too many failed passwords,
// or an administrator's decision) may not until UnlockAgent.
const (
	AgentActive AgentStatus = "active"
	AgentLocked AgentStatus = "locked"
)

// Agent is a registration agent as the directory returns it (never the password hash).
type Agent struct {
	ID        string // internal random ID: "a" and 32 hex digits
	Username  string // unique, lower case: letters, digits, '.', '_' and '-', 3 to 32 characters
	Name      string // the agent's full name, for the console and the audit reader
	Phone     string // mobile for the sign-in code, "+" and 8 to 15 digits
	Status    AgentStatus
	Failures  int // consecutive failed passwords
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuditID is the UserID the agent's audit events carry: "agent:<id>".
func (a Agent) AuditID() string { return AgentAuditID(a.ID) }

// AgentAuditID is the audit UserID of the agent with internal ID id.
func AgentAuditID(id string) string { return "agent:" + id }

// Bucket names of the agents: "agents" maps the agent ID to an agentRecord,
// "agents_by_username" the username to the ID. Created on first use (files older than the
// desk have neither).
const (
	bucketAgents           = "agents"
	bucketAgentsByUsername = "agents_by_username"
)

const (
	minUsername = 3
	maxUsername = 32
)

// agentRecord is an agent as stored, with stable JSON names.
type agentRecord struct {
	ID           string      `json:"id"`
	Username     string      `json:"username"`
	Name         string      `json:"name"`
	Phone        string      `json:"phone"`
	Status       AgentStatus `json:"status"`
	Failures     int         `json:"failures"`
	PasswordHash string      `json:"password_hash"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
}

func (r *agentRecord) agent() Agent {
	return Agent{ID: r.ID, Username: r.Username, Name: r.Name, Phone: r.Phone, Status: r.Status,
		Failures: r.Failures, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// NormaliseUsername is an agent username as stored: trimmed and lower case.
func NormaliseUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkUsername returns why a normalised username is unacceptable, or "".
func checkUsername(s string) string {
	if len(s) < minUsername || len(s) > maxUsername {
		return fmt.Sprintf("want %d to %d characters", minUsername, maxUsername)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return "want letters, digits, '.', '_' or '-'"
		}
	}
	return ""
}

func agentBuckets(tx *bolt.Tx) (agents, byName *bolt.Bucket, err error) {
	if !tx.Writable() {
		agents, byName = tx.Bucket([]byte(bucketAgents)), tx.Bucket([]byte(bucketAgentsByUsername))
		if agents == nil || byName == nil {
			return nil, nil, ErrNotFound // no agent was ever added
		}
		return agents, byName, nil
	}
	if agents, err = tx.CreateBucketIfNotExists([]byte(bucketAgents)); err != nil {
		return nil, nil, err
	}
	byName, err = tx.CreateBucketIfNotExists([]byte(bucketAgentsByUsername))
	return agents, byName, err
}

func getAgentByID(tx *bolt.Tx, id string) (agentRecord, error) {
	agents, _, err := agentBuckets(tx)
	if err != nil {
		return agentRecord{}, err
	}
	raw := agents.Get([]byte(id))
	if raw == nil {
		return agentRecord{}, ErrNotFound
	}
	var r agentRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return agentRecord{}, fmt.Errorf("%w: agent %s: %v", ErrCorrupt, id, err)
	}
	return r, nil
}

func getAgentByUsername(tx *bolt.Tx, username string) (agentRecord, error) {
	_, byName, err := agentBuckets(tx)
	if err != nil {
		return agentRecord{}, err
	}
	id := byName.Get([]byte(username))
	if id == nil {
		return agentRecord{}, ErrNotFound
	}
	r, err := getAgentByID(tx, string(id))
	if errors.Is(err, ErrNotFound) {
		return agentRecord{}, fmt.Errorf("%w: agent index entry without agent", ErrCorrupt)
	}
	return r, err
}

func putAgent(tx *bolt.Tx, r *agentRecord) error {
	agents, _, err := agentBuckets(tx)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("directory: encode agent: %w", err)
	}
	return agents.Put([]byte(r.ID), raw)
}

// agentEvent is an audit event about agent r: UserID "agent:<id>" and the username in place of
// the masked DNI.
func (d *Directory) agentEvent(name string, r *agentRecord) Event {
	return Event{Time: d.timestamp(), Name: name, UserID: AgentAuditID(r.ID), User: r.Username}
}

// AddAgent validates a (Username, Name and Phone; the rest is ignored), checks password
// against the citizens' policy, and stores a new active agent (audit event agent_added).
// Errors wrap ErrInvalid (naming every bad field), ErrWeakPassword or ErrExists (the username
// is taken).
func (d *Directory) AddAgent(ctx context.Context, a Agent, password string) (Agent, error) {
	if err := ctx.Err(); err != nil {
		return Agent{}, err
	}
	var errs []error
	bad := func(field, why string) { errs = append(errs, fmt.Errorf("%w %s: %s", ErrInvalid, field, why)) }
	a.Username = NormaliseUsername(a.Username)
	if why := checkUsername(a.Username); why != "" {
		bad("username", why)
	}
	a.Name = strings.TrimSpace(a.Name)
	if why := checkName(a.Name); why != "" {
		bad("name", why)
	}
	a.Phone = strings.ReplaceAll(strings.TrimSpace(a.Phone), " ", "")
	if why := checkPhone(a.Phone); why != "" {
		bad("phone", why)
	}
	if len(errs) > 0 {
		return Agent{}, fmt.Errorf("directory: add agent: %w", errors.Join(errs...))
	}
	// No DNI to keep out of an agent's password; the length and common-password rules hold.
	if err := d.checkPassword("", password); err != nil {
		return Agent{}, err
	}
	hash, err := d.hash(ctx, password)
	if err != nil {
		return Agent{}, err
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	now := d.timestamp()
	r := agentRecord{ID: "a" + hex.EncodeToString(b[:]), Username: a.Username, Name: a.Name, Phone: a.Phone,
		Status: AgentActive, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	ev := d.agentEvent("agent_added", &r)
	err = d.db.Update(func(tx *bolt.Tx) error {
		agents, byName, err := agentBuckets(tx)
		if err != nil {
			return err
		}
		if byName.Get([]byte(r.Username)) != nil {
			return ErrExists
		}
		if agents.Get([]byte(r.ID)) != nil {
			return errors.New("agent ID collision")
		}
		if err := putAgent(tx, &r); err != nil {
			return err
		}
		if err := byName.Put([]byte(r.Username), []byte(r.ID)); err != nil {
			return err
		}
		return appendEvent(tx, ev)
	})
	if err != nil {
		return Agent{}, fmt.Errorf("directory: add agent %s: %w", r.Username, err)
	}
	d.emit(ctx, ev)
	return r.agent(), nil
}

// GetAgent returns the agent with that username, or an error wrapping ErrNotFound.
func (d *Directory) GetAgent(ctx context.Context, username string) (Agent, error) {
	return d.readAgent(ctx, func(tx *bolt.Tx) (agentRecord, error) {
		return getAgentByUsername(tx, NormaliseUsername(username))
	})
}

// GetAgentByID returns the agent with that internal ID, or an error wrapping ErrNotFound.
func (d *Directory) GetAgentByID(ctx context.Context, id string) (Agent, error) {
	return d.readAgent(ctx, func(tx *bolt.Tx) (agentRecord, error) { return getAgentByID(tx, id) })
}

func (d *Directory) readAgent(ctx context.Context, get func(*bolt.Tx) (agentRecord, error)) (Agent, error) {
	if err := ctx.Err(); err != nil {
		return Agent{}, err
	}
	var r agentRecord
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = get(tx)
		return err
	})
	if err != nil {
		return Agent{}, fmt.Errorf("directory: get agent: %w", err)
	}
	return r.agent(), nil
}

// ListAgents returns every agent, sorted by username.
func (d *Directory) ListAgents(ctx context.Context) ([]Agent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Agent
	err := d.db.View(func(tx *bolt.Tx) error {
		_, byName, err := agentBuckets(tx)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return byName.ForEach(func(_, id []byte) error {
			r, err := getAgentByID(tx, string(id))
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w: agent index entry without agent", ErrCorrupt)
			}
			if err != nil {
				return err
			}
			out = append(out, r.agent())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("directory: list agents: %w", err)
	}
	return out, nil
}

// AuthenticateAgent checks an agent's password and returns the agent on success, with the
// shape of Authenticate (SECURITY.md §4.9): an unknown username, a locked agent and a wrong
// password each cost one argon2id computation and one write transaction, and answer
// ErrInvalidCredentials (unknown, wrong) or ErrLocked (locked, whether or not the password
// was right). Options.MaxFailures consecutive wrong passwords lock the agent (audit event
// agent_locked); a right one resets the count.
func (d *Directory) AuthenticateAgent(ctx context.Context, username, password string) (Agent, error) {
	if err := ctx.Err(); err != nil {
		return Agent{}, err
	}
	candidate, overlong := []byte(password), len(password) > maxPasswordBytes
	if overlong {
		candidate = []byte(dummySalt)
	}
	var r agentRecord
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getAgentByUsername(tx, NormaliseUsername(username))
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		if err := d.dummy(ctx, candidate); err != nil {
			return Agent{}, err
		}
		if err := d.pad(); err != nil {
			return Agent{}, err
		}
		return Agent{}, ErrInvalidCredentials
	case err != nil:
		return Agent{}, fmt.Errorf("directory: authenticate agent: %w", err)
	}
	h, err := parsePHC(r.PasswordHash)
	if err != nil {
		return Agent{}, fmt.Errorf("directory: authenticate agent %s: %w", r.ID, err)
	}
	ok, err := d.verify(ctx, h, candidate)
	if err != nil {
		return Agent{}, err
	}
	ok = ok && !overlong
	if r.Status != AgentActive {
		if err := d.pad(); err != nil {
			return Agent{}, err
		}
		return Agent{}, ErrLocked
	}
	var evs []Event
	err = d.db.Update(func(tx *bolt.Tx) error {
		evs = nil
		cur, err := getAgentByID(tx, r.ID)
		if err != nil {
			return err
		}
		switch {
		case cur.PasswordHash != r.PasswordHash:
			return errPasswordChanged
		case cur.Status != AgentActive:
			return ErrLocked
		}
		if ok {
			if cur.Failures == 0 {
				return nil // nothing to write; the commit still costs what a failure's does
			}
			cur.Failures, cur.UpdatedAt = 0, d.timestamp()
			r = cur
			return putAgent(tx, &cur)
		}
		cur.Failures++
		cur.UpdatedAt = d.timestamp()
		ev := d.agentEvent("agent_password_failed", &cur)
		evs = append(evs, ev)
		if err := appendEvent(tx, ev); err != nil {
			return err
		}
		if cur.Failures >= d.maxFailures {
			cur.Status = AgentLocked
			lev := d.agentEvent("agent_locked", &cur)
			lev.From, lev.To, lev.Reason = Status(AgentActive), Status(AgentLocked), "too many failed passwords"
			evs = append(evs, lev)
			if err := appendEvent(tx, lev); err != nil {
				return err
			}
		}
		return putAgent(tx, &cur)
	})
	d.emit(ctx, evs...)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, errPasswordChanged):
		return Agent{}, ErrInvalidCredentials
	case errors.Is(err, ErrLocked):
		return Agent{}, ErrLocked
	case err != nil:
		return Agent{}, fmt.Errorf("directory: authenticate agent: %w", err)
	case !ok:
		return Agent{}, ErrInvalidCredentials
	}
	return r.agent(), nil
}

// LockAgent blocks an active agent (audit event agent_locked with the reason). Errors wrap
// ErrNotFound, ErrTransition (not active) or ErrInvalid (a bad reason).
func (d *Directory) LockAgent(ctx context.Context, username, reason string) error {
	return d.agentStatus(ctx, "lock", username, AgentActive, AgentLocked, "agent_locked", reason)
}

// UnlockAgent makes a locked agent active with no failures (audit event agent_unlocked).
// Errors wrap ErrNotFound or ErrTransition (not locked).
func (d *Directory) UnlockAgent(ctx context.Context, username string) error {
	return d.agentStatus(ctx, "unlock", username, AgentLocked, AgentActive, "agent_unlocked", "")
}

func (d *Directory) agentStatus(ctx context.Context, op, username string, from, to AgentStatus, event, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkReason(reason); err != nil {
		return fmt.Errorf("directory: %s agent: %w", op, err)
	}
	name := NormaliseUsername(username)
	var ev Event
	err := d.db.Update(func(tx *bolt.Tx) error {
		r, err := getAgentByUsername(tx, name)
		if err != nil {
			return err
		}
		if r.Status != from {
			return fmt.Errorf("%w: %s applies to %q agents, not %q", ErrTransition, op, from, r.Status)
		}
		r.Status, r.UpdatedAt = to, d.timestamp()
		if to == AgentActive {
			r.Failures = 0
		}
		if err := putAgent(tx, &r); err != nil {
			return err
		}
		ev = d.agentEvent(event, &r)
		ev.From, ev.To, ev.Reason = Status(from), Status(to), reason
		return appendEvent(tx, ev)
	})
	if err != nil {
		return fmt.Errorf("directory: %s agent %s: %w", op, name, err)
	}
	d.emit(ctx, ev)
	return nil
}

// RecordAgentAction keeps an audit event named action (e.g. "agent_registered_citizen")
// for the agent with internal ID agentID, with detail as its reason: what the agent did, in
// the words of the trail (a masked DNI/NIE, never personal data in clear). Errors wrap
// ErrNotFound or ErrInvalid (an empty action, a bad detail).
func (d *Directory) RecordAgentAction(ctx context.Context, agentID, action, detail string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if action == "" || checkReason(action) != nil {
		return fmt.Errorf("directory: agent action: %w action", ErrInvalid)
	}
	if err := checkReason(detail); err != nil {
		return fmt.Errorf("directory: agent action: %w", err)
	}
	var ev Event
	err := d.db.Update(func(tx *bolt.Tx) error {
		r, err := getAgentByID(tx, agentID)
		if err != nil {
			return err
		}
		ev = d.agentEvent(action, &r)
		ev.Reason = detail
		return appendEvent(tx, ev)
	})
	if err != nil {
		return fmt.Errorf("directory: agent action %s: %w", action, err)
	}
	d.emit(ctx, ev)
	return nil
}

// AgentHistory returns the last n audit events of the agent with that username, oldest
// first; n ≤ 0 returns them all. Errors wrap ErrNotFound or ErrCorrupt.
func (d *Directory) AgentHistory(ctx context.Context, username string, n int) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Event
	err := d.db.View(func(tx *bolt.Tx) error {
		r, err := getAgentByUsername(tx, NormaliseUsername(username))
		if err != nil {
			return err
		}
		prefix := append([]byte(AgentAuditID(r.ID)), 0)
		events := tx.Bucket([]byte(bucketAudit))
		cur := tx.Bucket([]byte(bucketAuditByUser)).Cursor()
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
			raw := events.Get(k[len(prefix):])
			if raw == nil {
				return fmt.Errorf("%w: audit index entry without event", ErrCorrupt)
			}
			var ev Event
			if err := json.Unmarshal(raw, &ev); err != nil {
				return fmt.Errorf("%w: audit event: %v", ErrCorrupt, err)
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("directory: agent history: %w", err)
	}
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}
