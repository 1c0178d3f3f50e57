package main

import (
	"testing"
	"time"

	"github.com/ateaidp/atea/config"
)

// TestIDPConfigLogoutSettings: the single-logout settings reach the IdP; a dropped mapping
// would silently run serve on the built-in defaults.
func TestIDPConfigLogoutSettings(t *testing.T) {
	c := config.Default()
	c.SAML.LogoutTimeout = 7 * time.Second
	c.SAML.MaxLogoutSPs = 3
	c.ServiceProviders = append(c.ServiceProviders, config.SP{EntityID: "https://sp.example/", AllowUnsignedLogout: true})
	ic, err := idpConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if ic.LogoutTimeout != 7*time.Second || ic.MaxLogoutSPs != 3 {
		t.Errorf("LogoutTimeout, MaxLogoutSPs = %v, %d; want 7s, 3", ic.LogoutTimeout, ic.MaxLogoutSPs)
	}
	if !ic.SPs["https://sp.example/"].AllowUnsignedLogout {
		t.Error("serviceProviders[].allowUnsignedLogout not mapped")
	}
}
