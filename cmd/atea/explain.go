package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store/memstore"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/templates"
)

const explainHelp = `usage: atea explain [--config FILE] [--data DIR] [--json] (FILE | - | URL-or-value)

Explains what Atea would do with one AuthnRequest: which SP sent it, whether its signature
verifies, which ACS and NameID format would be used, which level it asks for (each class with
the level it maps to and where that mapping comes from), which levels an assertion may state,
which sign-in methods reach them, and the verdict: a sign-in is offered, or the SAML status the
SP would get (e.g. Responder/NoAuthnContext), or Atea's error page, and why.

The request is read from FILE, from standard input (-), or from the argument itself: the
AuthnRequest XML, the HTTP-POST SAMLRequest value (base64), an HTTP-POST form body, a whole
HTTP-Redirect URL, its query string (SAMLRequest=...&RelayState=...&SigAlg=...&Signature=...),
or the URL-encoded Redirect SAMLRequest value alone.

It uses the configuration and the SP metadata directory as 'atea serve' would, read once. It
does not listen, does not open the user directory or the session store, and never consumes the
request: the same request can still be used to sign in afterwards.

Flags:
`

// maxExplainFile bounds what explain reads from a file or stdin: an AuthnRequest is a few KiB.
const maxExplainFile = 1 << 20

func cmdExplain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), explainHelp)
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil
		}
		if a == "--" {
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("explain: want one request (FILE, - or the request itself); see atea explain --help")
	}
	input, err := readExplainInput(fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	srv, err := explainServer(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	ex, err := srv.Explain(ctx, input)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ex)
	}
	return printExplanation(stdout, ex)
}

// readExplainInput returns the request text: stdin for "-", a URL or query as given, the
// contents of an existing file, else the argument itself.
func readExplainInput(arg string, stdin io.Reader) (string, error) {
	if arg == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, maxExplainFile+1))
		if err != nil {
			return "", fmt.Errorf("explain: read stdin: %w", err)
		}
		if len(b) > maxExplainFile {
			return "", fmt.Errorf("explain: stdin holds more than %d bytes", maxExplainFile)
		}
		return string(b), nil
	}
	t := strings.TrimSpace(arg)
	if strings.HasPrefix(t, "<") || strings.Contains(t, "://") || strings.Contains(t, "SAMLRequest=") || strings.HasPrefix(t, "?") {
		return arg, nil
	}
	st, err := os.Stat(arg)
	switch {
	case err == nil && st.Mode().IsRegular():
		if st.Size() > maxExplainFile {
			return "", fmt.Errorf("explain: %s holds more than %d bytes", arg, maxExplainFile)
		}
		b, err := os.ReadFile(arg)
		if err != nil {
			return "", fmt.Errorf("explain: %w", err)
		}
		return string(b), nil
	case err == nil:
		return "", fmt.Errorf("explain: %s is not a regular file", arg)
	case strings.ContainsAny(t, "/.") && !looksLikeValue(t):
		// A path that does not exist, rather than a request value.
		return "", fmt.Errorf("explain: %w", err)
	}
	return arg, nil
}

// looksLikeValue reports whether s could be a (URL-encoded) base64 SAMLRequest value rather
// than a file name: long, and only of those alphabets.
func looksLikeValue(s string) bool {
	if len(s) < 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '+', c == '/', c == '=', c == '%', c == '\r', c == '\n':
		default:
			return false
		}
	}
	return true
}

