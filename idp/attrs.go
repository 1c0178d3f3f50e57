package idp

import (
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/samlxml"
)

// attributeDef is one attribute Atea can release: its URI name (NameFormat uri), FriendlyName
// and how to read it from the user.
type attributeDef struct {
	name, friendly string
	value          func(u directory.User) string
}

const eidasNP = "http://eidas.europa.eu/attributes/naturalperson/"

// attributeDefs lists releasable attributes by the short name used in config: the eIDAS
// natural-person set (EIDAS-CLAVE.md §4.1) and common LDAP/eduPerson names as urn:oid.
func attributeDefs() map[string]attributeDef {
	return map[string]attributeDef{
		// eIDAS PersonIdentifier: origin/destination/identifier (EIDAS-CLAVE.md §4.3);
		// Cl@ve sends ES/ES/<NIF> to Spanish SPs.
		"PersonIdentifier":  {eidasNP + "PersonIdentifier", "PersonIdentifier", func(u directory.User) string { return "ES/ES/" + u.DNI }},
		"CurrentGivenName":  {eidasNP + "CurrentGivenName", "FirstName", func(u directory.User) string { return u.GivenName }},
		"CurrentFamilyName": {eidasNP + "CurrentFamilyName", "FamilyName", func(u directory.User) string { return u.FamilyName }},
		"DateOfBirth":       {eidasNP + "DateOfBirth", "DateOfBirth", func(u directory.User) string { return u.BirthDate }},
		"mail":              {"urn:oid:0.9.2342.19200300.100.1.3", "mail", func(u directory.User) string { return u.Email }},
		"givenName":         {"urn:oid:2.5.4.42", "givenName", func(u directory.User) string { return u.GivenName }},
		"sn":                {"urn:oid:2.5.4.4", "sn", func(u directory.User) string { return u.FamilyName }},
		"cn":                {"urn:oid:2.5.4.3", "cn", func(u directory.User) string { return joinName(u.GivenName, u.FamilyName) }},
		"uid":               {"urn:oid:0.9.2342.19200300.100.1.1", "uid", func(u directory.User) string { return u.DNI }},
	}
}

// DefaultRelease is what an SP gets when its settings name no attributes: the eIDAS minimum
// data set for a natural person, the least an e-government SP can work with.
func DefaultRelease() []string {
	return []string{"PersonIdentifier", "CurrentGivenName", "CurrentFamilyName", "DateOfBirth"}
}

// releaseAttributes builds the attributes for one SP. names nil means DefaultRelease; an
// empty non-nil list releases nothing. Empty values are left out.
func releaseAttributes(u directory.User, names []string) []samlxml.Attribute {
	if names == nil {
		names = DefaultRelease()
	}
	defs := attributeDefs()
	out := make([]samlxml.Attribute, 0, len(names))
	for _, n := range names {
		d, ok := defs[n]
		if !ok {
			continue // config validation rejects unknown names; nothing to release here
		}
		if v := d.value(u); v != "" {
			out = append(out, samlxml.Attribute{Name: d.name, FriendlyName: d.friendly, Values: []string{v}})
		}
	}
	return out
}

func joinName(given, family string) string {
	switch {
	case given == "":
		return family
	case family == "":
		return given
	}
	return given + " " + family
}
