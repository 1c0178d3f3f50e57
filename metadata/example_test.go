package metadata_test

import (
	"fmt"
	"time"

	"github.com/ateaidp/atea/metadata"
)

func ExampleParse() {
	raw := []byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui"
    entityID="https://sp.example.eus/saml/metadata" validUntil="2100-01-01T00:00:00Z">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true">
    <Extensions>
      <mdui:UIInfo>
        <mdui:DisplayName xml:lang="eu">Udal zerbitzuak</mdui:DisplayName>
        <mdui:DisplayName xml:lang="es">Servicios municipales</mdui:DisplayName>
      </mdui:UIInfo>
    </Extensions>
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example.eus/acs" index="0"/>
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.eus/acs" index="1"/>
  </SPSSODescriptor>
</EntityDescriptor>`)
	sps, problems, err := metadata.Parse(raw, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Println("skipped:", len(problems))
	for _, sp := range sps {
		acs, _ := sp.DefaultACS()
		fmt.Println(sp.EntityID)
		fmt.Println(" ", sp.DisplayName("eu"), "/", sp.DisplayName("fr"))
		fmt.Println("  requests must be signed:", sp.AuthnRequestsSigned)
		fmt.Println("  default ACS:", acs.Index, acs.Location)
	}

	_, _, err = metadata.Parse([]byte(`<!DOCTYPE x [<!ENTITY e "e">]><x/>`), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(err != nil)
	// Output:
	// skipped: 0
	// https://sp.example.eus/saml/metadata
	//   Udal zerbitzuak / Servicios municipales
	//   requests must be signed: true
	//   default ACS: 1 https://sp.example.eus/acs
	// true
}