// explainServer builds the IdP as serve does (configuration, SP metadata read once, second
// factors, certificate sign-in) without what Explain never touches: the directory stays
// closed (so explain works while serve holds it), the session store is a private memory
// store, and the signing key and secrets are throwaway ones, since nothing is signed or
// stored and the installation's private key need not be readable.
func explainServer(ctx context.Context, cfg *config.Config, stderr io.Writer) (*idp.Server, error) {
	// Only problems: the report is the output, the metadata loader's progress is noise.
	quiet := *cfg
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.Log.Level)); err != nil || lvl < slog.LevelWarn {
		quiet.Log.Level = "warn"
	}
	logger := newLogger(&quiet, stderr)
	sps := metadata.NewDirSource(metadata.DirOptions{Dir: cfg.SPMetadataDir(), Interval: cfg.SPMetadata.PollInterval, Logger: logger})
	if err := sps.Refresh(ctx); err != nil {
		fmt.Fprintf(stderr, "atea: warning: sp metadata %s: %v\n", cfg.SPMetadataDir(), err)
	}
	tmpl, err := templates.Load(templates.FS())
	if err != nil {
		return nil, err
	}
	icfg, err := idpConfig(cfg)
	if err != nil {
		return nil, err
	}
	factors, err := explainFactors(cfg)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("explain: key: %w", err)
	}
	cert, err := keys.SelfSigned(key, "atea explain (throwaway)", time.Now())
	if err != nil {
		return nil, fmt.Errorf("explain: key: %w", err)
	}
	signer, err := samlxml.NewSigner(key, cert, samlxml.AlgECDSASHA256)
	if err != nil {
		return nil, fmt.Errorf("explain: key: %w", err)
	}
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		return nil, fmt.Errorf("explain: secrets: %w", err)
	}
	deps := idp.Deps{
		Store: memstore.New(time.Now), Directory: closedDirectory{}, SPs: sps, Signer: signer, Cert: cert,
		Secrets: keys.DeriveSecrets(master), Templates: tmpl, Logger: logger, Factors: factors,
	}
	if cfg.Certificate.Enabled {
		deps.Certificates = noCertificates{}
	}
	return idp.New(icfg, deps)
}

// explainFactors are the second factors buildFactors makes, in the same order and at the
// same level, as descriptions: Explain needs only their ID and level, and the real methods
// need the directory and a message sender. TestExplainFactorsMatchServe keeps the two in step.
func explainFactors(cfg *config.Config) ([]authn.SecondFactor, error) {
	specs, err := configuredFactors(cfg)
	if err != nil {
		return nil, err
	}
	out := make([]authn.SecondFactor, 0, len(specs))
	for _, f := range specs {
		out = append(out, describedFactor{id: f.id, level: f.level})
	}
	return out, nil
}

// errExplainOnly is what the stand-ins below answer if anything but Explain used them.
var errExplainOnly = errors.New("explain: not available when explaining a request")

// describedFactor is a configured second factor as Explain sees it: an ID and a level.
type describedFactor struct {
	id    string
	level authn.Level
}

func (d describedFactor) ID() string         { return d.id }
func (d describedFactor) Level() authn.Level { return d.level }
func (d describedFactor) Begin(context.Context, authn.Subject, string) (authn.Challenge, error) {
	return authn.Challenge{}, errExplainOnly
}
func (d describedFactor) Verify(context.Context, authn.Subject, string, string) error {
	return errExplainOnly
}

// closedDirectory is the user directory explain does not open.
type closedDirectory struct{}

func (closedDirectory) Authenticate(context.Context, string, string) (directory.User, error) {
	return directory.User{}, errExplainOnly
}
func (closedDirectory) GetByID(context.Context, string) (directory.User, error) {
	return directory.User{}, errExplainOnly
}
func (closedDirectory) Get(context.Context, string) (directory.User, error) {
	return directory.User{}, errExplainOnly
}

// noCertificates stands for configured certificate sign-in: Explain only asks whether there is one.
type noCertificates struct{}

func (noCertificates) CitizenDNI(*http.Request) (string, error) { return "", errExplainOnly }

