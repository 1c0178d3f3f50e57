package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
)

// agentRequest is `atea agent add` as the admin socket receives it.
type agentRequest struct {
	Username string `json:"username"`
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Password string `json:"password"`
	Reason   string `json:"reason,omitempty"`
}

// agents is what `atea agent` needs: the directory itself, or the running server's admin
// socket (which holds the directory file).
type agents interface {
	addAgent(ctx context.Context, a directory.Agent, password string) (directory.Agent, error)
	listAgents(ctx context.Context) ([]directory.Agent, error)
	lockAgent(ctx context.Context, username, reason string) error
	unlockAgent(ctx context.Context, username string) error
}

type localAgents struct{ d *directory.Directory }

func (l localAgents) addAgent(ctx context.Context, a directory.Agent, pw string) (directory.Agent, error) {
	return l.d.AddAgent(ctx, a, pw)
}
func (l localAgents) listAgents(ctx context.Context) ([]directory.Agent, error) {
	return l.d.ListAgents(ctx)
}
func (l localAgents) lockAgent(ctx context.Context, u, reason string) error {
	return l.d.LockAgent(ctx, u, reason)
}
func (l localAgents) unlockAgent(ctx context.Context, u string) error { return l.d.UnlockAgent(ctx, u) }

type remoteAgents struct{ ru *remoteUsers }

func (r remoteAgents) addAgent(ctx context.Context, a directory.Agent, pw string) (directory.Agent, error) {
	var out directory.Agent
	err := r.ru.do(ctx, http.MethodPost, "/agents", agentRequest{Username: a.Username, Name: a.Name, Phone: a.Phone, Password: pw}, &out)
	return out, err
}
func (r remoteAgents) listAgents(ctx context.Context) ([]directory.Agent, error) {
	var out []directory.Agent
	err := r.ru.do(ctx, http.MethodGet, "/agents", nil, &out)
	return out, err
}
func (r remoteAgents) lockAgent(ctx context.Context, u, reason string) error {
	return r.ru.do(ctx, http.MethodPost, "/agents/"+url.PathEscape(u)+"/lock", agentRequest{Reason: reason}, nil)
}
func (r remoteAgents) unlockAgent(ctx context.Context, u string) error {
	return r.ru.do(ctx, http.MethodPost, "/agents/"+url.PathEscape(u)+"/unlock", nil, nil)
}

// withAgents runs fn against the running server's admin socket when one answers, else
// against the directory file.
func withAgents(ctx context.Context, cf commonFlags, fn func(agents) error) error {
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	if ru, err := dialAdmin(cfg.AdminSocket()); err == nil {
		return fn(remoteAgents{ru: ru})
	}
	secrets, err := keys.LoadOrCreateSecrets(cfg.SecretFile())
	if err != nil {
		return err
	}
	d, err := openDirectory(cfg, secrets, nil)
	if err != nil {
		if errors.Is(err, directory.ErrBusy) {
			return fmt.Errorf("%w: a running atea serve holds the directory and its admin socket %s does not answer; stop the server or retry once its socket is up", err, cfg.AdminSocket())
		}
		return err
	}
	defer d.Close()
	return fn(localAgents{d: d})
}

// cmdAgent is `atea agent add|list|lock|unlock`: the registration agents of the /ra console
// (issue 5, journey 2).
func cmdAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const help = "usage: atea agent add|list|lock|unlock [flags]   (atea agent SUBCOMMAND --help)"
	if len(args) == 0 {
		return usageErrorf("%s", help)
	}
	switch args[0] {
	case "add":
		return cmdAgentAdd(ctx, args[1:], stdout, stderr)
	case "list":
		return cmdAgentList(ctx, args[1:], stdout, stderr)
	case "lock", "unlock":
		return cmdAgentStatus(ctx, args[0], args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, help)
		return nil
	}
	return usageErrorf("unknown agent subcommand %q; %s", args[0], help)
}

func cmdAgentAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("agent add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: atea agent add --username U --name \"N\" --phone +34… [--config FILE] [--data DIR]: add a registration agent; prints a generated initial password once")
		fs.PrintDefaults()
	}
	var cf commonFlags
	cf.register(fs)
	username := fs.String("username", "", "agent username: 3 to 32 letters, digits, '.', '_' or '-' (required)")
	name := fs.String("name", "", "the agent's full name (required)")
	phone := fs.String("phone", "", "the agent's mobile for the sign-in code, e.g. +34600000000 (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("agent add: unexpected argument %q", fs.Arg(0))
	}
	if *username == "" || *name == "" || *phone == "" {
		return usageErrorf("agent add: --username, --name and --phone are required")
	}
	pw, err := agentPassword()
	if err != nil {
		return err
	}
	return withAgents(ctx, cf, func(as agents) error {
		a, err := as.addAgent(ctx, directory.Agent{Username: *username, Name: *name, Phone: *phone}, pw)
		if err != nil {
			return fmt.Errorf("agent add: %w", err)
		}
		fmt.Fprintf(stdout, "agent %s (%s) added\ninitial password: %s\n", a.Username, a.Name, pw)
		fmt.Fprintln(stderr, "hand the password to the agent in person; it is shown only now")
		return nil
	})
}

func cmdAgentList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("agent list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withAgents(ctx, cf, func(as agents) error {
		list, err := as.listAgents(ctx)
		if err != nil {
			return fmt.Errorf("agent list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tNAME\tPHONE\tSTATUS\tFAILURES")
		for _, a := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", a.Username, a.Name, maskPhoneCLI(a.Phone), a.Status, a.Failures)
		}
		return tw.Flush()
	})
}

func cmdAgentStatus(ctx context.Context, op string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("agent "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	username := fs.String("username", "", "agent username (required)")
	reason := fs.String("reason", "", "why (kept in the audit trail; lock only)")
	// The username may also come as an argument anywhere among the flags, as in
	// `atea agent lock miren --reason …`: flag parsing stops at it, so parse on after it.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(positional) > 1 || (len(positional) == 1 && *username != ""):
		return usageErrorf("agent %s: unexpected argument %q", op, positional[len(positional)-1])
	case len(positional) == 1:
		*username = positional[0]
	}
	if *username == "" {
		return usageErrorf("agent %s: missing --username", op)
	}
	return withAgents(ctx, cf, func(as agents) error {
		var err error
		if op == "lock" {
			err = as.lockAgent(ctx, *username, *reason)
		} else {
			err = as.unlockAgent(ctx, *username)
		}
		if err != nil {
			return fmt.Errorf("agent %s: %w", op, err)
		}
		fmt.Fprintf(stdout, "agent %s %sed\n", directory.NormaliseUsername(*username), op)
		return nil
	})
}

// agentPassword is a generated initial password: 16 characters of an unambiguous alphabet in
// groups of four (≈ 79 bits), easy to dictate, impossible to guess.
func agentPassword() (string, error) {
	const alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
	var b strings.Builder
	for i := range 16 {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String(), nil
}

// maskPhoneCLI shows the last three digits of a phone only (SECURITY.md §4.22: no whole
// numbers in output that ends up in terminals and tickets).
func maskPhoneCLI(p string) string {
	if len(p) <= 3 {
		return "***"
	}
	return "***" + p[len(p)-3:]
}
