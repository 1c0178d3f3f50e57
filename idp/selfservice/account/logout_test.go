package account_test

import (
	"net/http"
	"testing"
)

// TestAccountSignOutEverywhere: the account page's "sign out everywhere" button runs Atea's
// single logout for this session: the session is gone from the store, the result page says so,
// and /account asks for a sign-in again. A forged post (no session token) ends nothing.
func TestAccountSignOutEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	p := e.signIn(t, b)
	want(t, "account page", p, http.StatusOK, `action="/logout?lang=es"`, "Cerrar sesión en todas partes")

	forged := b.Post("/logout", map[string][]string{"csrf": {"not-the-token"}})
	if forged.Status != http.StatusForbidden {
		t.Errorf("forged sign-out: HTTP %d, want 403", forged.Status)
	}
	if ss, _ := e.ti.Store.ListSessionsBySubject(t.Context(), e.uid); len(ss) != 1 {
		t.Fatalf("after a forged sign-out: %d sessions, want 1", len(ss))
	}

	p = b.Follow(b.Submit(b.FormOf(p, "/logout"), nil))
	if p.Status != http.StatusOK {
		t.Fatalf("sign out everywhere: HTTP %d\n%s", p.Status, p.Body)
	}
	want(t, "logout result", p, http.StatusOK, "Ha cerrado su sesión en Atea", `id="logout-atea"`)
	if ss, err := e.ti.Store.ListSessionsBySubject(t.Context(), e.uid); err != nil || len(ss) != 0 {
		t.Errorf("after sign out everywhere: %d sessions (err %v), want none", len(ss), err)
	}
	if !isSignIn(b.Follow(b.Get("/account"))) {
		t.Error("/account after signing out does not ask for a sign-in")
	}
}
