package metadata

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	"github.com/google/go-cmp/cmp"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func idpInfo(t testing.TB) IdPInfo {
	t.Helper()
	return IdPInfo{
		EntityID:                "https://atea.example.test/saml/metadata",
		SSOURL:                  "https://atea.example.test/saml/sso",
		SigningCerts:            []*x509.Certificate{loadCert(t, "sp-rsa2048.crt"), loadCert(t, "ecdsa-p256.crt")},
		NameIDFormats:           []string{string(saml.TransientNameIDFormat), string(saml.PersistentNameIDFormat)},
		WantAuthnRequestsSigned: true,
		OrganizationName:        `Atea & "Ate" <eus>`,
		OrganizationURL:         "https://atea.example.test/",
		DisplayNames:            map[string]string{"es": "Atea — puerta", "eu": "Atea", "en": "Atea (the door)"},
		ContactEmail:            "ops@atea.example.test",
	}
}

func TestBuildIdPMetadataGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		info func(IdPInfo) IdPInfo
	}{
		{name: "full", info: func(i IdPInfo) IdPInfo { return i }},
		{name: "eidas", info: func(i IdPInfo) IdPInfo {
			// Everything idp.BuildMetadata can publish: rollover keys, encryption, SLO,
			// freshness and the eIDAS extensions.
			i.ID = "_0123456789abcdef"
			i.ValidUntil = testNow().Add(7 * 24 * time.Hour)
			i.CacheDuration = 90 * time.Minute
			i.SLOURL = "https://atea.example.test/saml/slo"
			i.EncryptionCerts = []*x509.Certificate{loadCert(t, "sp2-rsa2048.crt")}
			i.EncryptionMethods = []string{"http://www.w3.org/2009/xmlenc11#aes256-gcm"}
			i.EIDAS = &EIDASInfo{
				NodeCountry:    "ES",
				Levels:         []string{"http://eidas.europa.eu/LoA/low", "http://eidas.europa.eu/LoA/substantial"},
				SigningMethods: []string{"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"},
				DigestMethods:  []string{"http://www.w3.org/2001/04/xmlenc#sha256"},
			}
			return i
		}},
		{name: "minimal", info: func(i IdPInfo) IdPInfo {
			// What idp.BuildMetadata passes today.
			i.SigningCerts = i.SigningCerts[:1]
			i.WantAuthnRequestsSigned = false
			i.OrganizationName = "Atea"
			i.DisplayNames, i.ContactEmail = nil, ""
			return i
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info := tc.info(idpInfo(t))
			got, err := BuildIdPMetadata(info)
			if err != nil {
				t.Fatalf("BuildIdPMetadata() error = %v", err)
			}
			again, err := BuildIdPMetadata(info)
			if err != nil || !bytes.Equal(got, again) {
				t.Fatal("BuildIdPMetadata() is not deterministic")
			}
			golden := filepath.Join("testdata", "idp-metadata-"+tc.name+".golden.xml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("BuildIdPMetadata() mismatch with %s (-want +got):\n%s", golden, diff)
			}
			if err := xmlgate.Check(got, xmlgate.MetadataLimits()); err != nil {
				t.Errorf("xmlgate.Check() = %v, want nil", err)
			}
		})
	}
}

