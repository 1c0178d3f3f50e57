package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/store/redisstore/redistest"
)

// TestTwoInstancesOneRedis runs two `atea serve` instances against one private redis-server,
// as behind a load balancer (one base URL, shared keys and SP metadata, each with its own
// directory holding the same citizens): a citizen signs in through instance A and gets
// single sign-on through instance B at another SP; failed passwords counted on both block
// the account on both; with Redis down, sign-in fails closed with a 503 page and /readyz
// says not ready, and everything recovers without a restart when Redis is back.
func TestTwoInstancesOneRedis(t *testing.T) {
	rs := redistest.Start(t)
	shared := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	base := "http://" + addrA
	cfgPath := filepath.Join(shared, "atea.yaml")
	cfg := fmt.Sprintf(`baseURL: %s
store:
  type: redis
  redis:
    addrs: [%q]
    opTimeout: 300ms
keys:
  keyFile: %s
  certFile: %s
  secretFile: %s
spMetadata:
  dir: %s
  pollInterval: 500ms
demo:
  enabled: false
log:
  level: warn
`, base, rs.Socket(), filepath.Join(shared, "signing.key"), filepath.Join(shared, "signing.crt"),
		filepath.Join(shared, "secret"), filepath.Join(shared, "sp"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(shared, "sp"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A first (it creates the shared keys), then B.
	urlA, dataA := startServeAt(t, addrA, "--config", cfgPath)
	urlB, dataB := startServeAt(t, addrB, "--config", cfgPath)
	for _, data := range []string{dataA, dataB} {
		for _, id := range []string{"48151623L", "X1234567L"} {
			if _, err := runCLI(t, "a good password\n", "user", "add", "--config", cfgPath, "--data", data, "--id", id,
				"--given", "Ane", "--family", "Etxeberria", "--birth", "1990-05-17", "--password-stdin"); err != nil {
				t.Fatalf("user add %s: %v", id, err)
			}
		}
	}
	md := fetch(t, http.DefaultClient, urlA+"/saml/metadata")
	var idpMD saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(md.body), &idpMD); err != nil {
		t.Fatal(err)
	}
	sp1 := newCLISP(t, "sp-one", &idpMD, filepath.Join(shared, "sp"))
	sp2 := newCLISP(t, "sp-two", &idpMD, filepath.Join(shared, "sp"))
	waitKnown(t, urlA, sp1)
	waitKnown(t, urlB, sp2)

	// Sign in through A, single sign-on through B.
	br := newJarClient(t)
	p := fetch(t, br, sp1.requestURL(t, urlA))
	if !strings.Contains(p.body, `autocomplete="username"`) {
		t.Fatalf("instance A did not show the sign-in form: HTTP %d", p.status)
	}
	p = submitLogin(t, br, urlA, p, "48151623L", "a good password")
	sp1.accept(t, p)
	p = fetch(t, br, sp2.requestURL(t, urlB))
	if strings.Contains(p.body, `autocomplete="username"`) {
		t.Fatal("instance B asked for a password: the session from instance A was not shared")
	}
	sp2.accept(t, p)

	// Lockout counted together: 3 failures on A, 2 on B; then the right password fails on both.
	for _, step := range []struct {
		url string
		n   int
	}{{urlA, 3}, {urlB, 2}} {
		c := newJarClient(t)
		p := fetch(t, c, sp1.requestURL(t, step.url))
		for i := 0; i < step.n; i++ {
			p = submitLogin(t, c, step.url, p, "X1234567L", "wrong password")
		}
	}
	for _, u := range []string{urlA, urlB} {
		c := newJarClient(t)
		p := submitLogin(t, c, u, fetch(t, c, sp1.requestURL(t, u)), "X1234567L", "a good password")
		if strings.Contains(p.body, `name="SAMLResponse"`) {
			t.Fatalf("%s signed in a citizen after 5 failures spread over both instances", u)
		}
	}
	if _, err := runCLI(t, "", "user", "unlock", "X1234567L", "--config", cfgPath, "--data", dataA); err != nil {
		t.Fatal(err)
	}
	c := newJarClient(t)
	sp1.accept(t, submitLogin(t, c, urlB, fetch(t, c, sp1.requestURL(t, urlB)), "X1234567L", "a good password"))

	// Redis down mid-flow: fail closed, then recover without a restart.
	c = newJarClient(t)
	p = fetch(t, c, sp1.requestURL(t, urlA))
	rs.Stop(t)
	if got := fetch(t, http.DefaultClient, urlA+"/readyz"); got.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis down = %d, want 503", got.status)
	}
	down := submitLogin(t, c, urlA, p, "48151623L", "a good password")
	if down.status != http.StatusServiceUnavailable || strings.Contains(down.body, "SAMLResponse") {
		t.Errorf("sign-in with Redis down: HTTP %d (SAMLResponse present: %v), want a 503 page and no assertion", down.status, strings.Contains(down.body, "SAMLResponse"))
	}
	if got := fetch(t, newJarClient(t), sp2.requestURL(t, urlB)); got.status != http.StatusServiceUnavailable {
		t.Errorf("new request with Redis down: HTTP %d, want 503", got.status)
	}
	rs.Restart(t)
	deadline := time.Now().Add(15 * time.Second)
	for fetch(t, http.DefaultClient, urlA+"/readyz").status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not ready 15 s after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c = newJarClient(t)
	sp1.accept(t, submitLogin(t, c, urlA, fetch(t, c, sp1.requestURL(t, urlA)), "48151623L", "a good password"))
}

// freeAddr is a free loopback address for a server a test is about to start, never one
// already handed to another test of this process: a port closed at once can come back from
// the next bind to port 0, and two tests running in parallel would then race for it (the
// interop driver met that).
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if _, taken := handedOut.LoadOrStore(p, true); !taken {
			return fmt.Sprintf("127.0.0.1:%d", p)
		}
	}
	t.Fatal("no fresh loopback port in 100 tries")
	return ""
}

