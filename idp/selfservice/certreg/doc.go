// Package certreg is journey 6 of BRIEF.md: a citizen who holds an electronic certificate or
// an electronic DNI registers online with it (the Cl@ve seed's "advanced registration"),
// gives an e-mail address and a mobile, proves the mobile with a code, chooses a password,
// accepts the terms and downloads a PDF receipt of the registration (issue 5).
//
// The journey is a flow of the IdP (idp.Kit): bound to the browser, with a CSRF token per
// flow, and these states:
//
//	(start)   GET /register/certificate reads the TLS client certificate (CertReader:
//	          certauth.Method, through Atea's mutual-TLS listener or a trusted proxy's
//	          header). No certificate, an untrusted one, one without a DNI/NIE or without a
//	          name each get their own page. A DNI/NIE that already holds a credential gets
//	          "you already have one; sign in" (one credential per person: BRIEF.md), as do a
//	          locked, a revoked and a desk-started credential, each with its own advice.
//	          Otherwise a flow starts and the browser is sent to BaseURL + /register/certificate/step
//	          (the later forms must post to Atea's own origin: the mutual-TLS listener is
//	          another origin, and idp.Kit refuses cross-origin posts).
//	form      The names and the DNI/NIE come from the certificate and are shown read-only:
//	          the certificate is the evidence of identity, a citizen must not register
//	          someone else's name under their number. The citizen types the birth date
//	          (over 16, as for B@kQ), the ID document's expiry (not past; 01/01/9999 for a
//	          permanent DNI), the e-mail and the mobile. POST /register/certificate/details
//	          checks them and sends a code by SMS.
//	sms       POST /register/certificate/sms checks the code (a keyed MAC in the flow, never
//	          the code; attempts counted before comparing; CodeTTL); POST …/resend sends a new
//	          one after ResendCooldown, at most MaxSends per flow, and at most SMSLimit per
//	          number and per DNI/NIE in SMSWindow across flows; POST …/edit goes back to form
//	          to correct the number.
//	password  One page: the personal password (typed twice) and the terms. POST
//	          …/password adds the credential pending (directory.Add, B@k, with the password,
//	          which the directory's policy checks before anything is written) and then
//	          activates it with the terms (directory.Enrol, reason "certificate").
//	done      The page links the receipt: GET /register/certificate/receipt?flow=… is a PDF
//	          for this browser only (the flow's browser binding), for ReceiptTTL.
//
// An interrupted registration (a crash between Add and Enrol, or a browser closed there)
// leaves a pending B@k record without a card for the DNI/NIE. The next registration with the
// same certificate continues with it instead of failing on "already registered": the
// certificate proves the same person, so the newly proven e-mail and mobile replace the old
// ones (directory.SetContact) and Enrol sets the new password. A pending B@kQ record (started
// at a registration desk, journey 2) is not taken over.
//
// The receipt names the citizen, shows the DNI/NIE and the mobile masked (the PDF is a file
// that travels: mail, printers, shared folders), and carries a random registration reference
// that is also in the audit line, so a help desk can match a receipt to the registration. It
// is built with github.com/go-pdf/fpdf and its core Helvetica font, whose Windows-1252
// encoding covers Spanish, Basque and English.
//
// Every step writes an audit line (idp.Kit.Audit) with the masked DNI/NIE only; codes,
// passwords, phone numbers and the certificate subject are never logged.
package certreg
