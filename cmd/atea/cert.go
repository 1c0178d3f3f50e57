package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp/authn/certauth"
)

// certDNI adapts certauth to the IdP's CertSignIn.
type certDNI struct{ m *certauth.Method }

func (c certDNI) CitizenDNI(r *http.Request) (string, error) {
	id, err := c.m.Authenticate(r)
	if err != nil {
		return "", err
	}
	return id.DNI, nil
}

// buildCertificates makes certificate sign-in from config (nil when disabled).
func buildCertificates(cfg *config.Config, log *slog.Logger) (*certauth.Method, error) {
	k := cfg.Certificate
	if !k.Enabled {
		return nil, nil
	}
	anchors, err := certauth.LoadAnchors(k.TrustAnchorsFile)
	if err != nil {
		return nil, fmt.Errorf("certificate.trustAnchorsFile: %w", err)
	}
	cc := certauth.Config{TrustAnchors: anchors, ProxyHeader: k.ProxyHeader, Logger: log.With("method", "certificate")}
	if k.IntermediatesFile != "" {
		if cc.Intermediates, err = certauth.LoadAnchors(k.IntermediatesFile); err != nil {
			return nil, fmt.Errorf("certificate.intermediatesFile: %w", err)
		}
	}
	for i, f := range k.CRLFiles {
		crl, err := certauth.LoadCRL(f)
		if err != nil {
			return nil, fmt.Errorf("certificate.crlFiles[%d]: %w", i, err)
		}
		cc.CRLs = append(cc.CRLs, crl)
	}
	for i, p := range k.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("certificate.trustedProxies[%d]: %w", i, err)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		cc.TrustedProxies = append(cc.TrustedProxies, pfx)
	}
	m, err := certauth.New(cc)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return m, nil
}

// serveMutualTLS runs Atea's own mutual-TLS listener for certificate sign-in until ctx ends.
func serveMutualTLS(ctx context.Context, cfg *config.Config, m *certauth.Method, h http.Handler, log *slog.Logger) error {
	k := cfg.Certificate
	cert, err := tls.LoadX509KeyPair(k.TLSCertFile, k.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("certificate.tlsCertFile: %w", err)
	}
	ln, err := net.Listen("tcp", k.Listen)
	if err != nil {
		return fmt.Errorf("certificate.listen: %w", err)
	}
	hs := &http.Server{Handler: h, TLSConfig: m.TLSConfig(cert), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	go func() {
		if err := hs.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("mutual-TLS listener stopped", "err", err)
		}
	}()
	return nil
}
