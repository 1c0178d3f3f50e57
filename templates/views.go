package templates

import "reflect"

// Page names one of Atea's pages. Its value is the base name of the page's template file
// (PageLogin is login.html.tmpl).
type Page string

// The pages Atea renders. [Load] fails if the template of any of them is missing.
const (
	PageHome  Page = "home"  // the start page; data is HomePage
	PageLogin Page = "login" // the B@k sign-in form; data is LoginPage
	PagePost  Page = "post"  // the HTTP-POST binding auto-submit form; data is PostPage
	PageError Page = "error" // Atea's own error page; data is ErrorPage
	PageDemo  Page = "demo"  // the demo SP's protected page; data is DemoPage
)

// pages lists every page in a fixed order, for Load's checks.
func pages() []Page { return []Page{PageHome, PageLogin, PagePost, PageError, PageDemo} }

// LangLink is one entry of the visible language switcher.
type LangLink struct {
	Code    string // BCP 47 primary tag: es, eu or en; used for hreflang and lang
	Label   string // the language's own name ("Euskara"), shown as the link text
	URL     string // the same page in that language
	Current bool   // this is the page's language: rendered with aria-current
}

// Base holds what every page shares. The page language comes from Lang; an empty or
// unsupported Lang renders in Spanish.
type Base struct {
	Lang          string
	LangLinks     []LangLink // empty: no language switcher
	CorrelationID string     // shown as "Reference: …" on the error page when set
	Nonce         string     // CSP script nonce for the page's inline script, if any
}

// LoginPage is the view model of [PageLogin], the B@k sign-in form.
type LoginPage struct {
	Base
	Action    string // where the form posts
	FlowID    string // hidden input "flow"
	CSRF      string // hidden input "csrf"
	Username  string // the DNI/NIE typed before, to show again after an error
	ErrorKey  string // message key of the error to show; "" for none
	ErrorArgs []any  // fmt arguments of ErrorKey's message
	SPName    string // the service provider asking for the sign-in
	LevelKey  string // message key of the requested level ("level.low")
}

// PostPage is the view model of [PagePost], the auto-submitting form of the HTTP-POST
// binding (saml-bindings-2.0-os §3.5.4).
type PostPage struct {
	Base
	Action        string // the ACS URL
	FieldName     string // "SAMLResponse" or "SAMLRequest"
	Value         string // the base64-encoded message
	RelayState    string // returned byte-exact when HasRelayState
	HasRelayState bool   // whether to send RelayState at all (an empty one is still sent)
}

// ErrorPage is the view model of [PageError]. It carries message keys only, never request
// content or error text (STYLE.md Part C.16).
type ErrorPage struct {
	Base
	Status     int    // the HTTP status, shown as an error code
	TitleKey   string // message key of the heading
	MessageKey string // message key of the explanation (role="alert")
}

// HomePage is the view model of [PageHome].
type HomePage struct {
	Base
	DemoURL     string // the demo SP; "" hides the demo section
	MetadataURL string // Atea's IdP metadata
}

// DemoAttr is one SAML attribute the demo SP received.
type DemoAttr struct {
	Name         string
	FriendlyName string
	Values       []string
}

// DemoPage is the view model of [PageDemo], the demo SP's protected page: everything the SP
// received in the assertion, shown verbatim.
type DemoPage struct {
	Base
	SPName       string // the SP's entityID
	NameID       string
	NameIDFormat string
	Level        string // the AuthnContextClassRef, verbatim
	SessionIndex string
	Attributes   []DemoAttr
	OtherSPURL   string // the other demo SP, to show single sign-on; "" hides the link
	OtherSPName  string
}

// baseOf returns the shared part of a view model and the page it belongs to. ok is false for
// any other type.
func baseOf(data any) (b Base, p Page, ok bool) {
	switch v := data.(type) {
	case HomePage:
		return v.Base, PageHome, true
	case *HomePage:
		if v != nil {
			return v.Base, PageHome, true
		}
	case LoginPage:
		return v.Base, PageLogin, true
	case *LoginPage:
		if v != nil {
			return v.Base, PageLogin, true
		}
	case PostPage:
		return v.Base, PagePost, true
	case *PostPage:
		if v != nil {
			return v.Base, PagePost, true
		}
	case ErrorPage:
		return v.Base, PageError, true
	case *ErrorPage:
		if v != nil {
			return v.Base, PageError, true
		}
	case DemoPage:
		return v.Base, PageDemo, true
	case *DemoPage:
		if v != nil {
			return v.Base, PageDemo, true
		}
	}
	return Base{}, "", false
}

// zeroData returns the zero view model of page p, for Load's dry run.
func zeroData(p Page) any {
	switch p {
	case PageHome:
		return HomePage{}
	case PageLogin:
		return LoginPage{}
	case PagePost:
		return PostPage{}
	case PageError:
		return ErrorPage{}
	case PageDemo:
		return DemoPage{}
	}
	return nil
}

// filledData returns the view model of page p with every field set (strings "x", numbers 1,
// booleans true, one element in every slice), so Load's dry run takes every {{if}} and
// {{range}} branch that data can open.
func filledData(p Page) any {
	v := reflect.New(reflect.TypeOf(zeroData(p))).Elem()
	fill(v, 0)
	return v.Interface()
}

func fill(v reflect.Value, depth int) {
	if depth > 4 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Interface:
		v.Set(reflect.ValueOf("x"))
	}
}
