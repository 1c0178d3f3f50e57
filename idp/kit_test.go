package idp_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/store"
)

// TestKitLocalSignIn: a self-service page asks for a substantial sign-in through the Kit; the
// citizen goes through the password and coordinate-card pages and comes back to the page
// (not to an SP) with a substantial session; a fresh sign-in is asked again once it is old.
func TestKitLocalSignIn(t *testing.T) {
	t.Parallel()
	ti := idptest.New(t, nil)
	kit := ti.Server.Kit()
	ti.Server.Handle("GET /whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := kit.Session(r)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !kit.Fresh(sess, authn.LevelSubstantial, 10*time.Minute)) {
			kit.SignIn(w, r, authn.LevelSubstantial, "/whoami", err == nil)
			return
		}
		fmt.Fprintf(w, "level=%s", sess.Level)
	}))
	b := ti.Browser()
	p := b.Get("/whoami")
	if !strings.Contains(p.Body, `name="username"`) {
		t.Fatalf("GET /whoami without a session: want the sign-in form, got HTTP %d", p.Status)
	}
	p = ti.SignIn(b, p)
	if p.Body != "level=substantial" {
		t.Fatalf("after signing in: got HTTP %d %q, want level=substantial", p.Status, p.Body)
	}
	if p := b.Get("/whoami"); p.Body != "level=substantial" {
		t.Errorf("second visit: got %q, want the session reused", p.Body)
	}
	ti.Clock.Advance(11 * time.Minute)
	if p := b.Get("/whoami"); !strings.Contains(p.Body, `name="username"`) {
		t.Errorf("after 11 minutes: got HTTP %d, want a fresh sign-in", p.Status)
	}
	if p := b.Get("/login?flow=x"); p.Status != http.StatusBadRequest {
		t.Errorf("unknown flow: HTTP %d", p.Status)
	}
}

// TestKitSignInRefusesForeignReturn: SignIn only ever returns to a local path.
func TestKitSignInRefusesForeignReturn(t *testing.T) {
	t.Parallel()
	ti := idptest.New(t, nil)
	kit := ti.Server.Kit()
	ti.Server.Handle("GET /bad", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kit.SignIn(w, r, authn.LevelLow, r.URL.Query().Get("to"), false)
	}))
	b := ti.Browser()
	for _, to := range []string{"https://evil.example/", "//evil.example/", "/\\evil", "x"} {
		if p := b.Get("/bad?to=" + to); p.Status != http.StatusBadRequest {
			t.Errorf("return to %q: HTTP %d, want 400", to, p.Status)
		}
	}
}
