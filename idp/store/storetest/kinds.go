package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/ateaidp/atea/idp/store"
)

// kind adapts one record type (sessions or flows) so that the cases they share, whose
// contracts are the same, are written once.
type kind[T any] struct {
	name  string // "session", "flow": case-name prefix
	title string // "Session", "Flow": method-name suffix, for messages

	// sample is a record with two elements in its slice field, so that shared backing
	// arrays show.
	sample     func(id string, now time.Time, life time.Duration) T
	withID     func(v T, id string) T
	withExpiry func(v T, at time.Time) T
	// mark appends a slice element that carries i; marks lists what the elements carry.
	mark  func(v T, i int) T
	marks func(v T) []string
	// scribble changes the first slice element in place, through the slice's backing array.
	scribble func(v T)

	create func(ctx context.Context, st store.Store, v T) error
	get    func(ctx context.Context, st store.Store, id string) (T, error)
	update func(ctx context.Context, st store.Store, id string, fn func(T) (T, error)) (T, error)
	del    func(ctx context.Context, st store.Store, id string) error
}

func (k kind[T]) call(method, id string) string { return fmt.Sprintf("%s%s(%q)", method, k.title, id) }

const (
	formatPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	formatTransient  = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
)

func sessionKind() kind[store.Session] {
	return kind[store.Session]{
		name:  "session",
		title: "Session",
		sample: func(id string, now time.Time, life time.Duration) store.Session {
			return store.Session{
				ID:           id,
				UserID:       "u-" + id,
				Level:        "substantial",
				Method:       "password+smsotp",
				AuthnInstant: now.Add(-90 * time.Second),
				CreatedAt:    now.Add(-time.Minute),
				ExpiresAt:    now.Add(life),
				SPs: []store.SPParticipation{
					{EntityID: "https://sp1.example/metadata", NameID: "n1-" + id, NameIDFormat: formatPersistent, SessionIndex: "_i1", At: now.Add(-time.Minute)},
					{EntityID: "https://sp2.example/metadata", NameID: "n2-" + id, NameIDFormat: formatTransient, SessionIndex: "_i2", At: now},
				},
			}
		},
		withID:     func(s store.Session, id string) store.Session { s.ID = id; return s },
		withExpiry: func(s store.Session, at time.Time) store.Session { s.ExpiresAt = at; return s },
		mark: func(s store.Session, i int) store.Session {
			s.SPs = append(s.SPs, store.SPParticipation{EntityID: fmt.Sprintf("https://mark%d.example/metadata", i), SessionIndex: fmt.Sprintf("_m%d", i)})
			return s
		},
		marks: func(s store.Session) []string {
			out := make([]string, 0, len(s.SPs))
			for _, p := range s.SPs {
				out = append(out, p.EntityID)
			}
			return out
		},
		scribble: func(s store.Session) {
			if len(s.SPs) > 0 {
				s.SPs[0].NameID = "scribbled"
			}
		},
		create: func(ctx context.Context, st store.Store, s store.Session) error { return st.CreateSession(ctx, s) },
		get: func(ctx context.Context, st store.Store, id string) (store.Session, error) {
			return st.GetSession(ctx, id)
		},
		update: func(ctx context.Context, st store.Store, id string, fn func(store.Session) (store.Session, error)) (store.Session, error) {
			return st.UpdateSession(ctx, id, fn)
		},
		del: func(ctx context.Context, st store.Store, id string) error { return st.DeleteSession(ctx, id) },
	}
}

func flowKind() kind[store.Flow] {
	return kind[store.Flow]{
		name:  "flow",
		title: "Flow",
		sample: func(id string, now time.Time, life time.Duration) store.Flow {
			return store.Flow{
				ID:          id,
				State:       "await-password",
				BrowserHash: "bh-" + id,
				CreatedAt:   now.Add(-time.Minute),
				ExpiresAt:   now.Add(life),
				Attempts:    1,
				Request: store.PendingRequest{
					SPEntityID:    "https://sp1.example/metadata",
					RequestID:     "_r-" + id,
					ACSURL:        "https://sp1.example/acs",
					ACSBinding:    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
					HasRelayState: true,
					Binding:       "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
					ForceAuthn:    true,
					NameIDFormat:  formatPersistent,
					AllowCreate:   true,
					Levels: []store.LevelRef{
						{Level: "substantial", ClassRef: "http://eidas.europa.eu/LoA/substantial"},
						{Level: "high", ClassRef: "http://eidas.europa.eu/LoA/high"},
					},
				},
				Journey: "activation",
				Data:    map[string]string{"user": "u-" + id},
			}
		},
		withID:     func(f store.Flow, id string) store.Flow { f.ID = id; return f },
		withExpiry: func(f store.Flow, at time.Time) store.Flow { f.ExpiresAt = at; return f },
		mark: func(f store.Flow, i int) store.Flow {
			f.Request.Levels = append(f.Request.Levels, store.LevelRef{Level: "mark", ClassRef: fmt.Sprintf("urn:storetest:mark:%d", i)})
			return f
		},
		marks: func(f store.Flow) []string {
			out := make([]string, 0, len(f.Request.Levels))
			for _, l := range f.Request.Levels {
				out = append(out, l.ClassRef)
			}
			return out
		},
		scribble: func(f store.Flow) {
			if len(f.Request.Levels) > 0 {
				f.Request.Levels[0].ClassRef = "scribbled"
			}
			if f.Data != nil {
				f.Data["user"] = "scribbled"
			}
		},
		create: func(ctx context.Context, st store.Store, f store.Flow) error { return st.CreateFlow(ctx, f) },
		get:    func(ctx context.Context, st store.Store, id string) (store.Flow, error) { return st.GetFlow(ctx, id) },
		update: func(ctx context.Context, st store.Store, id string, fn func(store.Flow) (store.Flow, error)) (store.Flow, error) {
			return st.UpdateFlow(ctx, id, fn)
		},
		del: func(ctx context.Context, st store.Store, id string) error { return st.DeleteFlow(ctx, id) },
	}
}
