package templates

// The pages of the desk journey (issue 5, BRIEF.md journey 2: B@kQ issuance with one
// in-person step): the registration agents' console at /ra, and the citizen's enrolment
// from the e-mailed link at /enrol. Each page here needs its <page>.html.tmpl and its
// message keys in locales/desk/{es,eu,en}.json.

// The desk pages.
const (
	PageDeskSignIn      Page = "desk_signin"      // agent username + password; data is DeskSignInPage
	PageDeskCode        Page = "desk_code"        // the agent's SMS sign-in code; data is DeskCodePage
	PageDeskConsole     Page = "desk_console"     // register a citizen seen in person; data is DeskConsolePage
	PageDeskRegistered  Page = "desk_registered"  // the agent's confirmation; data is DeskRegisteredPage
	PageDeskProblem     Page = "desk_problem"     // a step that cannot go on; data is DeskProblemPage
	PageDeskConfirm     Page = "desk_confirm"     // the citizen confirms the data; data is DeskConfirmPage
	PageDeskPassword    Page = "desk_password"    // temporary password + new password; data is DeskPasswordPage
	PageDeskFirstSignIn Page = "desk_firstsignin" // first B@kQ sign-in: DNI/NIE + password; data is DeskFirstSignInPage
	PageDeskCard        Page = "desk_card"        // first B@kQ sign-in: the card; data is DeskCardPage
	PageDeskTerms       Page = "desk_terms"       // the B@kQ terms; data is DeskTermsPage
	PageDeskDone        Page = "desk_done"        // B@kQ is active; data is DeskDonePage
)

// deskPages lists this area's pages for Load (see pageDefs).
func deskPages() []pageDef {
	return []pageDef{
		{PageDeskSignIn, DeskSignInPage{}},
		{PageDeskCode, DeskCodePage{}},
		{PageDeskConsole, DeskConsolePage{}},
		{PageDeskRegistered, DeskRegisteredPage{}},
		{PageDeskProblem, DeskProblemPage{}},
		{PageDeskConfirm, DeskConfirmPage{}},
		{PageDeskPassword, DeskPasswordPage{}},
		{PageDeskFirstSignIn, DeskFirstSignInPage{}},
		{PageDeskCard, DeskCardPage{}},
		{PageDeskTerms, DeskTermsPage{}},
		{PageDeskDone, DeskDonePage{}},
	}
}

// DeskSignInPage is the view model of [PageDeskSignIn]: the agent's username and password.
type DeskSignInPage struct {
	Base
	Action    string // where the form posts
	FlowID    string // hidden input "flow"
	CSRF      string // hidden input "csrf"
	Username  string // typed before, shown again after an error
	ErrorKey  string // message key of the error (role="alert"); "" for none
	NoticeKey string // message key of a notice (role="status"), e.g. signed out
}

// DeskCodePage is the view model of [PageDeskCode]: the 6-digit code sent by SMS to the
// agent's mobile.
type DeskCodePage struct {
	Base
	Action       string
	FlowID       string
	CSRF         string
	MaskedPhone  string // "***111"
	ValidMinutes int
	ErrorKey     string
	ErrorArgs    []any
}

// DeskConsolePage is the view model of [PageDeskConsole]: the registration form of a
// citizen seen in person, with what was typed before an error.
type DeskConsolePage struct {
	Base
	AgentName     string // the signed-in agent
	Action        string // where the registration posts
	SignOutAction string // where "sign out" posts
	CSRF          string // hidden input "csrf" of both forms (bound to the agent's session)
	MinimumAge    int
	DNI           string
	Expiry        string
	GivenName     string
	FamilyName    string
	BirthDate     string
	Email         string
	Phone         string
	ErrorKey      string // message key of the error (role="alert"); "" for none
	ErrorArgs     []any
	ErrorField    string // id of the field the error is about ("dni", "birth"…); "" for none
}

// DeskRegisteredPage is the view model of [PageDeskRegistered]: the citizen is registered
// and the e-mail with the card and the link has gone. The agent never sees either.
type DeskRegisteredPage struct {
	Base
	AgentName     string
	MaskedDNI     string
	MaskedEmail   string
	LinkDays      int    // how many days the link is valid
	ConsoleURL    string // "register another citizen"
	SignOutAction string
	CSRF          string
}

