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
	const help = "usage: atea metadata export|list|show ENTITYID|diff OLD NEW [--json] [--config FILE] [--data DIR]"
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return cmdMetadataList(ctx, args[1:], stdout, stderr)
		case "show":
			return cmdMetadataShow(ctx, args[1:], stdout, stderr)
		case "diff":
			return cmdMetadataDiff(ctx, args[1:], stdout, stderr)
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
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	md, err := idpMetadata(cfg)
	if err != nil {
		return err
	}
	_, err = stdout.Write(md)
	return err
}

// idpMetadata builds the same document `atea serve` publishes at /saml/metadata. It creates the
// signing key on first use, exactly as serve would, so the exported document stays valid.
func idpMetadata(cfg *config.Config) ([]byte, error) {
	sk, _, err := keys.LoadOrCreate(cfg.KeyFile(), cfg.CertFile(), cfg.Keys.Algorithm, "Atea IdP", time.Now())
	if err != nil {
		return nil, err
	}
	icfg, err := idpConfig(cfg)
	if err != nil {
		return nil, err
	}
	return idp.BuildMetadata(icfg, sk.Cert)
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
