package templates

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// Cache lifetimes of static assets. A request that carries the asset's current version
// (?v=…, which the pages always add) may be cached for a year: a new version gets a new URL.
// Without it, an hour, so an upgrade shows within the hour even for hand-written links.
const (
	cacheVersioned   = "public, max-age=31536000, immutable"
	cacheUnversioned = "public, max-age=3600"
)

// contentType returns the type of an asset by its extension, from a closed set that does
// not depend on the host's mime.types: atea.css is text/css on every machine (with
// X-Content-Type-Options: nosniff a wrong type would break the page).
func contentType(name string) string {
	switch ext := path.Ext(name); ext {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/vnd.microsoft.icon"
	case ".woff2":
		return "font/woff2"
	case ".txt":
		return "text/plain; charset=utf-8"
	default:
		if ct := mime.TypeByExtension(ext); ct != "" {
			return ct
		}
		return "application/octet-stream"
	}
}

// asset is one static file, held in memory.
type asset struct {
	body        []byte
	contentType string
	version     string // first 16 hex digits of the SHA-256 of body
}

// loadStatic reads every regular file under static/ into memory. Serving from memory means
// no request ever touches the file system, so no path can escape the directory and there is
// no directory to list.
func loadStatic(fsys fs.FS) (map[string]asset, error) {
	assets := map[string]asset{}
	err := fs.WalkDir(fsys, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		assets[strings.TrimPrefix(name, "static/")] = asset{body: body, contentType: contentType(name), version: hex.EncodeToString(sum[:8])}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: static/", ErrMissingFile)
	}
	if err != nil {
		return nil, fmt.Errorf("templates: read static files: %w", err)
	}
	if _, ok := assets[styleSheet]; !ok {
		return nil, fmt.Errorf("%w: static/%s", ErrMissingFile, styleSheet)
	}
	return assets, nil
}

// assetURL is the URL the pages use for a static asset: under /static/ with its version.
func assetURL(assets map[string]asset, name string) string {
	u := "/static/" + name
	if a, ok := assets[name]; ok {
		u += "?v=" + a.version
	}
	return u
}

// Static returns the handler for the static assets, to be mounted with the /static/ prefix
// stripped (http.StripPrefix("/static/", r.Static())). It answers GET and HEAD with the file's
// Content-Type, an ETag (so revalidation costs a 304) and Cache-Control; anything that is not
// a file (a directory, a missing or dot file, a traversal attempt) is a plain 404, never a
// listing. It is safe for concurrent use.
func (r *Renderer) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(req.URL.Path, "/")
		a, ok := r.assets[name]
		if !ok || strings.HasPrefix(path.Base(name), ".") {
			http.NotFound(w, req)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		// An asset is never a document: should an SVG be opened on its own, nothing in it runs.
		h.Set("Content-Security-Policy", "default-src 'none'")
		h.Set("ETag", `"`+a.version+`"`)
		if req.URL.Query().Get("v") == a.version {
			h.Set("Cache-Control", cacheVersioned)
		} else {
			h.Set("Cache-Control", cacheUnversioned)
		}
		// ServeContent answers If-None-Match, Range and HEAD; the zero time sends no
		// Last-Modified, the ETag is the validator.
		http.ServeContent(w, req, name, time.Time{}, bytes.NewReader(a.body))
	})
}
