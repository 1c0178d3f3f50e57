package smsotp

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Message kinds.
const (
	KindSMS   = "sms"
	KindEmail = "email"
)

// Message is one message to deliver. Body holds the secret (the code): senders never log it
// or put it in an error.
type Message struct {
	// To is the E.164 phone number (Kind "sms") or the e-mail address (Kind "email").
	To string
	// Subject is the e-mail subject; unused for SMS.
	Subject string
	// Body is the text, one SMS long for Kind "sms".
	Body string
	// Kind is KindSMS or KindEmail.
	Kind string
}

// Sender delivers messages. Implementations are safe for concurrent use, honour ctx, and
// return errors that contain neither the body nor the full recipient.
type Sender interface {
	// Send delivers m, or returns why it could not.
	Send(ctx context.Context, m Message) error
}

// ErrNoRoute is returned by Route for a kind it has no sender for.
var ErrNoRoute = errors.New("smsotp: no sender for message kind")

// Route is a Sender that hands SMS to SMS and e-mail to Email.
type Route struct {
	SMS, Email Sender
}

var _ Sender = Route{}

// Send implements Sender.
func (r Route) Send(ctx context.Context, m Message) error {
	var s Sender
	switch m.Kind {
	case KindSMS:
		s = r.SMS
	case KindEmail:
		s = r.Email
	}
	if s == nil {
		return fmt.Errorf("%w %q", ErrNoRoute, m.Kind)
	}
	return s.Send(ctx, m)
}

// MaskTo masks a recipient for logs: a phone as MaskPhone does, an e-mail address to its
// first character and domain ("j***@example.org").
func MaskTo(to string) string {
	if at := strings.LastIndexByte(to, '@'); at >= 0 {
		local, domain := to[:at], to[at+1:]
		if local == "" {
			return "***@" + domain
		}
		return local[:1] + "***@" + domain
	}
	return MaskPhone(to)
}

// oneLine replaces control characters (CR, LF, tabs…) with spaces, so a body stays on one
// outbox line and attacker text cannot forge lines.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return ' '
		}
		return r
	}, s)
}
