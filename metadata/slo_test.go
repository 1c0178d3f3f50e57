package metadata

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseSLO checks that SingleLogoutService endpoints of the three bindings Atea speaks are
// kept with their ResponseLocation, other bindings are dropped, and a bad location of any
// binding makes the entity invalid, as for ACS endpoints.
func TestParseSLO(t *testing.T) {
	t.Parallel()
	const ns = "urn:oasis:names:tc:SAML:2.0:bindings:"
	withSLO := func(eps string) string {
		return strings.Replace(entityDoc(t), "</md:SPSSODescriptor>", eps+"</md:SPSSODescriptor>", 1)
	}
	good := `<md:SingleLogoutService Binding="` + ns + `HTTP-Artifact" Location="https://sp.example.test/art"/>` +
		`<md:SingleLogoutService Binding="` + ns + `SOAP" Location="https://sp.example.test/soap"/>` +
		`<md:SingleLogoutService Binding="` + ns + `HTTP-Redirect" Location="https://sp.example.test/slo" ResponseLocation="https://sp.example.test/slo-resp"/>` +
		`<md:SingleLogoutService Binding="` + ns + `HTTP-POST" Location="https://sp.example.test/slo-post"/>`
	sps, problems, err := Parse([]byte(withSLO(good)), testNow())
	if err != nil || len(problems) != 0 || len(sps) != 1 {
		t.Fatalf("Parse() = %d SPs, problems %v, err %v", len(sps), problems, err)
	}
	want := []Endpoint{
		{Binding: BindingSOAP, Location: "https://sp.example.test/soap"},
		{Binding: BindingHTTPRedirect, Location: "https://sp.example.test/slo", ResponseLocation: "https://sp.example.test/slo-resp"},
		{Binding: BindingHTTPPost, Location: "https://sp.example.test/slo-post"},
	}
	if diff := cmp.Diff(want, sps[0].SLO); diff != "" {
		t.Errorf("SLO mismatch (-want +got):\n%s", diff)
	}
	if e, ok := sps[0].SLOEndpoint(BindingHTTPPost, BindingHTTPRedirect); !ok || e.Location != "https://sp.example.test/slo-post" {
		t.Errorf("SLOEndpoint(POST, Redirect) = %+v, %v; want the POST endpoint", e, ok)
	}
	if e, ok := sps[0].SLOEndpoint("urn:x", BindingHTTPRedirect); !ok || e.ResponseLocation == "" {
		t.Errorf("SLOEndpoint(x, Redirect) = %+v, %v; want the Redirect endpoint", e, ok)
	}
	if _, ok := sps[0].SLOEndpoint("urn:x"); ok {
		t.Error("SLOEndpoint of an unknown binding found one")
	}

	for name, eps := range map[string]string{
		"javascript location":  `<md:SingleLogoutService Binding="` + ns + `HTTP-Redirect" Location="javascript:alert(1)"/>`,
		"plain http":           `<md:SingleLogoutService Binding="` + ns + `HTTP-POST" Location="http://sp.example.test/slo"/>`,
		"bad response address": `<md:SingleLogoutService Binding="` + ns + `HTTP-Redirect" Location="https://sp.example.test/slo" ResponseLocation="https://u:p@sp.example.test/x"/>`,
		"bad other binding":    `<md:SingleLogoutService Binding="` + ns + `HTTP-Artifact" Location="ftp://sp.example.test/x"/>`,
	} {
		sps, problems, err := Parse([]byte(withSLO(eps)), testNow())
		if err != nil || len(sps) != 0 || len(problems) != 1 || !errors.Is(problems[0], errSLOLocation) {
			t.Errorf("%s: Parse() = %d SPs, problems %v, err %v; want the entity refused with errSLOLocation", name, len(sps), problems, err)
		}
	}
}
