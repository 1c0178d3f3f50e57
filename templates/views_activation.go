package templates

// The pages of the activation journey (issue 5, BRIEF.md journey 1: B@k activation with the
// letter's code, no in-person step). Each page here needs its <page>.html.tmpl and its
// message keys in locales/activation/{es,eu,en}.json.

// The activation pages.
const (
	PageActivationEnter    Page = "activation_enter"    // code + DNI/NIE + document expiry + proof of work; data is ActivationEnterPage
	PageActivationSMS      Page = "activation_sms"      // the temporary password sent by SMS; data is ActivationSMSPage
	PageActivationPassword Page = "activation_password" // new password + terms; data is ActivationPasswordPage
	PageActivationDone     Page = "activation_done"     // B@k is active; data is ActivationDonePage
	PageActivationProblem  Page = "activation_problem"  // a code or step that cannot go on; data is ActivationProblemPage
)

// activationPages lists this area's pages for Load (see pageDefs).
func activationPages() []pageDef {
	return []pageDef{
		{PageActivationEnter, ActivationEnterPage{}},
		{PageActivationSMS, ActivationSMSPage{}},
		{PageActivationPassword, ActivationPasswordPage{}},
		{PageActivationDone, ActivationDonePage{}},
		{PageActivationProblem, ActivationProblemPage{}},
	}
}

// ActivationEnterPage is the view model of [PageActivationEnter]: the letter's code, the
// DNI/NIE and the ID document's expiry date, and the proof-of-work challenge that the page's
// script (static/activation-pow.js) solves into the hidden field "pow".
type ActivationEnterPage struct {
	Base
	Action    string // where the form posts
	FlowID    string // hidden input "flow"
	CSRF      string // hidden input "csrf"
	Code      string // what was typed before, shown again after an error
	DNI       string
	Expiry    string
	Challenge string // the proof-of-work challenge (hidden input "challenge", read by the script)
	Bits      int    // leading zero bits the script must find
	ErrorKey  string // message key of the error to show (role="alert"); "" for none
	ErrorArgs []any  // fmt arguments of ErrorKey's message
}

// ActivationSMSPage is the view model of [PageActivationSMS]: the temporary password went
// to MaskedPhone; the citizen types it, or asks for another one.
type ActivationSMSPage struct {
	Base
	Action       string // where the temporary password posts
	ResendAction string // where "I did not receive the SMS" posts
	FlowID       string // hidden input "flow" of both forms
	CSRF         string // hidden input "csrf" of both forms
	MaskedPhone  string // "***707"
	ValidMinutes int    // the temporary password's lifetime in minutes; 0 hides the sentence
	CanResend    bool   // false disables the resend button (cooldown, or no sends left)
	ResendKey    string // message key explaining why resending is not possible now; "" for none
	ErrorKey     string // message key of the error to show (role="alert"); "" for none
	ErrorArgs    []any
	NoticeKey    string // message key of a notice (role="status"), e.g. a new SMS was sent
}

// ActivationPasswordPage is the view model of [PageActivationPassword]: the personal
// password, typed twice, and the terms of use with a required checkbox, in one form, so the
// new password never waits in the store between two steps.
type ActivationPasswordPage struct {
	Base
	Action       string // where the form posts
	FlowID       string // hidden input "flow"
	CSRF         string // hidden input "csrf"
	TermsVersion string // the version of the terms shown
	ErrorKey     string // message key of the error to show (role="alert"); "" for none
	ErrorArgs    []any
}

// ActivationDonePage is the view model of [PageActivationDone]: B@k is active.
type ActivationDonePage struct {
	Base
	GivenName string // the citizen's given name, for the greeting
	SignInURL string // where "Sign in" leads
}

// ActivationProblemPage is the view model of [PageActivationProblem]: a clear page for an
// activation that cannot go on (a used or expired code, no mobile, too many attempts…).
type ActivationProblemPage struct {
	Base
	TitleKey   string // message key of the heading
	MessageKey string // message key of the explanation (role="alert")
	HelpKey    string // message key of what to do now; "" for none
	RetryURL   string // a "try again" link; "" for none
}

func (ActivationEnterPage) page() Page    { return PageActivationEnter }
func (ActivationSMSPage) page() Page      { return PageActivationSMS }
func (ActivationPasswordPage) page() Page { return PageActivationPassword }
func (ActivationDonePage) page() Page     { return PageActivationDone }
func (ActivationProblemPage) page() Page  { return PageActivationProblem }

func (p ActivationEnterPage) base() Base    { return p.Base }
func (p ActivationSMSPage) base() Base      { return p.Base }
func (p ActivationPasswordPage) base() Base { return p.Base }
func (p ActivationDonePage) base() Base     { return p.Base }
func (p ActivationProblemPage) base() Base  { return p.Base }
