// Command atea is Atea's one binary: the SAML identity provider (`atea serve`) and the
// administrator's tools.
//
//	atea serve [--config FILE] [--data DIR] [--listen ADDR] [--base-url URL]
//	atea check-config [--config FILE]
//	atea metadata export [--sign] [--config FILE] [--data DIR]
//	atea keys generate [--force] | rollover [--force] | status [--json]   (all take --config and --data)
//	atea user add --id DNI/NIE --given NAME --family NAME --birth YYYY-MM-DD --email E --phone P --password-stdin
//	atea user show ID | atea user list | atea user unlock ID      (all take --config and --data)
//	atea bench sso [--clients N] [--n N] [--profile both|response|assertion]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "atea:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usage = `Atea — a SAML 2.0 identity provider for B@k / B@kQ credentials.

Usage:
  atea serve          run the identity provider (no config needed to try it out)
  atea check-config   load and validate a configuration file
  atea metadata       export Atea's IdP metadata
  atea keys           generate the next signing key, roll over, show the key ring
  atea user           add, show, list, lock, unlock, revoke, sign out and check citizens
  atea activation     issue a B@k activation letter (creates the pending citizen)
  atea agent          add, list, lock and unlock registration agents
  atea explain        explain an AuthnRequest: SP, level asked for, methods that qualify, verdict
  atea bench sso      measure single sign-on throughput and CPU

Run 'atea COMMAND --help' for a command's flags.
`

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usageErrorf(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErrorf("no command")
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "check-config":
		return cmdCheckConfig(ctx, args[1:], stdout, stderr)
	case "metadata":
		return cmdMetadata(ctx, args[1:], stdout, stderr)
	case "keys":
		return cmdKeys(ctx, args[1:], stdout, stderr)
	case "user":
		return cmdUser(ctx, args[1:], stdin, stdout, stderr)
	case "activation":
		return cmdActivation(ctx, args[1:], stdout, stderr)
	case "agent":
		return cmdAgent(ctx, args[1:], stdout, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "explain":
		return cmdExplain(ctx, args[1:], stdin, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErrorf("unknown command %q", args[0])
}
