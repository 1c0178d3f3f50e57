package smsotp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strings"
	"time"
)

// DefaultSMTPTimeout bounds a whole SMTP delivery.
const DefaultSMTPTimeout = 10 * time.Second

// ErrNoSTARTTLS: the server does not offer STARTTLS and is not on loopback; Atea will not
// send credentials or codes in clear.
var ErrNoSTARTTLS = errors.New("smsotp: smtp server does not offer STARTTLS")

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// Addr is host:port of the submission server.
	Addr string
	// From is the sender address ("Atea <no-reply@example.org>").
	From string
	// Username and PasswordFile enable AUTH PLAIN (the password is read once by NewSMTP);
	// empty Username means no AUTH.
	Username, PasswordFile string
	// HelloName is the EHLO name (default "localhost").
	HelloName string
	// Timeout bounds a delivery (default 10 s).
	Timeout time.Duration
	// TLSConfig is used for STARTTLS (default: ServerName from Addr, TLS 1.2+).
	TLSConfig *tls.Config
}

// SMTP is a Sender of e-mail over SMTP (net/smtp). STARTTLS is required unless the server is
// on loopback; it authenticates with AUTH PLAIN and writes a MIME text/plain UTF-8 message
// with Date, Message-ID and an RFC 2047 encoded subject.
type SMTP struct {
	cfg      SMTPConfig
	host     string
	from     *mail.Address
	password string
	now      func() time.Time
	log      *slog.Logger
}

var _ Sender = (*SMTP)(nil)

// NewSMTP returns an SMTP sender. now defaults to time.Now, log to a discarding logger.
func NewSMTP(cfg SMTPConfig, now func() time.Time, log *slog.Logger) (*SMTP, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("%w: smtp addr must be host:port", ErrInvalidConfig)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("%w: smtp from address: %w", ErrInvalidConfig, err)
	}
	var password string
	if cfg.Username != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("smsotp: read smtp password file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SMTP{cfg: cfg, host: host, from: from, password: password, now: now, log: log}, nil
}

// Send implements Sender for Kind "email".
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("smsotp: smtp: recipient %s is not an address", MaskTo(m.To))
	}
	msg, err := s.compose(to, m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("smsotp: smtp: %w", err)
	}
	// net/smtp has no ctx: the deadline bounds every read and write, and closing on ctx
	// cancellation unblocks them.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := s.deliver(conn, to.Address, msg); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("smsotp: smtp: %w", ctx.Err())
		}
		return fmt.Errorf("smsotp: smtp: %w", err)
	}
	s.log.InfoContext(ctx, "e-mail sent", "to", MaskTo(to.Address))
	return nil
}

// deliver runs the SMTP dialogue on conn.
func (s *SMTP) deliver(conn net.Conn, rcpt string, msg []byte) error {
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(s.cfg.TLSConfig); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if !isLoopback(s.host) {
		return ErrNoSTARTTLS
	}
	if s.cfg.Username != "" {
		// smtp.PlainAuth itself refuses to send the password without TLS unless the host
		// is localhost, a second guard.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.password, s.host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fmt.Errorf("rcpt to %s: %w", MaskTo(rcpt), maskErr(err, rcpt))
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

// maskErr hides the recipient in a server's answer (servers often echo it).
func maskErr(err error, rcpt string) error {
	if !strings.Contains(err.Error(), rcpt) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), rcpt, MaskTo(rcpt)))
}

// compose builds the RFC 5322 message: CRLF lines, MIME 1.0, UTF-8 text in
// quoted-printable, the subject RFC 2047 encoded.
func (s *SMTP) compose(to *mail.Address, m Message) ([]byte, error) {
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("smsotp: smtp: subject has a line break")
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("smsotp: smtp: message id: %w", err)
	}
	domain := s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:]
	var b bytes.Buffer
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", s.from.String())
	hdr("To", to.String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", s.now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `text/plain; charset="utf-8"`)
	hdr("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("smsotp: smtp: body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("smsotp: smtp: body: %w", err)
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// isLoopback reports whether host is "localhost" or a loopback IP.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
