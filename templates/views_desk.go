package templates

// The pages of the desk journey (issue 5). Each page here needs its <page>.html.tmpl and
// its message keys in locales/desk/{es,eu,en}.json.

// deskPages lists this area's pages for Load (see pageDefs).
func deskPages() []pageDef {
	return nil
}
