package templates_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ateaidp/atea/templates"
)

func TestStatic(t *testing.T) {
	t.Parallel()
	r := load(t)
	// Mount it as package idp does.
	srv := httptest.NewServer(http.StripPrefix("/static/", r.Static()))
	t.Cleanup(srv.Close)
	page := render(t, r, templates.PageHome, samples("es")[templates.PageHome])
	m := regexp.MustCompile(`href="(/static/atea\.css\?v=([0-9a-f]+))"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page does not link /static/atea.css?v=…")
	}
	versioned, version := m[1], m[2]

	get := func(t *testing.T, method, path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}

	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		ctype, cache       string
	}{
		{"css", "GET", "/static/atea.css", nil, 200, "text/css; charset=utf-8", "public, max-age=3600"},
		{"css versioned", "GET", versioned, nil, 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"css stale version", "GET", "/static/atea.css?v=0000", nil, 200, "text/css; charset=utf-8", "public, max-age=3600"},
		{"css head", "HEAD", "/static/atea.css", nil, 200, "text/css; charset=utf-8", "public, max-age=3600"},
		{"svg", "GET", "/static/favicon.svg", nil, 200, "image/svg+xml", "public, max-age=3600"},
		{"revalidation", "GET", "/static/atea.css", map[string]string{"If-None-Match": `"` + version + `"`}, 304, "", ""},
		{"directory", "GET", "/static/", nil, 404, "", ""},
		{"traversal", "GET", "/static/../locales/es.json", nil, 404, "", ""},
		{"encoded traversal", "GET", "/static/%2e%2e/locales/es.json", nil, 404, "", ""},
		{"template", "GET", "/static/login.html.tmpl", nil, 404, "", ""},
		{"missing", "GET", "/static/nope.css", nil, 404, "", ""},
		{"post", "POST", "/static/atea.css", nil, 405, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, tc.method, tc.path, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: HTTP %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tc.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := resp.Header.Get("ETag"); !strings.HasPrefix(got, `"`) {
				t.Errorf("ETag = %q", got)
			}
		})
	}

	resp := get(t, "GET", "/static/atea.css", nil)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), ":focus-visible") {
		t.Error("atea.css body is not the style sheet")
	}
}
