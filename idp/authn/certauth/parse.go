package certauth

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/ateaidp/atea/idp/dni"
)

// oidSerialNumber is the X.520 serialNumber attribute type (2.5.4.5), which Spanish
// certificates use for the holder's identity number.
var oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}

// spanishIDPrefix is the ETSI EN 319 412-1 §5.1.3 semantics identifier for a national identity
// card ("IDC") of Spain ("ES"); the NIE is carried under it too.
const spanishIDPrefix = "IDCES-"

const (
	// maxHeader bounds the proxy header: a PEM citizen certificate with its issuing CA is
	// about 5 KiB, URL-escaping adds a third.
	maxHeader = 64 << 10
	// maxFile bounds anchor and CRL files read at startup. National CRLs run to a few MiB.
	maxFile = 32 << 20
)

// ParseSerial returns the canonical DNI/NIE carried in a certificate subject's serialNumber:
// "IDCES-48151623L" (ETSI EN 319 412-1 §5.1.3), "IDCES-X1234567L" or a bare "48151623L" as
// older FNMT and DNIe certificates carry it, normalised with dni.Parse. Any other value (a
// passport or tax-ID semantics identifier, a wrong check letter, garbage) is an error wrapping
// ErrNoDNI; the error text does not contain the value.
func ParseSerial(serialNumber string) (string, error) {
	s := serialNumber
	if len(s) >= len(spanishIDPrefix) && strings.EqualFold(s[:len(spanishIDPrefix)], spanishIDPrefix) {
		s = s[len(spanishIDPrefix):]
	}
	id, err := dni.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoDNI, err)
	}
	return id, nil
}

// subjectDNI reads the DNI/NIE from the subject's serialNumber. Several serialNumber
// attributes with different values are refused: which one names the holder is ambiguous, and
// pkix.Name.SerialNumber would silently keep the last.
func subjectDNI(c *x509.Certificate) (string, error) {
	var found string
	for _, atv := range c.Subject.Names {
		if !atv.Type.Equal(oidSerialNumber) {
			continue
		}
		v, ok := atv.Value.(string)
		if !ok {
			return "", fmt.Errorf("%w: serialNumber is not a string", ErrNoDNI)
		}
		id, err := ParseSerial(v)
		if err != nil {
			return "", err
		}
		if found != "" && found != id {
			return "", fmt.Errorf("%w: several serialNumber attributes", ErrNoDNI)
		}
		found = id
	}
	if found == "" {
		return "", fmt.Errorf("%w: no serialNumber attribute", ErrNoDNI)
	}
	return found, nil
}

// parseHeader decodes the proxy header: PEM (one or more CERTIFICATE blocks, leaf first),
// PEM URL-escaped (nginx $ssl_client_escaped_cert), or base64 DER (standard or URL alphabet,
// padded or not). An empty value is what nginx sends when the client presented nothing.
func parseHeader(v string) ([]*x509.Certificate, error) {
	if len(v) > maxHeader {
		return nil, fmt.Errorf("%w: certificate header too large", ErrUntrusted)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, fmt.Errorf("%w: empty header from proxy", ErrNoCertificate)
	}
	if strings.Contains(v, "%") {
		// PathUnescape, not QueryUnescape: '+' is a base64 character, not a space.
		u, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: malformed certificate header", ErrUntrusted)
		}
		v = strings.TrimSpace(u)
	}
	var certs []*x509.Certificate
	var err error
	if strings.HasPrefix(v, "-----BEGIN") {
		certs, err = parsePEM([]byte(v), "CERTIFICATE")
	} else {
		certs, err = parseBase64DER(v)
	}
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("%w: malformed certificate header", ErrUntrusted)
	}
	if len(certs) > maxChain {
		return nil, fmt.Errorf("%w: chain too long", ErrUntrusted)
	}
	return certs, nil
}

var errMalformed = errors.New("certauth: malformed certificate data")

// parsePEM parses consecutive PEM blocks of the given type, refusing any other block and any
// trailing text (which could hide a second, different reading of the input).
func parsePEM(data []byte, blockType string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for len(strings.TrimSpace(string(rest))) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil || b.Type != blockType {
			return nil, errMalformed
		}
		if len(certs) >= maxChain {
			return nil, errMalformed
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errMalformed
		}
		certs = append(certs, c)
	}
	return certs, nil
}

func parseBase64DER(v string) ([]*x509.Certificate, error) {
	v = strings.Join(strings.Fields(v), "")
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		der, err := enc.DecodeString(v)
		if err != nil {
			continue
		}
		certs, err := x509.ParseCertificates(der)
		if err != nil {
			return nil, errMalformed
		}
		return certs, nil
	}
	return nil, errMalformed
}

// readFile reads at most maxFile bytes of path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrInvalidConfig, maxFile)
	}
	return data, nil
}

// LoadAnchors reads trust-anchor certificates from a file: one or more PEM CERTIFICATE blocks,
// or DER (CAs such as the DNIe's publish .crt files in DER). Every certificate must be a CA.
func LoadAnchors(pemFile string) ([]*x509.Certificate, error) {
	data, err := readFile(pemFile)
	if err != nil {
		return nil, fmt.Errorf("certauth: load anchors %s: %w", pemFile, err)
	}
	var certs []*x509.Certificate
	if strings.Contains(string(data), "-----BEGIN") {
		certs, err = parseAnchorPEM(data)
	} else {
		certs, err = x509.ParseCertificates(data)
	}
	if err != nil {
		return nil, fmt.Errorf("certauth: load anchors %s: %w: %w", pemFile, ErrInvalidConfig, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("certauth: load anchors %s: %w: no certificates", pemFile, ErrInvalidConfig)
	}
	for i, c := range certs {
		if !c.BasicConstraintsValid || !c.IsCA {
			return nil, fmt.Errorf("certauth: load anchors %s: %w: certificate %d is not a CA", pemFile, ErrInvalidConfig, i)
		}
	}
	return certs, nil
}

// parseAnchorPEM parses a CA bundle: unlike the proxy header, it may hold any number of
// certificates and comments between blocks (as distribution bundles do), but no other block
// types, so that a key or CRL put in the wrong file is noticed.
func parseAnchorPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs, nil
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
}

// LoadCRL reads one certificate revocation list (RFC 5280 §5), PEM ("X509 CRL") or DER. Its
// signature is checked against the configured CAs by New, not here.
func LoadCRL(file string) (*x509.RevocationList, error) {
	data, err := readFile(file)
	if err != nil {
		return nil, fmt.Errorf("certauth: load CRL %s: %w", file, err)
	}
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "X509 CRL" {
			return nil, fmt.Errorf("certauth: load CRL %s: %w: unexpected PEM block %q", file, ErrInvalidConfig, b.Type)
		}
		data = b.Bytes
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("certauth: load CRL %s: %w: %w", file, ErrInvalidConfig, err)
	}
	return crl, nil
}
