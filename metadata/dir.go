package metadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// MaxFileSize caps one SP metadata file. SP metadata is a few KiB; aggregates belong to a
	// separate, configured source with its own budget (SECURITY.md §4.11).
	MaxFileSize = 4 << 20
	// DefaultInterval is the rescan period when DirOptions.Interval is not positive.
	DefaultInterval = 2 * time.Second
)

// DirOptions configures a DirSource.
type DirOptions struct {
	// Dir is the directory holding one or more *.xml metadata files.
	Dir string
	// Interval is the rescan period of Run; DefaultInterval when not positive.
	Interval time.Duration
	// Logger receives load problems (Warn) and load events (Info); nil discards them.
	Logger *slog.Logger
	// Now is the clock for validUntil checks; nil means time.Now.
	Now func() time.Time
	// Watch makes Run also rescan soon after the directory changes (see Run). The server
	// sets it; without it Run rescans every Interval only.
	Watch bool
}

// DirSource serves SP metadata loaded from the *.xml files directly inside a directory (dot
// files, *.tmp files and subdirectories are ignored, so writers can write a temporary file and
// rename it). Lookup and Entities read an immutable snapshot through an atomic pointer, so
// they are lock-free and safe for concurrent use with each other and with Refresh; Refresh
// calls are serialised.
type DirSource struct {
	dir      string
	interval time.Duration
	watch    bool
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex            // serialises Refresh; guards the fields below
	files   map[string]*fileState // by file name
	dirty   bool                  // files changed since the snapshot was built
	dirDown bool                  // the directory was unreadable at the last scan (logged once)

	snap atomic.Pointer[snapshot]
}

// fileState is what the last scan learnt about one file.
type fileState struct {
	size     int64
	mtime    time.Time
	sps      []*SP   // the entities in use from this file (possibly last-good ones)
	problems []error // what is wrong with the file's current contents
}

// snapshot is an immutable view of every loaded SP.
type snapshot struct {
	byID   map[string]*SP
	sorted []*SP     // by EntityID
	expiry time.Time // earliest ValidUntil in the snapshot; zero if none
	issues []error   // problems found when the snapshot was built (duplicates, expiry)
}

// NewDirSource returns a DirSource for o.Dir. It loads nothing until Refresh or Run is called.
func NewDirSource(o DirOptions) *DirSource {
	d := &DirSource{
		dir:      o.Dir,
		interval: o.Interval,
		watch:    o.Watch,
		log:      o.Logger,
		now:      o.Now,
		files:    map[string]*fileState{},
	}
	if d.interval <= 0 {
		d.interval = DefaultInterval
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	d.snap.Store(&snapshot{byID: map[string]*SP{}})
	return d
}

// Run calls Refresh every Interval until ctx is done and, with DirOptions.Watch, also soon
// after the directory changes: a watch on it (inotify and the like, through fsnotify) notices a file written,
// renamed or removed, and after a short settling time (a writer's Create and Writes come
// as several events) the directory is rescanned, so a metadata file an administrator drops in
// is in use within a fraction of a second. The periodic rescan stays: watches miss changes
// on network file systems and behind the symlink swaps of Kubernetes ConfigMap volumes, and a
// directory that does not exist yet cannot be watched (Run keeps trying to add it). Problems
// are logged by Refresh.
func (d *DirSource) Run(ctx context.Context) {
	t := time.NewTicker(d.interval)
	defer t.Stop()
	var w *fsnotify.Watcher
	if d.watch {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			d.log.Warn("sp metadata: no directory watch, rescanning every interval only", "err", err)
			w = nil
		} else {
			defer w.Close()
		}
	}
	watching := false
	watch := func() {
		if w != nil && !watching {
			watching = w.Add(d.dir) == nil
		}
	}
	watch()
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if w != nil {
		events, watchErrs = w.Events, w.Errors
	}
	// settle is armed by an event and fires once the directory has been quiet for
	// settleTime; nil when no change is pending.
	const settleTime = 100 * time.Millisecond
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			watch()
			_ = d.Refresh(ctx)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Name == d.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				watching = false // the directory itself went away: re-add it when it is back
			}
			settle = time.After(settleTime)
		case err, ok := <-watchErrs:
			if !ok {
				watchErrs = nil
				continue
			}
			// An overflowed event queue means changes were lost: rescan now.
			d.log.Warn("sp metadata: directory watch", "err", err)
			settle = time.After(settleTime)
		case <-settle:
			settle = nil
			_ = d.Refresh(ctx)
		}
	}
}

