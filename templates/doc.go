// Package templates renders Atea's HTML pages in Spanish (es), Basque (eu) and English (en).
//
// It is responsible for:
//
//   - the embedded page templates, style sheet and message catalogs ([FS]), in the manner of
//     dex's web/web.go; operators may hand [Load] another [fs.FS] with the same layout to
//     re-brand the pages;
//   - checking that set at start-up ([Load]): every required page exists, the three catalogs
//     have identical key sets and agree on the number of arguments of every message, and no
//     template names a message key the catalogs lack (dex server/templates/templates.go:170
//     fails startup on a missing template; Atea also fails on a missing translation);
//   - choosing the page language ([Renderer.Negotiate], RFC 9110 §12.5.4) and rendering a
//     view model into HTML with html/template's contextual escaping ([Renderer.Render]);
//   - serving the static assets with the right Content-Type and cache headers
//     ([Renderer.Static]).
//
// It is not responsible for HTTP security headers on pages (Content-Security-Policy,
// Cache-Control: no-store, HSTS: package idp sets them, SECURITY.md §4.19), for deciding what
// a page says (which error key, which level: the caller's view model decides), nor for any
// business decision. It imports the standard library only.
//
// The pages never use inline scripts except the one nonce-bearing auto-submit on the POST
// binding page, and never inline styles, so they work under
// "script-src 'nonce-…'; style-src 'self'".
//
// # Files
//
//	layout.html.tmpl       the shared frame: header, language switcher, main, footer
//	home.html.tmpl         what Atea is, links to the demo and the IdP metadata
//	login.html.tmpl        the B@k sign-in form (DNI/NIE and password)
//	post.html.tmpl         the HTTP-POST binding auto-submit form (saml-bindings-2.0-os §3.5.4)
//	error.html.tmpl        Atea's own error page, with a correlation reference
//	demo.html.tmpl         the demo SP's protected page: what the SP received
//	choose.html.tmpl       the method chooser: one button per method that reaches the level
//	card.html.tmpl         the B@kQ coordinate-card challenge (one input per position)
//	sms.html.tmpl          the B@kQ SMS code as seed 001 shows it (masked phone, shown digits)
//	upgrade.html.tmpl      what B@kQ is and how to obtain it, for a B@k holder (journey 2)
//	locales/{es,eu,en}.json  flat key → fmt-style text catalogs
//	static/                 atea.css and the favicon
//
// Each page file defines the templates "title" and "content", which the layout executes, and
// may define "width" as "wide" for a page that needs more than the 36rem reading measure.
// The layout also defines "context", which the sign-in step pages include to name the service
// asking and the level it requires (their view models all have SPName and LevelKey).
// Message texts are fmt formats: write %s for an argument and %% for a literal percent sign.
package templates
