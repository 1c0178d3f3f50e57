// Package xmlgate is Atea's streaming pre-check for untrusted XML (SECURITY.md rule R1): every SAML
// protocol message and every metadata document passes Check before etree, encoding/xml Unmarshal or
// goxmldsig see it, and every HTTP-Redirect message passes Inflate before that.
//
// Check enforces size, depth, token, attribute and namespace-declaration caps; UTF-8 only; no
// DOCTYPE or other directive (no entities, no DTD defaults that other parsers would apply and Go
// would not, SECURITY.md §2.7–2.8); no processing instruction except the leading XML declaration;
// no duplicate attributes; no duplicate ID values; no rebinding of a SAML/DSig/XMLEnc prefix; one
// root element; and finally the Mattermost round-trip validator (CVE-2020-29509/29511 class).
//
// It is not responsible for schema validation, signature checks (package xmlsig), or deciding which
// limits apply to which peer: callers pick ProtocolLimits or MetadataLimits and may adjust them.
// Error strings name the rule that failed and never echo document content.
package xmlgate
