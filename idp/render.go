package idp

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ateaidp/atea/templates"
)

// lang picks the page language: an explicit ?lang= choice (the visible switcher), else
// Accept-Language, else Spanish.
func (s *Server) lang(r *http.Request) string {
	return s.deps.Templates.Negotiate(queryGet(r.URL.RawQuery, "lang"), r.Header.Get("Accept-Language"))
}

// queryGet returns url.ParseQuery(raw).Get(key) without decoding the other parameters: on
// /saml/sso the query carries the whole SAMLRequest, and every SSO response page asks for
// the language. Pairs are skipped exactly where ParseQuery skips them (a ';' in the pair, an
// empty pair, a key or value that does not unescape).
func queryGet(raw, key string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != key {
			continue
		}
		v, err := url.QueryUnescape(v)
		if err != nil {
			continue
		}
		return v
	}
	return ""
}

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// base fills the parts every page shares. flowID keeps the flow in the language links.
func (s *Server) base(w http.ResponseWriter, r *http.Request, lang, flowID string) templates.Base {
	links := make([]templates.LangLink, 0, 3)
	labels := map[string]string{"es": "Español", "eu": "Euskara", "en": "English"}
	for _, code := range templates.Languages() {
		q := url.Values{}
		if flowID != "" {
			q.Set("flow", flowID)
		}
		q.Set("lang", code)
		path := r.URL.Path
		if r.Method != http.MethodGet || path == "/saml/sso" {
			path = "/login"
		}
		if flowID == "" && path == "/login" {
			path = "/"
		}
		links = append(links, templates.LangLink{Code: code, Label: labels[code], URL: path + "?" + q.Encode(), Current: code == lang})
	}
	return templates.Base{Lang: lang, LangLinks: links}
}

// nonced is a page view model: all of them embed templates.Base.
type nonced interface{ SetNonce(string) }

// render writes a page with a strict CSP. formAction lists extra origins the page's form may
// post to (the SP's ACS origin on the auto-POST page).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page templates.Page, data nonced, formAction ...string) {
	nonce := newNonce()
	data.SetNonce(nonce)
	var buf bytes.Buffer
	var err error
	if p, ok := data.(*templates.PostPage); ok {
		// Every SSO ends on this page: the renderer's pre-rendered fast path.
		err = s.deps.Templates.RenderPost(&buf, *p)
	} else {
		err = s.deps.Templates.Render(&buf, page, data)
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", string(page), "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	fa := "'self'"
	for _, o := range formAction {
		fa += " " + o
	}
	h := w.Header()
	// SECURITY.md §4.19. form-action must name the ACS origin on the auto-POST page: browsers
	// apply it to the form submission.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'self'; img-src 'self'; "+
		"form-action "+fa+"; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	// A page may carry a SAMLResponse (a bearer token) or a CSRF token: never cache it.
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	// A known length spares the chunked encoding: the page goes out in one write.
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError answers with Atea's own error page. The private detail goes to the log with a
// correlation ID that the page shows.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	pe := &pageError{status: http.StatusBadRequest, key: "error.badrequest", err: err}
	var p *pageError
	switch {
	case errors.As(err, &p):
		pe = p
	case errors.Is(err, errUnavailable):
		pe = &pageError{status: http.StatusServiceUnavailable, key: "error.unavailable", err: err}
	}
	cid := newCorrelationID()
	lvl := s.log.WarnContext
	if pe.status >= 500 {
		lvl = s.log.ErrorContext
	}
	lvl(r.Context(), "request refused", "status", pe.status, "reason", pe.key, "correlation_id", cid, "path", r.URL.Path, "err", err)
	lang := s.lang(r)
	b := s.base(w, r, lang, "")
	b.CorrelationID = cid
	s.render(w, r, pe.status, templates.PageError, &templates.ErrorPage{
		Base: b, Status: pe.status, TitleKey: "error.title", MessageKey: pe.key,
	})
}
