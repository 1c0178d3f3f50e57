package smsotp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MailDir is an e-mail Sender for the embedded default and tests: each message becomes one
// RFC 5322 file (<time>-<random>.eml, mode 0600: it may hold a card or a link) in a
// directory, which the demo, an operator or a test reads. Unlike Outbox it keeps the body's
// lines, so a coordinate card or a link survives intact. It delivers nothing.
type MailDir struct {
	dir  string
	from string
	now  func() time.Time
	log  *slog.Logger
}

var _ Sender = (*MailDir)(nil)

// NewMailDir returns a MailDir writing into dir (created 0700 if needed). from is the From
// header ("Atea <no-reply@atea.invalid>" when empty); now defaults to time.Now, log to a
// discarding logger.
func NewMailDir(dir, from string, now func() time.Time, log *slog.Logger) (*MailDir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("smsotp: mail directory: %w", err)
	}
	if from == "" {
		from = "Atea <no-reply@atea.invalid>"
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MailDir{dir: dir, from: from, now: now, log: log}, nil
}

// Dir is the directory the messages are written to.
func (m *MailDir) Dir() string { return m.dir }

// Send implements Sender: one .eml file, then a masked log line.
func (m *MailDir) Send(ctx context.Context, msg Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smsotp: mail directory: %w", err)
	}
	to := oneLine(msg.To)
	if strings.ContainsAny(to, "<>,;") || !strings.Contains(to, "@") {
		return fmt.Errorf("smsotp: mail directory: recipient %s is not one address", MaskTo(to))
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	now := m.now().UTC()
	name := now.Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(rnd[:]) + ".eml"
	var b strings.Builder
	b.WriteString("From: " + m.from + "\r\n")
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", oneLine(msg.Subject)) + "\r\n")
	b.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(msg.Body, "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	if err := os.WriteFile(filepath.Join(m.dir, name), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("smsotp: mail directory: %w", err)
	}
	m.log.InfoContext(ctx, "mail written", "to", MaskTo(to), "file", name)
	return nil
}
