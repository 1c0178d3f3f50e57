package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ateaidp/atea/metadata"
)

// spView is an SP as `atea metadata list|show --json` prints it.
type spView struct {
	EntityID            string            `json:"entityID"`
	Source              string            `json:"source"`
	DisplayNames        map[string]string `json:"displayNames,omitempty"`
	AuthnRequestsSigned bool              `json:"authnRequestsSigned"`
	ACS                 []string          `json:"acs"`
	NameIDFormats       []string          `json:"nameIDFormats,omitempty"`
	SigningKeys         []string          `json:"signingKeys"`    // SHA-256 of each certificate, hex
	EncryptionKeys      []string          `json:"encryptionKeys"` // idem
	ValidUntil          *time.Time        `json:"validUntil,omitempty"`
	// Origin is the configured source the entity is used from ("directory" or the name of a
	// spMetadata.sources entry) and Priority its position (0 is the highest); AlsoIn names
	// the lower-priority sources that hold the entity too (a conflict).
	Origin   string   `json:"origin,omitempty"`
	Priority int      `json:"priority"`
	AlsoIn   []string `json:"alsoIn,omitempty"`
}

func viewOf(sp *metadata.SP) spView {
	v := spView{EntityID: sp.EntityID, Source: sp.Source, DisplayNames: sp.DisplayNames,
		AuthnRequestsSigned: sp.AuthnRequestsSigned, NameIDFormats: sp.NameIDFormats,
		ACS: []string{}, SigningKeys: []string{}, EncryptionKeys: []string{}}
	for _, e := range sp.ACS {
		v.ACS = append(v.ACS, fmt.Sprintf("[%d] %s", e.Index, e.Location))
	}
	for _, c := range sp.SigningCerts {
		sum := sha256.Sum256(c.Raw)
		v.SigningKeys = append(v.SigningKeys, hex.EncodeToString(sum[:]))
	}
	for _, c := range sp.EncryptionCerts {
		sum := sha256.Sum256(c.Raw)
		v.EncryptionKeys = append(v.EncryptionKeys, hex.EncodeToString(sum[:]))
	}
	if !sp.ValidUntil.IsZero() {
		t := sp.ValidUntil.UTC()
		v.ValidUntil = &t
	}
	return v
}

// loadedSources is every configured SP metadata source as serve would consult it, loaded
// once by a tool: the directory, then spMetadata.sources by priority.
type loadedSources struct {
	multi     *metadata.Multi
	remotes   []remoteSource
	priority  map[string]int // member name -> priority
	conflicts []metadata.Conflict
	dirCount  int
	failed    map[string]string // remote source name -> why it could not be loaded
}

// loadAllSources reads the SP-metadata directory and, unless dirOnly, fetches every url
// source once (each within timeout), as serve does at start. Nothing is written and no audit
// record is made: a running serve is not disturbed. Problems are warned about on stderr.
func loadAllSources(ctx context.Context, cf commonFlags, dirOnly bool, timeout time.Duration, stderr io.Writer) (*loadedSources, error) {
	cfg, err := cf.load(nil)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg, stderr)
	ds := metadata.NewDirSource(metadata.DirOptions{Dir: cfg.SPMetadataDir(), Interval: time.Hour, Logger: log})
	if err := ds.Refresh(ctx); err != nil {
		fmt.Fprintf(stderr, "warning: some metadata files were not loaded: %v\n", err)
	}
	ls := &loadedSources{priority: map[string]int{directorySourceName: 0}, failed: map[string]string{}, dirCount: len(ds.Entities())}
	members := []metadata.MultiSource{{Name: directorySourceName, Source: ds}}
	if !dirOnly {
		discard := slog.New(slog.DiscardHandler)
		ls.remotes, err = openRemoteSources(cfg, &http.Client{Timeout: timeout}, false, log, discard)
		if err != nil {
			return nil, err
		}
		for _, rs := range ls.remotes {
			if rs.url != nil {
				fctx, cancel := context.WithTimeout(ctx, timeout)
				_ = rs.url.Refresh(fctx)
				cancel()
				if st := rs.url.Status(); st.LastError != "" {
					ls.failed[rs.cfg.Name] = st.LastError
					fmt.Fprintf(stderr, "warning: source %s not loaded: %s\n", rs.cfg.Name, st.LastError)
				}
			}
			members = append(members, metadata.MultiSource{Name: rs.cfg.Name, Source: rs.src})
			ls.priority[rs.cfg.Name] = rs.priority
		}
	}
	// The tool prints the conflicts itself; the warnings would only repeat them.
	if ls.multi, err = metadata.NewMulti(members, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	ls.conflicts = ls.multi.Reconcile(ctx)
	return ls, nil
}

