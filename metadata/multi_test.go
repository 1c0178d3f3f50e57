package metadata

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// multiMapSource is a fixed source for Multi's tests.
type multiMapSource struct {
	sps map[string]*SP
	err error // returned for every lookup when set
}

func (m multiMapSource) Lookup(id string) (*SP, error) {
	if m.err != nil {
		return nil, m.err
	}
	if sp, ok := m.sps[id]; ok {
		return sp, nil
	}
	return nil, ErrUnknownEntity
}

func (m multiMapSource) Entities() []*SP {
	var out []*SP
	for _, sp := range m.sps {
		out = append(out, sp)
	}
	sortByEntityID(out)
	return out
}

func multiSPs(source string, ids ...string) map[string]*SP {
	out := map[string]*SP{}
	for _, id := range ids {
		out[id] = &SP{EntityID: id, Source: source}
	}
	return out
}

// multiLookupOnly hides Entities: a source Multi cannot enumerate.
type multiLookupOnly struct{ EntitySource }

func TestMultiPriority(t *testing.T) {
	log := &syncBuffer{}
	hub := multiMapSource{sps: multiSPs("hub", "x", "y")}
	dir := multiMapSource{sps: multiSPs("dir", "y", "z")}
	m, err := NewMulti([]MultiSource{{Name: "hub", Source: hub}, {Name: "dir", Source: dir}},
		slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"x": "hub", "y": "hub", "z": "dir"} {
		sp, err := m.Lookup(id)
		if err != nil || sp.Source != want {
			t.Errorf("Lookup(%s) = %+v, %v; want from %s", id, sp, err, want)
		}
	}
	if _, err := m.Lookup("nobody"); !errors.Is(err, ErrUnknownEntity) {
		t.Errorf("Lookup(unknown) = %v, want ErrUnknownEntity", err)
	}
	var ids []string
	for _, sp := range m.Entities() {
		ids = append(ids, sp.EntityID+"@"+sp.Source)
	}
	if got := strings.Join(ids, " "); got != "x@hub y@hub z@dir" {
		t.Errorf("Entities() = %s", got)
	}

	if got := m.Conflicts(); len(got) != 0 {
		t.Errorf("Conflicts() before any refresh = %v", got)
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := m.Conflicts()
	if len(got) != 1 || got[0].EntityID != "y" || got[0].Winner != "hub" || len(got[0].Shadowed) != 1 || got[0].Shadowed[0] != "dir" {
		t.Errorf("Conflicts() = %+v", got)
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 1 || !strings.Contains(log.String(), "entityID=y") {
		t.Errorf("log = %s, want one warning for y", log)
	}
	m.Reconcile(t.Context()) // once per entity per refresh: a standing conflict is not repeated
	if n := strings.Count(log.String(), "level=WARN"); n != 1 {
		t.Errorf("after a reconcile with nothing refreshed: %d warnings, want 1", n)
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 2 {
		t.Errorf("after a second refresh: %d warnings, want 2", n)
	}
}

// TestMultiFailingSource: a higher-priority source that fails (not "unknown") stops the search
// rather than letting a lower-priority copy through.
func TestMultiFailingSource(t *testing.T) {
	boom := errors.New("mdq down")
	m, err := NewMulti([]MultiSource{
		{Name: "mdq", Source: multiLookupOnly{multiMapSource{err: boom}}},
		{Name: "dir", Source: multiMapSource{sps: multiSPs("dir", "y")}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup("y"); !errors.Is(err, boom) {
		t.Errorf("Lookup = %v, want the failure", err)
	}
	if got := m.Reconcile(t.Context()); len(got) != 0 {
		t.Errorf("Reconcile() = %v: a non-listing source cannot conflict", got)
	}
}

// TestMultiRealSources combines a URLSource and a DirSource: the same entity in both, the
// URL source first.
func TestMultiRealSources(t *testing.T) {
	f := newURLFixture(t, remoteTwoSPs(t), nil)
	d := newDirFixture(t)
	d.write("one.xml", []byte(strings.Replace(entityDoc(t), "https://sp.example.test/md", remoteOne, 1)))
	d.mustRefresh()
	m, err := NewMulti([]MultiSource{{Name: "federation", Source: f.src}, {Name: "dir", Source: d.src}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	sp, err := m.Lookup(remoteOne)
	if err != nil || sp.Source != "federation" {
		t.Fatalf("Lookup = %+v, %v; want the federation's copy", sp, err)
	}
	if c := m.Conflicts(); len(c) != 1 || c[0].EntityID != remoteOne || c[0].Shadowed[0] != "dir" {
		t.Errorf("Conflicts() = %+v", c)
	}
	// An entity known to nobody is the DirSource error (ErrUnknownEntity), which crewjam's
	// adapter in idp turns into os.ErrNotExist.
	if _, err := m.Lookup("nobody"); !errors.Is(err, ErrUnknownEntity) {
		t.Errorf("Lookup(unknown) = %v", err)
	}
}

func TestNewMultiErrors(t *testing.T) {
	_, err := NewMulti([]MultiSource{{Name: "a", Source: multiMapSource{}}, {Name: "a"}, {Source: multiMapSource{}}}, nil)
	for _, want := range []string{"used twice", "is nil", "no name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewMulti = %v, want %q", err, want)
		}
	}
	if _, err := NewMulti(nil, nil); err == nil {
		t.Error("no sources accepted")
	}
}
