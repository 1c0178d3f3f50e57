package samlxml

// SignCanonical returns the enveloped ds:Signature element (declaring the ds namespace itself)
// for the element whose ID is id and whose exclusive canonical form, without the signature, is
// canon: one Reference to "#"+id, transforms enveloped-signature then exclusive C14N, and the
// signing certificate in KeyInfo (saml-core-2.0-os §5.4). It lets documents Atea does not
// write in canonical form itself, such as its metadata (metadata.BuildSignedIdPMetadata),
// be signed with the same key and code as its responses.
func (s *Signer) SignCanonical(id string, canon []byte) ([]byte, error) { return s.sign(id, canon) }