// Lookup returns the validated metadata of entityID, or an error matching ErrUnknownEntity
// when none is loaded or the loaded metadata has passed its validUntil since the last
// Refresh. The returned SP is shared and must not be modified. It never blocks.
func (d *DirSource) Lookup(entityID string) (*SP, error) {
	sp, ok := d.snap.Load().byID[entityID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEntity, clip(entityID, 200))
	}
	// Between two scans an entity may expire: stop using it at its validUntil (SECURITY.md §4.11).
	if !sp.ValidUntil.IsZero() && !sp.ValidUntil.After(d.now()) {
		return nil, fmt.Errorf("%w: %q: %w", ErrUnknownEntity, clip(entityID, 200), errExpired)
	}
	return sp, nil
}

// Entities returns every loaded SP that Lookup would return, sorted by EntityID. The slice is
// the caller's; the SPs are shared and must not be modified.
func (d *DirSource) Entities() []*SP {
	now := d.now()
	var out []*SP
	for _, sp := range d.snap.Load().sorted {
		if sp.ValidUntil.IsZero() || sp.ValidUntil.After(now) {
			out = append(out, sp)
		}
	}
	return out
}

// Refresh rescans the directory now. Files whose size and modification time are unchanged
// are not read again. A file that became unreadable or invalid keeps its last good entities
// (and an entity that became invalid keeps its last good version); a removed file removes its
// entities; an entityID claimed by two files is taken from the file whose name sorts first.
// Problems are logged at Warn when first seen, and every problem that still stands is
// returned (errors.Join); nil means every file and entity loaded.
func (d *DirSource) Refresh(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	entries, err := os.ReadDir(d.dir)
	if err != nil {
		// Keep serving what is loaded: a transient permission or mount problem must not
		// unregister every SP.
		err = fmt.Errorf("metadata: reading SP metadata directory: %w", err)
		if !d.dirDown {
			d.log.Warn("sp metadata: directory not readable, keeping the loaded entities", "dir", d.dir, "err", err)
			d.dirDown = true
		}
		return err
	}
	d.dirDown = false
	present := map[string]bool{}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if !wanted(name) || e.IsDir() {
			continue
		}
		path := filepath.Join(d.dir, name)
		info, err := os.Stat(path) // follows symlinks (e.g. Kubernetes ConfigMap volumes)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		present[name] = true
		prev := d.files[name]
		if prev != nil && prev.size == info.Size() && prev.mtime.Equal(info.ModTime()) {
			continue
		}
		d.files[name] = d.load(path, name, prev)
		d.dirty = true
	}
	for name, fs := range d.files {
		if !present[name] {
			delete(d.files, name)
			d.dirty = true
			d.log.Info("sp metadata: file removed", "file", name, "entities", len(fs.sps))
		}
	}
	now := d.now()
	old := d.snap.Load()
	if d.dirty || (!old.expiry.IsZero() && !old.expiry.After(now)) {
		d.snap.Store(d.build(now))
		d.dirty = false
	}

	names := make([]string, 0, len(d.files))
	for name := range d.files {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		errs = append(errs, d.files[name].problems...)
	}
	errs = append(errs, d.snap.Load().issues...)
	return errors.Join(errs...)
}

// wanted reports whether a directory entry name is a metadata file to load.
func wanted(name string) bool {
	return strings.HasSuffix(name, ".xml") && !strings.HasPrefix(name, ".")
}

