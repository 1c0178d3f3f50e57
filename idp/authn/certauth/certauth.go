package certauth

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/dni"
)

// Sentinels Authenticate returns, always wrapped with a short reason. The IdP maps each to one
// message for the citizen; the reasons are for logs.
var (
	// ErrNoCertificate: no client certificate came with the request (none sent over TLS, no
	// header from a trusted proxy, or a header from an address that is not a trusted proxy).
	ErrNoCertificate = errors.New("certauth: no client certificate")
	// ErrUntrusted: a certificate came but is not accepted: unknown issuer, expired or not yet
	// valid, wrong key usage, revoked, a stale CRL, or malformed.
	ErrUntrusted = errors.New("certauth: certificate not trusted")
	// ErrNoDNI: the certificate is trusted but its subject carries no DNI/NIE Atea can use.
	ErrNoDNI = errors.New("certauth: no DNI in certificate")
	// ErrInvalidConfig is wrapped by every error Config.Validate and New return.
	ErrInvalidConfig = errors.New("certauth: invalid config")
)

// ID is the method's name in config and logs.
const ID = "certificate"

// maxChain bounds how many certificates of a presented chain are looked at: real chains are 2
// or 3 long (citizen, issuing CA, root), and each extra one is work an attacker chooses.
const maxChain = 8

// Identity is who a verified certificate names.
type Identity struct {
	// DNI is the canonical DNI/NIE from the subject serialNumber ("48151623L").
	DNI string
	// Subject is the certificate subject as an RFC 2253 string. It holds the citizen's name and
	// number: never log it.
	Subject string
	// NotAfter is when the certificate expires; a session built on it should not outlive it.
	NotAfter time.Time
	// Fingerprint is the lower-case hex SHA-256 of the certificate's DER, for audit records.
	Fingerprint string
}

// LogValue implements slog.LogValuer so that logging an Identity shows the DNI masked
// ("***623L"), the fingerprint and the expiry, never the subject (SECURITY.md §4.22).
func (id Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("dni", dni.Mask(id.DNI)),
		slog.String("fingerprint", id.Fingerprint),
		slog.Time("not_after", id.NotAfter),
	)
}

// Config configures the method. The zero value is not valid: TrustAnchors is required.
type Config struct {
	// TrustAnchors are the CAs a citizen certificate must chain to (for example AC RAIZ DNIE 2,
	// AC FNMT Usuarios). An issuing CA may be listed directly. The system roots are never used.
	TrustAnchors []*x509.Certificate
	// Intermediates are optional CA certificates used to build chains but not trusted on their
	// own; needed when a proxy passes only the citizen's certificate.
	Intermediates []*x509.Certificate
	// CRLs are optional revocation lists, at most one per CA; each must be signed by one of
	// TrustAnchors or Intermediates. A CA without a CRL is not checked for revocation.
	CRLs []*x509.RevocationList
	// ProxyHeader is the request header a trusted reverse proxy puts the verified certificate
	// in (e.g. "X-Client-Cert"): PEM, URL-escaped PEM as nginx's $ssl_client_escaped_cert, or
	// base64 DER. Empty: mutual TLS only.
	ProxyHeader string
	// TrustedProxies are the addresses ProxyHeader is accepted from (r.RemoteAddr's IP). Required
	// with ProxyHeader, forbidden without it.
	TrustedProxies []netip.Prefix
	// Now is the clock for validity and CRL checks (nil → time.Now).
	Now func() time.Time
	// Logger receives warnings such as a certificate header from an untrusted address (nil →
	// discard).
	Logger *slog.Logger
}

// Validate reports every problem with c at once, each wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	if len(c.TrustAnchors) == 0 {
		bad("no trust anchors")
	}
	for i, a := range c.TrustAnchors {
		if a == nil {
			bad("trust anchor %d is nil", i)
			continue
		}
		// A leaf listed as an anchor would be trusted to sign nothing, or pinned by mistake:
		// both are configuration errors, not policies (RFC 5280 §4.2.1.9).
		if !a.BasicConstraintsValid || !a.IsCA {
			bad("trust anchor %d is not a CA certificate", i)
		}
	}
	for i, a := range c.Intermediates {
		if a == nil || !a.BasicConstraintsValid || !a.IsCA {
			bad("intermediate %d is not a CA certificate", i)
		}
	}
	for i, crl := range c.CRLs {
		if crl == nil {
			bad("CRL %d is nil", i)
			continue
		}
		if signerOf(crl, c.TrustAnchors, c.Intermediates) == nil {
			bad("CRL %d is not signed by a configured CA", i)
		}
	}
	if c.ProxyHeader != "" && len(c.TrustedProxies) == 0 {
		bad("proxy header set without trusted proxies")
	}
	if c.ProxyHeader == "" && len(c.TrustedProxies) > 0 {
		bad("trusted proxies set without a proxy header")
	}
	if c.ProxyHeader != "" && !validHeaderName(c.ProxyHeader) {
		bad("proxy header is not a valid header name")
	}
	for i, p := range c.TrustedProxies {
		if !p.IsValid() {
			bad("trusted proxy %d is not a valid prefix", i)
		}
	}
	return errors.Join(errs...)
}

