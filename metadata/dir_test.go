package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

// fakeClock is an injected clock the tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

type dirFixture struct {
	t     *testing.T
	dir   string
	src   *DirSource
	clock *fakeClock
	mtime time.Time // advanced on every write, so (size, mtime) always changes
}

func newDirFixture(t *testing.T) *dirFixture {
	t.Helper()
	f := &dirFixture{t: t, dir: t.TempDir(), clock: &fakeClock{t: testNow()}, mtime: testNow()}
	f.src = NewDirSource(DirOptions{Dir: f.dir, Interval: time.Hour, Logger: testLogger(t), Now: f.clock.Now})
	return f
}

// write writes a file and gives it a fresh modification time.
func (f *dirFixture) write(name string, data []byte) {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.mtime = f.mtime.Add(time.Second)
	if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
		f.t.Fatal(err)
	}
}

func (f *dirFixture) remove(name string) {
	f.t.Helper()
	if err := os.Remove(filepath.Join(f.dir, name)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *dirFixture) refresh() error {
	f.t.Helper()
	return f.src.Refresh(f.t.Context())
}

func (f *dirFixture) mustRefresh() {
	f.t.Helper()
	if err := f.refresh(); err != nil {
		f.t.Fatalf("Refresh() = %v, want nil", err)
	}
}

func (f *dirFixture) lookup(id string) *SP {
	f.t.Helper()
	sp, err := f.src.Lookup(id)
	if err != nil {
		f.t.Fatalf("Lookup(%q) = %v, want found", id, err)
	}
	return sp
}

func (f *dirFixture) wantUnknown(id string) {
	f.t.Helper()
	if sp, err := f.src.Lookup(id); !errors.Is(err, ErrUnknownEntity) {
		f.t.Fatalf("Lookup(%q) = %v, %v; want ErrUnknownEntity", id, sp, err)
	}
}

func (f *dirFixture) ids() []string {
	var ids []string
	for _, sp := range f.src.Entities() {
		ids = append(ids, sp.EntityID)
	}
	return ids
}

const spOne = "https://sp-one.test/saml/metadata"

func TestDirSourceLifecycle(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	f.mustRefresh() // empty directory
	f.wantUnknown(spOne)

	// Add: found after Refresh, with its source file.
	f.write("sp-one.xml", crewjamSP(t, "sp-one", true, nil))
	f.wantUnknown(spOne) // nothing happens before a Refresh
	f.mustRefresh()
	if sp := f.lookup(spOne); sp.Source != "sp-one.xml" || !sp.AuthnRequestsSigned {
		t.Errorf("Lookup() = Source %q, signed %v; want sp-one.xml, true", sp.Source, sp.AuthnRequestsSigned)
	}

	// Modify to a broken document: the last good entity stays, and the problem is returned
	// on every Refresh until the file is fixed.
	f.write("sp-one.xml", []byte("<md:EntityDescriptor"))
	for range 2 {
		if err := f.refresh(); err == nil || !strings.Contains(err.Error(), "sp-one.xml") {
			t.Fatalf("Refresh() = %v, want an error naming sp-one.xml", err)
		}
		if sp := f.lookup(spOne); sp.ACS[0].Location != "https://sp-one.test/saml/acs" {
			t.Errorf("kept entity ACS = %q", sp.ACS[0].Location)
		}
	}

	// Modify to a DOCTYPE document: rejected by the gate, entity still kept.
	f.write("sp-one.xml", readTestdata(t, "doctype.xml"))
	if err := f.refresh(); !errors.Is(err, xmlgate.ErrRejected) {
		t.Fatalf("Refresh() = %v, want xmlgate.ErrRejected", err)
	}
	f.lookup(spOne)

	// Modify the entity to an invalid one (http ACS): its last good version stays.
	f.write("sp-one.xml", crewjamSP(t, "sp-one", false, func(ed *saml.EntityDescriptor) {
		ed.SPSSODescriptors[0].AssertionConsumerServices[0].Location = "http://evil.test/acs"
	}))
	if err := f.refresh(); !errors.Is(err, ErrInvalidEntity) || !errors.Is(err, errACSLocation) {
		t.Fatalf("Refresh() = %v, want ErrInvalidEntity (ACS location)", err)
	}
	if sp := f.lookup(spOne); sp.ACS[0].Location != "https://sp-one.test/saml/acs" || !sp.AuthnRequestsSigned {
		t.Errorf("kept entity = ACS %q, signed %v; want the last good version", sp.ACS[0].Location, sp.AuthnRequestsSigned)
	}

	// Fix it: the new version is used and Refresh is clean again.
	f.write("sp-one.xml", crewjamSP(t, "sp-one", false, nil))
	f.mustRefresh()
	if sp := f.lookup(spOne); sp.AuthnRequestsSigned {
		t.Error("Lookup() still returns the old version after the fix")
	}

	// Delete: gone.
	f.remove("sp-one.xml")
	f.mustRefresh()
	f.wantUnknown(spOne)
	if ids := f.ids(); len(ids) != 0 {
		t.Errorf("Entities() = %v, want none", ids)
	}
}

func TestDirSourceNewFileInvalid(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	f.write("bad.xml", []byte("not xml"))
	f.write("sp-one.xml", crewjamSP(t, "sp-one", false, nil))
	err := f.refresh()
	if err == nil || !strings.Contains(err.Error(), "bad.xml") {
		t.Fatalf("Refresh() = %v, want an error naming bad.xml", err)
	}
	f.lookup(spOne) // a bad file does not stop the others
	f.remove("bad.xml")
	f.mustRefresh()
}

func TestDirSourceIgnoredFiles(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	// Only *.xml directly in the directory; everything else is ignored silently, even
	// broken content (a writer's temporary file is half-written by design).
	f.write(".sp-one.xml", crewjamSP(t, "hidden", false, nil))
	f.write(".sp-two.xml.tmp", []byte("<half"))
	f.write("sp-three.xml.tmp", crewjamSP(t, "tmp", false, nil))
	f.write("notes.txt", []byte("hello"))
	f.write("sub/sp-four.xml", crewjamSP(t, "sub", false, nil))
	f.write("README.XML.bak", []byte("x"))
	if err := os.Mkdir(filepath.Join(f.dir, "dir.xml"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.mustRefresh()
	if ids := f.ids(); len(ids) != 0 {
		t.Errorf("Entities() = %v, want none", ids)
	}
}

func TestDirSourceSymlink(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	// Kubernetes ConfigMap volumes present files as symlinks into a dot directory.
	f.write("..data/sp-one.xml", crewjamSP(t, "sp-one", false, nil))
	if err := os.Symlink(filepath.Join("..data", "sp-one.xml"), filepath.Join(f.dir, "sp-one.xml")); err != nil {
		t.Fatal(err)
	}
	f.mustRefresh()
	f.lookup(spOne)
}

func TestDirSourceDuplicateEntityID(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	f.write("b.xml", crewjamSP(t, "sp-one", false, nil))
	f.write("a.xml", crewjamSP(t, "sp-one", true, nil))
	err := f.refresh()
	if err == nil || !strings.Contains(err.Error(), "b.xml") {
		t.Fatalf("Refresh() = %v, want an error about b.xml", err)
	}
	if sp := f.lookup(spOne); sp.Source != "a.xml" {
		t.Errorf("Lookup().Source = %q, want a.xml (sorts first)", sp.Source)
	}
	if ids := f.ids(); len(ids) != 1 {
		t.Errorf("Entities() = %v, want one", ids)
	}
	// The problem stands while both files exist, although nothing changes.
	if err := f.refresh(); err == nil {
		t.Error("second Refresh() = nil, want the duplicate reported again")
	}
	f.remove("a.xml")
	f.mustRefresh()
	if sp := f.lookup(spOne); sp.Source != "b.xml" {
		t.Errorf("Lookup().Source = %q, want b.xml", sp.Source)
	}
}

func TestDirSourceEntitiesSorted(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	f.write("z.xml", crewjamSP(t, "aaa", false, nil))
	f.write("m.xml", readTestdata(t, "entities.xml"))
	err := f.refresh()
	// entities.xml holds an IdP-only entity and a duplicate: both reported.
	if !errors.Is(err, errNoSPSSO) || !errors.Is(err, errDuplicateEntity) {
		t.Fatalf("Refresh() = %v, want the skipped entities of entities.xml", err)
	}
	want := []string{"https://aaa.test/saml/metadata", "https://nested.example.test/sp", "https://one.example.test/sp", "https://two.example.test/sp"}
	got := f.ids()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Entities() = %v, want %v", got, want)
	}
	// The caller owns the returned slice.
	es := f.src.Entities()
	es[0] = nil
	if f.src.Entities()[0] == nil {
		t.Error("Entities() shares its slice with the DirSource")
	}
}

func TestDirSourceUnchangedFileNotReread(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	good := crewjamSP(t, "sp-one", false, nil)
	f.write("sp-one.xml", good)
	f.mustRefresh()
	// Same size and modification time, different content: not parsed again.
	p := filepath.Join(f.dir, "sp-one.xml")
	if err := os.WriteFile(p, bytes.Repeat([]byte("x"), len(good)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
		t.Fatal(err)
	}
	f.mustRefresh()
	f.lookup(spOne)
	// A new modification time makes it read again.
	f.mtime = f.mtime.Add(time.Second)
	if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
		t.Fatal(err)
	}
	if err := f.refresh(); err == nil {
		t.Fatal("Refresh() = nil after a real change to garbage")
	}
}

func TestDirSourceFileTooLarge(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	big := append(crewjamSP(t, "sp-one", false, nil), bytes.Repeat([]byte(" "), MaxFileSize)...)
	f.write("sp-one.xml", big)
	if err := f.refresh(); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("Refresh() = %v, want a size error", err)
	}
	f.wantUnknown(spOne)
}

func TestDirSourceExpiry(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	f.write("sp-one.xml", crewjamSP(t, "sp-one", false, nil)) // valid for 48 h from testNow
	f.mustRefresh()
	f.lookup(spOne)

	f.clock.Set(testNow().Add(48*time.Hour - time.Second))
	f.lookup(spOne)
	// Past validUntil the entity is no longer served, even before the next scan.
	f.clock.Set(testNow().Add(48 * time.Hour))
	if _, err := f.src.Lookup(spOne); !errors.Is(err, ErrUnknownEntity) || !errors.Is(err, errExpired) {
		t.Fatalf("Lookup() = %v, want ErrUnknownEntity (expired)", err)
	}
	if ids := f.ids(); len(ids) != 0 {
		t.Errorf("Entities() before the next scan = %v, want none", ids)
	}
	if err := f.refresh(); !errors.Is(err, errExpired) {
		t.Fatalf("Refresh() = %v, want the expiry reported", err)
	}
	if ids := f.ids(); len(ids) != 0 {
		t.Errorf("Entities() = %v, want none", ids)
	}
	// A renewed document brings it back.
	f.write("sp-one.xml", crewjamSP(t, "sp-one", false, func(ed *saml.EntityDescriptor) {
		vu := testNow().Add(96 * time.Hour)
		ed.ValidUntil = vu
		ed.SPSSODescriptors[0].ValidUntil = &vu
	}))
	f.mustRefresh()
	f.lookup(spOne)
}

func TestDirSourceMissingDirectory(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	f.write("sp-one.xml", crewjamSP(t, "sp-one", false, nil))
	f.mustRefresh()
	if err := os.RemoveAll(f.dir); err != nil {
		t.Fatal(err)
	}
	if err := f.refresh(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Refresh() = %v, want os.ErrNotExist", err)
	}
	f.lookup(spOne) // an unreadable directory does not unregister every SP
}

func TestDirSourceRefreshCanceled(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	f.write("sp-one.xml", crewjamSP(t, "sp-one", false, nil))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.src.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh(canceled) = %v, want context.Canceled", err)
	}
	f.mustRefresh()
	f.lookup(spOne)
}

