package idp_test

import (
	"testing"
	"time"

	"github.com/ateaidp/atea/idp"
)

// TestEndSessionWithoutBrowser: a session ended from elsewhere (another device's account
// page, a password reset, an administrator's lock) is gone at once, and each of its SPs that
// publishes a SOAP SingleLogoutService gets a signed LogoutRequest naming its own NameID and
// SessionIndex, even when it has a front-channel endpoint too; an SP with only the front
// channel is reported as such and gets nothing, a hanging one as not answering, a refusing
// one as failed.
func TestEndSessionWithoutBrowser(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, func(c *idp.Config) { c.LogoutTimeout = time.Second })
	both := ti.newSLOSP("sp-both", testKeys()[1], "redirect", "soap")
	soap := ti.newSLOSP("sp-soap", testKeys()[2], "soap")
	front := ti.newSLOSP("sp-front", testKeys()[2], "post")
	hanging := ti.newSLOSP("sp-hanging", testKeys()[3], "soap")
	refusing := ti.newSLOSP("sp-refusing", testKeys()[3], "soap")
	hanging.setMode("hang")
	refusing.setMode("refuse")
	b, _ := newSLOBrowser(t)
	ids := map[*sloSP][2]string{}
	for _, sp := range []*sloSP{both, soap, front, hanging, refusing} {
		nid, idx := sp.signIn(b)
		ids[sp] = [2]string{nid, idx}
	}
	ss := ti.citizenSessions(t, ti.store)
	if len(ss) != 1 {
		t.Fatalf("%d sessions, want 1", len(ss))
	}
	out, err := ti.srv.EndSession(t.Context(), ss[0].ID)
	if err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	got := map[string]string{}
	for _, o := range out {
		got[o.EntityID] = o.State
	}
	want := map[*sloSP]string{both: "ok", soap: "ok", front: "frontonly", hanging: "noanswer", refusing: "failed"}
	for sp, state := range want {
		if got[sp.sp.EntityID] != state {
			t.Errorf("%s: outcome %q, want %q (all: %v)", sp.name, got[sp.sp.EntityID], state, got)
		}
	}
	if len(out) != len(want) {
		t.Errorf("%d outcomes, want %d", len(out), len(want))
	}
	for _, sp := range []*sloSP{both, soap, refusing} {
		reqs := sp.gotRequests()
		if len(reqs) != 1 {
			t.Errorf("%s got %d LogoutRequests, want 1", sp.name, len(reqs))
			continue
		}
		if reqs[0].NameID == nil || reqs[0].NameID.Value != ids[sp][0] || reqs[0].SessionIndex == nil || reqs[0].SessionIndex.Value != ids[sp][1] {
			t.Errorf("%s: LogoutRequest names %+v / %+v, want %v", sp.name, reqs[0].NameID, reqs[0].SessionIndex, ids[sp])
		}
	}
	if n := len(front.gotRequests()); n != 0 {
		t.Errorf("the front-channel-only SP got %d LogoutRequests without a browser", n)
	}
	assertSignedOut(t, ti, ti.store, both, b)

	// Gone already: nothing to end, no error.
	if out, err := ti.srv.EndSession(t.Context(), ss[0].ID); err != nil || out != nil {
		t.Errorf("EndSession of an ended session = %v, %v; want nil, nil", out, err)
	}
}

// TestEndUserSessions ends every session of a citizen (an administrator's lock): two
// browsers, both must sign in again, and the SOAP SP hears of each session once.
func TestEndUserSessions(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	soap := ti.newSLOSP("sp-soap", testKeys()[2], "soap")
	b1, _ := newSLOBrowser(t)
	b2, _ := newSLOBrowser(t)
	soap.signIn(b1)
	soap.signIn(b2)
	u, err := ti.dir.Get(t.Context(), citizenDNI)
	if err != nil {
		t.Fatal(err)
	}
	n, out, err := ti.srv.EndUserSessions(t.Context(), u.ID, "")
	if err != nil || n != 2 || len(out) != 2 || !out[0].Confirmed() || !out[1].Confirmed() {
		t.Fatalf("EndUserSessions = %d, %+v, %v; want 2 sessions, both SOAP logouts confirmed", n, out, err)
	}
	if got := len(soap.gotRequests()); got != 2 {
		t.Errorf("SOAP SP got %d LogoutRequests, want 2", got)
	}
	assertSignedOut(t, ti, ti.store, soap, b1)
	assertSignedOut(t, ti, ti.store, soap, b2)
	if n, out, err := ti.srv.EndUserSessions(t.Context(), u.ID, ""); err != nil || n != 0 || len(out) != 0 {
		t.Errorf("second EndUserSessions = %d, %v, %v; want nothing", n, out, err)
	}
}
