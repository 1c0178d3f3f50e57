package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"slices"
	"text/template/parse"
)

// embedded holds the default pages, style sheet and catalogs (dex web/web.go).
//
//go:embed *.html.tmpl static locales
var embedded embed.FS

// layoutFile is the shared frame every page is rendered in; styleSheet is the one CSS file
// it links.
const (
	layoutFile = "layout.html.tmpl"
	styleSheet = "atea.css"
)

// Errors of Load and Render. Test for them with errors.Is.
var (
	// ErrMissingFile: a required template, catalog or static file is not in the fs.FS.
	ErrMissingFile = errors.New("templates: required file missing")
	// ErrBadCatalog: a catalog is not a flat JSON object of non-empty strings.
	ErrBadCatalog = errors.New("templates: malformed catalog")
	// ErrCatalogMismatch: the catalogs do not have the same keys, or disagree on a
	// message's number of arguments.
	ErrCatalogMismatch = errors.New("templates: catalogs differ")
	// ErrUnknownKey: a template names a message key, or an asset, that does not exist.
	ErrUnknownKey = errors.New("templates: unknown message key")
	// ErrUnknownPage: Render was asked for a page that is not one of the Page constants.
	ErrUnknownPage = errors.New("templates: unknown page")
	// ErrViewModel: Render got data that is not the view model of the page asked for.
	ErrViewModel = errors.New("templates: wrong view model for page")
)

// FS returns the embedded templates, static files and catalogs, the default argument of
// [Load].
func FS() fs.FS { return embedded }

// Renderer renders Atea's pages. It is built once by [Load] and is safe for concurrent use:
// it holds one parsed and already escaped template set per language and page, so rendering
// does no parsing or cloning.
type Renderer struct {
	sets     map[string]map[Page]*template.Template // lang → page → the layout template
	catalogs map[string]catalog
	assets   map[string]asset
	post     postSkeletons // the auto-POST page pre-rendered, see postfast.go
}

// Load parses every page for every language from fsys, which must hold layout.html.tmpl, one
// <page>.html.tmpl per [Page], locales/{es,eu,en}.json and static/atea.css. It fails, naming
// every problem found, if a required file is missing, the catalogs do not share one key set,
// a template does not parse or escape, or a template uses a message key (a string literal
// given to t) that the catalogs lack. Keys chosen at run time (.ErrorKey, .LevelKey, …)
// cannot be checked here; package idp's tests and this package's list the ones in use.
func Load(fsys fs.FS) (*Renderer, error) {
	if fsys == nil {
		return nil, fmt.Errorf("%w: no file system", ErrMissingFile)
	}
	cats, catErr := loadCatalogs(fsys)
	assets, assetErr := loadStatic(fsys)
	sources, srcErr := readSources(fsys)
	if err := errors.Join(catErr, assetErr, srcErr); err != nil {
		return nil, err
	}
	r := &Renderer{sets: map[string]map[Page]*template.Template{}, catalogs: cats, assets: assets}
	var problems []error
	for _, lang := range Languages() {
		r.sets[lang] = map[Page]*template.Template{}
		for _, p := range pages() {
			t, err := r.build(lang, p, sources)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			r.sets[lang][p] = t
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if err := r.buildPostSkeletons(); err != nil {
		return nil, err
	}
	return r, nil
}

// readSources reads the layout and every page's template text.
func readSources(fsys fs.FS) (map[string]string, error) {
	names := []string{layoutFile}
	for _, p := range pages() {
		names = append(names, string(p)+".html.tmpl")
	}
	src := map[string]string{}
	var problems []error
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, fmt.Errorf("%w: %s", ErrMissingFile, name))
		case err != nil:
			problems = append(problems, fmt.Errorf("templates: read %s: %w", name, err))
		default:
			src[name] = string(b)
		}
	}
	return src, errors.Join(problems...)
}

// build parses the layout and page p with the functions of language lang, checks the keys
// it names, and runs it on the zero view model and on one with every field set. The dry runs
// make html/template do its contextual escaping now, so an escaping error fails startup
// instead of a request (and the set is never modified afterwards), and they reach the
// conditional parts of the page, so a misspelt field fails startup too.
func (r *Renderer) build(lang string, p Page, src map[string]string) (*template.Template, error) {
	file := string(p) + ".html.tmpl"
	t, err := template.New(layoutFile).Funcs(r.funcs(lang)).Parse(src[layoutFile])
	if err != nil {
		return nil, fmt.Errorf("templates: %s: %w", layoutFile, err)
	}
	if _, err := t.New(file).Parse(src[file]); err != nil {
		return nil, fmt.Errorf("templates: %s: %w", file, err)
	}
	for _, name := range []string{"title", "content"} {
		if t.Lookup(name) == nil {
			return nil, fmt.Errorf("%w: %s defines no %q template", ErrMissingFile, file, name)
		}
	}
	var problems []error
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		walk(tt.Tree.Root, func(fn, arg string) {
			switch fn {
			case "t":
				if _, ok := r.catalogs[lang][arg]; !ok {
					problems = append(problems, fmt.Errorf("%w: %s uses %q (%s)", ErrUnknownKey, file, arg, lang))
				}
			case "asset":
				if _, ok := r.assets[arg]; !ok {
					problems = append(problems, fmt.Errorf("%w: %s links asset %q, not in static/", ErrUnknownKey, file, arg))
				}
			}
		})
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	for _, data := range []any{zeroData(p), filledData(p)} {
		if err := t.Execute(io.Discard, data); err != nil {
			return nil, fmt.Errorf("templates: %s (%s): %w", file, lang, err)
		}
	}
	return t, nil
}

