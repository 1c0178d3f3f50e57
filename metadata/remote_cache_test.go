package metadata

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestURLSourceCacheFile: an accepted document is saved as fetched; after a "restart" while
// the publisher is down, LoadFile serves its entities; a tampered or expired copy is refused
// like a fetched one.
func TestURLSourceCacheFile(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache", "federation.xml")
	body := remoteTwoSPs(t)
	f := newURLFixture(t, body, func(o *URLOptions) { o.CacheFile = cache })
	f.mustRefresh()
	got, err := os.ReadFile(cache)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("cache file = %d bytes, %v; want the document as fetched", len(got), err)
	}

	// A new process; the publisher is down.
	g := newURLFixture(t, body, nil)
	g.srv.fail(503)
	if err := g.src.LoadFile(t.Context(), cache); err != nil {
		t.Fatalf("LoadFile = %v", err)
	}
	if ids := g.ids(); len(ids) != 2 {
		t.Fatalf("entities after LoadFile = %v", ids)
	}
	if st := g.src.Status(); !st.LastSuccess.IsZero() || st.Entities != 2 {
		t.Errorf("Status() after LoadFile = %+v: a file is not a successful refresh", st)
	}
	if err := g.src.Refresh(t.Context()); !errors.Is(err, ErrFetch) {
		t.Fatalf("Refresh with the publisher down = %v", err)
	}
	if _, err := g.src.Lookup(remoteOne); err != nil {
		t.Errorf("Lookup after a failed refresh = %v, want the saved copy's entity", err)
	}
	if got := g.srv.ifNoneMatch(); len(got) != 1 || got[0] != "" {
		t.Errorf("If-None-Match after LoadFile = %q, want an unconditional fetch", got)
	}

	tampered := filepath.Join(t.TempDir(), "tampered.xml")
	if err := os.WriteFile(tampered, bytes.Replace(body, []byte("https://one.example.test/acs"), []byte("https://evil.example.test/acs"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newURLFixture(t, body, nil)
	if err := h.src.LoadFile(t.Context(), tampered); !errors.Is(err, ErrUntrusted) || len(h.ids()) != 0 {
		t.Errorf("LoadFile(tampered) = %v, %v; want ErrUntrusted and nothing served", err, h.ids())
	}
	h.clock.Set(testNow().Add(25 * time.Hour))
	if err := h.src.LoadFile(t.Context(), cache); !errors.Is(err, ErrDocumentExpired) || len(h.ids()) != 0 {
		t.Errorf("LoadFile(expired) = %v, %v; want ErrDocumentExpired", err, h.ids())
	}
	if err := h.src.LoadFile(t.Context(), filepath.Join(t.TempDir(), "none.xml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want fs.ErrNotExist", err)
	}
}