// DeskProblemPage is the view model of [PageDeskProblem]: a clear page for a step that
// cannot go on (a wrong or locked agent, an invalid, used or expired link, a blocked card…).
type DeskProblemPage struct {
	Base
	EyebrowKey string // message key of the area ("desk.ra.eyebrow", "desk.enrol.eyebrow")
	TitleKey   string // message key of the heading
	MessageKey string // message key of the explanation (role="alert")
	HelpKey    string // message key of what to do now; "" for none
	LinkURL    string // a way on ("sign in again", "start again"); "" for none
	LinkKey    string // the link's text
}

// DeskConfirmPage is the view model of [PageDeskConfirm]: the data the desk registered, for
// the citizen to confirm before anything is sent to the mobile.
type DeskConfirmPage struct {
	Base
	Action         string
	FlowID         string
	CSRF           string
	GivenName      string
	FamilyName     string
	BirthDate      string // DD/MM/YYYY
	DocumentExpiry string // DD/MM/YYYY
	MaskedDNI      string
	Email          string
	MaskedPhone    string
}

// DeskPasswordPage is the view model of [PageDeskPassword]: the temporary password sent by
// SMS (while AskTemp) and the new personal password, twice.
type DeskPasswordPage struct {
	Base
	Action       string
	ResendAction string
	FlowID       string
	CSRF         string
	AskTemp      bool // the temporary password is still to be typed
	MaskedPhone  string
	ValidMinutes int
	CanResend    bool
	ResendKey    string // why resending is not possible now; "" for none
	ErrorKey     string
	ErrorArgs    []any
	NoticeKey    string
}

// DeskFirstSignInPage is the view model of [PageDeskFirstSignIn]: the first B@kQ sign-in's
// password step, inside the enrolment.
type DeskFirstSignInPage struct {
	Base
	Action    string
	FlowID    string
	CSRF      string
	DNI       string
	ErrorKey  string
	ErrorArgs []any
}

// DeskCardPage is the view model of [PageDeskCard]: the first B@kQ sign-in's coordinate
// card step (fields cell_<position>).
type DeskCardPage struct {
	Base
	Action    string
	FlowID    string
	CSRF      string
	Positions []string
	Digits    int
	ErrorKey  string
	ErrorArgs []any
}

// DeskTermsPage is the view model of [PageDeskTerms]: the B@kQ terms with a required
// checkbox.
type DeskTermsPage struct {
	Base
	Action       string
	FlowID       string
	CSRF         string
	TermsVersion string
	ErrorKey     string
}

// DeskDonePage is the view model of [PageDeskDone]: B@kQ (and B@k with it) is active.
type DeskDonePage struct {
	Base
	GivenName string
	SignInURL string
}

func (DeskSignInPage) page() Page      { return PageDeskSignIn }
func (DeskCodePage) page() Page        { return PageDeskCode }
func (DeskConsolePage) page() Page     { return PageDeskConsole }
func (DeskRegisteredPage) page() Page  { return PageDeskRegistered }
func (DeskProblemPage) page() Page     { return PageDeskProblem }
func (DeskConfirmPage) page() Page     { return PageDeskConfirm }
func (DeskPasswordPage) page() Page    { return PageDeskPassword }
func (DeskFirstSignInPage) page() Page { return PageDeskFirstSignIn }
func (DeskCardPage) page() Page        { return PageDeskCard }
func (DeskTermsPage) page() Page       { return PageDeskTerms }
func (DeskDonePage) page() Page        { return PageDeskDone }

func (p DeskSignInPage) base() Base      { return p.Base }
func (p DeskCodePage) base() Base        { return p.Base }
func (p DeskConsolePage) base() Base     { return p.Base }
func (p DeskRegisteredPage) base() Base  { return p.Base }
func (p DeskProblemPage) base() Base     { return p.Base }
func (p DeskConfirmPage) base() Base     { return p.Base }
func (p DeskPasswordPage) base() Base    { return p.Base }
func (p DeskFirstSignInPage) base() Base { return p.Base }
func (p DeskCardPage) base() Base        { return p.Base }
func (p DeskTermsPage) base() Base       { return p.Base }
func (p DeskDonePage) base() Base        { return p.Base }
