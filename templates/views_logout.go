package templates

// The pages of single logout (issue 7; saml-profiles-2.0-os §4.4). Each page here needs its
// <page>.html.tmpl and its message keys in locales/logout/{es,eu,en}.json. Package idp
// (slo*.go) renders them.

// The logout pages.
const (
	// PageLogoutConfirm asks the citizen to confirm a logout that Atea cannot tie to a
	// signed request (an unsigned LogoutRequest from an SP allowed to send one, or the "sign
	// out everywhere" link): the defence against logout CSRF; data is LogoutConfirmPage.
	PageLogoutConfirm Page = "logout_confirm"
	// PageLogoutHop carries a LogoutRequest to one service through the browser (front-channel
	// propagation, one service after another) and offers to go on without it; data is
	// LogoutHopPage.
	PageLogoutHop Page = "logout_hop"
	// PageLogoutResult says which services confirmed the logout and which did not; data is
	// LogoutResultPage.
	PageLogoutResult Page = "logout_result"
)

// LogoutConfirmPage is the view model of [PageLogoutConfirm].
type LogoutConfirmPage struct {
	Base
	Action    string   // where the confirmation posts
	FlowID    string   // hidden input "flow" ("" for the session-bound form)
	CSRF      string   // hidden input "csrf"
	SPName    string   // the service that asked for the logout; "" when the citizen did
	Services  []string // the services the logout will reach
	CancelURL string   // "stay signed in"
}

// LogoutHopPage is the view model of [PageLogoutHop]. Exactly one of Post and RedirectURL
// carries the message.
type LogoutHopPage struct {
	Base
	SPName      string // the service being signed out of
	Step, Total int    // "2 of 3"
	Post        bool   // HTTP-POST binding: the form below is submitted
	Action      string // the service's SingleLogoutService (POST)
	Value       string // base64 SAMLRequest (POST)
	RelayState  string // sent with the form (POST)
	RedirectURL string // HTTP-Redirect binding: the signed URL the page goes to
	SkipURL     string // "continue without this service"
}

// LogoutService is one service on [PageLogoutResult].
type LogoutService struct {
	Name      string // display name, else entityID
	StateKey  string // message key of the outcome ("logout.state.ok", …)
	Confirmed bool   // the service confirmed the logout
}

// LogoutResultPage is the view model of [PageLogoutResult].
type LogoutResultPage struct {
	Base
	Services     []LogoutService
	AllConfirmed bool // every service confirmed: no "close the browser" hint
	// The way back to the service that asked for the logout, with its LogoutResponse:
	// ReturnPost posts ReturnValue to ReturnAction, else ReturnURL is a link. ReturnSPName ""
	// means there is no such service (the citizen signed out at Atea).
	ReturnSPName   string
	ReturnPost     bool
	ReturnAction   string
	ReturnValue    string
	ReturnRelay    string
	ReturnHasRelay bool
	ReturnURL      string
	HomeURL        string
}

func (LogoutConfirmPage) page() Page { return PageLogoutConfirm }
func (LogoutHopPage) page() Page     { return PageLogoutHop }
func (LogoutResultPage) page() Page  { return PageLogoutResult }

func (p LogoutConfirmPage) base() Base { return p.Base }
func (p LogoutHopPage) base() Base     { return p.Base }
func (p LogoutResultPage) base() Base  { return p.Base }

// logoutPages lists this area's pages for Load (see pageDefs).
func logoutPages() []pageDef {
	return []pageDef{
		{PageLogoutConfirm, LogoutConfirmPage{}}, {PageLogoutHop, LogoutHopPage{}}, {PageLogoutResult, LogoutResultPage{}},
	}
}
