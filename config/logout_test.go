package config

import (
	"strings"
	"testing"
	"time"
)

// TestLogoutSettings: single logout's time box and fan-out cap have safe defaults and are
// bounded (SECURITY.md §4.10).
func TestLogoutSettings(t *testing.T) {
	t.Parallel()
	if d := Default(); d.SAML.LogoutTimeout != 5*time.Second || d.SAML.MaxLogoutSPs != 20 {
		t.Errorf("defaults: logoutTimeout %v, maxLogoutSPs %d; want 5s and 20", d.SAML.LogoutTimeout, d.SAML.MaxLogoutSPs)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		key    string // "" valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"timeout zero", func(c *Config) { c.SAML.LogoutTimeout = 0 }, "saml.logoutTimeout"},
		{"timeout long", func(c *Config) { c.SAML.LogoutTimeout = time.Minute }, "saml.logoutTimeout"},
		{"no SPs", func(c *Config) { c.SAML.MaxLogoutSPs = 0 }, "saml.maxLogoutSPs"},
		{"too many SPs", func(c *Config) { c.SAML.MaxLogoutSPs = 1000 }, "saml.maxLogoutSPs"},
		{"unsigned logout per SP", func(c *Config) {
			c.ServiceProviders = []SP{{EntityID: "https://sp.example/md", AllowUnsignedLogout: true}}
		}, ""},
	} {
		c := Default()
		tc.change(c)
		err := c.Validate()
		switch {
		case tc.key == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tc.name, err)
		case tc.key != "" && (err == nil || !strings.Contains(err.Error(), tc.key)):
			t.Errorf("%s: Validate() = %v, want an error naming %s", tc.name, err, tc.key)
		}
	}
}
