package smsotp

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// OutboxFile is the outbox's usual file name in the data directory.
const OutboxFile = "outbox.txt"

// Outbox is the embedded default Sender: it appends each message as one line
//
//	<time RFC3339> <kind> <masked To> <body>
//
// to a file (mode 0600: it holds live codes) and logs a masked line without the body. The
// demo and the probe read codes from it ("the newest 4–8 digit number"); it delivers nothing
// to a phone.
type Outbox struct {
	path string
	now  func() time.Time
	log  *slog.Logger
	mu   sync.Mutex // one line at a time
}

var _ Sender = (*Outbox)(nil)

// NewOutbox returns an Outbox writing to path, creating the file (0600) if needed and
// tightening an existing one to 0600. now defaults to time.Now, log to a discarding logger.
func NewOutbox(path string, now func() time.Time, log *slog.Logger) (*Outbox, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("smsotp: open outbox: %w", err)
	}
	err = f.Chmod(0o600)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("smsotp: open outbox: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{path: path, now: now, log: log}, nil
}

// Path is the outbox file.
func (o *Outbox) Path() string { return o.path }

// Send implements Sender: one line appended, then a masked log line.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smsotp: outbox: %w", err)
	}
	kind := strings.Join(strings.Fields(oneLine(m.Kind)), "")
	if kind == "" {
		kind = "-"
	}
	line := o.now().UTC().Format(time.RFC3339) + " " + kind + " " + MaskTo(oneLine(m.To)) + " " + oneLine(m.Body) + "\n"
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("smsotp: outbox: %w", err)
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("smsotp: outbox: %w", err)
	}
	o.log.InfoContext(ctx, "message written to outbox", "kind", kind, "to", MaskTo(m.To))
	return nil
}
