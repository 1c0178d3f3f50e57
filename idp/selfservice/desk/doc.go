// Package desk is journey 2 of issue 5 (BRIEF.md "Journeys"): B@kQ issuance with one
// in-person step. It has two halves.
//
// The registration-agent console at /ra. Agents have their own accounts in the directory
// (directory.AddAgent, created by `atea agent add`), separate from citizens. An agent signs
// in with username and password (directory.AuthenticateAgent: lockout after the directory's
// MaxFailures) and then a 6-digit code sent by SMS to the agent's mobile; only a keyed MAC of
// the code is kept in the browser-bound sign-in flow (journey "ra-signin"). The console
// session is its own: a random cookie "atea_ra" (HttpOnly, SameSite=Strict, Path=/ra, Secure
// per configuration) whose keyed hash names a store.Session with UserID "agent:<id>", idle
// expiry Config.SessionIdle and absolute expiry Config.SessionMax. It is never the citizens'
// SSO session: a citizen cookie cannot open the console, nor an agent cookie an SP. The
// agent registers a citizen seen in person (DNI/NIE, document expiry, names, birth date —
// at least Config.MinimumAge years old by the IdP's clock —, e-mail, mobile): the directory
// gets a pending B@kQ credential without password, the coordinate card is issued, an
// enrolment code (directory.PurposeEnrolment) is issued, and an e-mail in Spanish and Basque
// carries the printable card and the link <BaseURL>/enrol?code=…. The agent sees neither
// the card nor the code. Every action is audited with the agent's identity, on the IdP's
// audit stream and in the directory's trail (directory.RecordAgentAction).
//
// The citizen's enrolment at /enrol, in a browser-bound flow (journey "enrol"): the link's
// code (directory.CheckCode: no DNI needed, the code is the link) → the recorded data to
// confirm → a temporary password by SMS to the recorded mobile (its MAC in the flow; resend
// with a cooldown) → the new personal password, twice (directory.SetPassword on the pending
// credential) → the first B@kQ sign-in inside the flow: DNI/NIE + that password
// (directory.AuthenticatePending) and the coordinate card → the terms → directory.Enrol,
// which consumes the code, records the terms and activates the credential in one
// transaction. The code in clear is needed by Enrol at the end; the flow keeps it sealed
// with a per-flow key (AES-GCM), never in clear.
package desk
