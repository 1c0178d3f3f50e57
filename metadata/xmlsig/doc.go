// Package xmlsig verifies the XML signatures Atea accepts from peers: enveloped XML-DSig
// signatures on SAML messages and metadata (VerifyEnveloped), and the query-string signature of
// the HTTP-Redirect binding (ParseRedirectQuery, RedirectParams.Verify). It is the only package
// that calls goxmldsig for verification.
//
// Before any cryptography it enforces the SAML signature profile (saml-core-2.0-os §5.4, mirrored
// from OpenSAML's SAMLSignatureProfileValidator, SECURITY.md rule R2) and an algorithm allow-list
// (R3): RSA or ECDSA with SHA-256/384/512, exclusive C14N without comments, never SHA-1. Keys come
// only from the certificates the caller passes (R4): KeyInfo in a message is ignored. The element
// VerifyEnveloped returns is goxmldsig's re-parse of exactly the bytes that were digested (R5);
// callers read business data from it and from nothing else.
//
// GateCheck is the XML gate every inbound SAML message of the IdP goes through: the stream
// scanner in gate mode accepts what it can prove xmlgate.Check accepts, and xmlgate.Check
// decides everything else (xmlgate cannot call the scanner itself: xmlsig imports xmlgate).
//
// It is not responsible for choosing which certificates to trust for which entity (package
// metadata and the callers do that, by the message's Issuer), for gating the XML before parsing
// (package xmlgate; VerifyEnveloped expects a gated document), for inflating Redirect messages, or
// for any SAML protocol check (Destination, IssueInstant, replay).
package xmlsig
