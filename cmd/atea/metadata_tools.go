package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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

// loadDirSPs reads the SP-metadata directory of the configuration, as serve does.
func loadDirSPs(ctx context.Context, cf commonFlags, stderr io.Writer) ([]*metadata.SP, error) {
	cfg, err := cf.load(nil)
	if err != nil {
		return nil, err
	}
	ds := metadata.NewDirSource(metadata.DirOptions{Dir: cfg.SPMetadataDir(), Interval: time.Hour, Logger: newLogger(cfg, stderr)})
	if err := ds.Refresh(ctx); err != nil {
		fmt.Fprintf(stderr, "warning: some metadata files were not loaded: %v\n", err)
	}
	return ds.Entities(), nil
}

// cmdMetadataList prints the SPs of the SP-metadata directory, one a line (or as JSON).
func cmdMetadataList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metadata list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sps, err := loadDirSPs(ctx, cf, stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]spView, 0, len(sps))
		for _, sp := range sps {
			out = append(out, viewOf(sp))
		}
		return writeJSON(stdout, out)
	}
	for _, sp := range sps {
		until := "no validUntil"
		if !sp.ValidUntil.IsZero() {
			until = "valid until " + sp.ValidUntil.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%s  (%s; %d ACS; %s)\n", sp.EntityID, sp.Source, len(sp.ACS), until)
	}
	fmt.Fprintf(stdout, "%d service providers\n", len(sps))
	return nil
}

// cmdMetadataShow prints one SP of the SP-metadata directory.
func cmdMetadataShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metadata show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(reorderFlags(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("usage: atea metadata show ENTITYID [--json] [--config FILE] [--data DIR]")
	}
	id := fs.Arg(0)
	sps, err := loadDirSPs(ctx, cf, stderr)
	if err != nil {
		return err
	}
	for _, sp := range sps {
		if sp.EntityID != id {
			continue
		}
		v := viewOf(sp)
		if *asJSON {
			return writeJSON(stdout, v)
		}
		fmt.Fprintf(stdout, "Entity ID        %s\nSource           %s\n", v.EntityID, v.Source)
		for lang, n := range v.DisplayNames {
			fmt.Fprintf(stdout, "Display name     %s (%s)\n", n, lang)
		}
		fmt.Fprintf(stdout, "Signed requests  %v\n", v.AuthnRequestsSigned)
		for _, a := range v.ACS {
			fmt.Fprintf(stdout, "ACS              %s\n", a)
		}
		for _, k := range v.SigningKeys {
			fmt.Fprintf(stdout, "Signing key      sha256 %s\n", k)
		}
		for _, k := range v.EncryptionKeys {
			fmt.Fprintf(stdout, "Encryption key   sha256 %s\n", k)
		}
		if v.ValidUntil != nil {
			fmt.Fprintf(stdout, "Valid until      %s\n", v.ValidUntil.Format(time.RFC3339))
		}
		return nil
	}
	return fmt.Errorf("%w: %s", metadata.ErrUnknownEntity, id)
}

// cmdMetadataDiff compares two metadata documents: entities added, removed, and changed keys,
// endpoints or settings (metadata.Diff, the same comparison every refresh audits).
func cmdMetadataDiff(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metadata diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(reorderFlags(args)); err != nil {
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
	if c.Empty() {
		fmt.Fprintln(stdout, "no changes")
		return nil
	}
	for _, id := range c.Added {
		fmt.Fprintf(stdout, "+ %s\n", id)
	}
	for _, id := range c.Removed {
		fmt.Fprintf(stdout, "- %s\n", id)
	}
	for _, ch := range c.Changed {
		fmt.Fprintf(stdout, "~ %s: %s\n", ch.EntityID, strings.Join(ch.What, ", "))
	}
	return nil
}

// reorderFlags moves flags before positional arguments, so "diff a b --json" parses. A flag
// with a value must be written --flag=value after a positional argument.
func reorderFlags(args []string) []string {
	var flags, rest []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
		} else {
			rest = append(rest, a)
		}
	}
	return append(flags, rest...)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}