// printExplanation writes the readable report.
func printExplanation(w io.Writer, ex idp.Explanation) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	problem := func(p string) string {
		if p == "" {
			return ""
		}
		return "  ✗ " + p
	}

	fmt.Fprintln(tw, "Request")
	line("  read as", "%s (%s)", ex.Input, bindingName(ex.Binding))
	line("  ID", "%s", ex.RequestID)
	line("  IssueInstant", "%s", ex.IssueInstant)
	line("  Destination", "%s", ex.Destination)
	line("  ForceAuthn / IsPassive", "%v / %v", ex.ForceAuthn, ex.IsPassive)

	fmt.Fprintln(tw, "Service provider")
	line("  entityID", "%s", ex.SP.EntityID)
	if ex.SP.Known {
		line("  name", "%s", ex.SP.DisplayName)
		line("  metadata", "%s", ex.SP.MetadataFile)
	} else {
		line("  metadata", "none: unknown SP%s", problem(ex.SP.Problem))
	}
	line("  settings", "%s", yesNo(ex.SP.Configured, "serviceProviders entry in the configuration", "configuration defaults"))
	sig := ex.Signature.Status
	if ex.Signature.Kind != "" {
		sig += " (" + ex.Signature.Kind
		if ex.Signature.SigAlg != "" {
			sig += ", " + ex.Signature.SigAlg
		}
		sig += ")"
	}
	line("  signature", "%s%s", sig, problem(ex.Signature.Problem))
	line("  signature required", "%s", orDash(strings.Join(ex.Signature.RequiredBy, ", "), "no"))
	acs := ex.ACS.URL
	if ex.ACS.How != "" {
		acs = strings.TrimSpace(acs + " (by " + ex.ACS.How + ")")
	}
	line("  ACS", "%s%s", orDash(acs, "none"), problem(ex.ACS.Problem))
	line("  NameID format", "%s (from %s)%s", orDash(ex.NameID.Resolved, "none"), ex.NameID.From, problem(ex.NameID.Problem))

	fmt.Fprintln(tw, "Level of assurance")
	if ex.Requested == nil {
		line("  requested", "nothing: the SP's default level %s (%s)", ex.DefaultLevel, ex.DefaultLevelFrom)
	} else {
		line("  requested", "comparison %s", orDash(ex.Requested.Comparison, "exact (none given)"))
		for _, c := range ex.Requested.ClassRefs {
			line("    "+c.ClassRef, "→ %s (%s)", orDash(c.Level, "no level"), c.Source)
		}
		for _, d := range ex.Requested.DeclRefs {
			line("    "+d, "AuthnContextDeclRef: not supported")
		}
		line("  SP default", "%s (%s; used only when nothing is requested)", ex.DefaultLevel, ex.DefaultLevelFrom)
	}
	if len(ex.Acceptable) == 0 {
		line("  acceptable", "none%s", problem(ex.LevelProblem))
	}
	for i, a := range ex.Acceptable {
		k := ""
		if i == 0 {
			k = "  acceptable"
		}
		line(k, "%s, stated as %s", a.Level, a.ClassRef)
	}

	fmt.Fprintln(tw, "Methods")
	qualified := false
	for _, m := range ex.Methods {
		mark := "✗ does not reach an acceptable level"
		if m.Qualifies {
			mark, qualified = "✓ qualifies, states "+m.States, true
		}
		line("  "+m.Method, "%s, %s: %s", m.Name, m.Level, mark)
	}
	if !qualified {
		line("  qualifying", "none%s", problem(ex.LevelProblem))
	}

	fmt.Fprintln(tw, "Verdict")
	v := ex.Verdict
	switch {
	case v.SignIn:
		line("  sign-in", "offered")
	case v.Status != "":
		status := v.Status
		if v.SubStatus != "" {
			status += "/" + v.SubStatus
		}
		line("  sign-in", "not offered: the SP gets a SAML Response with status %s", status)
	default:
		line("  sign-in", "not offered: the browser gets Atea's error page %s", v.ErrorPage)
	}
	line("  why", "%s", v.Reason)
	for _, n := range ex.Notes {
		line("  note", "%s", n)
	}
	return tw.Flush()
}

func bindingName(uri string) string {
	if i := strings.LastIndexByte(uri, ':'); i >= 0 {
		return uri[i+1:]
	}
	return uri
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func orDash(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}
