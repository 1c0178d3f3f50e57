// Package metadata loads the SAML 2.0 metadata of the service providers Atea serves and builds
// Atea's own IdP metadata document (saml-metadata-2.0-os).
//
// # Service providers
//
// [Parse] reads one metadata document: an md:EntityDescriptor, or an md:EntitiesDescriptor with
// any nesting, told apart by the root element's namespace URI and local name (never by error
// text, as crewjam's samlsp.ParseMetadata does). The bytes pass [xmlgate.Check] first
// (SECURITY.md R1: no DOCTYPE, bounded size and depth, …). Parsing uses Atea's own
// encoding/xml structs, matched by namespace URI, rather than crewjam's types, so crewjam's
// custom unmarshalers and the panics listed in STYLE.md §A2 are not reachable.
//
// Each entity is checked, and skipped with its reason if it fails (SECURITY.md §4.1, §4.11):
//
//   - entityID non-empty and at most 1024 bytes (saml-core-2.0-os §8.3.6), unique in the document;
//   - exactly one SPSSODescriptor whose protocolSupportEnumeration lists
//     urn:oasis:names:tc:SAML:2.0:protocol;
//   - at least one HTTP-POST AssertionConsumerService; every ACS has a unique index and an
//     absolute https Location without fragment or user info (plain http only for "localhost"
//     and loopback addresses);
//   - every KeyDescriptor has use "signing", "encryption" or none, and X509Certificates that
//     parse (whitespace in the base64 allowed, ≤ 8 KiB each) with RSA 2048–8192-bit or ECDSA
//     P-256/P-384/P-521 keys;
//   - the earliest validUntil of the entity, its SPSSODescriptor and enclosing
//     EntitiesDescriptors is not in the past;
//   - xs:boolean attributes (AuthnRequestsSigned, isDefault) are well-formed: a typo must not
//     silently turn request signing off.
//
// [DirSource] keeps the SPs of every *.xml file in a directory, rescans it on a ticker
// ([DirSource.Run]) and serves lookups from an atomically swapped snapshot.
//
// # Atea's IdP metadata
//
// [BuildIdPMetadata] writes Atea's document: deterministic, gated like any peer's metadata,
// and readable by crewjam's samlsp.ParseMetadata. [BuildSignedIdPMetadata] adds the enveloped
// signature of the document served at /saml/metadata.
//
// # Not here
//
// Remote sources (remote.go: URLSource for one document or an aggregate; mdq.go: MDQSource,
// per-entity queries) verify the document's signature with metadata/xmlsig against the
// source's pinned anchors before using anything in it, enforce validUntil, keep the last
// good copy on failure and audit a Diff of every change; Multi combines sources by priority.
// `atea serve` builds them from spMetadata.sources, after the directory source.
// The package holds no keys: [BuildSignedIdPMetadata] signs through the [EnvelopedSigner] it is
// given (idp/samlxml's). Certificate validity dates are not checked: in SAML metadata a certificate is only
// a container for a key, whose trust comes from the metadata itself. It serves no HTTP and
// touches no store; per-SP policy (what to sign, encrypt, release) belongs to the idp package
// and its configuration.
package metadata
