package templates_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ateaidp/atea/templates"
)

// embeddedCopy returns the embedded files as a MapFS the test may change.
func embeddedCopy(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(templates.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.FS(), name)
		if err != nil {
			return err
		}
		m[name] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// edit replaces old by new in file name, failing if old is not there (so the test keeps
// testing what it says when the files change).
func edit(t *testing.T, m fstest.MapFS, name, old, new string) {
	t.Helper()
	s := string(m[name].Data)
	if !strings.Contains(s, old) {
		t.Fatalf("%s does not contain %q", name, old)
	}
	m[name] = &fstest.MapFile{Data: []byte(strings.Replace(s, old, new, 1))}
}

func TestLoadCopyOfEmbedded(t *testing.T) {
	t.Parallel()
	if _, err := templates.Load(embeddedCopy(t)); err != nil {
		t.Fatalf("Load(copy of FS()) = %v, want nil", err)
	}
	if err := fstest.TestFS(templates.FS(), "layout.html.tmpl", "login.html.tmpl", "locales/eu.json", "static/atea.css"); err != nil {
		t.Errorf("embedded FS: %v", err)
	}
}

func TestLoadFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, m fstest.MapFS)
		want    error
		mention string // the error must name what is wrong
	}{
		{"catalog missing a key", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "locales/eu.json", `"login.submit": "Sartu",`, "")
		}, templates.ErrCatalogMismatch, "login.submit"},
		{"catalog with an extra key", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "locales/en.json", `"login.submit": "Sign in",`, `"login.submit": "Sign in", "login.extra": "x",`)
		}, templates.ErrCatalogMismatch, "login.extra"},
		{"catalog with a different number of arguments", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "locales/es.json", `"La letra que corresponde a %s es la %s`, `"La letra es la %s`)
		}, templates.ErrCatalogMismatch, "login.error.letter"},
		{"catalog missing", func(_ *testing.T, m fstest.MapFS) { delete(m, "locales/en.json") }, templates.ErrMissingFile, "en.json"},
		{"catalog with a duplicate key", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "locales/es.json", `"login.submit": "Entrar",`, `"login.submit": "Entrar", "login.submit": "Acceder",`)
		}, templates.ErrBadCatalog, "login.submit"},
		{"catalog with a non-string value", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "locales/es.json", `"login.submit": "Entrar"`, `"login.submit": 1`)
		}, templates.ErrBadCatalog, "login.submit"},
		{"catalog with an empty text", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "locales/es.json", `"login.submit": "Entrar"`, `"login.submit": " "`)
		}, templates.ErrBadCatalog, "login.submit"},
		{"catalog not an object", func(_ *testing.T, m fstest.MapFS) {
			m["locales/es.json"] = &fstest.MapFile{Data: []byte(`["a"]`)}
		}, templates.ErrBadCatalog, "es.json"},
		{"catalog with trailing data", func(_ *testing.T, m fstest.MapFS) {
			m["locales/es.json"].Data = append(m["locales/es.json"].Data, []byte(`{}`)...)
		}, templates.ErrBadCatalog, "es.json"},
		{"page missing", func(_ *testing.T, m fstest.MapFS) { delete(m, "demo.html.tmpl") }, templates.ErrMissingFile, "demo.html.tmpl"},
		{"chooser missing", func(_ *testing.T, m fstest.MapFS) { delete(m, "choose.html.tmpl") }, templates.ErrMissingFile, "choose.html.tmpl"},
		{"card page missing", func(_ *testing.T, m fstest.MapFS) { delete(m, "card.html.tmpl") }, templates.ErrMissingFile, "card.html.tmpl"},
		{"SMS page missing", func(_ *testing.T, m fstest.MapFS) { delete(m, "sms.html.tmpl") }, templates.ErrMissingFile, "sms.html.tmpl"},
		{"upgrade page missing", func(_ *testing.T, m fstest.MapFS) { delete(m, "upgrade.html.tmpl") }, templates.ErrMissingFile, "upgrade.html.tmpl"},
		{"unknown key in the shared context block", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "layout.html.tmpl", `{{t "context.level"}}`, `{{t "context.lvl"}}`)
		}, templates.ErrUnknownKey, "context.lvl"},
		{"unknown key in the SMS page", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "sms.html.tmpl", `{{t "sms.resend"}}`, `{{t "sms.resnd"}}`)
		}, templates.ErrUnknownKey, "sms.resnd"},
		{"layout missing", func(_ *testing.T, m fstest.MapFS) { delete(m, "layout.html.tmpl") }, templates.ErrMissingFile, "layout.html.tmpl"},
		{"style sheet missing", func(_ *testing.T, m fstest.MapFS) { delete(m, "static/atea.css") }, templates.ErrMissingFile, "atea.css"},
		{"page without content", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "home.html.tmpl", `{{define "content"}}`, `{{define "body"}}`)
		}, templates.ErrMissingFile, "content"},
		{"template uses an unknown key", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "login.html.tmpl", `{{t "login.submit"}}`, `{{t "login.sbumit"}}`)
		}, templates.ErrUnknownKey, "login.sbumit"},
		{"unknown key in a pipeline", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "error.html.tmpl", `{{t "error.home"}}`, `{{"error.hoem" | t}}`)
		}, templates.ErrUnknownKey, "error.hoem"},
		{"unknown key in a nested call", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "demo.html.tmpl", `(t "demo.none")`, `(t "demo.nnoe")`)
		}, templates.ErrUnknownKey, "demo.nnoe"},
		{"unknown key in the layout", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "layout.html.tmpl", `{{t "layout.skip"}}`, `{{t "layout.skipp"}}`)
		}, templates.ErrUnknownKey, "layout.skipp"},
		{"unknown asset", func(t *testing.T, m fstest.MapFS) {
			edit(t, m, "layout.html.tmpl", `{{asset "atea.css"}}`, `{{asset "main.css"}}`)
		}, templates.ErrUnknownKey, "main.css"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := embeddedCopy(t)
			tc.change(t, m)
			r, err := templates.Load(m)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load() = %v, want %v", err, tc.want)
			}
			if r != nil {
				t.Error("Load returned a renderer along with an error")
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("Load() error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

// TestLoadFailsOnTemplateErrors: parse and escaping errors fail at start-up, not on the first
// request.
func TestLoadFailsOnTemplateErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, old, new string }{
		{"parse error", `{{define "content"}}`, `{{define "content"}}{{if}}`},
		{"unknown function", `{{t "home.heading"}}`, `{{tr "home.heading"}}`},
		// html/template refuses branches that end in different contexts.
		{"escaping error", `<h1>`, `<h1{{if .DemoURL}} title="{{end}}>`},
		{"missing field", `{{.MetadataURL}}">`, `{{.MetadataLink}}">`},
		{"missing field in a range", `<h1>`, `{{range .LangLinks}}{{.Href}}{{end}}<h1>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := embeddedCopy(t)
			edit(t, m, "home.html.tmpl", tc.old, tc.new)
			if _, err := templates.Load(m); err == nil || !strings.Contains(err.Error(), "home.html.tmpl") {
				t.Errorf("Load() = %v, want an error naming home.html.tmpl", err)
			}
		})
	}
}

func TestLoadNil(t *testing.T) {
	t.Parallel()
	if _, err := templates.Load(nil); !errors.Is(err, templates.ErrMissingFile) {
		t.Errorf("Load(nil) = %v, want ErrMissingFile", err)
	}
}

// TestLoadReportsEveryProblem: a translator sees the whole list at once.
func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	m := embeddedCopy(t)
	edit(t, m, "locales/eu.json", `"login.submit": "Sartu",`, "")
	edit(t, m, "locales/en.json", `"post.continue": "Continue",`, "")
	_, err := templates.Load(m)
	for _, want := range []string{"eu.json lacks login.submit", "en.json lacks post.continue"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load() = %v, want it to report %q", err, want)
		}
	}
}
