package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
)

// The demo citizen is created on the first start of an empty directory. Its password is kept
// in a 0600 file of the data directory so that `atea user show` can print it again: a
// convenience of the embedded demo only, never done for real citizens.
const (
	demoDNI      = "12345678Z"
	demoPassFile = "demo-citizen.txt"
)

type demoCitizen struct {
	dni, password string
	justCreated   bool
}

func ensureDemoCitizen(ctx context.Context, cfg *config.Config, d *directory.Directory) (*demoCitizen, error) {
	if !cfg.Demo.Enabled {
		return nil, nil
	}
	path := filepath.Join(cfg.DataDir, demoPassFile)
	if _, err := d.Get(ctx, demoDNI); err == nil {
		b, _ := os.ReadFile(path)
		return &demoCitizen{dni: demoDNI, password: strings.TrimSpace(string(b))}, nil
	} else if !errors.Is(err, directory.ErrNotFound) {
		return nil, err
	}
	pw, err := demoPassword()
	if err != nil {
		return nil, err
	}
	if _, err := d.Add(ctx, directory.User{
		DNI: demoDNI, GivenName: "Ane", FamilyName: "Etxeberria Goñi", BirthDate: "1990-05-17",
		Email: "ane.etxeberria@example.eus", Phone: "+34600000707", Credential: "bakq",
	}, pw); err != nil {
		return nil, fmt.Errorf("demo citizen: %w", err)
	}
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("demo citizen: %w", err)
	}
	return &demoCitizen{dni: demoDNI, password: pw, justCreated: true}, nil
}

// demoPassword makes a readable random password: three words of a small list and two digits.
func demoPassword() (string, error) {
	words := []string{"itsasoa", "mendia", "ibaia", "basoa", "hodeia", "izarra", "harria", "lorea", "txoria", "argia", "haizea", "elurra"}
	var parts []string
	for i := 0; i < 3; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		if err != nil {
			return "", err
		}
		parts = append(parts, words[n.Int64()])
	}
	n, err := rand.Int(rand.Reader, big.NewInt(90))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%d", strings.Join(parts, "-"), n.Int64()+10), nil
}

func cmdUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	const help = "usage: atea user add|show|list|lock|unlock|revoke|signout|card|check [flags]   (atea user SUBCOMMAND --help)"
	if len(args) == 0 {
		return usageErrorf("%s", help)
	}
	switch args[0] {
	case "add":
		return cmdUserAdd(ctx, args[1:], stdin, stdout, stderr)
	case "show":
		return cmdUserShow(ctx, args[1:], stdout, stderr)
	case "list":
		return cmdUserList(ctx, args[1:], stdout, stderr)
	case "unlock":
		return cmdUserUnlock(ctx, args[1:], stdout, stderr)
	case "lock":
		return cmdUserStatus(ctx, "lock", args[1:], stdout, stderr)
	case "revoke":
		return cmdUserStatus(ctx, "revoke", args[1:], stdout, stderr)
	case "signout":
		return cmdUserSignout(ctx, args[1:], stdout, stderr)
	case "card":
		return cmdUserCard(ctx, args[1:], stdout, stderr)
	case "check":
		return cmdUserCheck(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, help)
		return nil
	}
	return usageErrorf("unknown user subcommand %q; %s", args[0], help)
}

// withUsers runs fn against the running server's admin socket when one answers, else against
// the directory file directly.
func withUsers(ctx context.Context, cf commonFlags, fn func(users) error) error {
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	if ru, err := dialAdmin(cfg.AdminSocket()); err == nil {
		return fn(ru)
	}
	secrets, err := keys.LoadOrCreateSecrets(cfg.SecretFile())
	if err != nil {
		return err
	}
	d, err := openDirectory(cfg, secrets, nil)
	if err != nil {
		if errors.Is(err, directory.ErrBusy) {
			return fmt.Errorf("%w; is atea serve running without its admin socket %s?", err, cfg.AdminSocket())
		}
		return err
	}
	defer d.Close()
	card, err := newCardMethod(cfg, secrets, d)
	if err != nil {
		return err
	}
	return fn(localUsers{d: d, card: card})
}

func cmdUserAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	id := fs.String("id", "", "DNI/NIE number (required)")
	given := fs.String("given", "", "given name(s) (required)")
	family := fs.String("family", "", "family name(s) (required)")
	birth := fs.String("birth", "", "birth date YYYY-MM-DD (required)")
	email := fs.String("email", "", "e-mail address")
	phone := fs.String("phone", "", "mobile phone, e.g. +34600000000")
	docExpiry := fs.String("doc-expiry", "", "ID document expiry, YYYY-MM-DD or DD/MM/YYYY (01/01/9999 for a permanent DNI)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	credential := fs.String("credential", "bak", "bak (password) or bakq (password + coordinate card or SMS code)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var missing []string
	for name, v := range map[string]string{"--id": *id, "--given": *given, "--family": *family, "--birth": *birth} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if !*pwStdin {
		missing = append(missing, "--password-stdin")
	}
	if len(missing) > 0 {
		return usageErrorf("user add: missing %s", strings.Join(missing, ", "))
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return usageErrorf("user add: empty password on standard input")
	}
	return withUsers(ctx, cf, func(u users) error {
		rec, err := u.add(ctx, directory.User{DNI: *id, GivenName: *given, FamilyName: *family, BirthDate: *birth,
			DocumentExpiry: *docExpiry, Email: *email, Phone: *phone, Credential: *credential}, pw)
		if err != nil {
			return fmt.Errorf("user add: %w", err)
		}
		fmt.Fprintf(stdout, "added %s (%s %s), credential %s, status %s\n", rec.DNI, rec.GivenName, rec.FamilyName, rec.Credential, rec.Status)
		return nil
	})
}

func oneID(fs *flag.FlagSet, args []string, what string) (string, error) {
	// Accept the ID before or after the flags.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	}
	if id == "" {
		return "", usageErrorf("usage: atea user %s DNI/NIE [--config FILE] [--data DIR]", what)
	}
	return id, nil
}

func cmdUserShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	id, err := oneID(fs, args, "show")
	if err != nil {
		return err
	}
	return withUsers(ctx, cf, func(u users) error {
		rec, err := u.get(ctx, id)
		if err != nil {
			return fmt.Errorf("user show: %w", err)
		}
		events, err := u.history(ctx, id, historyLen)
		if err != nil {
			return fmt.Errorf("user show: %w", err)
		}
		if *asJSON {
			e := json.NewEncoder(stdout)
			e.SetIndent("", "  ")
			return e.Encode(struct {
				userRecord
				Events []directory.Event `json:"events"`
			}{rec, events})
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "DNI/NIE\t%s\nName\t%s %s\nBirth date\t%s\nDocument expiry\t%s\nE-mail\t%s\nMobile\t%s\nCredential\t%s\nStatus\t%s\nFailed attempts\t%d\nTerms\t%s\nInternal ID\t%s\n",
			rec.DNI, rec.GivenName, rec.FamilyName, rec.BirthDate, docExpiryText(rec.DocumentExpiry), rec.Email, rec.Phone,
			rec.Credential, rec.Status, rec.Failures, termsText(rec), rec.ID)
		if rec.DNI == demoDNI {
			cfg, _ := cf.load(nil)
			if cfg != nil {
				if b, err := os.ReadFile(filepath.Join(cfg.DataDir, demoPassFile)); err == nil {
					fmt.Fprintf(tw, "Demo password\t%s\n", strings.TrimSpace(string(b)))
				}
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nRecent events (last %d):\n", historyLen)
		if len(events) == 0 {
			fmt.Fprintln(stdout, "  none recorded")
		}
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, ev := range events {
			change := ""
			if ev.From != "" || ev.To != "" {
				change = fmt.Sprintf("%s → %s", orDash(string(ev.From), "-"), orDash(string(ev.To), "-"))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ev.Time.Format(time.RFC3339), ev.Name, change, ev.Reason)
		}
		return tw.Flush()
	})
}

func docExpiryText(s string) string {
	switch s {
	case "":
		return "(not recorded)"
	case directory.PermanentDocument:
		return s + " (permanent)"
	}
	return s
}

func termsText(r userRecord) string {
	if r.TermsVersion == "" {
		return "(not accepted)"
	}
	return fmt.Sprintf("version %s, accepted %s", r.TermsVersion, r.TermsAcceptedAt.Format(time.RFC3339))
}

// cmdUserStatus is `atea user lock` and `atea user revoke`.
func cmdUserStatus(ctx context.Context, op string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch op {
	case "lock":
		fs.Usage = func() {
			fmt.Fprintln(stderr, "usage: atea user lock DNI/NIE [--reason R]: block an active credential until `atea user unlock`")
			fs.PrintDefaults()
		}
	case "revoke":
		fs.Usage = func() {
			fmt.Fprintln(stderr, "usage: atea user revoke DNI/NIE [--reason R]: end the credential for good (revoked is final)")
			fs.PrintDefaults()
		}
	}
	var cf commonFlags
	cf.register(fs)
	reason := fs.String("reason", "", "why, for the audit trail (no personal data; at most 200 characters)")
	id, err := oneID(fs, args, op)
	if err != nil {
		return err
	}
	return withUsers(ctx, cf, func(u users) error {
		do, done := u.lock, "locked"
		if op == "revoke" {
			do, done = u.revoke, "revoked"
		}
		res, err := do(ctx, id, *reason)
		if err != nil {
			return fmt.Errorf("user %s: %w", op, err)
		}
		fmt.Fprintf(stdout, "%s %s\n", done, id)
		printSessionsEnded(stdout, res)
		return nil
	})
}

// cmdUserSignout is `atea user signout`: the help desk ends every session of a citizen (a
// lost phone, a shared computer left signed in) without touching the credential.
func cmdUserSignout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user signout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: atea user signout DNI/NIE: end every session of the citizen now and tell their services (the credential stays as it is)")
		fs.PrintDefaults()
	}
	var cf commonFlags
	cf.register(fs)
	id, err := oneID(fs, args, "signout")
	if err != nil {
		return err
	}
	return withUsers(ctx, cf, func(u users) error {
		res, err := u.signout(ctx, id)
		if err != nil {
			return fmt.Errorf("user signout: %w", err)
		}
		printSessionsEnded(stdout, res)
		return nil
	})
}

