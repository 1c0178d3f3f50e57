package templates

// The pages of the certreg area (issue 5): BRIEF.md journey 6, registration with an
// electronic certificate (with a PDF receipt), and journey 3, the online upgrade from B@k to
// B@kQ with an operational coordinate card (the certreg_upgrade* pages). Each page here needs
// its <page>.html.tmpl and its message keys in locales/certreg/{es,eu,en}.json.

// The certreg pages.
const (
	PageCertRegForm        Page = "certreg_form"        // names from the certificate, birth date, document expiry, e-mail, mobile; data is CertRegFormPage
	PageCertRegSMS         Page = "certreg_sms"         // the code sent to the mobile; data is CertRegSMSPage
	PageCertRegPassword    Page = "certreg_password"    // personal password + terms; data is CertRegPasswordPage
	PageCertRegDone        Page = "certreg_done"        // registered, with the receipt link; data is CertRegDonePage
	PageCertRegProblem     Page = "certreg_problem"     // a registration or upgrade that cannot go on; data is CertRegProblemPage
	PageCertRegUpgrade     Page = "certreg_upgrade"     // what the online upgrade does, and its button; data is CertRegUpgradePage
	PageCertRegUpgradeCard Page = "certreg_upgradecard" // the coordinate-card challenge of the upgrade; data is CertRegUpgradeCardPage
	PageCertRegUpgradeDone Page = "certreg_upgradedone" // B@kQ is active; data is CertRegUpgradeDonePage
)

// certRegPages lists this area's pages for Load (see pageDefs).
func certRegPages() []pageDef {
	return []pageDef{
		{PageCertRegForm, CertRegFormPage{}},
		{PageCertRegSMS, CertRegSMSPage{}},
		{PageCertRegPassword, CertRegPasswordPage{}},
		{PageCertRegDone, CertRegDonePage{}},
		{PageCertRegProblem, CertRegProblemPage{}},
		{PageCertRegUpgrade, CertRegUpgradePage{}},
		{PageCertRegUpgradeCard, CertRegUpgradeCardPage{}},
		{PageCertRegUpgradeDone, CertRegUpgradeDonePage{}},
	}
}

// CertRegFormPage is the view model of [PageCertRegForm]. The names and the DNI/NIE come from
// the certificate and are shown read-only: the certificate is the evidence of identity, so
// the citizen cannot change who is registered (a wrong name on a certificate is corrected by
// its issuer).
type CertRegFormPage struct {
	Base
	Action     string // where the form posts
	FlowID     string // hidden input "flow"
	CSRF       string // hidden input "csrf"
	GivenName  string // from the certificate
	FamilyName string // from the certificate
	MaskedDNI  string // "***623L"
	// What was typed before, shown again after an error.
	BirthDate      string
	DocumentExpiry string
	Email          string
	Phone          string
	ErrorKey       string // message key of the error to show (role="alert"); "" for none
	ErrorArgs      []any
	ErrorField     string // the field the error is about ("birth", "expiry", "email", "phone"), for aria-describedby
}

// CertRegSMSPage is the view model of [PageCertRegSMS]: a code went to MaskedPhone to prove
// the number; the citizen types it, asks for another, or corrects the number.
type CertRegSMSPage struct {
	Base
	Action       string // where the code posts
	ResendAction string // where "I did not receive the SMS" posts
	EditAction   string // where "correct my data" posts
	FlowID       string // hidden input "flow" of every form
	CSRF         string // hidden input "csrf" of every form
	MaskedPhone  string // "***707"
	Digits       int    // digits of the code
	ValidMinutes int    // the code's lifetime in minutes
	CanResend    bool   // false disables the resend button
	ResendKey    string // message key explaining why resending is not possible now; "" for none
	ErrorKey     string // message key of the error (role="alert"); "" for none
	ErrorArgs    []any
	NoticeKey    string // message key of a notice (role="status"), e.g. a new code was sent
}

// CertRegPasswordPage is the view model of [PageCertRegPassword]: the personal password,
// typed twice, and the terms with a required checkbox, in one form.
type CertRegPasswordPage struct {
	Base
	Action       string // where the form posts
	FlowID       string // hidden input "flow"
	CSRF         string // hidden input "csrf"
	TermsVersion string // the version of the terms shown
	ErrorKey     string // message key of the error (role="alert"); "" for none
	ErrorArgs    []any
}

// CertRegDonePage is the view model of [PageCertRegDone]: B@k is active; the receipt can be
// downloaded by this browser for a while.
type CertRegDonePage struct {
	Base
	GivenName  string // for the greeting
	Reference  string // the registration reference, also on the receipt
	ReceiptURL string // the PDF receipt; "" when it can no longer be downloaded
	SignInURL  string // where "Sign in" leads
}

// CertRegLink is a link of [CertRegProblemPage].
type CertRegLink struct {
	URL      string
	LabelKey string // message key of the link text
	Primary  bool   // shown as a button
}

// CertRegProblemPage is the view model of [PageCertRegProblem]: a clear page for a
// registration or an upgrade that cannot go on (no certificate, already registered, no
// coordinate card…), with what to do now.
type CertRegProblemPage struct {
	Base
	EyebrowKey string // message key of the journey's name above the heading
	TitleKey   string // message key of the heading
	MessageKey string // message key of the explanation (role="alert")
	HelpKey    string // message key of what to do now; "" for none
	Links      []CertRegLink
}

// CertRegUpgradePage is the view model of [PageCertRegUpgrade]: a B@k holder with an
// operational coordinate card learns what B@kQ adds and starts the upgrade.
type CertRegUpgradePage struct {
	Base
	Action    string // where the button posts
	CSRF      string // hidden input "csrf" (bound to the SSO session)
	GivenName string // for the greeting
}

// CertRegUpgradeCardPage is the view model of [PageCertRegUpgradeCard]: the coordinate-card
// challenge that proves the card; cells post as cell_<position>.
type CertRegUpgradeCardPage struct {
	Base
	Action    string // where the form posts
	FlowID    string // hidden input "flow"
	CSRF      string // hidden input "csrf"
	Positions []string
	Digits    int // digits of each cell
	ErrorKey  string
	ErrorArgs []any
}

// CertRegUpgradeDonePage is the view model of [PageCertRegUpgradeDone]: B@kQ is active.
type CertRegUpgradeDonePage struct {
	Base
	GivenName   string
	ContinueURL string // where "Continue" leads
}

func (CertRegFormPage) page() Page        { return PageCertRegForm }
func (CertRegSMSPage) page() Page         { return PageCertRegSMS }
func (CertRegPasswordPage) page() Page    { return PageCertRegPassword }
func (CertRegDonePage) page() Page        { return PageCertRegDone }
func (CertRegProblemPage) page() Page     { return PageCertRegProblem }
func (CertRegUpgradePage) page() Page     { return PageCertRegUpgrade }
func (CertRegUpgradeCardPage) page() Page { return PageCertRegUpgradeCard }
func (CertRegUpgradeDonePage) page() Page { return PageCertRegUpgradeDone }

func (p CertRegFormPage) base() Base        { return p.Base }
func (p CertRegSMSPage) base() Base         { return p.Base }
func (p CertRegPasswordPage) base() Base    { return p.Base }
func (p CertRegDonePage) base() Base        { return p.Base }
func (p CertRegProblemPage) base() Base     { return p.Base }
func (p CertRegUpgradePage) base() Base     { return p.Base }
func (p CertRegUpgradeCardPage) base() Base { return p.Base }
func (p CertRegUpgradeDonePage) base() Base { return p.Base }
