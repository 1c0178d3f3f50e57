package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/samlxml"
)

const keysHelp = `usage: atea keys generate [--force] | rollover [--force] | status [--json]   (all take --config and --data)

  generate   create the next signing key; metadata publishes it next to the current one
             (--force replaces an existing next key)
  rollover   make the next key current; the old one stays published for keys.gracePeriod
             (--force even while an earlier previous key is still in its grace period)
  status     each key's role, algorithm, SHA-256 fingerprint, expiry and retirement

A running 'atea serve' picks the change up without a restart: it polls the ring every
spMetadata.pollInterval (and re-reads it on SIGHUP), then publishes the next key or signs
with the new current one, and logs "key ring reloaded without a restart".`

// cmdKeys runs `atea keys`: the key ring in <dataDir>/keys (idp/keys.Ring). The commands work
// on the files directly, with or without a running server; the ring's lock serialises them.
func cmdKeys(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErrorf("%s", keysHelp)
	}
	sub := args[0]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, keysHelp)
		return nil
	case "generate", "rollover", "status":
	default:
		return usageErrorf("keys: unknown command %q\n%s", sub, keysHelp)
	}
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	force, asJSON := new(bool), new(bool)
	switch sub {
	case "generate":
		fs.BoolVar(force, "force", false, "replace an existing next key")
	case "rollover":
		fs.BoolVar(force, "force", false, "roll over although the previous key is still in its grace period")
	case "status":
		fs.BoolVar(asJSON, "json", false, "print JSON")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("keys %s: unexpected argument %q", sub, fs.Arg(0))
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	opts := ringOptions(cfg)
	now := time.Now()
	switch sub {
	case "generate":
		r, err := keys.GenerateNext(opts, *force)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "next signing key %s (%s) generated; every running 'atea serve' publishes it within spMetadata.pollInterval.\n",
			r.Next.Fingerprint(), r.Next.Algorithm())
		fmt.Fprintf(stdout, "Roll over ('atea keys rollover') when SPs have refreshed Atea's metadata (cacheDuration %s, validity %s).\n",
			cfg.IdPMetadata.CacheDuration, cfg.IdPMetadata.Validity)
		return nil
	case "rollover":
		r, err := keys.Rollover(opts, cfg.Keys.GracePeriod, *force)
		if errors.Is(err, keys.ErrNoNextKey) {
			return fmt.Errorf("%w: run 'atea keys generate' first, and let SPs refresh Atea's metadata", err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "current signing key is now %s; previous %s stays published until %s.\n",
			r.Current.Fingerprint(), r.Previous.Fingerprint(), r.Previous.RetireAfter.UTC().Format(time.RFC3339))
		fmt.Fprintln(stdout, "Every running 'atea serve' signs with it within spMetadata.pollInterval (or at once on SIGHUP).")
		return nil
	}
	r, err := keys.OpenRing(opts)
	if err != nil {
		return err
	}
	return printKeyStatus(stdout, r, now, *asJSON)
}

// keyStatus is one line of `atea keys status`.
type keyStatus struct {
	Role        keys.Role  `json:"role"`
	Algorithm   string     `json:"algorithm"`
	SHA256      string     `json:"sha256"`
	NotAfter    time.Time  `json:"notAfter"`
	KeyFile     string     `json:"keyFile"`
	CertFile    string     `json:"certFile"`
	Published   bool       `json:"published"`
	RetireAfter *time.Time `json:"retireAfter,omitempty"`
}

