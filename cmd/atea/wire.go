package main

import (
	"fmt"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
)

// idpConfig maps the validated configuration onto the IdP's own Config.
func idpConfig(c *config.Config) (idp.Config, error) {
	lvl := func(key, s string) (authn.Level, error) {
		if s == "" {
			return authn.LevelNone, nil
		}
		l, err := authn.ParseLevel(s)
		if err != nil {
			return l, fmt.Errorf("%s: %w", key, err)
		}
		return l, nil
	}
	def, err := lvl("saml.defaultLevel", c.SAML.DefaultLevel)
	if err != nil {
		return idp.Config{}, err
	}
	mapping := map[string]authn.Level{}
	for classRef, name := range c.ClassMapping() {
		l, err := lvl("saml.classMapping", name)
		if err != nil {
			return idp.Config{}, err
		}
		mapping[classRef] = l
	}
	sps := map[string]idp.SPSettings{}
	for i, sp := range c.ServiceProviders {
		l, err := lvl(fmt.Sprintf("serviceProviders[%d].defaultLevel", i), sp.DefaultLevel)
		if err != nil {
			return idp.Config{}, err
		}
		reauth, err := lvl(fmt.Sprintf("serviceProviders[%d].reauthenticateFrom", i), sp.ReauthenticateFrom)
		if err != nil {
			return idp.Config{}, err
		}
		sps[sp.EntityID] = idp.SPSettings{
			Sign: sp.Sign, EncryptAssertions: sp.EncryptAssertions, Encryption: sp.Encryption,
			NameIDFormat: sp.NameIDFormat, Attributes: sp.Attributes, RequireSignedRequests: sp.RequireSignedRequests,
			DefaultLevel: l, MaxRelayState: sp.MaxRelayState, ReauthFrom: reauth,
			AllowUnsignedLogout: sp.AllowUnsignedLogout,
		}
	}
	return idp.Config{
		EntityID:              c.EntityID(),
		BaseURL:               c.BaseURL,
		CookieName:            c.Session.CookieName,
		FlowCookieName:        c.Session.FlowCookieName,
		CookieSecure:          c.Session.CookieSecure,
		SessionLifetime:       c.Session.Lifetime,
		FlowLifetime:          c.Session.FlowLifetime,
		AssertionLifetime:     c.SAML.AssertionLifetime,
		NotBeforeSkew:         c.SAML.NotBeforeSkew,
		ClockSkew:             c.SAML.ClockSkew,
		MaxRequestAge:         c.SAML.MaxRequestAge,
		MaxPasswordFailures:   c.Directory.MaxFailures,
		CertBaseURL:           c.Certificate.BaseURL,
		FailureWindow:         c.Directory.FailureWindow,
		RequireSignedRequests: c.SAML.RequireSignedRequests,
		MaxRelayState:         c.SAML.MaxRelayState,
		DefaultNameIDFormat:   c.SAML.DefaultNameIDFormat,
		Sign:                  c.SAML.Sign,
		DefaultLevel:          def,
		ClassMapping:          mapping,
		SPs:                   sps,
		LogoutTimeout:         c.SAML.LogoutTimeout,
		MaxLogoutSPs:          c.SAML.MaxLogoutSPs,
		SOAPLogout:            c.SAML.SOAPLogout,
	}, nil
}
