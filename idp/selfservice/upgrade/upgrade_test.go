package upgrade_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/selfservice/upgrade"
	"github.com/ateaidp/atea/idp/store"
)

const (
	bakDNI  = "12345678Z"
	bakPass = "another good password"
)

// setup starts an IdP with the journey, a B@k holder (with a card when withCard) and a
// /whoami page that asks for a substantial sign-in.
func setup(t *testing.T, withCard bool) (*idptest.IdP, directory.User, coordcard.Card) {
	t.Helper()
	ti := idptest.New(t, nil)
	h, err := upgrade.New(upgrade.Config{}, upgrade.Deps{Kit: ti.Server.Kit(), Directory: ti.Directory, Card: ti.Card})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(ti.Server)
	kit := ti.Server.Kit()
	ti.Server.Handle("GET /whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := kit.Session(r)
		if errors.Is(err, store.ErrNotFound) || (err == nil && sess.Level != authn.LevelSubstantial.String()) {
			kit.SignIn(w, r, authn.LevelSubstantial, "/whoami", false)
			return
		}
		fmt.Fprintf(w, "level=%s", sess.Level)
	}))
	u, err := ti.Directory.Add(t.Context(), directory.User{
		DNI: bakDNI, GivenName: "Mikel", FamilyName: "Arana", BirthDate: "1990-05-17", Phone: "+34600111222",
		Credential: directory.CredentialBak,
	}, bakPass)
	if err != nil {
		t.Fatal(err)
	}
	var card coordcard.Card
	if withCard {
		if card, err = ti.Card.Issue(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
	}
	return ti, u, card
}

// signIn opens /upgrade, signs in there with the B@k password and returns the page after.
func signIn(t *testing.T, b *idptest.Browser) idptest.Page {
	t.Helper()
	p := b.Follow(b.Get(upgrade.PathStart))
	if !strings.Contains(p.Body, `name="username"`) {
		t.Fatalf("GET /upgrade without a session: HTTP %d, want the sign-in form", p.Status)
	}
	return b.Follow(b.Submit(b.FormOf(p, "/login"), map[string]string{"username": bakDNI, "password": bakPass}))
}

// wrongAnswers answers every cell of f with a value that is not the card's.
func wrongAnswers(f idptest.Form, card coordcard.Card) map[string]string {
	out := idptest.CardAnswers(f, card)
	for k, v := range out {
		d := []byte(v)
		d[0] = '0' + (d[0]-'0'+1)%10
		out[k] = string(d)
	}
	return out
}

// TestUpgrade: a B@k holder with a card signs in low, answers the card and holds B@kQ; a
// later substantial sign-in steps up with the card, which it could not before.
func TestUpgrade(t *testing.T) {
	t.Parallel()
	ti, u, card := setup(t, true)
	b := ti.Browser()
	p := signIn(t, b)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `action="`+upgrade.PathBegin+`"`) || !strings.Contains(p.Body, "Mikel") {
		t.Fatalf("after signing in: HTTP %d, want the upgrade page\n%s", p.Status, p.Body)
	}
	// Before the upgrade, substantial is out of reach: Atea explains B@kQ.
	if w := b.Follow(b.Get("/whoami")); w.Status != http.StatusForbidden || strings.Contains(w.Body, "cell_") {
		t.Fatalf("substantial before the upgrade: HTTP %d, want the B@kQ explanation", w.Status)
	}
	p = b.Submit(b.FormOf(p, upgrade.PathBegin), nil)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `name="cell_`) {
		t.Fatalf("start: HTTP %d, want the card\n%s", p.Status, p.Body)
	}
	// A reload shows the same cells.
	f := b.FormOf(p, upgrade.PathCard)
	again := b.Get(upgrade.PathCard + "?flow=" + f.Values.Get("flow"))
	for k := range idptest.CardAnswers(f, card) {
		if !strings.Contains(again.Body, `name="`+k+`"`) {
			t.Errorf("reload asks other cells: lacks %s", k)
		}
	}
	p = b.Submit(f, idptest.CardAnswers(f, card))
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="certreg-upgraded"`) {
		t.Fatalf("card: HTTP %d, want the done page\n%s", p.Status, p.Body)
	}
	got, err := ti.Directory.GetByID(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Credential != directory.CredentialBakQ || got.Status != directory.StatusActive {
		t.Errorf("after the upgrade: credential %q status %q", got.Credential, got.Status)
	}
	// The flow is over: the same answer cannot be posted again.
	if p := b.Submit(f, idptest.CardAnswers(f, card)); p.Status != http.StatusBadRequest {
		t.Errorf("posting the card again: HTTP %d, want 400", p.Status)
	}
	// The next substantial request steps up with the card.
	w := b.Follow(b.Get("/whoami"))
	if !strings.Contains(w.Body, `name="cell_`) {
		t.Fatalf("substantial after the upgrade: HTTP %d, want the card step-up\n%s", w.Status, w.Body)
	}
	cf := b.FormOf(w, "/login/factor")
	if w = b.Follow(b.Submit(cf, idptest.CardAnswers(cf, card))); w.Body != "level=substantial" {
		t.Errorf("step-up: HTTP %d %q", w.Status, w.Body)
	}
	if p := b.Get(upgrade.PathStart); !strings.Contains(p.Body, "Ya tiene B@kQ") {
		t.Errorf("/upgrade after the upgrade: HTTP %d, want \"already\"", p.Status)
	}
}

