package templates

// The pages of the account journey (issue 5, BRIEF.md journey 5: "/account after sign-in").
// Each page here needs its <page>.html.tmpl and its message keys in
// locales/account/{es,eu,en}.json. Package idp/selfservice/account renders them.

// The account pages.
const (
	// PageAccountHome is the citizen's account: personal and contact data, the credential,
	// the open sessions (each with an "end" button) and the recent sign-ins; data is
	// AccountHomePage.
	PageAccountHome Page = "account_home"
	// PageAccountContact asks for the new e-mail address or mobile number (or, for a
	// credential that cannot reach the substantial level, says to visit a desk); data is
	// AccountContactPage.
	PageAccountContact Page = "account_contact"
	// PageAccountCode asks for the confirmation code sent to the new address or number;
	// data is AccountCodePage.
	PageAccountCode Page = "account_code"
)

// AccountSession is one open SSO session of the citizen on [PageAccountHome].
type AccountSession struct {
	Handle    string   // posted as "session" by its end button: a public name, never the store key
	Created   string   // when it started, formatted for the page's language
	LevelKey  string   // message key of its level ("level.substantial")
	MethodKey string   // message key of how it was signed in ("account.method.coordcard")
	Current   bool     // the session of this browser
	Services  []string // the services used in it, by display name
}

// AccountSignIn is one recent sign-in on [PageAccountHome].
type AccountSignIn struct {
	Time      string // formatted for the page's language
	LevelKey  string // message key of the level reached
	MethodKey string // message key of the method
	Network   string // the client network with the host part cut ("192.0.2.0/24"); "" if unknown
}

// AccountHomePage is the view model of [PageAccountHome]. Every form carries CSRF, the
// token bound to the session.
type AccountHomePage struct {
	Base
	CSRF          string // hidden input "csrf" of every form
	ContactAction string // where "change e-mail" / "change mobile" post (with "field")
	EndAction     string // where an "end session" button posts (with "session")
	// EndOthersAction is where "end all other sessions" posts; "" hides it (one session).
	EndOthersAction string
	LogoutAction    string // where "sign out everywhere" (single logout) posts; "" hides it
	GivenName       string
	FamilyName      string
	MaskedDNI       string // "*****623L"
	Email           string // "" shows "none"
	MaskedPhone     string // "***707"; "" shows "none"
	CredentialKey   string // message key of the credential ("account.credential.bakq")
	StatusKey       string // message key of its status ("account.status.active")
	TermsVersion    string // "" hides the terms line
	TermsDate       string // when they were accepted, formatted
	LevelKey        string // message key of this session's level
	SignedInAt      string // when this session signed in, formatted
	CanChange       bool   // the credential can reach the substantial level: contact data may be changed online
	Sessions        []AccountSession
	SignIns         []AccountSignIn
	NoticeKey       string // message key of a notice (role="status"); "" for none
	NoticeArgs      []any  // fmt arguments of NoticeKey's message
	// EndedServices are the services of a session just ended on another device, with what
	// each said to the back-channel logout.
	EndedServices []LogoutService
	ErrorKey      string // message key of an error (role="alert"); "" for none
}

// AccountContactPage is the view model of [PageAccountContact].
type AccountContactPage struct {
	Base
	Field      string // "email" or "phone": which one changes
	Action     string // where the new value posts
	CSRF       string // hidden input "csrf" (session-bound)
	Current    string // the value on record (the mobile masked); "" says there is none
	Value      string // the value typed before, shown again after an error
	Desk       bool   // it cannot be changed online: show the desk message instead of the form
	ErrorKey   string // message key of the error to show (role="alert"); "" for none
	ErrorArgs  []any  // fmt arguments of ErrorKey's message
	AccountURL string // back to the account page
}

// AccountCodePage is the view model of [PageAccountCode].
type AccountCodePage struct {
	Base
	Field          string // "email" or "phone"
	To             string // the new address or number the code went to, as the citizen typed it
	Action         string // where the code posts
	ResendAction   string // where "send another code" posts
	FlowID         string // hidden input "flow" of both forms
	CSRF           string // hidden input "csrf" of both forms
	Digits         int    // the code's digits: the input's maxlength
	ExpiresMinutes int    // the code's lifetime in minutes; 0 hides the sentence
	CanResend      bool   // false hides the resend button (no more codes in this change)
	ErrorKey       string // message key of the error to show (role="alert"); "" for none
	ErrorArgs      []any  // fmt arguments of ErrorKey's message
	NoticeKey      string // message key of a notice (role="status"), e.g. a new code was sent
	AccountURL     string // "cancel": back to the account page
}

// EndedPartial reports whether some service of the ended session did not confirm.
func (p AccountHomePage) EndedPartial() bool {
	for _, s := range p.EndedServices {
		if !s.Confirmed {
			return true
		}
	}
	return false
}

func (AccountHomePage) page() Page    { return PageAccountHome }
func (AccountContactPage) page() Page { return PageAccountContact }
func (AccountCodePage) page() Page    { return PageAccountCode }

func (p AccountHomePage) base() Base    { return p.Base }
func (p AccountContactPage) base() Base { return p.Base }
func (p AccountCodePage) base() Base    { return p.Base }

// accountPages lists this area's pages for Load (see pageDefs).
func accountPages() []pageDef {
	return []pageDef{
		{PageAccountHome, AccountHomePage{}}, {PageAccountContact, AccountContactPage{}},
		{PageAccountCode, AccountCodePage{}},
	}
}
