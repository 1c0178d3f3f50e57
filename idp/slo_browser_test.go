package idp_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/idptest"
)

// sloChromium starts headless Debian chromium, kept off the network (idptest.NewChromium,
// as cmd/atea's browser tests do), with a deadline for the whole journey. Missing chromium
// skips locally and fails under CI=true.
func sloChromium(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(idptest.NewChromium(t, idptest.ChromiumPath(t)), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSLOBrowser runs single logout in a real Chromium: the hop page's script (under the CSP
// nonce) takes the browser to SP two and back without a click, the result page lists SP two
// as signed out and SP three (which never answers, reached through the "continue without
// it" link) as not answering, with the close-the-browser hint, and its button carries the
// LogoutResponse back to SP one.
func TestSLOBrowser(t *testing.T) {
	ctx := sloChromium(t)
	ti := newTestIdP(t, nil)
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "post")
	sp2 := ti.newSLOSP("sp-two", testKeys()[2], "redirect")
	sp3 := ti.newSLOSP("sp-three", testKeys()[3], "post")
	sp3.setMode("silent")

	ssoURL := func(s *sloSP) string {
		req, err := s.sp.MakeAuthenticationRequest(ti.url+"/saml/sso", saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		req.Signature = nil
		return ti.url + "/saml/sso?" + signedQuery(t, xmlBytes(t, req.Element()), "", s.key, true)
	}
	var text string
	err := chromedp.Do(ctx,
		chromedp.Navigate(ssoURL(sp1)),
		chromedp.WaitVisible(chromedp.CSS(`input[autocomplete="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[autocomplete="username"]`), citizenDNI),
		chromedp.SendKeys(chromedp.CSS(`input[autocomplete="current-password"]`), citizenPassword),
		chromedp.Submit(chromedp.CSS(`input[autocomplete="current-password"]`)),
		chromedp.WaitReady(chromedp.CSS(`#acs`)),
		chromedp.Navigate(ssoURL(sp2)),
		chromedp.WaitReady(chromedp.CSS(`#acs`)),
		chromedp.Navigate(ssoURL(sp3)),
		chromedp.WaitReady(chromedp.CSS(`#acs`)),
	)
	if err != nil {
		t.Fatalf("sign-in walk: %v", err)
	}
	ss := ti.citizenSessions(t, ti.store)
	if len(ss) != 1 || len(ss[0].SPs) != 3 {
		t.Fatalf("after three SSOs: %d sessions", len(ss))
	}
	var nid, idx string
	for _, p := range ss[0].SPs {
		if p.EntityID == sp1.sp.EntityID {
			nid, idx = p.NameID, p.SessionIndex
		}
	}
	lr := sp1.logoutRequest(nid, idx)
	logoutURL := ti.srv.SLOURL() + "?" + signedQuery(t, xmlBytes(t, lr.Element()), "", sp1.key, true)
	err = chromedp.Do(ctx,
		chromedp.Navigate(logoutURL),
		// SP two is done by script; SP three's hop page posts to it, and it never answers.
		chromedp.WaitReady(chromedp.CSS(`#sp-silent`)),
	)
	if err != nil {
		t.Fatalf("logout walk to SP three: %v", err)
	}
	// The citizen comes back and takes the hop page's "continue without it" link.
	sp3.mu.Lock()
	flow := sp3.lastRelay
	sp3.mu.Unlock()
	if flow == "" {
		t.Fatal("SP three got no RelayState")
	}
	skip := idp.PathSLOContinue + "?flow=" + url.QueryEscape(flow) + "&skip=1&lang=en"
	err = chromedp.Do(ctx,
		chromedp.Navigate(ti.url+skip),
		chromedp.WaitReady(chromedp.CSS(`#logout-results`)),
		idptest.Assign(&text, chromedp.Text(chromedp.CSS(`main`))),
	)
	if err != nil {
		t.Fatalf("result page: %v", err)
	}
	for _, want := range []string{sp2.sp.EntityID + ": signed out", sp3.sp.EntityID + ": did not answer", "close all the windows"} {
		if !strings.Contains(text, want) {
			t.Errorf("result page lacks %q:\n%s", want, text)
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`main form button`)),
		chromedp.WaitReady(chromedp.CSS(`#sp-signed-out`)),
	); err != nil {
		t.Fatalf("back to SP one: %v", err)
	}
	sp1.wantStatus(lr.ID, statusSuccess, statusPartialLogout)
	if len(sp2.gotRequests()) != 1 {
		t.Error("SP two was not told")
	}
	if n := len(ti.citizenSessions(t, ti.store)); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}
