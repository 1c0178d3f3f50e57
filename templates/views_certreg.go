package templates

// The pages of the certreg journey (issue 5). Each page here needs its <page>.html.tmpl and
// its message keys in locales/certreg/{es,eu,en}.json.

// certRegPages lists this area's pages for Load (see pageDefs).
func certRegPages() []pageDef {
	return nil
}