func printKeyStatus(w io.Writer, r *keys.Ring, now time.Time, asJSON bool) error {
	var rows []keyStatus
	for _, k := range r.Keys() {
		row := keyStatus{Role: k.Role, Algorithm: k.Algorithm(), SHA256: k.Fingerprint(), NotAfter: k.Cert.NotAfter.UTC(),
			KeyFile: k.KeyFile, CertFile: k.CertFile, Published: true}
		if k.Role == keys.RolePrevious {
			t := k.RetireAfter.UTC()
			row.RetireAfter, row.Published = &t, r.PreviousPublished(now)
		}
		rows = append(rows, row)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"keys": rows})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tALGORITHM\tSHA-256 FINGERPRINT\tNOT AFTER\tNOTE")
	for _, row := range rows {
		note := ""
		switch {
		case row.Role == keys.RoleCurrent:
			note = "signs"
		case row.Role == keys.RoleNext:
			note = "published, not signing yet"
		case row.RetireAfter != nil && row.Published:
			note = "published until " + row.RetireAfter.Format(time.RFC3339)
		case row.RetireAfter != nil:
			note = "retired " + row.RetireAfter.Format(time.RFC3339)
		case row.Role == keys.RoleEncryption:
			note = "published for encryption"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", row.Role, row.Algorithm, row.SHA256, row.NotAfter.Format("2006-01-02"), note)
	}
	return tw.Flush()
}

// ringOptions is where `atea serve` and `atea keys` find the key ring.
func ringOptions(cfg *config.Config) keys.RingOptions {
	return keys.RingOptions{Dir: cfg.KeyRingDir(), LegacyKeyFile: cfg.KeyFile(), LegacyCertFile: cfg.CertFile(),
		Algorithm: cfg.Keys.Algorithm, CommonName: "Atea IdP"}
}

// ringSigner returns the response and metadata signer for the ring's current key. The
// default rsa-sha256 becomes ecdsa-sha256 for an ECDSA key, so a rollover to an ECDSA key
// needs no configuration change. With acct, its signatures are counted (serve's metrics).
func ringSigner(cfg *config.Config, k *keys.Key, acct *keys.SignCPU) (*samlxml.Signer, error) {
	sigAlg, err := samlxml.AlgorithmByName(cfg.SAML.SignatureAlgorithm)
	if err != nil {
		return nil, err
	}
	if k.Cert.PublicKeyAlgorithm == x509.ECDSA && cfg.SAML.SignatureAlgorithm == config.Default().SAML.SignatureAlgorithm {
		sigAlg = samlxml.AlgECDSASHA256
	}
	key := k.Signer
	if acct != nil {
		key = acct.Wrap(key)
	}
	return samlxml.NewSigner(key, k.Cert, sigAlg)
}

// metadataConfig maps the metadata and eidas settings onto the IdP's.
func metadataConfig(cfg *config.Config) idp.MetadataConfig {
	m := cfg.IdPMetadata
	names := map[string]string{}
	for lang, n := range map[string]string{"es": m.DisplayName.ES, "eu": m.DisplayName.EU, "en": m.DisplayName.EN} {
		if n != "" {
			names[lang] = n
		}
	}
	mc := idp.MetadataConfig{Validity: m.Validity, CacheDuration: m.CacheDuration, OrganizationName: m.OrganizationName,
		OrganizationURL: m.OrganizationURL, ContactEmail: m.ContactEmail, DisplayNames: names}
	if len(names) == 0 {
		mc.DisplayNames = nil
	}
	if cfg.EIDAS.Enabled {
		mc.EIDASNodeCountry = cfg.EIDAS.NodeCountry
	}
	return mc
}

// metadataInputs is what `atea metadata export` publishes: the ring's keys and the levels the
// configuration makes reachable (as serve derives them from the factors and certificate
// sign-in it builds).
func metadataInputs(cfg *config.Config, r *keys.Ring, now time.Time) idp.MetadataInputs {
	ks := idp.RingKeySet(r, nil)
	in := idp.MetadataInputs{SigningCerts: ks.SigningCerts, Previous: ks.PreviousCert, PreviousRetireAfter: ks.PreviousRetireAfter,
		EncryptionCerts: ks.EncryptionCerts, Levels: []authn.Level{authn.LevelLow}}
	if f := cfg.Factors; len(f.Order) > 0 && (f.CoordCard.Enabled || f.SMS.Enabled) {
		in.Levels = append(in.Levels, authn.LevelSubstantial)
	}
	if cfg.Certificate.Enabled {
		in.Levels = append(in.Levels, authn.LevelHigh)
	}
	return in
}
