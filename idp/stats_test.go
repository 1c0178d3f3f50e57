package idp_test

import (
	"testing"

	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp"
)

// TestStats: the server's counters follow what happened: a failed and a good password, an
// assertion at low, a NoPassive error Response (Responder), and an IdP-initiated logout whose
// one participant signs out; a nil Stats (every other test) counts nothing and works.
func TestStats(t *testing.T) {
	t.Parallel()
	st := &idp.Stats{}
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) { d.Stats = st })
	sp := ti.newSLOSP("sp-one", testKeys()[1], "soap")
	b, _ := newSLOBrowser(t)

	p, _ := ti.send(b, &testSP{sp: sp.sp, key: sp.key}, request{binding: "redirect", sign: true})
	p = b.login(p, citizenDNI, "not the password")
	if p.form("username") == nil {
		t.Fatalf("a wrong password did not show the form again: HTTP %d", p.status)
	}
	sp.signIn(b)
	passive, _ := ti.send(newBrowser(t), &testSP{sp: sp.sp, key: sp.key}, request{binding: "redirect", sign: true, mutate: func(r *saml.AuthnRequest) { r.IsPassive = boolp(true) }})
	if passive.form("SAMLResponse") == nil {
		t.Fatalf("IsPassive without a session: HTTP %d, want a SAML error Response", passive.status)
	}
	ss := ti.citizenSessions(t, ti.store)
	if len(ss) != 1 {
		t.Fatalf("%d sessions", len(ss))
	}
	if _, err := ti.srv.EndSession(t.Context(), ss[0].ID); err != nil {
		t.Fatal(err)
	}

	got := st.Snapshot()
	for name, c := range map[string]struct {
		m    map[string]int64
		want map[string]int64
	}{
		"assertions":       {got.Assertions, map[string]int64{"low": 1, "substantial": 0, "high": 0}},
		"error responses":  {got.ErrorResponses, map[string]int64{"Responder": 1, "Requester": 0, "VersionMismatch": 0, "other": 0}},
		"sign-in failures": {got.SignInFailures, map[string]int64{"password": 1, "second_factor": 0, "certificate": 0}},
		"logout":           {got.Logout, map[string]int64{"ok": 1, "failed": 0, "noanswer": 0, "frontonly": 0, "unsupported": 0, "skipped": 0, "other": 0}},
	} {
		for k, v := range c.want {
			if c.m[k] != v {
				t.Errorf("%s[%s] = %d, want %d (all: %v)", name, k, c.m[k], v, c.m)
			}
		}
		if len(c.m) != len(c.want) {
			t.Errorf("%s has labels %v, want exactly %v", name, c.m, c.want)
		}
	}
}