// printSessionsEnded reports what lock, revoke and signout did to the citizen's sessions.
func printSessionsEnded(stdout io.Writer, res statusChanged) {
	if !res.Served {
		fmt.Fprintln(stdout, "no server runs: no session to end here (a session in a shared store is refused at its next use)")
		return
	}
	fmt.Fprintf(stdout, "sessions ended: %d\n", res.SessionsEnded)
	for _, s := range res.Services {
		fmt.Fprintf(stdout, "  %s: %s\n", s.EntityID, outcomeText(s.State))
	}
}

func cmdUserList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withUsers(ctx, cf, func(u users) error {
		recs, err := u.list(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DNI/NIE\tNAME\tCREDENTIAL\tSTATUS")
		for _, r := range recs {
			fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\n", r.DNI, r.GivenName, r.FamilyName, r.Credential, r.Status)
		}
		return tw.Flush()
	})
}

func cmdUserUnlock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user unlock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	id, err := oneID(fs, args, "unlock")
	if err != nil {
		return err
	}
	return withUsers(ctx, cf, func(u users) error {
		if err := u.unlock(ctx, id); err != nil {
			return fmt.Errorf("user unlock: %w", err)
		}
		fmt.Fprintf(stdout, "unlocked %s\n", id)
		return nil
	})
}

func pathEscape(s string) string { return url.PathEscape(s) }

func cmdUserCard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user card", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	id, err := oneID(fs, args, "card")
	if err != nil {
		return err
	}
	return withUsers(ctx, cf, func(u users) error {
		card, err := u.issueCard(ctx, id)
		if err != nil {
			return fmt.Errorf("user card: %w", err)
		}
		fmt.Fprintf(stdout, "new coordinate card for %s (any previous card no longer works):\n\n%s\n", id, card)
		return nil
	})
}

// cmdUserCheck verifies the directory's invariants (directory.Check): after a crash, a
// restore from backup, or for peace of mind. Exit status 1 when a problem is found.
func cmdUserCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withUsers(ctx, cf, func(u users) error {
		if err := u.check(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "directory consistent")
		return nil
	})
}

// outcomeText says in words what became of a service told of an ended session.
func outcomeText(state string) string {
	switch state {
	case "ok":
		return "signed out (confirmed over the back channel)"
	case "failed":
		return "refused or failed to sign out"
	case "noanswer":
		return "did not answer"
	case "frontonly":
		return "not told: its metadata offers single logout through the browser only"
	case "unsupported":
		return "not told: no single logout in its metadata"
	case "skipped":
		return "not contacted"
	}
	return state
}
