package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ateaidp/atea/metadata"
)

// certFlags collects repeated --cert FILE flags (each file may hold several certificates).
type certFlags []string

func (c *certFlags) String() string     { return strings.Join(*c, ",") }
func (c *certFlags) Set(v string) error { *c = append(*c, v); return nil }

// verifyReport is the outcome of `atea metadata verify`, and its --json form.
type verifyReport struct {
	OK             bool          `json:"ok"`
	Document       string        `json:"document"`
	Bytes          int           `json:"bytes"`
	SignedBy       *certView     `json:"signedBy,omitempty"`
	ValidUntil     *time.Time    `json:"validUntil,omitempty"`
	Expired        bool          `json:"expired"`
	CacheDuration  string        `json:"cacheDuration,omitempty"`
	ServiceProvs   int           `json:"serviceProviders"`
	NotSPs         int           `json:"notServiceProviders"`
	EntityProblems []problemView `json:"entityProblems"`
	Entities       []string      `json:"entities"`
	Error          string        `json:"error,omitempty"`
	Warnings       []string      `json:"warnings,omitempty"`
	tried          []*x509.Certificate
}

type certView struct {
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"`
}

type problemView struct {
	EntityID string `json:"entityID,omitempty"`
	Problem  string `json:"problem"`
}

func viewCert(c *x509.Certificate) *certView {
	sum := sha256.Sum256(c.Raw)
	return &certView{Subject: c.Subject.String(), SHA256: hex.EncodeToString(sum[:])}
}

// cmdMetadataVerify checks a metadata document as a remote source would before using it:
// the XML gate, the enveloped signature against the given certificates, validUntil, then
// every entity. It exits non-zero when the document would not be used.
func cmdMetadataVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: atea metadata verify FILE|URL --cert CERT.pem [--cert CERT2.pem] [--json] [--max-bytes N] [--timeout D] [--require-valid-until] [--strict]"
	fs := flag.NewFlagSet("metadata verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var certFiles certFlags
	fs.Var(&certFiles, "cert", "PEM file of a trust anchor (the publisher's signing certificate); repeat for a rollover")
	asJSON := fs.Bool("json", false, "print JSON")
	maxBytes := fs.Int64("max-bytes", metadata.DefaultRemoteMaxBytes, "refuse a document larger than this")
	timeout := fs.Duration("timeout", time.Minute, "bound on fetching a URL")
	requireVU := fs.Bool("require-valid-until", false, "fail when the document has no validUntil (as requireValidUntil does)")
	strict := fs.Bool("strict", false, "fail when any entity has a problem")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || len(certFiles) == 0 {
		return usageErrorf("%s", use)
	}
	var anchors []*x509.Certificate
	for _, f := range certFiles {
		cs, err := loadCertificates(f)
		if err != nil {
			return fmt.Errorf("--cert %s: %w", f, err)
		}
		anchors = append(anchors, cs...)
	}
	target := fs.Arg(0)
	raw, err := readDocument(ctx, target, *maxBytes, *timeout)
	if err != nil {
		return err
	}
	rep := verifyDocument(raw, anchors, *maxBytes, time.Now(), *requireVU, *strict)
	rep.Document = target
	if *asJSON {
		if err := writeJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		printVerify(stdout, rep)
	}
	if !rep.OK {
		return fmt.Errorf("metadata verify: %s: %s", target, rep.Error)
	}
	return nil
}

// readDocument reads a file, or GETs an http(s) URL, within maxBytes and timeout.
func readDocument(ctx context.Context, target string, maxBytes int64, timeout time.Duration) ([]byte, error) {
	if !strings.HasPrefix(target, "https://") && !strings.HasPrefix(target, "http://") {
		f, err := os.Open(target)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readCappedBody(f, maxBytes, target)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8")
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", metadata.ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: status %d", metadata.ErrFetch, target, resp.StatusCode)
	}
	if resp.ContentLength > maxBytes {
		return nil, fmt.Errorf("%w: %s announces %d bytes, more than %d", metadata.ErrTooLarge, target, resp.ContentLength, maxBytes)
	}
	return readCappedBody(resp.Body, maxBytes, target)
}

func readCappedBody(r io.Reader, maxBytes int64, name string) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(raw)) > maxBytes {
		return nil, fmt.Errorf("%w: %s is more than %d bytes", metadata.ErrTooLarge, name, maxBytes)
	}
	return raw, nil
}

