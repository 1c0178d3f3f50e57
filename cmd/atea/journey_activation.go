package main

import (
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/selfservice/activation"
)

// mountActivation mounts the B@k activation journey at /activate (issue 5, BRIEF.md journey
// 1). The terms version comes from selfService.termsVersion; the other knobs keep the
// package defaults (activation.DefaultConfig).
func mountActivation(srv *idp.Server, env journeyEnv) error {
	h, err := activation.New(activation.Config{TermsVersion: env.Cfg.SelfService.TermsVersion, SignInReturn: "/account"}, activation.Deps{
		Kit: srv.Kit(), Directory: env.Directory, SMS: env.SMS, Now: env.Now,
	})
	if err != nil {
		return err
	}
	h.Mount(srv)
	return nil
}