func TestBuildIdPMetadataCrewjam(t *testing.T) {
	t.Parallel()
	info := idpInfo(t)
	raw, err := BuildIdPMetadata(info)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := samlsp.ParseMetadata(raw)
	if err != nil {
		t.Fatalf("samlsp.ParseMetadata() error = %v", err)
	}
	if ed.EntityID != info.EntityID {
		t.Errorf("EntityID = %q, want %q", ed.EntityID, info.EntityID)
	}
	if len(ed.IDPSSODescriptors) != 1 {
		t.Fatalf("IDPSSODescriptors = %d, want 1", len(ed.IDPSSODescriptors))
	}
	d := ed.IDPSSODescriptors[0]
	if d.WantAuthnRequestsSigned == nil || !*d.WantAuthnRequestsSigned {
		t.Error("WantAuthnRequestsSigned not true")
	}
	if !strings.Contains(d.ProtocolSupportEnumeration, protocolSAML2) {
		t.Errorf("protocolSupportEnumeration = %q", d.ProtocolSupportEnumeration)
	}
	var nameIDs []string
	for _, f := range d.NameIDFormats {
		nameIDs = append(nameIDs, string(f))
	}
	if diff := cmp.Diff(info.NameIDFormats, nameIDs); diff != "" {
		t.Errorf("NameIDFormats mismatch (-want +got):\n%s", diff)
	}
	if len(d.KeyDescriptors) != 2 {
		t.Fatalf("KeyDescriptors = %d, want 2", len(d.KeyDescriptors))
	}
	for i, kd := range d.KeyDescriptors {
		if kd.Use != "signing" || len(kd.KeyInfo.X509Data.X509Certificates) != 1 || kd.KeyInfo.X509Data.X509Certificates[0].Data != b64(info.SigningCerts[i]) {
			t.Errorf("KeyDescriptor %d = use %q, not the signing certificate %d", i, kd.Use, i)
		}
	}
	if ed.Organization == nil || len(ed.Organization.OrganizationNames) != 1 || ed.Organization.OrganizationNames[0].Value != info.OrganizationName {
		t.Errorf("Organization = %+v, want name %q (escaped and read back)", ed.Organization, info.OrganizationName)
	}
	if cp := ed.ContactPerson; cp == nil || cp.ContactType != "technical" || len(cp.EmailAddresses) != 1 || cp.EmailAddresses[0] != "mailto:"+info.ContactEmail {
		t.Errorf("ContactPerson = %+v", ed.ContactPerson)
	}

	// A crewjam SP configured from it finds the SSO URL for both bindings.
	md, _ := url.Parse("https://sp.test/md")
	sp := &saml.ServiceProvider{EntityID: md.String(), MetadataURL: *md, IDPMetadata: ed}
	for _, b := range []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding} {
		if got := sp.GetSSOBindingLocation(b); got != info.SSOURL {
			t.Errorf("GetSSOBindingLocation(%s) = %q, want %q", b, got, info.SSOURL)
		}
	}
}

// probeParse is the IdP-metadata reading of /work/shared/probe (idpmeta.go): an outside SP
// tool. It checks the root element, unmarshals into crewjam's types and parses the signing
// certificates whitespace-tolerantly.
func probeParse(t *testing.T, raw []byte) (*saml.EntityDescriptor, []*x509.Certificate) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatalf("probe: not XML: %v", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "EntityDescriptor" || root.NamespaceURI() != nsMD {
		t.Fatalf("probe: root is not md:EntityDescriptor")
	}
	ed := &saml.EntityDescriptor{}
	if err := xml.Unmarshal(raw, ed); err != nil {
		t.Fatalf("probe: crewjam cannot parse: %v", err)
	}
	if len(ed.IDPSSODescriptors) == 0 {
		t.Fatal("probe: no IDPSSODescriptor")
	}
	var certs []*x509.Certificate
	for _, kd := range ed.IDPSSODescriptors[0].KeyDescriptors {
		if kd.Use != "" && kd.Use != "signing" {
			continue
		}
		for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
			cs, err := parseCerts(xc.Data)
			if err != nil {
				t.Fatalf("probe: certificate: %v", err)
			}
			certs = append(certs, cs...)
		}
	}
	return ed, certs
}

func TestBuildIdPMetadataProbe(t *testing.T) {
	t.Parallel()
	info := idpInfo(t)
	info.DisplayNames = nil
	raw, err := BuildIdPMetadata(info)
	if err != nil {
		t.Fatal(err)
	}
	ed, certs := probeParse(t, raw)
	idp := ed.IDPSSODescriptors[0]
	// The probe's `metadata` command requires both SSO bindings, SAML 2.0 and a signing key.
	have := map[string]string{}
	for _, e := range idp.SingleSignOnServices {
		have[e.Binding] = e.Location
	}
	for _, b := range []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding} {
		if have[b] != info.SSOURL {
			t.Errorf("SingleSignOnService %s = %q, want %q", b, have[b], info.SSOURL)
		}
	}
	if !strings.Contains(idp.ProtocolSupportEnumeration, protocolSAML2) {
		t.Error("protocolSupportEnumeration lacks SAML 2.0")
	}
	if len(certs) != 2 || !certs[0].Equal(info.SigningCerts[0]) || !certs[1].Equal(info.SigningCerts[1]) {
		t.Errorf("probe signing certs = %d, want the 2 given", len(certs))
	}
}

