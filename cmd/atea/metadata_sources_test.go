package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/metadata"
)

// mdPublisher is a federation's signing key (a fixed key of metadata/testdata/remote) and a
// self-signed certificate for it, written as a PEM trust-anchor file.
type mdPublisher struct {
	key      crypto.Signer
	cert     *x509.Certificate
	certFile string
}

func newMDPublisher(t *testing.T, name string) mdPublisher {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "metadata", "testdata", "remote", name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key := k.(crypto.Signer)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "federation " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	path := filepath.Join(t.TempDir(), name+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return mdPublisher{key: key, cert: c, certFile: path}
}

// spEntity is one SP EntityDescriptor with the signing certificate of metadata/testdata.
func spEntity(t *testing.T, entityID, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "metadata", "testdata", certFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	return `<EntityDescriptor entityID="` + entityID + `"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(blk.Bytes) +
		`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>` +
		`<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + entityID + `/acs" index="0"/>` +
		`</SPSSODescriptor></EntityDescriptor>`
}

// signedAggregate is an EntitiesDescriptor valid until validUntil, signed by p.
func (p mdPublisher) signedAggregate(t *testing.T, validUntil time.Time, entities ...string) []byte {
	t.Helper()
	doc := `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="agg1" validUntil="` +
		validUntil.UTC().Format(time.RFC3339) + `">` + strings.Join(entities, "") + `</EntitiesDescriptor>`
	d := etree.NewDocument()
	if err := d.ReadFromString(doc); err != nil {
		t.Fatal(err)
	}
	ctx, err := dsig.NewSigningContext(p.key, [][]byte{p.cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	sig, err := ctx.ConstructSignature(d.Root(), true)
	if err != nil {
		t.Fatal(err)
	}
	d.Root().InsertChildAt(0, sig)
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mdServer publishes one document with an ETag and answers conditional GETs.
type mdServer struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
	etag string
}

func newMDServer(t *testing.T, body []byte) *mdServer {
	s := &mdServer{body: body, etag: `"v1"`}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("ETag", s.etag)
		if r.Header.Get("If-None-Match") == s.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *mdServer) publish(body []byte, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag = body, etag
}

// TestMetadataVerify: a good signature names the certificate that made it; the wrong
// certificate, a tampered document and an expired one fail with a clear message; a URL is
// fetched; --json is parseable.
func TestMetadataVerify(t *testing.T) {
	t.Parallel()
	a, b := newMDPublisher(t, "anchor-a"), newMDPublisher(t, "anchor-b")
	dir := t.TempDir()
	good := a.signedAggregate(t, time.Now().Add(24*time.Hour),
		spEntity(t, "https://one.test/sp", "sp-rsa2048.crt"),
		spEntity(t, "https://bad.test/sp", "rsa1024.crt")) // a 1024-bit key: an entity problem
	goodPath := filepath.Join(dir, "good.xml")
	write := func(path string, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(goodPath, good)

	out, err := runCLI(t, "", "metadata", "verify", goodPath, "--cert", b.certFile, "--cert", a.certFile)
	if err != nil {
		t.Fatalf("verify good: %v\n%s", err, out)
	}
	for _, want := range []string{"Signature       OK, made by CN=federation anchor-a", viewCert(a.cert).SHA256,
		"1 service providers usable, 1 with problems", "https://bad.test/sp", "OK: "} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if _, err := runCLI(t, "", "metadata", "verify", goodPath, "--cert", a.certFile, "--strict"); err == nil {
		t.Error("--strict accepted a document with an entity problem")
	}

	out, err = runCLI(t, "", "metadata", "verify", goodPath, "--cert", b.certFile)
	if err == nil || !strings.Contains(out, "NOT VERIFIED") || !strings.Contains(err.Error(), "signature not made by any of the 1 given certificates") {
		t.Errorf("verify with the wrong certificate = %v\n%s", err, out)
	}
	tampered := filepath.Join(dir, "tampered.xml")
	write(tampered, []byte(strings.Replace(string(good), "https://one.test/sp/acs", "https://evil.test/acs", 1)))
	if _, err := runCLI(t, "", "metadata", "verify", tampered, "--cert", a.certFile); err == nil {
		t.Error("verify accepted a tampered document")
	}
	expired := filepath.Join(dir, "expired.xml")
	write(expired, a.signedAggregate(t, time.Now().Add(-time.Hour), spEntity(t, "https://one.test/sp", "sp-rsa2048.crt")))
	out, err = runCLI(t, "", "metadata", "verify", expired, "--cert", a.certFile)
	if err == nil || !strings.Contains(out, "EXPIRED") || !strings.Contains(out, "Signature       OK") {
		t.Errorf("verify of an expired document = %v\n%s", err, out)
	}

	srv := newMDServer(t, good)
	out, err = runCLI(t, "", "metadata", "verify", srv.URL+"/md.xml", "--cert", a.certFile, "--json")
	if err != nil {
		t.Fatalf("verify URL: %v", err)
	}
	var rep verifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.OK || rep.ServiceProvs != 1 || rep.SignedBy == nil ||
		rep.ValidUntil == nil || len(rep.EntityProblems) != 1 || rep.EntityProblems[0].EntityID != "https://bad.test/sp" {
		t.Errorf("verify --json = %s (%v)", out, err)
	}
	if _, err := runCLI(t, "", "metadata", "verify", srv.URL+"/md.xml", "--cert", a.certFile, "--max-bytes=100"); err == nil ||
		!strings.Contains(err.Error(), "too large") {
		t.Errorf("verify over the size limit = %v", err)
	}
	if _, err := runCLI(t, "", "metadata", "verify", goodPath); err == nil {
		t.Error("verify without --cert accepted")
	}
}

// sourcesFixture is a data directory with one SP file and a configuration with a url source
// (two SPs, one of them also in the directory) and an MDQ source.
type sourcesFixture struct {
	data, cfg string
	fed       mdPublisher
	srv       *mdServer
	mdq       *httptest.Server
}

func newSourcesFixture(t *testing.T) *sourcesFixture {
	t.Helper()
	f := &sourcesFixture{data: t.TempDir(), fed: newMDPublisher(t, "anchor-a")}
	md := filepath.Join(f.data, "sp-metadata")
	if err := os.MkdirAll(md, 0o755); err != nil {
		t.Fatal(err)
	}
	local := newCLISP(t, "sp-one", nil, md)
	_ = local
	f.srv = newMDServer(t, f.fed.signedAggregate(t, time.Now().Add(24*time.Hour),
		spEntity(t, "https://sp-one.test/saml/metadata", "sp2-rsa2048.crt"),
		spEntity(t, "https://fed-two.test/sp", "sp-rsa2048.crt")))
	mdqDoc := f.fed.signedAggregate(t, time.Now().Add(time.Hour), spEntity(t, "https://mdq-only.test/sp", "sp-rsa2048.crt"))
	f.mdq = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.EscapedPath() != "/mdq/entities/https%3A%2F%2Fmdq-only.test%2Fsp" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(mdqDoc)
	}))
	t.Cleanup(f.mdq.Close)
	f.cfg = filepath.Join(f.data, "atea.yaml")
	yaml := "spMetadata:\n  sources:\n" +
		"    - name: fed\n      type: url\n      url: " + f.srv.URL + "/agg.xml\n      trustAnchorsFile: " + f.fed.certFile + "\n" +
		"    - name: lookup\n      type: mdq\n      url: " + f.mdq.URL + "/mdq\n      trustAnchorsFile: " + f.fed.certFile + "\n"
	if err := os.WriteFile(f.cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestMetadataListShowAllSources: list and show cover the directory and the remote sources,
// with the source, its priority and the conflict; an MDQ entity is found by show.
func TestMetadataListShowAllSources(t *testing.T) {
	t.Parallel()
	f := newSourcesFixture(t)
	out, err := runCLI(t, "", "metadata", "list", "--config", f.cfg, "--data", f.data)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	for _, want := range []string{
		"0  directory", "1  fed", "2  lookup", "queried per entity",
		"https://sp-one.test/saml/metadata  (directory sp-one.xml, priority 0;", "also in fed",
		"https://fed-two.test/sp  (fed, priority 1;", "2 service providers",
		"1 conflicts", "https://sp-one.test/saml/metadata  used from directory, ignored in fed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t, "", "metadata", "list", "--config", f.cfg, "--data", f.data, "--json")
	var views []spView
	if err != nil || json.Unmarshal([]byte(out), &views) != nil || len(views) != 2 {
		t.Fatalf("list --json = %s, %v", out, err)
	}
	if v := views[1]; v.EntityID != "https://sp-one.test/saml/metadata" || v.Origin != "directory" || v.Priority != 0 ||
		len(v.AlsoIn) != 1 || v.AlsoIn[0] != "fed" {
		t.Errorf("list --json entry = %+v", v)
	}
	if v := views[0]; v.Origin != "fed" || v.Priority != 1 {
		t.Errorf("list --json entry = %+v", v)
	}
	out, err = runCLI(t, "", "metadata", "show", "https://fed-two.test/sp", "--config", f.cfg, "--data", f.data)
	if err != nil || !strings.Contains(out, "Source           fed (priority 1)") {
		t.Errorf("show of a federation SP = %q, %v", out, err)
	}
	out, err = runCLI(t, "", "metadata", "show", "https://mdq-only.test/sp", "--config", f.cfg, "--data", f.data, "--json")
	var v spView
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Origin != "lookup" || v.Priority != 2 {
		t.Errorf("show of an MDQ SP = %s, %v", out, err)
	}
	if _, err := runCLI(t, "", "metadata", "show", "https://nobody.test/", "--config", f.cfg, "--data", f.data); err == nil {
		t.Error("show of an unknown entity succeeded")
	}
	out, err = runCLI(t, "", "metadata", "list", "--config", f.cfg, "--data", f.data, "--directory-only")
	if err != nil || strings.Contains(out, "fed-two") || !strings.Contains(out, "1 service providers") {
		t.Errorf("list --directory-only = %q, %v", out, err)
	}
}

// TestMetadataFetch: fetch reports the HTTP status and validators, the entities and the diff
// against a saved copy; it writes nothing else; an MDQ source needs an entityID; an expired
// document fails loudly.
func TestMetadataFetch(t *testing.T) {
	t.Parallel()
	f := newSourcesFixture(t)
	saved := filepath.Join(t.TempDir(), "fed.xml")
	args := []string{"metadata", "fetch", "fed", "--config", f.cfg, "--data", f.data}
	out, err := runCLI(t, "", append(args, "--save="+saved)...)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	for _, want := range []string{"HTTP            200 OK, ETag \"v1\"", "2 service providers usable",
		"Changes against nothing", "+ https://fed-two.test/sp", "Saved", "OK: verified"} {
		if !strings.Contains(out, want) {
			t.Errorf("fetch lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(saved); err != nil || !strings.Contains(string(b), "SignatureValue") {
		t.Fatalf("saved copy: %v", err)
	}

	// The federation rotates one SP's key and drops the other.
	f.srv.publish(f.fed.signedAggregate(t, time.Now().Add(24*time.Hour),
		spEntity(t, "https://fed-two.test/sp", "sp2-rsa2048.crt")), `"v2"`)
	out, err = runCLI(t, "", append(args, "--against="+saved, "--json")...)
	if err != nil {
		t.Fatalf("fetch --against: %v", err)
	}
	var rep fetchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.OK || rep.HTTPStatus != 200 || rep.ETag != `"v2"` || rep.Entities != 1 ||
		rep.Changes == nil || len(rep.Changes.Removed) != 1 || rep.Changes.Removed[0] != "https://sp-one.test/saml/metadata" ||
		len(rep.Changes.Changed) != 1 || rep.Changes.Changed[0].EntityID != "https://fed-two.test/sp" {
		t.Errorf("fetch --against --json = %s (%v)", out, err)
	}

	out, err = runCLI(t, "", "metadata", "fetch", "lookup", "https://mdq-only.test/sp", "--config", f.cfg, "--data", f.data)
	if err != nil || !strings.Contains(out, "HTTP            200 OK") || !strings.Contains(out, "Entity ID        https://mdq-only.test/sp") {
		t.Errorf("fetch mdq = %q, %v", out, err)
	}
	if _, err := runCLI(t, "", "metadata", "fetch", "lookup", "--config", f.cfg, "--data", f.data); err == nil {
		t.Error("fetch of an MDQ source without an entityID accepted")
	}
	if _, err := runCLI(t, "", "metadata", "fetch", "nosuch", "--config", f.cfg, "--data", f.data); err == nil ||
		!strings.Contains(err.Error(), "configured: fed, lookup") {
		t.Errorf("fetch of an unknown source = %v", err)
	}

	f.srv.publish(f.fed.signedAggregate(t, time.Now().Add(-time.Minute), spEntity(t, "https://fed-two.test/sp", "sp-rsa2048.crt")), `"v3"`)
	out, err = runCLI(t, "", args...)
	if err == nil || !strings.Contains(out, "EXPIRED DOCUMENT") {
		t.Errorf("fetch of an expired document = %v\n%s", err, out)
	}
	// Nothing was written into the data directory but the SP file and the configuration.
	entries, _ := os.ReadDir(f.data)
	for _, e := range entries {
		if e.Name() != "sp-metadata" && e.Name() != "atea.yaml" {
			t.Errorf("fetch wrote %s into the data directory", e.Name())
		}
	}

	// With the copy serve keeps, fetch diffs against it by default (and leaves it alone).
	cache := filepath.Join(f.data, "metadata-cache", "fed.xml")
	if err := os.MkdirAll(filepath.Dir(cache), 0o700); err != nil {
		t.Fatal(err)
	}
	savedBytes, _ := os.ReadFile(saved)
	if err := os.WriteFile(cache, savedBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	f.srv.publish(savedBytes, `"v4"`)
	out, err = runCLI(t, "", args...)
	if err != nil || !strings.Contains(out, "Changes against "+cache) || !strings.Contains(out, "no changes") {
		t.Errorf("fetch with serve's saved copy = %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(cache); !bytes.Equal(b, savedBytes) {
		t.Error("fetch modified serve's saved copy")
	}
}

// TestSPSourcesLoadSavedCopy: serve starts with the last good copy of a url source while its
// publisher is down, and saves each accepted document.
func TestSPSourcesLoadSavedCopy(t *testing.T) {
	t.Parallel()
	f := newSourcesFixture(t)
	cfg, err := (&commonFlags{config: f.cfg, data: f.data}).load(nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ds := metadata.NewDirSource(metadata.DirOptions{Dir: cfg.SPMetadataDir(), Logger: log})
	src, err := buildSPSources(cfg, ds, log, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	src.start(ctx)
	waitFor(t, func() bool { _, err := src.lookup.Lookup("https://fed-two.test/sp"); return err == nil })
	// The copy is written (by rename, never partial) just after the document is swapped in.
	cache := cfg.MetadataCacheFile(0)
	waitFor(t, func() bool {
		b, err := os.ReadFile(cache)
		return err == nil && strings.Contains(string(b), "fed-two.test")
	})
	cancel()

	// A restart with the publisher down.
	f.srv.Close()
	src, err = buildSPSources(cfg, ds, log, log)
	if err != nil {
		t.Fatal(err)
	}
	src.start(t.Context())
	waitFor(t, func() bool { _, err := src.lookup.Lookup("https://fed-two.test/sp"); return err == nil })
}

// waitFor polls cond until it holds; the test's own deadline bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("condition never held")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestServeMetricsEndpoint scrapes the /metrics handler serve mounts on metrics.listen.
func TestServeMetricsEndpoint(t *testing.T) {
	t.Parallel()
	f := newSourcesFixture(t)
	ls, err := loadAllSources(t.Context(), commonFlags{config: f.cfg, data: f.data}, false, time.Minute, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	h, err := metricsHandler(ls.multi, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`atea_metadata_source_entities{source="directory"} 1`,
		`atea_metadata_source_entities{source="fed"} 2`,
		`atea_metadata_source_entities{source="lookup"} 0`,
		`atea_metadata_source_refresh_failures_total{source="fed"} 0`,
		`atea_metadata_source_priority{source="lookup"} 2`,
		`atea_metadata_conflicts 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(text, `atea_metadata_source_last_success_timestamp_seconds{source="fed"} 1.`) {
		t.Errorf("/metrics has no last success time for fed")
	}
	if r, err := srv.Client().Post(srv.URL+"/metrics", "text/plain", nil); err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %v, %v", r, err)
	}
}

// TestServeMetricsListener: the listener of metrics.listen serves /metrics and nothing else,
// and stops with stop.
func TestServeMetricsListener(t *testing.T) {
	t.Parallel()
	ds := metadata.NewDirSource(metadata.DirOptions{Dir: t.TempDir()})
	m, err := metadata.NewMulti([]metadata.MultiSource{{Name: directorySourceName, Source: ds}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := serveMetrics(t.Context(), "127.0.0.1:0", m, &keys.SignCPU{}, &idp.Stats{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), `atea_metadata_source_entities{source="directory"} 0`) ||
		!strings.Contains(string(body), "atea_signatures_total 0") || !strings.Contains(string(body), "atea_signature_cpu_seconds_total 0") ||
		!strings.Contains(string(body), `atea_assertions_issued_total{level="substantial"} 0`) ||
		!strings.Contains(string(body), `atea_logout_participants_total{outcome="frontonly"} 0`) {
		t.Errorf("/metrics = %s", body)
	}
	if r, err := http.Get("http://" + addr + "/saml/metadata"); err != nil || r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /saml/metadata on the metrics listener = %v, %v; want 404", r, err)
	}
	stop()
	waitFor(t, func() bool {
		r, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			_ = r.Body.Close()
		}
		return err != nil
	})
}