// view is viewOf with the source the entity is used from.
func (ls *loadedSources) view(sp *metadata.SP) spView {
	v := viewOf(sp)
	// Remote sources label their SPs with their name, the directory with the file name.
	for _, m := range ls.multi.Members() {
		if m.Name == directorySourceName {
			if got, err := m.Source.Lookup(sp.EntityID); err == nil && got == sp {
				v.Origin = m.Name
				break
			}
		} else if sp.Source == m.Name {
			v.Origin = m.Name
			break
		}
	}
	v.Priority = ls.priority[v.Origin]
	for _, c := range ls.conflicts {
		if c.EntityID == sp.EntityID {
			v.AlsoIn = c.Shadowed
		}
	}
	return v
}

// registerSourceFlags adds the flags of the tools that read every source.
func registerSourceFlags(fs *flag.FlagSet) (dirOnly *bool, timeout *time.Duration) {
	dirOnly = fs.Bool("directory-only", false, "read only the SP-metadata directory (no network)")
	timeout = fs.Duration("timeout", 2*time.Minute, "bound on fetching each remote source")
	return dirOnly, timeout
}

// cmdMetadataList prints the SPs of every configured source, one a line (or as JSON), with
// the source each is used from, its priority, and the conflicts between sources.
func cmdMetadataList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metadata list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	dirOnly, timeout := registerSourceFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ls, err := loadAllSources(ctx, cf, *dirOnly, *timeout, stderr)
	if err != nil {
		return err
	}
	sps := ls.multi.Entities()
	if *asJSON {
		out := make([]spView, 0, len(sps))
		for _, sp := range sps {
			out = append(out, ls.view(sp))
		}
		return writeJSON(stdout, out)
	}
	if len(ls.remotes) > 0 {
		fmt.Fprintln(stdout, "Sources, highest priority first:")
		fmt.Fprintf(stdout, "  %d  %-16s %d service providers\n", 0, directorySourceName, ls.dirCount)
		for _, rs := range ls.remotes {
			state := ""
			switch {
			case rs.mdq != nil:
				state = "queried per entity: not listed (use show ENTITYID)"
			case ls.failed[rs.cfg.Name] != "":
				state = "NOT LOADED: " + ls.failed[rs.cfg.Name]
			default:
				st := rs.url.Status()
				state = fmt.Sprintf("%d service providers", st.Entities)
				if !st.EarliestValidUntil.IsZero() {
					state += ", earliest validUntil " + st.EarliestValidUntil.UTC().Format(time.RFC3339)
				}
			}
			fmt.Fprintf(stdout, "  %d  %-16s %s %s: %s\n", rs.priority, rs.cfg.Name, rs.cfg.Type, rs.cfg.URL, state)
		}
		fmt.Fprintln(stdout)
	}
	for _, sp := range sps {
		v := ls.view(sp)
		until := "no validUntil"
		if !sp.ValidUntil.IsZero() {
			until = "valid until " + sp.ValidUntil.UTC().Format(time.RFC3339)
		}
		from := v.Origin
		if v.Origin == directorySourceName {
			from = directorySourceName + " " + sp.Source
		}
		also := ""
		if len(v.AlsoIn) > 0 {
			also = "; also in " + strings.Join(v.AlsoIn, ", ")
		}
		fmt.Fprintf(stdout, "%s  (%s, priority %d; %d ACS; %s%s)\n", sp.EntityID, from, v.Priority, len(sp.ACS), until, also)
	}
	fmt.Fprintf(stdout, "%d service providers\n", len(sps))
	if len(ls.conflicts) > 0 {
		fmt.Fprintf(stdout, "%d conflicts (the higher-priority copy is used):\n", len(ls.conflicts))
		for _, c := range ls.conflicts {
			fmt.Fprintf(stdout, "  %s  used from %s, ignored in %s\n", c.EntityID, c.Winner, strings.Join(c.Shadowed, ", "))
		}
	}
	return nil
}

