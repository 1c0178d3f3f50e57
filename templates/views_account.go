package templates

// The pages of the account journey (issue 5). Each page here needs its <page>.html.tmpl and
// its message keys in locales/account/{es,eu,en}.json.

// accountPages lists this area's pages for Load (see pageDefs).
func accountPages() []pageDef {
	return nil
}
