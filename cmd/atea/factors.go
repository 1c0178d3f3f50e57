package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/store"
)

// buildFactors makes the enabled B@kQ second factors in the configured order of preference.
// It also returns the coordinate card method (nil when disabled), which issues cards.
func buildFactors(cfg *config.Config, secrets *keys.Secrets, dir *directory.Directory, st store.Store, log *slog.Logger) ([]authn.SecondFactor, *coordcard.Method, error) {
	f := cfg.Factors
	level, err := authn.ParseLevel(f.Level)
	if err != nil {
		return nil, nil, fmt.Errorf("secondFactors.level: %w", err)
	}
	card, err := newCardMethod(cfg, secrets, dir)
	if err != nil {
		return nil, nil, err
	}
	var out []authn.SecondFactor
	for _, id := range f.Order {
		switch id {
		case coordcard.ID:
			if card != nil {
				out = append(out, card)
			}
		case smsotp.ID:
			if !f.SMS.Enabled {
				continue
			}
			sender, err := newSender(cfg, log)
			if err != nil {
				return nil, nil, err
			}
			shown := f.SMS.Shown
			if shown == 0 {
				shown = smsotp.ShowNone
			}
			m, err := smsotp.New(smsotp.Config{
				Digits: f.SMS.Digits, Shown: shown, MaxAttempts: f.SMS.MaxAttempts, MaxSends: f.SMS.MaxSends,
				LockAfter: f.SMS.LockAfter, TTL: f.SMS.TTL, Cooldown: f.SMS.Cooldown, LockWindow: f.SMS.LockWindow, Level: level,
			}, secrets.OTP, st, st, sender, time.Now, log.With("method", smsotp.ID))
			if err != nil {
				return nil, nil, fmt.Errorf("secondFactors.sms: %w", err)
			}
			out = append(out, m)
		default:
			return nil, nil, fmt.Errorf("secondFactors.order: unknown factor %q", id)
		}
	}
	return out, card, nil
}

// newCardMethod is the coordinate card method, nil when disabled. The CLI uses it to issue
// cards, so it needs nothing but the directory.
func newCardMethod(cfg *config.Config, secrets *keys.Secrets, dir *directory.Directory) (*coordcard.Method, error) {
	c := cfg.Factors.CoordCard
	if !c.Enabled {
		return nil, nil
	}
	level, err := authn.ParseLevel(cfg.Factors.Level)
	if err != nil {
		return nil, fmt.Errorf("secondFactors.level: %w", err)
	}
	m, err := coordcard.New(coordcard.Config{Digits: c.Digits, Ask: c.Ask, MaxFailures: c.MaxFailures, Level: level}, secrets.Cards, dir)
	if err != nil {
		return nil, fmt.Errorf("secondFactors.coordCard: %w", err)
	}
	return m, nil
}

func newSender(cfg *config.Config, log *slog.Logger) (smsotp.Sender, error) {
	s := cfg.Factors.Sender
	switch s.Type {
	case "webhook":
		w, err := smsotp.NewWebhook(smsotp.WebhookConfig{URL: s.WebhookURL, HeaderName: s.WebhookAuthHeader,
			HeaderValueFile: s.WebhookAuthFile, Timeout: s.WebhookTimeout}, log)
		if err != nil {
			return nil, fmt.Errorf("secondFactors.sender: %w", err)
		}
		return w, nil
	default:
		o, err := smsotp.NewOutbox(cfg.OutboxPath(), time.Now, log)
		if err != nil {
			return nil, fmt.Errorf("secondFactors.sender.outboxFile: %w", err)
		}
		return o, nil
	}
}