// funcs are the template functions of one language:
//
//	{{t "login.title"}}              the message, fmt-formatted with any further arguments
//	{{t .ErrorKey .ErrorArgs}}       a []any argument is spread
//	{{lang}}                         the set's language, for <html lang>
//	{{asset "atea.css"}}             /static/atea.css?v=<content hash>
func (r *Renderer) funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"t": func(key string, args ...any) string {
			return r.catalogs[lang].message(key, flatten(args))
		},
		"lang":  func() string { return lang },
		"asset": func(name string) string { return assetURL(r.assets, name) },
	}
}

// walk calls found(fn, arg) for every call of a template function with a string literal as
// its first argument, in either spelling: {{t "key"}} and {{"key" | t}}.
func walk(n parse.Node, found func(fn, arg string)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, found)
		}
	case *parse.ActionNode:
		walk(n.Pipe, found)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, found)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, found)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, found)
	case *parse.TemplateNode:
		walk(n.Pipe, found)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for i, cmd := range n.Cmds {
			if fn, ok := ident(cmd, 0); ok {
				if len(cmd.Args) > 1 {
					if s, ok := cmd.Args[1].(*parse.StringNode); ok {
						found(fn, s.Text)
					}
				} else if i > 0 && len(n.Cmds[i-1].Args) == 1 {
					if s, ok := n.Cmds[i-1].Args[0].(*parse.StringNode); ok {
						found(fn, s.Text)
					}
				}
			}
			walk(cmd, found)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, found)
		}
	case *parse.ChainNode:
		walk(n.Node, found)
	}
}

func walkBranch(b *parse.BranchNode, found func(fn, arg string)) {
	walk(b.Pipe, found)
	walk(b.List, found)
	walk(b.ElseList, found)
}

// ident returns the name of the function cmd calls, if its i-th argument is an identifier.
func ident(cmd *parse.CommandNode, i int) (string, bool) {
	if len(cmd.Args) <= i {
		return "", false
	}
	id, ok := cmd.Args[i].(*parse.IdentifierNode)
	if !ok {
		return "", false
	}
	return id.Ident, true
}

// Render writes page in the language of data's Base.Lang (an unsupported or empty one means
// Spanish). data must be the page's view model (LoginPage for PageLogin, …), as a value or a
// pointer. The page is rendered into memory first, so on error nothing has been written to w.
func (r *Renderer) Render(w io.Writer, page Page, data any) error {
	lang := r.lang(langOf(data))
	t, ok := r.sets[lang][page]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownPage, string(page))
	}
	if _, p, ok := baseOf(data); !ok || p != page {
		return fmt.Errorf("%w: %s given %T", ErrViewModel, page, data)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("templates: render %s (%s): %w", page, lang, err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("templates: write %s: %w", page, err)
	}
	return nil
}

// execute renders page with the real template (no fast path).
func (r *Renderer) execute(w io.Writer, page Page, data any) error {
	t, ok := r.sets[r.lang(langOf(data))][page]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownPage, string(page))
	}
	if err := t.Execute(w, data); err != nil {
		return fmt.Errorf("templates: render %s: %w", page, err)
	}
	return nil
}

func langOf(data any) string {
	b, _, _ := baseOf(data)
	return b.Lang
}

// lang maps any language tag onto a supported language: its primary subtag when supported,
// else Spanish.
func (r *Renderer) lang(tag string) string {
	if p, ok := primaryTag(tag); ok && supported(p) {
		return p
	}
	return defaultLang
}

// Message returns the text of key in language lang (an unsupported lang means Spanish),
// formatted fmt-style with args. An unknown key returns the key itself. It is safe for
// concurrent use. The result is plain text: escape it before putting it into HTML.
func (r *Renderer) Message(lang, key string, args ...any) string {
	return r.catalogs[r.lang(lang)].message(key, args)
}

// Keys returns the message keys of the catalogs, sorted. All three catalogs have the same.
func (r *Renderer) Keys() []string {
	return slices.Sorted(maps.Keys(r.catalogs[defaultLang]))
}