// handedOut is every port freeAddr has given out in this test process (test-only state).
var handedOut sync.Map

// startServeAt is startServe on a chosen address.
func startServeAt(t *testing.T, addr string, extra ...string) (string, string) {
	t.Helper()
	base, data, _ := startServeAddr(t, addr, extra...)
	return base, data
}

type fetched struct {
	status int
	body   string
}

func newJarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

func fetch(t *testing.T, c *http.Client, u string) fetched {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fetched{resp.StatusCode, string(b)}
}

// submitLogin fills the sign-in form of page p (flow and csrf hidden fields) and posts it.
func submitLogin(t *testing.T, c *http.Client, base string, p fetched, id, password string) fetched {
	t.Helper()
	v := url.Values{"username": {id}, "password": {password}}
	for _, m := range reHidden.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	if v.Get("flow") == "" {
		t.Fatalf("no sign-in form on the page (HTTP %d): %.200s", p.status, p.body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/login", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST /login: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fetched{resp.StatusCode, string(b)}
}

// cliSP is a crewjam ServiceProvider registered through a metadata file.
type cliSP struct {
	sp  *saml.ServiceProvider
	ids []string
}

func newCLISP(t *testing.T, name string, idpMD *saml.EntityDescriptor, dir string) *cliSP {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := keys.SelfSigned(k, name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	md, _ := url.Parse("https://" + name + ".test/saml/metadata")
	acs, _ := url.Parse("https://" + name + ".test/saml/acs")
	sp := &saml.ServiceProvider{EntityID: md.String(), Key: k, Certificate: cert, MetadataURL: *md, AcsURL: *acs, IDPMetadata: idpMD}
	b, err := xml.Marshal(sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".xml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return &cliSP{sp: sp}
}

// requestURL makes a Redirect-binding AuthnRequest for the IdP instance at instance (its
// Destination stays the shared base URL, as behind a load balancer).
func (s *cliSP) requestURL(t *testing.T, instance string) string {
	t.Helper()
	req, err := s.sp.MakeAuthenticationRequest(s.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	u, err := req.Redirect("relay", s.sp)
	if err != nil {
		t.Fatal(err)
	}
	s.ids = append(s.ids, req.ID)
	iu, _ := url.Parse(instance)
	u.Host = iu.Host
	return u.String()
}

func (s *cliSP) accept(t *testing.T, p fetched) *saml.Assertion {
	t.Helper()
	m := reSAMLResponse.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no SAMLResponse (HTTP %d): %.300s", p.status, p.body)
	}
	x, err := base64.StdEncoding.DecodeString(htmlUnescape(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.sp.ParseXMLResponse(x, s.ids, s.sp.AcsURL)
	if err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) {
			err = ire.PrivateErr
		}
		t.Fatalf("SP %s refused the response: %v", s.sp.EntityID, err)
	}
	return a
}

// waitKnown waits until the instance serves requests of sp (its metadata file is loaded).
func waitKnown(t *testing.T, instance string, sp *cliSP) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sp.requestURL(t, instance), nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not know %s after 10 s", instance, sp.sp.EntityID)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
