// Package idp is Atea's HTTP-facing SAML 2.0 identity provider: the SingleSignOnService on the
// HTTP-Redirect and HTTP-POST bindings (saml-bindings-2.0-os §3.4, §3.5), the sign-in pages,
// the SSO session, and the Responses it sends.
//
// It is not responsible for parsing untrusted XML safely (metadata/xmlgate), verifying XML
// signatures (metadata/xmlsig), writing signed XML (idp/samlxml), storing state (idp/store),
// or keeping the user directory (idp/directory); it decides, in that order, what to do.
//
// # The sign-in flow
//
// A request is read and authenticated (readAuthnRequest), then checked against the Web
// Browser SSO profile and Atea's policy (validate). Failures before the SP and its ACS are
// known give an error page and send nothing anywhere; failures after that give a signed SAML
// error Response to the ACS from metadata. The flow is a small state machine with one
// decision point, dispatch:
//
//	                 POST binding                       Redirect binding
//	/saml/sso ──► [new] ──303──► GET /login ──┐    /saml/sso ──┐
//	                                          ▼                ▼
//	                                   ┌── dispatch ◄──────────┘
//	   session at an acceptable level  │   │ IsPassive, no session     otherwise
//	   and no ForceAuthn               ▼   ▼                           ▼
//	                            issue assertion   NoPassive   [await_password] ── POST /login
//	                                   ▲                               │ password ok: new session
//	                                   └───────────────────────────────┘
//
// Each transition checks the expected state, the flow's expiry (the store drops expired flows),
// the browser binding (a flow cookie, hashed) and, on POSTs, a CSRF token bound to flow and
// browser. Single sign-on: a second SP in the same browser finds the session in dispatch.
package idp
