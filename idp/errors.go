package idp

import (
	"errors"
	"fmt"
)

// pageError is a failure answered with a localized error page of Atea's own: used whenever the
// SP is unknown or not yet trusted, so nothing is sent anywhere (SECURITY.md §4.1).
type pageError struct {
	status int
	key    string // message key of the error page
	err    error  // private detail, logged, never shown
}

func (e *pageError) Error() string { return fmt.Sprintf("%s: %v", e.key, e.err) }
func (e *pageError) Unwrap() error { return e.err }

func pageErr(status int, key string, err error) error {
	return &pageError{status: status, key: key, err: err}
}

// statusError is a failure reported to an authenticated SP as a signed SAML Response carrying
// the status (saml-core-2.0-os §3.2.2.2), sent to the ACS taken from its metadata.
type statusError struct {
	code, sub string
	msg       string // StatusMessage: fixed text, never request content
	err       error
}

func (e *statusError) Error() string {
	return fmt.Sprintf("saml status %s/%s: %v", e.code, e.sub, e.err)
}
func (e *statusError) Unwrap() error { return e.err }

func statusErr(code, sub, msg string, err error) error {
	return &statusError{code: code, sub: sub, msg: msg, err: err}
}

// errUnavailable marks a failure of the session store: flows fail closed with a 503 page.
var errUnavailable = errors.New("idp: session store unavailable")