// validHeaderName reports whether s is an RFC 9110 §5.6.2 token.
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// crlEntry is a configured CRL with the CA that signed it and its revoked serials.
type crlEntry struct {
	signer     *x509.Certificate
	nextUpdate time.Time
	revoked    map[string]struct{}
}

// Method signs citizens in with a client certificate. It is immutable after New and safe for
// concurrent use.
type Method struct {
	roots         *x509.CertPool
	intermediates *x509.CertPool // configured ones; cloned per verification
	crls          []crlEntry
	header        string
	proxies       []netip.Prefix
	now           func() time.Time
	log           *slog.Logger
}

// New validates cfg and builds the method.
func New(cfg Config) (*Method, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Method{
		roots:         x509.NewCertPool(),
		intermediates: x509.NewCertPool(),
		header:        http.CanonicalHeaderKey(cfg.ProxyHeader),
		now:           cfg.Now,
		log:           cfg.Logger,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With(slog.String("method", ID))
	for _, a := range cfg.TrustAnchors {
		m.roots.AddCert(a)
	}
	for _, c := range cfg.Intermediates {
		m.intermediates.AddCert(c)
	}
	for _, p := range cfg.TrustedProxies {
		// Unmap so that "::ffff:10.0.0.1/128" and "10.0.0.1/32" mean the same, as the remote
		// address is unmapped too.
		m.proxies = append(m.proxies, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
	}
	for _, crl := range cfg.CRLs {
		e := crlEntry{
			signer:     signerOf(crl, cfg.TrustAnchors, cfg.Intermediates),
			nextUpdate: crl.NextUpdate,
			revoked:    make(map[string]struct{}, len(crl.RevokedCertificateEntries)),
		}
		for _, r := range crl.RevokedCertificateEntries {
			if r.SerialNumber != nil {
				e.revoked[r.SerialNumber.String()] = struct{}{}
			}
		}
		m.crls = append(m.crls, e)
	}
	return m, nil
}

// unmappedBits is p's length once an IPv4-mapped IPv6 prefix is read as IPv4.
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

// signerOf returns the configured CA whose key signed crl, or nil.
func signerOf(crl *x509.RevocationList, sets ...[]*x509.Certificate) *x509.Certificate {
	for _, set := range sets {
		for _, ca := range set {
			if ca != nil && crl.CheckSignatureFrom(ca) == nil {
				return ca
			}
		}
	}
	return nil
}

// ID returns the method's name in config and logs ("certificate").
func (m *Method) ID() string { return ID }

// Level returns authn.LevelHigh: a qualified certificate or DNIe on its own reaches high.
func (m *Method) Level() authn.Level { return authn.LevelHigh }

// TLSConfig returns the server configuration for the dedicated mutual-TLS listener.
//
// It requests a client certificate without requiring one (tls.RequestClientCert), so a
// citizen without a certificate still reaches a page that can say so (ErrNoCertificate from
// Authenticate). ClientCAs lists the trust anchors only as a hint: browsers use it to offer
// just the matching certificates. A certificate that is sent is verified by this package in
// VerifyConnection (as tls.VerifyClientCertIfGiven would, but with the injected clock, the
// configured intermediates, CRLs and key-usage rules): an untrusted one ends the handshake.
// VerifyConnection, unlike VerifyPeerCertificate, also runs on resumed sessions.
// Authenticate verifies again on every request, so a session resumed after the certificate
// expired is still refused.
func (m *Method) TLSConfig(serverCert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequestClientCert,
		ClientCAs:    m.roots,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			_, err := m.verify(cs.PeerCertificates)
			return err
		},
	}
}

// Authenticate returns who the request's client certificate names.
//
// From a trusted proxy (r.RemoteAddr in TrustedProxies) the certificate is read from
// ProxyHeader only; from anyone else it is read from r.TLS, and a ProxyHeader they send is
// ignored and logged at Warn (it is a forgery attempt or a misrouted request). Either way the
// chain is verified against the trust anchors. Errors wrap ErrNoCertificate, ErrUntrusted or
// ErrNoDNI.
func (m *Method) Authenticate(r *http.Request) (Identity, error) {
	chain, err := m.certificates(r)
	if err != nil {
		return Identity{}, err
	}
	leaf, err := m.verify(chain)
	if err != nil {
		return Identity{}, err
	}
	id, err := subjectDNI(leaf)
	if err != nil {
		return Identity{}, err
	}
	sum := sha256.Sum256(leaf.Raw)
	return Identity{
		DNI:         id,
		Subject:     leaf.Subject.String(),
		NotAfter:    leaf.NotAfter,
		Fingerprint: hex.EncodeToString(sum[:]),
	}, nil
}