func TestDirSourceLogs(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	dir := t.TempDir()
	src := NewDirSource(DirOptions{Dir: dir, Logger: slog.New(slog.NewTextHandler(&buf, nil)), Now: testNow})
	if err := os.WriteFile(filepath.Join(dir, "sp.xml"), crewjamSP(t, "sp-one", false, func(ed *saml.EntityDescriptor) {
		ed.SPSSODescriptors[0].AssertionConsumerServices[0].Location = "http://evil.test/acs"
	}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := src.Refresh(t.Context()); err == nil {
		t.Fatal("Refresh() = nil, want the skipped entity")
	}
	out := buf.String()
	for _, want := range []string{"level=WARN", "file=sp.xml", "entityID=" + spOne} {
		if !strings.Contains(out, want) {
			t.Errorf("log = %q, want it to contain %q", out, want)
		}
	}
	// Unchanged: the problem is returned again but not logged again.
	n := strings.Count(buf.String(), "level=WARN")
	if err := src.Refresh(t.Context()); err == nil {
		t.Fatal("second Refresh() = nil")
	}
	if m := strings.Count(buf.String(), "level=WARN"); m != n {
		t.Errorf("second Refresh() logged %d more warnings, want 0", m-n)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestDirSourceNilOptions(t *testing.T) {
	t.Parallel()
	// Logger and Now nil: discard and time.Now. The document is valid for 48 h from testNow,
	// so give it no validUntil to be independent of the real clock.
	dir := t.TempDir()
	src := NewDirSource(DirOptions{Dir: dir})
	if err := os.WriteFile(filepath.Join(dir, "sp.xml"), crewjamSP(t, "sp-one", false, func(ed *saml.EntityDescriptor) {
		ed.ValidUntil = time.Time{}
		ed.SPSSODescriptors[0].ValidUntil = nil
	}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Lookup(spOne); err != nil {
		t.Fatal(err)
	}
}

func TestDirSourceConcurrentLookup(t *testing.T) {
	t.Parallel()
	f := newDirFixture(t)
	f.write("sp-one.xml", crewjamSP(t, "sp-one", false, nil))
	f.mustRefresh()

	var stop atomic.Bool
	var wg sync.WaitGroup
	var misses atomic.Int64
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				// sp-one is never invalid or removed below, so it must always be found.
				if sp, err := f.src.Lookup(spOne); err != nil || sp.EntityID != spOne {
					misses.Add(1)
				}
				_, _ = f.src.Lookup("https://sp-two.test/saml/metadata")
				_ = f.src.Entities()
				runtime.Gosched()
			}
		})
	}
	docs := [][]byte{crewjamSP(t, "sp-one", false, nil), crewjamSP(t, "sp-one", true, nil), crewjamSP(t, "sp-two", false, nil)}
	for i := range 10 {
		if i%2 == 0 {
			f.write("sp-two.xml", docs[2])
		} else {
			f.write("sp-one.xml", docs[i%4/2])
			f.remove("sp-two.xml")
		}
		f.mustRefresh()
	}
	stop.Store(true)
	wg.Wait()
	if n := misses.Load(); n != 0 {
		t.Errorf("Lookup(sp-one) failed %d times during refreshes, want 0", n)
	}
}

func TestDirSourceRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		// Inside the bubble time is fake: the ticker fires when every goroutine is blocked.
		src := NewDirSource(DirOptions{Dir: dir, Interval: time.Second, Now: testNow})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { src.Run(ctx); close(done) }()

		if err := os.WriteFile(filepath.Join(dir, "sp.xml"), crewjamSP(t, "sp-one", false, nil), 0o644); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := src.Lookup(spOne); !errors.Is(err, ErrUnknownEntity) {
			t.Fatalf("Lookup() before the first tick = %v, want ErrUnknownEntity", err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if _, err := src.Lookup(spOne); err != nil {
			t.Fatalf("Lookup() after a tick = %v, want found", err)
		}
		cancel()
		<-done // Run returns once ctx is done
	})
}

// TestDirSourceWatch: with Watch, Run loads a new file, a changed one and a removal within
// moments, although the periodic rescan (an hour here) never comes.
func TestDirSourceWatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := NewDirSource(DirOptions{Dir: dir, Interval: time.Hour, Now: testNow, Logger: testLogger(t), Watch: true})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { src.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen within 5 s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	known := func(id string) func() bool {
		return func() bool { _, err := src.Lookup(id); return err == nil }
	}
	// The watch is set up by Run itself; a file written before it is caught by the first
	// event after it, so keep writing until the first load shows.
	path := filepath.Join(dir, "sp.xml")
	deadline := time.Now().Add(5 * time.Second)
	for !known(spOne)() {
		if err := os.WriteFile(path, crewjamSP(t, "sp-one", false, nil), 0o644); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("new file: not loaded within 5 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A writer that renames a finished temporary file into place (*.tmp is ignored).
	tmp := filepath.Join(dir, "sp.xml.tmp")
	if err := os.WriteFile(tmp, crewjamSP(t, "sp-two", false, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor("replaced file", func() bool { return known("https://sp-two.test/saml/metadata")() && !known(spOne)() })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor("removed file", func() bool { return len(src.Entities()) == 0 })
}
