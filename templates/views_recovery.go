package templates

// The pages of the recovery journey (issue 5). Each page here needs its <page>.html.tmpl and
// its message keys in locales/recovery/{es,eu,en}.json.

// recoveryPages lists this area's pages for Load (see pageDefs).
func recoveryPages() []pageDef {
	return nil
}
