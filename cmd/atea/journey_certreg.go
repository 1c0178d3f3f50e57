package main

import (
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/selfservice/certreg"
	"github.com/ateaidp/atea/idp/selfservice/upgrade"
)

// mountCertReg mounts the certreg area of issue 5: registration with an electronic
// certificate at /register/certificate (BRIEF.md journey 6) and the online upgrade from B@k
// to B@kQ at /upgrade (journey 3).
//
// Registration needs certificate sign-in (certificate.enabled): without it only
// /register/certificate is mounted, answering with a "not available here" page (404), so a
// link to it never ends on a bare "not found". Its start page must be reached where the TLS
// layer asks for the certificate: Atea's mutual-TLS listener (certificate.baseURL, linked as
// the "start again" address) or the trusted proxy on Atea's own origin; the later steps run
// on baseURL. The upgrade needs the coordinate card (env.Card) and is mounted whenever the
// card factor is on. The terms version comes from selfService.termsVersion; the other knobs
// keep the packages' defaults (certreg.DefaultConfig, upgrade.DefaultConfig).
func mountCertReg(srv *idp.Server, env journeyEnv) error {
	deps := certreg.Deps{Kit: srv.Kit(), Directory: env.Directory, SMS: env.SMS, Now: env.Now}
	if env.Certificates != nil {
		// Only a non-nil pointer: a nil *certauth.Method in the interface would not be nil.
		deps.Certificates = env.Certificates
	}
	reg, err := certreg.New(certreg.Config{
		TermsVersion: env.Cfg.SelfService.TermsVersion, MinimumAge: env.Cfg.SelfService.MinimumAge, CertBaseURL: env.Cfg.Certificate.BaseURL, SignInReturn: "/account",
	}, deps)
	if err != nil {
		return err
	}
	reg.Mount(srv)
	if env.Card == nil {
		return nil
	}
	up, err := upgrade.New(upgrade.Config{ContinuePath: "/account"}, upgrade.Deps{Kit: srv.Kit(), Directory: env.Directory, Card: env.Card})
	if err != nil {
		return err
	}
	up.Mount(srv)
	return nil
}