// load reads and parses one changed file. prev is its previous state (nil for a new file),
// whose entities stand in for what cannot be loaded now.
func (d *DirSource) load(path, name string, prev *fileState) *fileState {
	var last []*SP
	if prev != nil {
		last = prev.sps
	}
	raw, size, mtime, err := readCapped(path)
	if err != nil {
		err = fmt.Errorf("metadata: %s: %w", name, err)
		d.log.Warn("sp metadata: file not loaded, keeping its last good entities", "file", name, "kept", len(last), "err", err)
		return &fileState{size: size, mtime: mtime, sps: last, problems: []error{err}}
	}
	sps, problems, err := Parse(raw, d.now())
	if err != nil {
		err = fmt.Errorf("metadata: %s: %w", name, err)
		d.log.Warn("sp metadata: file not loaded, keeping its last good entities", "file", name, "kept", len(last), "err", err)
		return &fileState{size: size, mtime: mtime, sps: last, problems: []error{err}}
	}
	fs := &fileState{size: size, mtime: mtime}
	loaded := map[string]bool{}
	for _, sp := range sps {
		sp.Source = name
		loaded[sp.EntityID] = true
		fs.sps = append(fs.sps, sp)
		if len(sp.SigningCerts) == 0 {
			d.log.Info("sp metadata: entity has no signing certificate; its requests cannot be signed", "file", name, "entityID", sp.EntityID)
		}
	}
	for _, p := range problems {
		var ee *EntityError
		id := ""
		if errors.As(p, &ee) {
			id = ee.EntityID
		}
		keep := previous(last, id)
		if keep != nil && !loaded[id] {
			loaded[id] = true
			fs.sps = append(fs.sps, keep)
		}
		p = fmt.Errorf("metadata: %s: %w", name, p)
		fs.problems = append(fs.problems, p)
		d.log.Warn("sp metadata: entity skipped", "file", name, "entityID", clip(id, 200), "kept_last_good", keep != nil, "err", p)
	}
	d.log.Info("sp metadata: file loaded", "file", name, "entities", len(sps), "skipped", len(problems))
	return fs
}

func previous(sps []*SP, id string) *SP {
	if id == "" {
		return nil
	}
	for _, sp := range sps {
		if sp.EntityID == id {
			return sp
		}
	}
	return nil
}

// readCapped reads a regular file of at most MaxFileSize bytes. The size is checked on the
// open file before reading, and the read is capped as well, since the file may grow meanwhile.
func readCapped(path string) (raw []byte, size int64, mtime time.Time, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	size, mtime = info.Size(), info.ModTime()
	if !info.Mode().IsRegular() {
		return nil, size, mtime, errors.New("not a regular file")
	}
	if size > MaxFileSize {
		return nil, size, mtime, fmt.Errorf("file of %d bytes exceeds %d", size, MaxFileSize)
	}
	raw, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, size, mtime, err
	}
	if len(raw) > MaxFileSize {
		return nil, size, mtime, fmt.Errorf("file grew beyond %d bytes while being read", MaxFileSize)
	}
	return raw, size, mtime, nil
}

// build makes a new snapshot from every file's entities: files in name order, so the first
// name wins an entityID claimed twice; entities already past their validUntil are left out.
func (d *DirSource) build(now time.Time) *snapshot {
	names := make([]string, 0, len(d.files))
	for name := range d.files {
		names = append(names, name)
	}
	sort.Strings(names)
	s := &snapshot{byID: map[string]*SP{}}
	for _, name := range names {
		for _, sp := range d.files[name].sps {
			if other, dup := s.byID[sp.EntityID]; dup {
				err := fmt.Errorf("metadata: %s: entity %q ignored: also in %s, which sorts first", name, clip(sp.EntityID, 200), other.Source)
				s.issues = append(s.issues, err)
				d.log.Warn("sp metadata: duplicate entityID", "file", name, "entityID", clip(sp.EntityID, 200), "used_from", other.Source)
				continue
			}
			if !sp.ValidUntil.IsZero() && !sp.ValidUntil.After(now) {
				err := fmt.Errorf("metadata: %s: entity %q: %w", name, clip(sp.EntityID, 200), errExpired)
				s.issues = append(s.issues, err)
				d.log.Warn("sp metadata: entity expired", "file", name, "entityID", clip(sp.EntityID, 200), "validUntil", sp.ValidUntil)
				continue
			}
			s.byID[sp.EntityID] = sp
			s.sorted = append(s.sorted, sp)
			s.expiry = earliest(s.expiry, sp.ValidUntil)
		}
	}
	sort.Slice(s.sorted, func(i, j int) bool { return s.sorted[i].EntityID < s.sorted[j].EntityID })
	return s
}