// TestUpgradeWrongAnswers: wrong cells are refused and count; the card locks at the third
// and the credential stays B@k.
func TestUpgradeWrongAnswers(t *testing.T) {
	t.Parallel()
	ti, u, card := setup(t, true)
	b := ti.Browser()
	p := b.Submit(b.FormOf(signIn(t, b), upgrade.PathBegin), nil)
	f := b.FormOf(p, upgrade.PathCard)
	if p := b.Submit(f, nil); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "todas las posiciones") {
		t.Errorf("empty cells: HTTP %d", p.Status)
	}
	for i := 0; i < 2; i++ {
		p = b.Submit(f, wrongAnswers(f, card))
		if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "no coinciden") {
			t.Fatalf("wrong answer %d: HTTP %d\n%s", i+1, p.Status, p.Body)
		}
	}
	p = b.Submit(f, wrongAnswers(f, card))
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Su tarjeta está bloqueada") {
		t.Fatalf("third wrong answer: HTTP %d\n%s", p.Status, p.Body)
	}
	got, _ := ti.Directory.GetByID(t.Context(), u.ID)
	if got.Credential != directory.CredentialBak || !got.CardLocked {
		t.Errorf("after wrong answers: credential %q, card locked %v", got.Credential, got.CardLocked)
	}
	// A right answer on the ended flow does nothing.
	if p := b.Submit(f, idptest.CardAnswers(f, card)); p.Status != http.StatusBadRequest {
		t.Errorf("right answer after the lock: HTTP %d", p.Status)
	}
}

// TestUpgradeNoCard: without a card, a page pointing to a desk, and no button.
func TestUpgradeNoCard(t *testing.T) {
	t.Parallel()
	ti, _, _ := setup(t, false)
	b := ti.Browser()
	b.Lang = "eu"
	p := signIn(t, b)
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Koordenatu-txartel bat behar duzu") || strings.Contains(p.Body, upgrade.PathBegin) {
		t.Fatalf("no card: HTTP %d\n%s", p.Status, p.Body)
	}
}

// TestUpgradeLockedCard: a card locked before the upgrade gets the desk page; a forged post
// to start is refused too.
func TestUpgradeLockedCard(t *testing.T) {
	t.Parallel()
	ti, u, _ := setup(t, true)
	s := authn.Subject{UserID: u.ID, DNI: u.DNI}
	for i := 0; i < 3; i++ {
		if _, err := ti.Card.Begin(t.Context(), s, "x"); err != nil && !errors.Is(err, authn.ErrLocked) {
			t.Fatal(err)
		}
		_ = ti.Card.Verify(t.Context(), s, "x", "000 000")
	}
	if got, _ := ti.Directory.GetByID(t.Context(), u.ID); !got.CardLocked {
		t.Fatal("card not locked by the setup")
	}
	b := ti.Browser()
	b.Lang = "en"
	p := signIn(t, b)
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Your card is blocked") {
		t.Fatalf("locked card: HTTP %d\n%s", p.Status, p.Body)
	}
	if p := b.Post(upgrade.PathBegin, nil); p.Status != http.StatusForbidden || strings.Contains(p.Body, "cell_") {
		t.Errorf("start without the session token: HTTP %d", p.Status)
	}
}

// TestUpgradeAlreadyBakQ: the demo citizen holds B@kQ already.
func TestUpgradeAlreadyBakQ(t *testing.T) {
	t.Parallel()
	ti, _, _ := setup(t, false)
	b := ti.Browser()
	p := ti.SignIn(b, b.Get(upgrade.PathStart))
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Ya tiene B@kQ") || strings.Contains(p.Body, upgrade.PathBegin) {
		t.Fatalf("B@kQ holder: HTTP %d\n%s", p.Status, p.Body)
	}
}
