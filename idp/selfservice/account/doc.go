// Package account is the citizen's self-service account page of Atea (issue 5, BRIEF.md
// journey 5: "/account after sign-in"): the citizen's data and credential, the open SSO
// sessions with a button to end each, the recent sign-ins, and the change of e-mail address
// or mobile number.
//
// # Pages
//
//	GET  /account                     the account page; no session: Atea's sign-in (level low)
//	POST /account/sessions/end        end one of the citizen's sessions (field "session")
//	POST /account/contact             start a change of "email" or "phone" (field "field")
//	GET  /account/contact?field=…     the new value form (after a fresh substantial sign-in)
//	POST /account/contact/send        the new value: a code goes to it; 303 to the code page
//	GET  /account/contact/code        the code form (flow of journey "account")
//	POST /account/contact/code        the code: the change is made, the account page again
//	POST /account/contact/resend      another code to the same new value
//
// The account page and the forms on it are bound to the SSO session: each form carries
// Kit.SessionCSRF, checked with Kit.ParseForm (bounded body, same-site origin) and
// Kit.CheckSessionCSRF. An "end" button names its session by Kit.SessionHandle, a keyed
// hash: the page never carries the store key (itself a hash of a cookie), and a handle is
// looked up only among the signed-in citizen's own sessions, so another citizen's session
// cannot be ended from here. Ending this browser's own session is allowed too.
//
// # Changing the e-mail address or the mobile
//
// A change of contact data is an account-recovery lever (whoever controls the mobile can
// reset the password), so it needs more than the session that opened the page (SECURITY.md
// §4.21: "changing phone/e-mail must require current authentication at the higher LoA"):
//
//   - a sign-in at the substantial level (B@kQ: password and second factor) no older than
//     Config.FreshFor. An older or lower session is sent through Atea's sign-in again with
//     ForceAuthn (Kit.SignIn with fresh, saml-core-2.0-os §3.4.1) and comes back to the new
//     value form. A B@k-only credential cannot reach that level online: the page says so and
//     points to a registration desk instead of starting a sign-in that cannot succeed;
//   - proof of the new address or number: a code of Config.CodeDigits random digits sent to
//     it (e-mail by Deps.Mail, SMS by Deps.SMS), valid for CodeTTL, in a flow of journey
//     "account" bound to the browser (Kit.StartFlow) and to the session that asked for it
//     (its user ID and Kit.SessionHandle in the flow's Data). Only Kit.MAC of the code, with
//     the flow ID, is stored; the new value itself waits in the flow's Data until the code
//     confirms it (it is no secret, and it must not reach the directory unproved). Attempts are counted before comparing, at most MaxAttempts per
//     change across resends; the comparison is in constant time; a right code is consumed
//     once (Kit.Store().Consume) before the directory changes. Resends wait ResendCooldown,
//     at most MaxSends per change, and SendLimit codes per citizen per SendWindow bound the
//     messages one account can make Atea send (SMS pumping, SECURITY.md §4.8; ASVS 5.0 V6.6.3);
//   - a notice to the OLD address or number once the change is made (SECURITY.md §4.21,
//     ASVS 4.0.3 2.2.3/2.5.5, ASVS 5.0 V6.3.7: notify the user of such changes), so a change
//     the citizen did not make does not go unnoticed by the one channel an attacker no
//     longer controls.
//
// directory.SetContact makes the change (audit events email_changed / phone_changed in the
// directory's trail); the journey's own audit events (account_*) name the citizen by masked
// DNI only, and never carry codes, session IDs or whole numbers.
//
// # Recent sign-ins
//
// The IdP tells Deps.SignIns of every new SSO session (idp.SignInRecorder); Recorder adapts
// the directory (directory.RecordSignIn, the last MaxSignIns per citizen) to it. The page
// lists time, level, method and the client network with its host part cut.
//
// The package is not responsible for signing in (the IdP's pages do it), for single logout
// of the SPs a session reached (issue 7), or for changing names or the ID number, which
// only a registration desk may do.
package account
