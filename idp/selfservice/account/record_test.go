package account_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/selfservice/account"
)

// TestAccountRecordsRealSignIns wires the Recorder into the IdP as serve does: a sign-in
// through the real pages, then a fresh substantial one, appear on the account page, newest
// first, with the network cut to its /24.
func TestAccountRecordsRealSignIns(t *testing.T) {
	t.Parallel()
	var ti *idptest.IdP
	ti = idptest.NewWithDeps(t, nil, func(d *idp.Deps) {
		d.SignIns = account.NewRecorder(d.Directory.(account.SignInWriter))
	})
	h, err := account.New(account.Config{Location: time.UTC}, account.Deps{Kit: ti.Server.Kit(), Directory: ti.Directory, SMS: ti.SMS, Mail: ti.SMS})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(ti.Server)
	b := ti.Browser()
	p := ti.SignIn(b, b.Get("/account"))
	if p.Status != http.StatusOK {
		t.Fatalf("account page: HTTP %d", p.Status)
	}
	u, err := ti.Directory.Get(t.Context(), idptest.CitizenDNI)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ti.Directory.RecentSignIns(t.Context(), u.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Level != "low" || got[0].Method != "password" || got[0].Network != "127.0.0.0/24" {
		t.Fatalf("recorded sign-ins = %+v, want one low password sign-in from 127.0.0.0/24", got)
	}
	p = b.Get("/account")
	want(t, "account page", p, http.StatusOK, "127.0.0.0/24")
}
