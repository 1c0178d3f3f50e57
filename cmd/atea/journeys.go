package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/certauth"
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/store"
)

// journeyEnv is what the self-service journeys (issue 5: idp/selfservice/…) are built from.
type journeyEnv struct {
	Cfg       *config.Config
	Directory *directory.Directory
	Store     store.Store
	// SMS delivers text messages to citizens' mobiles (the configured sender: the outbox by
	// default); Mail delivers e-mail (a directory of .eml files under the data directory by
	// default).
	SMS  smsotp.Sender
	Mail smsotp.Sender
	// Card issues and checks coordinate cards (nil when the card factor is off).
	Card *coordcard.Method
	// Factors are the B@kQ second factors in order of preference.
	Factors []authn.SecondFactor
	// Certificates reads client certificates (nil when certificate sign-in is off).
	Certificates *certauth.Method
	Logger       *slog.Logger
	Now          func() time.Time
}

// mountJourneys mounts every self-service journey on srv. Each journey's wiring lives in its
// own journey_<name>.go.
func mountJourneys(srv *idp.Server, env journeyEnv) error {
	for _, m := range []struct {
		name  string
		mount func(*idp.Server, journeyEnv) error
	}{
		{"activation", mountActivation},
		{"recovery", mountRecovery},
		{"account", mountAccount},
		{"desk", mountDesk},
		{"certreg", mountCertReg},
	} {
		if err := m.mount(srv, env); err != nil {
			return fmt.Errorf("journey %s: %w", m.name, err)
		}
	}
	return nil
}

// newMailer builds the e-mail sender of selfService.mail.
func newMailer(cfg *config.Config, log *slog.Logger) (smsotp.Sender, error) {
	m := cfg.SelfService.Mail
	if m.Type == "smtp" {
		s, err := smsotp.NewSMTP(smsotp.SMTPConfig{Addr: m.SMTPAddr, From: m.From, Username: m.SMTPUsername, PasswordFile: m.SMTPPasswordFile}, time.Now, log)
		if err != nil {
			return nil, fmt.Errorf("selfService.mail: %w", err)
		}
		return s, nil
	}
	d, err := smsotp.NewMailDir(cfg.MailDir(), m.From, time.Now, log)
	if err != nil {
		return nil, fmt.Errorf("selfService.mail.dir: %w", err)
	}
	return d, nil
}
