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

	PageChoose  Page = "choose"  // the method chooser (Cl@ve style); data is ChoosePage
	PageCard    Page = "card"    // the coordinate-card challenge of B@kQ; data is CardPage
	PageSMS     Page = "sms"     // the SMS-code challenge of B@kQ (seed 001); data is SMSPage
	PageUpgrade Page = "upgrade" // what B@kQ is and how to obtain it; data is UpgradePage
)

// pageDef pairs a page with the zero value of its view model, for Load's checks and dry runs.
type pageDef struct {
	page Page
	zero any
}

// pageDefs lists every page in a fixed order: the sign-in pages here, then each self-service
// area's own list from its views_<area>.go (so areas never edit one shared list).
func pageDefs() []pageDef {
	core := []pageDef{
		{PageHome, HomePage{}}, {PageLogin, LoginPage{}}, {PagePost, PostPage{}}, {PageError, ErrorPage{}},
		{PageDemo, DemoPage{}}, {PageChoose, ChoosePage{}}, {PageCard, CardPage{}}, {PageSMS, SMSPage{}},
		{PageUpgrade, UpgradePage{}},
	}
	var all []pageDef
	for _, area := range [][]pageDef{core, activationPages(), recoveryPages(), accountPages(), deskPages(), certRegPages(), logoutPages()} {
		all = append(all, area...)
	}
	return all
}

// pages lists every page in a fixed order, for Load's checks.
func pages() []Page {
	defs := pageDefs()
	out := make([]Page, len(defs))
	for i, d := range defs {
		out[i] = d.page
	}
	return out
}

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

// SetNonce sets the page's CSP nonce; every view model has it through Base, so a caller can
// set it without knowing which page it renders.
func (b *Base) SetNonce(nonce string) { b.Nonce = nonce }

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
	CertURL   string // when set, a link to sign in with an electronic DNI or certificate instead
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

// MethodChoice is one button of the method chooser: a sign-in method that can reach the level
// the service asks for. The caller lists only such methods (BRIEF.md journey 4; kratos
// CheckAAL): the page shows what it is given.
type MethodChoice struct {
	ID       string // posted as the value of "method" ("password", "bakq", "cert")
	LabelKey string // message key of the method's name ("method.bakq.label")
	DescKey  string // message key of what the method needs ("method.bakq.desc")
	LevelKey string // message key of the level the method reaches ("level.substantial")
}

// ChoosePage is the view model of [PageChoose]: "Choose how to identify yourself", one
// submit button per method, all in one form posting "method".
type ChoosePage struct {
	Base
	Action   string // where the form posts
	FlowID   string // hidden input "flow"
	CSRF     string // hidden input "csrf"
	SPName   string // the service provider asking for the sign-in
	LevelKey string // message key of the requested level
	Methods  []MethodChoice
}

// CardPage is the view model of [PageCard], the coordinate-card challenge: one input per
// position asked, named "cell_<position>" ("cell_B3").
type CardPage struct {
	Base
	Action    string   // where the form posts
	FlowID    string   // hidden input "flow"
	CSRF      string   // hidden input "csrf"
	SPName    string   // the service provider asking for the sign-in
	LevelKey  string   // message key of the requested level
	Positions []string // the positions asked, as printed on the card ("B3", "D1")
	Digits    int      // digits in each cell: the inputs' maxlength; 0 sets no limit
	ErrorKey  string   // message key of the error to show; "" for none
	ErrorArgs []any    // fmt arguments of ErrorKey's message
}

// SMSPage is the view model of [PageSMS], the SMS-code challenge as seed 001 shows it: the
// masked number the code went to, the first digits of the code shown on the screen (which
// binds the SMS to this screen), and an input for the rest.
type SMSPage struct {
	Base
	Action         string // where the code form posts
	ResendAction   string // where "I did not receive the code" posts
	FlowID         string // hidden input "flow" of both forms
	CSRF           string // hidden input "csrf" of both forms
	SPName         string // the service provider asking for the sign-in
	LevelKey       string // message key of the requested level
	MaskedPhone    string // the number the code went to, masked by the caller ("***707")
	Prefix         string // the digits of the code the screen shows ("869")
	Typed          int    // how many digits the citizen types: the input's maxlength
	ExpiresMinutes int    // the code's lifetime; 0 hides the sentence
	CanResend      bool   // false disables the resend button until the cooldown ends
	ErrorKey       string // message key of the error to show (role="alert"); "" for none
	ErrorArgs      []any  // fmt arguments of ErrorKey's message
	NoticeKey      string // message key of a notice (role="status"), e.g. "sms.notice.resent"
}

// UpgradePage is the view model of [PageUpgrade], shown to a B@k holder when the service asks
// for a level B@k cannot reach (BRIEF.md journey 2): what B@kQ is and how to obtain it.
type UpgradePage struct {
	Base
	SPName   string // the service provider asking for the sign-in
	LevelKey string // message key of the requested level
	BackURL  string // a way back to the service; "" links to Atea's home page instead
}

// viewModel is what every page's view model has: its Base (promoted from the embedded Base)
// and the page it belongs to. Values and pointers both satisfy it (value receivers).
type viewModel interface {
	base() Base
	page() Page
}

func (b Base) base() Base { return b }

func (HomePage) page() Page    { return PageHome }
func (LoginPage) page() Page   { return PageLogin }
func (PostPage) page() Page    { return PagePost }
func (ErrorPage) page() Page   { return PageError }
func (DemoPage) page() Page    { return PageDemo }
func (ChoosePage) page() Page  { return PageChoose }
func (CardPage) page() Page    { return PageCard }
func (SMSPage) page() Page     { return PageSMS }
func (UpgradePage) page() Page { return PageUpgrade }

// baseOf returns the shared part of a view model and the page it belongs to. ok is false for
// any other type, and for a nil pointer to a view model.
func baseOf(data any) (b Base, p Page, ok bool) {
	vm, ok := data.(viewModel)
	if !ok {
		return Base{}, "", false
	}
	if rv := reflect.ValueOf(data); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return Base{}, "", false
	}
	return vm.base(), vm.page(), true
}

// zeroData returns the zero view model of page p, for Load's dry run.
func zeroData(p Page) any {
	for _, d := range pageDefs() {
		if d.page == p {
			return d.zero
		}
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