// cmdMetadataShow prints one SP as serve would find it among every configured source (an MDQ
// source is queried).
func cmdMetadataShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metadata show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	dirOnly, timeout := registerSourceFlags(fs)
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("usage: atea metadata show ENTITYID [--json] [--directory-only] [--timeout=D] [--config FILE] [--data DIR]")
	}
	id := fs.Arg(0)
	ls, err := loadAllSources(ctx, cf, *dirOnly, *timeout, stderr)
	if err != nil {
		return err
	}
	sp, err := ls.multi.Lookup(id)
	if err != nil {
		return err
	}
	v := ls.view(sp)
	if *asJSON {
		return writeJSON(stdout, v)
	}
	printSP(stdout, v)
	return nil
}

func printSP(w io.Writer, v spView) {
	fmt.Fprintf(w, "Entity ID        %s\n", v.EntityID)
	if v.Origin != "" && v.Origin != v.Source {
		fmt.Fprintf(w, "Source           %s %s (priority %d)\n", v.Origin, v.Source, v.Priority)
	} else {
		fmt.Fprintf(w, "Source           %s (priority %d)\n", v.Source, v.Priority)
	}
	if len(v.AlsoIn) > 0 {
		fmt.Fprintf(w, "Also in          %s (ignored: lower priority)\n", strings.Join(v.AlsoIn, ", "))
	}
	for lang, n := range v.DisplayNames {
		fmt.Fprintf(w, "Display name     %s (%s)\n", n, lang)
	}
	fmt.Fprintf(w, "Signed requests  %v\n", v.AuthnRequestsSigned)
	for _, a := range v.ACS {
		fmt.Fprintf(w, "ACS              %s\n", a)
	}
	for _, k := range v.SigningKeys {
		fmt.Fprintf(w, "Signing key      sha256 %s\n", k)
	}
	for _, k := range v.EncryptionKeys {
		fmt.Fprintf(w, "Encryption key   sha256 %s\n", k)
	}
	if v.ValidUntil != nil {
		fmt.Fprintf(w, "Valid until      %s\n", v.ValidUntil.Format(time.RFC3339))
	}
}

// cmdMetadataDiff compares two metadata documents: entities added, removed, and changed keys,
// endpoints or settings (metadata.Diff, the same comparison every refresh audits).
func cmdMetadataDiff(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metadata diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageErrorf("usage: atea metadata diff OLD.xml NEW.xml [--json]")
	}
	var sets [2][]*metadata.SP
	for i, path := range fs.Args() {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sps, entityErrs, err := metadata.Parse(raw, time.Now())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, e := range entityErrs {
			fmt.Fprintf(stderr, "warning: %s: %v\n", path, e)
		}
		sets[i] = sps
	}
	c := metadata.Diff(sets[0], sets[1])
	if *asJSON {
		return writeJSON(stdout, c)
	}
	writeChanges(stdout, "", c)
	return nil
}

// writeChanges lists c one entity a line, each line after indent: "+ ID" added, "- ID"
// removed, "~ ID: what" changed, or "no changes".
func writeChanges(w io.Writer, indent string, c metadata.Changes) {
	if c.Empty() {
		fmt.Fprintln(w, indent+"no changes")
		return
	}
	for _, id := range c.Added {
		fmt.Fprintf(w, "%s+ %s\n", indent, id)
	}
	for _, id := range c.Removed {
		fmt.Fprintf(w, "%s- %s\n", indent, id)
	}
	for _, ch := range c.Changed {
		fmt.Fprintf(w, "%s~ %s: %s\n", indent, ch.EntityID, strings.Join(ch.What, ", "))
	}
}

// parseInterspersed parses args with fs allowing flags after positional arguments, so
// "diff a b --json" and "show ID --config FILE" parse: flags are moved first, each with its
// value when it takes one ("--config FILE"); "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // Parse reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return fs.Parse(append(append(flags, "--"), rest...))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}
