package templates

// The pages of the activation journey (issue 5). Each page here needs its <page>.html.tmpl and
// its message keys in locales/activation/{es,eu,en}.json.

// activationPages lists this area's pages for Load (see pageDefs).
func activationPages() []pageDef {
	return nil
}
