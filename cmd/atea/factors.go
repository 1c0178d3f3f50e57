package main

import (
	"cmp"
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

// factorSpec is one enabled second factor: its ID and the level it reaches.
type factorSpec struct {
	id    string
	level authn.Level
}

// configuredFactors lists the enabled second factors in the configured order of preference,
// each with its level (its own setting, else secondFactors.level). serve and explain both
// read the configuration through it.
func configuredFactors(cfg *config.Config) ([]factorSpec, error) {
	f := cfg.Factors
	var out []factorSpec
	for _, id := range f.Order {
		var enabled bool
		var own, key string
		switch id {
		case coordcard.ID:
			enabled, own, key = f.CoordCard.Enabled, f.CoordCard.Level, "secondFactors.coordCard.level"
		case smsotp.ID:
			enabled, own, key = f.SMS.Enabled, f.SMS.Level, "secondFactors.sms.level"
		default:
			return nil, fmt.Errorf("secondFactors.order: unknown factor %q", id)
		}
		if !enabled {
			continue
		}
		l, err := authn.ParseLevel(cmp.Or(own, f.Level))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out = append(out, factorSpec{id: id, level: l})
	}
	return out, nil
}

// buildFactors makes the enabled B@kQ second factors in the configured order of preference.
// It also returns the coordinate card method (nil when disabled), which issues cards.
func buildFactors(cfg *config.Config, secrets *keys.Secrets, dir *directory.Directory, st store.Store, log *slog.Logger) ([]authn.SecondFactor, *coordcard.Method, error) {
	specs, err := configuredFactors(cfg)
	if err != nil {
		return nil, nil, err
	}
	card, err := newCardMethod(cfg, secrets, dir)
	if err != nil {
		return nil, nil, err
	}
	f := cfg.Factors
	var out []authn.SecondFactor
	for _, spec := range specs {
		switch spec.id {
		case coordcard.ID:
			out = append(out, card)
		case smsotp.ID:
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
				LockAfter: f.SMS.LockAfter, TTL: f.SMS.TTL, Cooldown: f.SMS.Cooldown, LockWindow: f.SMS.LockWindow, Level: spec.level,
			}, secrets.OTP, st, st, sender, time.Now, log.With("method", smsotp.ID))
			if err != nil {
				return nil, nil, fmt.Errorf("secondFactors.sms: %w", err)
			}
			out = append(out, m)
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
	level, err := authn.ParseLevel(cmp.Or(c.Level, cfg.Factors.Level))
	if err != nil {
		return nil, fmt.Errorf("secondFactors.coordCard.level: %w", err)
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