// verifyDocument runs metadata.VerifyDocument with each anchor in turn, so the report can
// say which certificate made the signature.
func verifyDocument(raw []byte, anchors []*x509.Certificate, maxBytes int64, now time.Time, requireVU, strict bool) verifyReport {
	rep := verifyReport{Bytes: len(raw), EntityProblems: []problemView{}, Entities: []string{}, tried: anchors}
	var vd metadata.VerifiedDocument
	var err, firstErr error
	for _, a := range anchors {
		vd, err = metadata.VerifyDocument(raw, []*x509.Certificate{a}, maxBytes, now)
		if err == nil || !errors.Is(err, metadata.ErrUntrusted) {
			// Either verified, or refused for a reason that does not depend on the key
			// (gate, size, not metadata), or verified and then found expired.
			if err == nil || errors.Is(err, metadata.ErrDocumentExpired) {
				rep.SignedBy = viewCert(a)
			}
			break
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if errors.Is(err, metadata.ErrUntrusted) {
		err = fmt.Errorf("signature not made by any of the %d given certificates: %w", len(anchors), firstErr)
	}
	if !vd.ValidUntil.IsZero() {
		t := vd.ValidUntil.UTC()
		rep.ValidUntil = &t
	}
	if err != nil {
		rep.Expired = errors.Is(err, metadata.ErrDocumentExpired)
		rep.Error = err.Error()
		return rep
	}
	if vd.CacheDuration > 0 {
		rep.CacheDuration = vd.CacheDuration.String()
	}
	rep.ServiceProvs, rep.NotSPs = len(vd.SPs), vd.NotSPs
	for _, sp := range vd.SPs {
		rep.Entities = append(rep.Entities, sp.EntityID)
	}
	for _, p := range vd.Problems {
		pv := problemView{Problem: p.Error()}
		var ee *metadata.EntityError
		if errors.As(p, &ee) {
			pv.EntityID = ee.EntityID
		}
		rep.EntityProblems = append(rep.EntityProblems, pv)
	}
	rep.OK = true
	if vd.ValidUntil.IsZero() {
		msg := "the document has no validUntil: a captured copy could be replayed forever"
		if requireVU {
			rep.OK, rep.Error = false, msg
		} else {
			rep.Warnings = append(rep.Warnings, msg)
		}
	}
	if strict && len(rep.EntityProblems) > 0 && rep.OK {
		rep.OK, rep.Error = false, fmt.Sprintf("%d entities have problems (--strict)", len(rep.EntityProblems))
	}
	return rep
}

func printVerify(w io.Writer, rep verifyReport) {
	fmt.Fprintf(w, "Document        %s (%d bytes)\n", rep.Document, rep.Bytes)
	switch {
	case rep.SignedBy != nil:
		fmt.Fprintf(w, "Signature       OK, made by %s\n                sha256 %s\n", rep.SignedBy.Subject, rep.SignedBy.SHA256)
	case rep.Error != "":
		fmt.Fprintf(w, "Signature       NOT VERIFIED\n")
		for _, c := range rep.tried {
			fmt.Fprintf(w, "                tried %s (sha256 %s)\n", c.Subject, viewCert(c).SHA256)
		}
	}
	switch {
	case rep.ValidUntil != nil && rep.Expired:
		fmt.Fprintf(w, "Valid until     %s  EXPIRED: a source refuses this document\n", rep.ValidUntil.Format(time.RFC3339))
	case rep.ValidUntil != nil:
		fmt.Fprintf(w, "Valid until     %s (in %s)\n", rep.ValidUntil.Format(time.RFC3339), time.Until(*rep.ValidUntil).Round(time.Minute))
	case rep.SignedBy != nil:
		fmt.Fprintf(w, "Valid until     none\n")
	}
	if rep.CacheDuration != "" {
		fmt.Fprintf(w, "Cache duration  %s\n", rep.CacheDuration)
	}
	if rep.SignedBy != nil && !rep.Expired {
		fmt.Fprintf(w, "Entities        %d service providers usable, %d with problems, %d not service providers (ignored)\n",
			rep.ServiceProvs, len(rep.EntityProblems), rep.NotSPs)
	}
	for _, p := range rep.EntityProblems {
		fmt.Fprintf(w, "  problem       %s\n", p.Problem)
	}
	for _, m := range rep.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", m)
	}
	if rep.OK {
		fmt.Fprintln(w, "OK: a source with these trust anchors would use this document")
	} else {
		fmt.Fprintf(w, "FAILED: %s\n", rep.Error)
	}
}
