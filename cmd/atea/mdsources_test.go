package main

import (
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/metadata"
)

// TestSPSourcesFromConfig: spMetadata.sources become remote sources after the directory; a
// source that fails at start leaves Atea running on the others, an anchors file without a
// certificate is a startup error, a YAML entry loads strictly, and no sources means the
// directory alone.
func TestSPSourcesFromConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, _ := newTestCA(t, "Federation signer")
	anchors := filepath.Join(dir, "fed.pem")
	if err := os.WriteFile(anchors, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	yaml := "spMetadata:\n  sources:\n    - name: fed\n      type: url\n      url: " + down.URL + "/aggregate.xml\n      trustAnchorsFile: " + anchors +
		"\n      interval: 1h\n      maxBytes: 0\n      requireValidUntil: true\n    - name: mdq\n      type: mdq\n      url: " + down.URL + "/mdq\n      trustAnchorsFile: " + anchors + "\n"
	cfgPath := filepath.Join(dir, "atea.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	ds := metadata.NewDirSource(metadata.DirOptions{Dir: t.TempDir(), Logger: log})
	src, err := buildSPSources(cfg, ds, log, log)
	if err != nil {
		t.Fatalf("buildSPSources: %v", err)
	}
	if _, ok := src.lookup.(*metadata.Multi); !ok {
		t.Fatalf("lookup is %T, want the sources combined", src.lookup)
	}
	src.start(t.Context())
	// The sources are down: an SP none of them knows is refused, not invented.
	if sp, err := src.lookup.Lookup("https://sp.example.org/saml/metadata"); err == nil {
		t.Errorf("Lookup of an unknown SP = %v, want an error", sp.EntityID)
	}

	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.SPMetadata.Sources[0].TrustAnchorsFile = empty
	if _, err := buildSPSources(cfg, ds, log, log); err == nil || !strings.Contains(err.Error(), "sources[0].trustAnchorsFile") {
		t.Errorf("anchors file without a certificate: %v, want a startup error naming the key", err)
	}

	cfg.SPMetadata.Sources = nil
	src, err = buildSPSources(cfg, ds, log, log)
	if err != nil || src.lookup != metadata.EntitySource(ds) {
		t.Errorf("no sources: lookup %T, %v, want the directory itself", src.lookup, err)
	}
}
