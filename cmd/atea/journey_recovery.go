package main

import (
	"fmt"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/selfservice/recovery"
)

// mountRecovery mounts the "Forgotten or blocked password?" journey (issue 5, BRIEF.md
// journey 5) at /recover, which the sign-in page links to. The codes go by the configured SMS
// sender (the outbox by default). Its knobs have their defaults (recovery.DefaultConfig)
// until the configuration file has a section for them.
func mountRecovery(srv *idp.Server, env journeyEnv) error {
	if env.Directory == nil || env.SMS == nil {
		return fmt.Errorf("recovery: needs the directory and an SMS sender")
	}
	h, err := recovery.New(recovery.Config{}, recovery.Deps{
		Kit: srv.Kit(), Directory: env.Directory, SMS: env.SMS, Now: env.Now,
	})
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	h.Mount(srv)
	return nil
}