// certificates picks the presented chain (leaf first) from the header or the TLS state.
func (m *Method) certificates(r *http.Request) ([]*x509.Certificate, error) {
	if m.header != "" {
		values := r.Header.Values(m.header)
		if m.fromTrustedProxy(r.RemoteAddr) {
			switch len(values) {
			case 0:
				return nil, fmt.Errorf("%w: no header from proxy", ErrNoCertificate)
			case 1:
				return parseHeader(values[0])
			default:
				// Two values mean someone upstream appended rather than replaced: we cannot
				// tell which one the proxy verified.
				return nil, fmt.Errorf("%w: several certificate headers", ErrUntrusted)
			}
		}
		if len(values) > 0 {
			m.log.WarnContext(r.Context(), "certificate header from untrusted address",
				slog.String("remote_ip", remoteIP(r.RemoteAddr)), slog.String("header", m.header))
		}
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, fmt.Errorf("%w: none presented", ErrNoCertificate)
	}
	return r.TLS.PeerCertificates, nil
}

// fromTrustedProxy reports whether remoteAddr ("ip:port", as net/http sets it) is a trusted
// proxy. An unparsable address is not.
func (m *Method) fromTrustedProxy(remoteAddr string) bool {
	addr, ok := parseRemote(remoteAddr)
	if !ok {
		return false
	}
	for _, p := range m.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func parseRemote(remoteAddr string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// remoteIP is the address for logs: the IP when it parses, else a fixed marker (RemoteAddr
// may be attacker-influenced text in unusual setups).
func remoteIP(remoteAddr string) string {
	if a, ok := parseRemote(remoteAddr); ok {
		return a.String()
	}
	return "invalid"
}

// verify checks chain (leaf first, the rest untrusted helpers) and returns the leaf.
func (m *Method) verify(chain []*x509.Certificate) (*x509.Certificate, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, fmt.Errorf("%w: none presented", ErrNoCertificate)
	}
	if len(chain) > maxChain {
		return nil, fmt.Errorf("%w: chain too long", ErrUntrusted)
	}
	leaf := chain[0]
	if leaf.BasicConstraintsValid && leaf.IsCA {
		return nil, fmt.Errorf("%w: a CA certificate is not a citizen's", ErrUntrusted)
	}
	// The key signs the TLS handshake (RFC 8446 §4.4.3); a certificate whose key usage is
	// stated must allow it (RFC 5280 §4.2.1.3). This refuses the DNIe signing certificate.
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fmt.Errorf("%w: key usage does not allow authentication", ErrUntrusted)
	}
	pool := m.intermediates.Clone()
	for _, c := range chain[1:] {
		if c != nil {
			pool.AddCert(c)
		}
	}
	now := m.now()
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         m.roots,
		Intermediates: pool,
		CurrentTime:   now,
		// Go accepts a certificate without extended key usage, or with anyExtendedKeyUsage,
		// for every usage (RFC 5280 §4.2.1.12), and checks the usage nests through the CAs.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUntrusted, verifyReason(err))
	}
	// Revocation: any one chain whose every link is unrevoked (in the CRLs we have) will do,
	// as with path validation itself (RFC 5280 §6.3).
	var crlErr error
	for _, c := range chains {
		if crlErr = m.checkCRLs(c, now); crlErr == nil {
			return leaf, nil
		}
	}
	return nil, crlErr
}

// verifyReason names why x509 refused a chain without quoting its message, which can carry
// names and e-mail addresses from the certificate.
func verifyReason(err error) string {
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	switch {
	case errors.As(err, &unk):
		return "unknown issuer"
	case errors.As(err, &inv):
		switch inv.Reason {
		case x509.Expired:
			return "expired or not yet valid"
		case x509.IncompatibleUsage:
			return "not valid for client authentication"
		case x509.NotAuthorizedToSign:
			return "issuer not a CA"
		case x509.CANotAuthorizedForThisName, x509.CANotAuthorizedForExtKeyUsage:
			return "outside the issuer's constraints"
		case x509.TooManyIntermediates:
			return "chain too long"
		}
		return "invalid certificate"
	}
	return "chain does not verify"
}

// checkCRLs checks every certificate in a verified chain (leaf first, anchor last) against the
// CRL of its issuer, if one is configured.
func (m *Method) checkCRLs(chain []*x509.Certificate, now time.Time) error {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		for _, e := range m.crls {
			// Match the issuer by name and key, not by DER: a re-issued CA certificate with the
			// same key still signs the same CRL.
			if !bytes.Equal(e.signer.RawSubject, issuer.RawSubject) ||
				!bytes.Equal(e.signer.RawSubjectPublicKeyInfo, issuer.RawSubjectPublicKeyInfo) {
				continue
			}
			// A CRL past its nextUpdate may miss revocations: fail closed (RFC 5280 §6.3.3 (a)).
			if !e.nextUpdate.IsZero() && now.After(e.nextUpdate) {
				return fmt.Errorf("%w: CRL out of date", ErrUntrusted)
			}
			if _, revoked := e.revoked[cert.SerialNumber.String()]; revoked {
				return fmt.Errorf("%w: revoked", ErrUntrusted)
			}
		}
	}
	return nil
}
