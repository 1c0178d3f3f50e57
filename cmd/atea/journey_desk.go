package main

import (
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/selfservice/desk"
)

// mountDesk mounts journey 2 of issue 5 (BRIEF.md: B@kQ issuance with one in-person step):
// the registration agents' console at /ra and the citizens' enrolment link at /enrol. The
// terms version, the link's validity and the minimum age come from selfService; the console
// cookie's Secure attribute from session.cookieSecure; the other knobs keep the package
// defaults (desk.DefaultConfig).
//
// Without the coordinate-card factor there is no B@kQ to issue: Atea still serves (the rest
// of it works) and /ra and /enrol answer a clear 503 page saying so, rather than failing to
// start over a factor the operator turned off on purpose.
func mountDesk(srv *idp.Server, env journeyEnv) error {
	if env.Card == nil {
		env.Logger.Warn("registration desk unavailable: the coordinate-card factor is off")
		desk.MountUnavailable(srv, srv.Kit())
		return nil
	}
	h, err := desk.New(desk.Config{
		TermsVersion: env.Cfg.SelfService.TermsVersion,
		MinimumAge:   env.Cfg.SelfService.MinimumAge,
		LinkTTL:      env.Cfg.SelfService.EnrolmentLinkTTL,
		CookieSecure: env.Cfg.Session.CookieSecure,
	}, desk.Deps{
		Kit: srv.Kit(), Directory: env.Directory, Card: env.Card, SMS: env.SMS, Mail: env.Mail, Now: env.Now,
	})
	if err != nil {
		return err
	}
	h.Mount(srv)
	return nil
}
