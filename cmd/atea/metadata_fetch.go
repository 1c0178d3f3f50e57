package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/metadata"
)

// fetchReport is the outcome of `atea metadata fetch`, and its --json form.
type fetchReport struct {
	Source             string            `json:"source"`
	Type               string            `json:"type"`
	URL                string            `json:"url"`
	Priority           int               `json:"priority"`
	HTTPStatus         int               `json:"httpStatus,omitempty"`
	ETag               string            `json:"etag,omitempty"`
	LastModified       string            `json:"lastModified,omitempty"`
	OK                 bool              `json:"ok"`
	Error              string            `json:"error,omitempty"`
	Expired            bool              `json:"expired"`
	Entities           int               `json:"entities"`
	EarliestValidUntil *time.Time        `json:"earliestValidUntil,omitempty"`
	EntityProblems     []string          `json:"entityProblems"`
	Against            string            `json:"against,omitempty"`
	Changes            *metadata.Changes `json:"changes,omitempty"`
	Entity             *spView           `json:"entity,omitempty"`
	Saved              string            `json:"saved,omitempty"`
}

// recordingTransport remembers the last response's status and validators, and keeps a copy
// of its body when keep is set (for --save).
type recordingTransport struct {
	base http.RoundTripper
	keep bool

	mu           sync.Mutex
	status       int
	etag, lastMo string
	body         bytes.Buffer
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.etag, r.lastMo = resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	r.body.Reset()
	if r.keep && resp.StatusCode == http.StatusOK {
		// The source bounds how much it reads, so the copy is bounded too.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(resp.Body, &r.body), resp.Body}
	}
	return resp, nil
}

// cmdMetadataFetch fetches one configured remote source once, verified exactly as serve
// verifies it, and reports what serve would do with it. It writes nothing (except --save) and
// records no audit event: a running serve is not disturbed.
func cmdMetadataFetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: atea metadata fetch SOURCE [ENTITYID] [--json] [--against=FILE] [--save=FILE] [--timeout=D] [--config FILE] [--data DIR]"
	fs := flag.NewFlagSet("metadata fetch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	against := fs.String("against", "", "an earlier copy of the document (e.g. from --save) to diff against")
	save := fs.String("save", "", "write the fetched document here when it verifies (for a later --against)")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on the fetch")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return usageErrorf("%s", use)
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	idx, names := -1, []string{}
	for i, s := range cfg.SPMetadata.Sources {
		names = append(names, s.Name)
		if s.Name == name {
			idx = i
		}
	}
	if idx < 0 {
		return fmt.Errorf("no spMetadata.sources entry named %q (configured: %s)", name, strings.Join(names, ", "))
	}
	rec := &recordingTransport{base: http.DefaultTransport, keep: *save != ""}
	log := newLogger(cfg, stderr) // the source's own warnings and errors, loud as in serve
	rs, err := openRemoteSource(idx, cfg.SPMetadata.Sources[idx], &http.Client{Timeout: *timeout, Transport: rec}, "", log, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	rep := fetchReport{Source: name, Type: rs.cfg.Type, URL: rs.cfg.URL, Priority: rs.priority, EntityProblems: []string{}}
	fctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	if rs.mdq != nil {
		if fs.NArg() != 2 {
			return usageErrorf("source %s is an MDQ service, which answers per entity: atea metadata fetch %s ENTITYID", name, name)
		}
		sp, err := rs.mdq.LookupContext(fctx, fs.Arg(1))
		rep.HTTPStatus, rep.ETag, rep.LastModified = rec.status, rec.etag, rec.lastMo
		st := rs.mdq.Status()
		rep.Expired = st.Expired
		if err != nil {
			rep.Error = err.Error()
		} else {
			rep.OK, rep.Entities = true, 1
			v := viewOf(sp)
			v.Origin, v.Priority = name, rs.priority
			rep.Entity = &v
		}
		return finishFetch(stdout, rep, *asJSON)
	}
	if fs.NArg() != 1 {
		return usageErrorf("%s", use)
	}
	// The diff is against --against, else against the copy serve saved (read, never written
	// here), else against nothing.
	var before []*metadata.SP
	base := *against
	if base == "" {
		if _, err := os.Stat(cfg.MetadataCacheFile(idx)); err == nil {
			base = cfg.MetadataCacheFile(idx)
		}
	}
	if base != "" {
		if before, err = baseline(base, rs.cfg, time.Now()); err != nil {
			return err
		}
		rep.Against = base
	}
	problems := rs.url.Refresh(fctx)
	st := rs.url.Status()
	rep.HTTPStatus, rep.ETag, rep.LastModified = rec.status, rec.etag, rec.lastMo
	rep.Expired, rep.Entities = st.Expired, st.Entities
	if !st.EarliestValidUntil.IsZero() {
		t := st.EarliestValidUntil.UTC()
		rep.EarliestValidUntil = &t
	}
	if st.LastError != "" {
		rep.Error = st.LastError
		return finishFetch(stdout, rep, *asJSON)
	}
	rep.OK = true
	for _, p := range unjoin(problems) {
		rep.EntityProblems = append(rep.EntityProblems, p.Error())
	}
	c := metadata.Diff(before, rs.url.Entities())
	rep.Changes = &c
	if *save != "" {
		rec.mu.Lock()
		raw := append([]byte(nil), rec.body.Bytes()...)
		rec.mu.Unlock()
		if err := writeIfChanged(*save, raw); err != nil {
			return fmt.Errorf("--save: %w", err)
		}
		rep.Saved = *save
	}
	return finishFetch(stdout, rep, *asJSON)
}

// baseline reads an earlier copy of a source's document, verified with the source's trust
// anchors. A copy that has expired since is read as it was just before its validUntil: the
// diff is then against what the source served last.
func baseline(path string, s config.MetadataSource, now time.Time) ([]*metadata.SP, error) {
	anchors, err := loadCertificates(s.TrustAnchorsFile)
	if err != nil {
		return nil, err
	}
	maxBytes := s.MaxBytes
	if maxBytes <= 0 {
		maxBytes = metadata.DefaultRemoteMaxBytes
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--against: %w", err)
	}
	defer f.Close()
	raw, err := readCappedBody(f, maxBytes, path)
	if err != nil {
		return nil, fmt.Errorf("--against: %w", err)
	}
	vd, err := metadata.VerifyDocument(raw, anchors, maxBytes, now)
	if errors.Is(err, metadata.ErrDocumentExpired) && !vd.ValidUntil.IsZero() {
		vd, err = metadata.VerifyDocument(raw, anchors, maxBytes, vd.ValidUntil.Add(-time.Second))
	}
	if err != nil {
		return nil, fmt.Errorf("--against %s: %w", path, err)
	}
	return vd.SPs, nil
}

// unjoin splits an errors.Join result into its errors.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok { //nolint:errorlint // splitting a Join, not matching
		return j.Unwrap()
	}
	return []error{err}
}