func TestBuildIdPMetadataDisplayNames(t *testing.T) {
	t.Parallel()
	info := idpInfo(t)
	raw, err := BuildIdPMetadata(info)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, el := range doc.FindElements("//IDPSSODescriptor/Extensions/UIInfo/DisplayName") {
		if el.NamespaceURI() != nsMDUI {
			t.Errorf("DisplayName namespace = %q, want %q", el.NamespaceURI(), nsMDUI)
		}
		got[el.SelectAttrValue("xml:lang", "")] = el.Text()
	}
	if diff := cmp.Diff(info.DisplayNames, got); diff != "" {
		t.Errorf("mdui:DisplayName mismatch (-want +got):\n%s", diff)
	}
	// Schema order in IDPSSODescriptor: Extensions, KeyDescriptor, NameIDFormat, SingleSignOnService.
	var order []string
	for _, c := range doc.FindElement("//IDPSSODescriptor").ChildElements() {
		if len(order) == 0 || order[len(order)-1] != c.Tag {
			order = append(order, c.Tag)
		}
	}
	if want := []string{"Extensions", "KeyDescriptor", "NameIDFormat", "SingleSignOnService"}; !cmp.Equal(want, order) {
		t.Errorf("IDPSSODescriptor children = %v, want %v", order, want)
	}
}

func TestBuildIdPMetadataInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*IdPInfo)
	}{
		{"no entityID", func(i *IdPInfo) { i.EntityID = "" }},
		{"long entityID", func(i *IdPInfo) { i.EntityID = "https://a/" + strings.Repeat("a", 1024) }},
		{"no SSO URL", func(i *IdPInfo) { i.SSOURL = "" }},
		{"relative SSO URL", func(i *IdPInfo) { i.SSOURL = "/saml/sso" }},
		{"javascript SSO URL", func(i *IdPInfo) { i.SSOURL = "javascript:alert(1)" }},
		{"SSO URL with fragment", func(i *IdPInfo) { i.SSOURL = "https://a.test/sso#x" }},
		{"no certificate", func(i *IdPInfo) { i.SigningCerts = nil }},
		{"nil certificate", func(i *IdPInfo) { i.SigningCerts = []*x509.Certificate{nil} }},
		{"empty NameID format", func(i *IdPInfo) { i.NameIDFormats = []string{""} }},
		{"organization without URL", func(i *IdPInfo) { i.OrganizationURL = "" }},
		{"organization URL without name", func(i *IdPInfo) { i.OrganizationName = "" }},
		{"control character", func(i *IdPInfo) { i.OrganizationName = "Atea\x00" }},
		{"invalid UTF-8", func(i *IdPInfo) { i.DisplayNames = map[string]string{"en": "\xff"} }},
		{"bad language", func(i *IdPInfo) { i.DisplayNames = map[string]string{`e"n`: "x"} }},
		{"empty display name", func(i *IdPInfo) { i.DisplayNames = map[string]string{"en": " "} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info := idpInfo(t)
			tc.mutate(&info)
			if raw, err := BuildIdPMetadata(info); !errors.Is(err, ErrInvalidIdPInfo) {
				t.Errorf("BuildIdPMetadata() = %d bytes, %v; want ErrInvalidIdPInfo", len(raw), err)
			}
		})
	}
}

func TestBuildIdPMetadataHTTPLocalhost(t *testing.T) {
	t.Parallel()
	// `atea serve` on a developer machine runs on plain http.
	info := idpInfo(t)
	info.SSOURL = "http://127.0.0.1:8080/saml/sso"
	if _, err := BuildIdPMetadata(info); err != nil {
		t.Errorf("BuildIdPMetadata(http) error = %v, want nil", err)
	}
}
