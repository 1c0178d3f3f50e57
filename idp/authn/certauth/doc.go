// Package certauth signs a citizen in with an X.509 client certificate: a qualified certificate
// (FNMT-RCM and similar Spanish CAs) or the electronic DNI. It reaches authn.LevelHigh on its own,
// without a password (BRIEF.md "Levels of assurance").
//
// It is responsible for:
//   - obtaining the citizen's certificate, either from the TLS connection when Atea terminates
//     mutual TLS on a dedicated listener (Method.TLSConfig), or from a header set by a trusted
//     reverse proxy, accepted only from the configured proxy addresses (Config.TrustedProxies);
//   - verifying the chain against the configured trust anchors (never the system roots), with
//     the injected clock, the clientAuth extended key usage (RFC 5280 §4.2.1.12) and, when the
//     certificate states a key usage, digitalSignature (RFC 5280 §4.2.1.3: the key signs the TLS
//     CertificateVerify, RFC 8446 §4.4.3). The DNIe's separate signing certificate, which has only
//     nonRepudiation, is therefore refused. The chain is re-verified on every Authenticate, also
//     behind a proxy that already verified it: the proxy's configuration is not ours to trust;
//   - revocation from CRL files, when configured: one CRL per CA, checked only if present. A CRL
//     must be signed by a configured CA (checked at New) and is refused once past its NextUpdate,
//     so a stale CRL fails closed (ErrUntrusted) rather than silently accepting revoked
//     certificates: whoever configures a CRL must refresh it. Delta CRLs and partitioned CRLs
//     (IssuingDistributionPoint) are not interpreted;
//   - reading the citizen's DNI/NIE from the subject serialNumber attribute (X.520 OID 2.5.4.5),
//     in the ETSI EN 319 412-1 §5.1.3 form "IDCES-12345678Z" or bare "12345678Z", normalised
//     with dni.Parse.
//
// It is not responsible for OCSP or fetching CRLs (no network access here), for finding the
// citizen in the directory (the IdP looks the returned DNI up), for legal-person or
// representative certificates (organizationIdentifier is ignored), or for the sign-in pages.
//
// Errors are ErrNoCertificate, ErrUntrusted and ErrNoDNI (wrapped with a short reason). Their
// texts never carry the DNI, the subject or x509's own messages (which may quote names from the
// certificate): SECURITY.md §4.22.
package certauth