func finishFetch(w io.Writer, rep fetchReport, asJSON bool) error {
	if asJSON {
		if err := writeJSON(w, rep); err != nil {
			return err
		}
	} else {
		printFetch(w, rep)
	}
	if !rep.OK {
		return fmt.Errorf("metadata fetch %s: %s", rep.Source, rep.Error)
	}
	return nil
}

func printFetch(w io.Writer, rep fetchReport) {
	fmt.Fprintf(w, "Source          %s (%s %s, priority %d)\n", rep.Source, rep.Type, rep.URL, rep.Priority)
	switch rep.HTTPStatus {
	case 0:
		fmt.Fprintln(w, "HTTP            no response")
	case http.StatusNotModified:
		fmt.Fprintln(w, "HTTP            304 Not Modified")
	default:
		line := fmt.Sprintf("%d %s", rep.HTTPStatus, http.StatusText(rep.HTTPStatus))
		if rep.ETag != "" {
			line += ", ETag " + rep.ETag
		}
		if rep.LastModified != "" {
			line += ", Last-Modified " + rep.LastModified
		}
		fmt.Fprintf(w, "HTTP            %s\n", line)
	}
	if !rep.OK {
		if rep.Expired {
			fmt.Fprintf(w, "FAILED: EXPIRED DOCUMENT, not used: %s\n", rep.Error)
		} else {
			fmt.Fprintf(w, "FAILED: not used: %s\n", rep.Error)
		}
		return
	}
	if rep.Entity != nil {
		printSP(w, *rep.Entity)
		fmt.Fprintln(w, "OK: verified; serve would use this entity")
		return
	}
	fmt.Fprintf(w, "Entities        %d service providers usable, %d with problems\n", rep.Entities, len(rep.EntityProblems))
	if rep.EarliestValidUntil != nil {
		fmt.Fprintf(w, "Valid until     %s (earliest)\n", rep.EarliestValidUntil.Format(time.RFC3339))
	}
	for _, p := range rep.EntityProblems {
		fmt.Fprintf(w, "  problem       %s\n", p)
	}
	if rep.Against != "" {
		fmt.Fprintf(w, "Changes against %s:\n", rep.Against)
	} else {
		fmt.Fprintln(w, "Changes against nothing (no saved copy and no --against: every entity is new):")
	}
	writeChanges(w, "  ", *rep.Changes)
	if rep.Saved != "" {
		fmt.Fprintf(w, "Saved           %s\n", rep.Saved)
	}
	fmt.Fprintln(w, "OK: verified; serve would use this document")
}
