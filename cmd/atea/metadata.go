package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/keys"
)

func cmdMetadata(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const help = "usage: atea metadata export [--sign]|list|show ENTITYID|diff OLD NEW|verify FILE|URL --cert CERT|fetch SOURCE [ENTITYID] [--json] [--config FILE] [--data DIR]"
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return cmdMetadataList(ctx, args[1:], stdout, stderr)
		case "show":
			return cmdMetadataShow(ctx, args[1:], stdout, stderr)
		case "diff":
			return cmdMetadataDiff(ctx, args[1:], stdout, stderr)
		case "verify":
			return cmdMetadataVerify(ctx, args[1:], stdout, stderr)
		case "fetch":
			return cmdMetadataFetch(ctx, args[1:], stdout, stderr)
		}
	}
	if len(args) == 0 || args[0] != "export" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, help)
			return nil
		}
		return usageErrorf("%s", help)
	}
	fs := flag.NewFlagSet("metadata export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	sign := fs.Bool("sign", false, "sign the document (with ID and validUntil) as GET /saml/metadata serves it")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("metadata export: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	md, err := idpMetadata(cfg, *sign, time.Now())
	if err != nil {
		return err
	}
	_, err = stdout.Write(md)
	return err
}

// idpMetadata builds the document `atea serve` publishes at /saml/metadata from the same key
// ring (created on first use, exactly as serve would, so the exported document stays valid).
// Unsigned by default — without ID and validUntil, for handing to an SP out of band —, or
// signed by the current key with validUntil = now + metadata.validity.
func idpMetadata(cfg *config.Config, sign bool, now time.Time) ([]byte, error) {
	ring, err := keys.OpenRing(ringOptions(cfg))
	if err != nil {
		return nil, err
	}
	icfg, err := idpConfig(cfg)
	if err != nil {
		return nil, err
	}
	icfg.Metadata = metadataConfig(cfg)
	in := metadataInputs(cfg, ring, now)
	if !sign {
		return idp.BuildMetadata(icfg, in, now)
	}
	signer, err := ringSigner(cfg, ring.Current, nil)
	if err != nil {
		return nil, err
	}
	return idp.BuildSignedMetadata(icfg, in, signer, now)
}

func cmdCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	if _, err := idpConfig(cfg); err != nil {
		return err
	}
	src := cf.config
	if src == "" {
		src = "built-in defaults"
	}
	fmt.Fprintf(stdout, "configuration OK (%s)\n", src)
	return nil
}
