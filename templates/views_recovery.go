package templates

// The pages of the recovery journey (issue 5, BRIEF.md journey 5: "Forgotten password" and
// "Blocked password"). Each page here needs its <page>.html.tmpl and its message keys in
// locales/recovery/{es,eu,en}.json.

// The recovery pages (package idp/selfservice/recovery renders them).
const (
	// PageRecoveryStart asks for the DNI/NIE and the ID document's expiry date; data is
	// RecoveryStartPage.
	PageRecoveryStart Page = "recovery_start"
	// PageRecoveryCode asks for the SMS code and the new password, twice; data is
	// RecoveryCodePage. It says the same whether or not a code was sent.
	PageRecoveryCode Page = "recovery_code"
	// PageRecoveryDone confirms the new password; data is RecoveryDonePage.
	PageRecoveryDone Page = "recovery_done"
	// PageRecoveryStop ends a recovery that cannot go on (too many attempts, too many
	// requests) with a way to start again; data is RecoveryStopPage.
	PageRecoveryStop Page = "recovery_stop"
	// PageRecoveryWelcome is shown after signing in with the new password; data is
	// RecoveryWelcomePage.
	PageRecoveryWelcome Page = "recovery_welcome"
)

// RecoveryStartPage is the view model of [PageRecoveryStart]: "Forgotten or blocked
// password?", a form with the DNI/NIE and the document expiry date (DD/MM/YYYY; 01/01/9999
// for a permanent DNI).
type RecoveryStartPage struct {
	Base
	Action     string // where the form posts
	FlowID     string // hidden input "flow"
	CSRF       string // hidden input "csrf"
	DNI        string // the DNI/NIE typed before, shown again after an error
	Expiry     string // the expiry date typed before, shown again after an error
	ErrorKey   string // message key of the error to show (role="alert"); "" for none
	ErrorArgs  []any  // fmt arguments of ErrorKey's message
	ErrorField string // the input the error is about ("dni", "expiry"), for aria-describedby
}

// RecoveryCodePage is the view model of [PageRecoveryCode]. It never names the mobile number
// (masked or not): whether a code was sent must not show (SECURITY.md §4.7).
type RecoveryCodePage struct {
	Base
	Action         string // where the code and new password post
	ResendAction   string // where "I did not receive the SMS" posts
	FlowID         string // hidden input "flow" of both forms
	CSRF           string // hidden input "csrf" of both forms
	Digits         int    // digits of the code: the input's maxlength
	ExpiresMinutes int    // the code's lifetime in minutes; 0 hides the sentence
	CanResend      bool   // false: no more codes in this recovery, the resend button is hidden
	ErrorKey       string // message key of the error to show (role="alert"); "" for none
	ErrorArgs      []any  // fmt arguments of ErrorKey's message
	ErrorField     string // the input the error is about ("code", "password"), for aria-describedby
	NoticeKey      string // message key of a notice (role="status"), e.g. a code was sent again
}

// RecoveryDonePage is the view model of [PageRecoveryDone].
type RecoveryDonePage struct {
	Base
	SignInURL     string // where "Sign in" goes
	SessionsEnded int    // how many open sessions of the citizen were ended; 0 hides the sentence
	WasUnblocked  bool   // the credential was blocked and is active again
}

// RecoveryStopPage is the view model of [PageRecoveryStop].
type RecoveryStopPage struct {
	Base
	MessageKey  string // message key of why the recovery stopped (role="alert")
	MessageArgs []any  // fmt arguments of MessageKey's message
	RestartURL  string // where "Start again" goes
}

// RecoveryWelcomePage is the view model of [PageRecoveryWelcome].
type RecoveryWelcomePage struct {
	Base
	AccountURL string // the citizen's account pages; "" hides the link
}

func (RecoveryStartPage) page() Page   { return PageRecoveryStart }
func (RecoveryCodePage) page() Page    { return PageRecoveryCode }
func (RecoveryDonePage) page() Page    { return PageRecoveryDone }
func (RecoveryStopPage) page() Page    { return PageRecoveryStop }
func (RecoveryWelcomePage) page() Page { return PageRecoveryWelcome }

func (p RecoveryStartPage) base() Base   { return p.Base }
func (p RecoveryCodePage) base() Base    { return p.Base }
func (p RecoveryDonePage) base() Base    { return p.Base }
func (p RecoveryStopPage) base() Base    { return p.Base }
func (p RecoveryWelcomePage) base() Base { return p.Base }

// recoveryPages lists this area's pages for Load (see pageDefs).
func recoveryPages() []pageDef {
	return []pageDef{
		{PageRecoveryStart, RecoveryStartPage{}}, {PageRecoveryCode, RecoveryCodePage{}},
		{PageRecoveryDone, RecoveryDonePage{}}, {PageRecoveryStop, RecoveryStopPage{}},
		{PageRecoveryWelcome, RecoveryWelcomePage{}},
	}
}
