package main

import (
	"fmt"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/selfservice/account"
)

// mountAccount mounts the citizen's account pages (issue 5, BRIEF.md journey 5) at
// /account: data, open sessions, recent sign-ins, and the change of e-mail address or
// mobile, whose confirmation codes go by the configured SMS sender (the outbox by default)
// and mail sender (.eml files under the data directory by default). The recent sign-ins
// are recorded by account.NewRecorder(env.Directory), set as idp.Deps.SignIns where the
// server is built. Its knobs have their defaults (account.DefaultConfig) until the
// configuration file has a section for them.
func mountAccount(srv *idp.Server, env journeyEnv) error {
	if env.Directory == nil || env.SMS == nil || env.Mail == nil {
		return fmt.Errorf("account: needs the directory, an SMS sender and a mail sender")
	}
	h, err := account.New(account.Config{}, account.Deps{
		Kit: srv.Kit(), Directory: env.Directory, SMS: env.SMS, Mail: env.Mail, Now: env.Now,
	})
	if err != nil {
		return fmt.Errorf("account: %w", err)
	}
	h.Mount(srv)
	return nil
}
