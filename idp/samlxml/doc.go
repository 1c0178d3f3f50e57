// Package samlxml writes the SAML messages Atea sends — Responses with their Assertions,
// signed (XML-DSig enveloped, exclusive C14N) and optionally encrypted (XML-Enc) — straight into
// their canonical form.
//
// Why not build an etree and let goxmldsig canonicalise it? Atea controls every byte it emits,
// so it can write each element exactly as Exclusive XML Canonicalization 1.0 would render it
// (attributes in canonical order, namespace declarations only where visibly used, no
// self-closing tags). The digest is then taken over the very bytes that are sent, with no tree,
// no re-serialisation and no canonicaliser on the hot path, which leaves the RSA/ECDSA
// signatures as nearly all of the CPU an SSO costs. Tests check every message against
// goxmldsig's own canonicaliser and verifier, and against crewjam/saml's service provider.
//
// It is not responsible for deciding what goes in a message (that is package idp) nor for
// parsing what peers send (metadata/xmlgate, metadata/xmlsig).
package samlxml
