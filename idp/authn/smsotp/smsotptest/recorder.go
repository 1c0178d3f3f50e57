package smsotptest

import (
	"context"
	"regexp"
	"slices"
	"sync"

	"github.com/ateaidp/atea/idp/authn/smsotp"
)

// Recorder is a smsotp.Sender that records messages instead of delivering them. The zero
// value is ready; it is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	msgs []smsotp.Message
	err  error
}

var _ smsotp.Sender = (*Recorder)(nil)

// Send records m, or returns the error set by Fail (recording nothing).
func (r *Recorder) Send(ctx context.Context, m smsotp.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, m)
	return nil
}

// Fail makes later Sends return err (nil: succeed again).
func (r *Recorder) Fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// Messages returns a copy of the messages recorded, oldest first.
func (r *Recorder) Messages() []smsotp.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// Count is the number of messages recorded to to.
func (r *Recorder) Count(to string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m.To == to {
			n++
		}
	}
	return n
}

// codeRE finds a run of 4 to 10 digits standing alone.
var codeRE = regexp.MustCompile(`(?:^|\D)(\d{4,10})(?:\D|$)`)

// LastCode returns the code in the newest message to to: its first run of 4–10 digits.
func (r *Recorder) LastCode(to string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.msgs) - 1; i >= 0; i-- {
		if r.msgs[i].To != to {
			continue
		}
		if m := codeRE.FindStringSubmatch(r.msgs[i].Body); m != nil {
			return m[1], true
		}
		return "", false
	}
	return "", false
}
