package smsotp_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/authn/smsotp"
)

var fixed = func() time.Time { return time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC) }

func TestOutbox(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), smsotp.OutboxFile)
	o, err := smsotp.NewOutbox(path, fixed, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []smsotp.Message{
		{To: phone, Body: smsotp.Text("es", "8694211"), Kind: smsotp.KindSMS},
		{To: "jon@example.org", Subject: "Atea", Body: "line one\nline two 1234\r\nforged 2030-01-01T00:00:00Z sms ***000 0000", Kind: smsotp.KindEmail},
		{To: phone, Body: smsotp.Text("en", "5550123"), Kind: smsotp.KindSMS},
	}
	for _, m := range msgs {
		if err := o.Send(t.Context(), m); err != nil {
			t.Fatalf("Send() = %v", err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	want := []string{
		"2030-01-02T10:00:00Z sms ***707 Atea: su código es 8694211. No lo comparta.",
		"2030-01-02T10:00:00Z email j***@example.org line one line two 1234  forged 2030-01-01T00:00:00Z sms ***000 0000",
		"2030-01-02T10:00:00Z sms ***707 Atea: your code is 5550123. Do not share it.",
	}
	if len(lines) != len(want) {
		t.Fatalf("outbox has %d lines, want %d:\n%s", len(lines), len(want), raw)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, lines[i], want[i])
		}
	}
	if strings.Contains(string(raw), phone) {
		t.Error("outbox holds the full phone number")
	}
	// The probe: the newest 4–8 digit number of the file is the last code.
	nums := regexp.MustCompile(`\b\d{4,8}\b`).FindAllString(lines[len(lines)-1], -1)
	if len(nums) == 0 || nums[len(nums)-1] != "5550123" {
		t.Errorf("newest number = %v, want 5550123", nums)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("outbox mode = %o, want 600", got)
	}
}

func TestOutboxTightensMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), smsotp.OutboxFile)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := smsotp.NewOutbox(path, fixed, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("outbox mode = %o, want 600", got)
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	var sms, email countingSender
	r := smsotp.Route{SMS: &sms, Email: &email}
	_ = r.Send(t.Context(), smsotp.Message{Kind: smsotp.KindSMS})
	_ = r.Send(t.Context(), smsotp.Message{Kind: smsotp.KindEmail})
	_ = r.Send(t.Context(), smsotp.Message{Kind: smsotp.KindEmail})
	if sms.n.Load() != 1 || email.n.Load() != 2 {
		t.Errorf("routed sms=%d email=%d, want 1 and 2", sms.n.Load(), email.n.Load())
	}
	if err := r.Send(t.Context(), smsotp.Message{Kind: "fax"}); !errors.Is(err, smsotp.ErrNoRoute) {
		t.Errorf("Send(fax) = %v, want %v", err, smsotp.ErrNoRoute)
	}
}

type countingSender struct{ n atomic.Int32 }

func (c *countingSender) Send(context.Context, smsotp.Message) error { c.n.Add(1); return nil }

// webhook returns a Webhook to srv with the header value "Bearer s3cret".
func webhook(t *testing.T, url string, cfg smsotp.WebhookConfig) *smsotp.Webhook {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("Bearer s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.URL, cfg.HeaderName, cfg.HeaderValueFile = url, "Authorization", tokenFile
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond // keep the retry test fast
	}
	w, err := smsotp.NewWebhook(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	msg := smsotp.Message{To: phone, Body: smsotp.Text("es", "8694211"), Kind: smsotp.KindSMS}
	tests := []struct {
		name     string
		statuses []int // answers in order; the last repeats
		calls    int
		wantErr  error
	}{
		{"ok", []int{200}, 1, nil},
		{"ok/202", []int{202}, 1, nil},
		{"retry/500-then-ok", []int{500, 200}, 2, nil},
		{"retry/503-503-ok", []int{503, 503, 204}, 3, nil},
		{"fail/500-every-try", []int{500}, 3, smsotp.ErrUnavailable},
		{"fail/400-no-retry", []int{400}, 1, smsotp.ErrRejected},
		{"fail/401-no-retry", []int{401}, 1, smsotp.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1))
				if got := r.Header.Get("Authorization"); got != "Bearer s3cret" {
					t.Errorf("Authorization = %q, want %q", got, "Bearer s3cret")
				}
				if got := r.Header.Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", got)
				}
				var got map[string]string
				if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
					t.Errorf("decode body: %v", err)
				}
				want := map[string]string{"to": msg.To, "body": msg.Body, "kind": "sms"}
				if len(got) != len(want) || got["to"] != want["to"] || got["body"] != want["body"] || got["kind"] != want["kind"] {
					t.Errorf("body = %v, want %v", got, want)
				}
				st := tt.statuses[min(n, len(tt.statuses))-1]
				w.WriteHeader(st)
				// A gateway echoing the number must not leak it into errors.
				_, _ = io.WriteString(w, `{"error":"bad number `+phone+`"}`)
			}))
			t.Cleanup(srv.Close)
			err := webhook(t, srv.URL, smsotp.WebhookConfig{}).Send(t.Context(), msg)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Send() = %v, want %v", err, tt.wantErr)
			}
			if got := int(calls.Load()); got != tt.calls {
				t.Errorf("gateway called %d times, want %d", got, tt.calls)
			}
			if err != nil && (strings.Contains(err.Error(), "8694211") || strings.Contains(err.Error(), "600000707")) {
				t.Errorf("error %q leaks the code or the number", err)
			}
		})
	}
}

func TestWebhookTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	w := webhook(t, srv.URL, smsotp.WebhookConfig{Timeout: 50 * time.Millisecond, Tries: 2})
	err := w.Send(t.Context(), smsotp.Message{To: phone, Body: "x 8694211", Kind: smsotp.KindSMS})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, smsotp.ErrUnavailable) {
		t.Fatalf("Send() = %v, want a deadline exceeded, unavailable", err)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("gateway called %d times, want 2 (a timeout is retried)", got)
	}
	if strings.Contains(err.Error(), "8694211") || strings.Contains(err.Error(), phone) {
		t.Errorf("error %q leaks the code or the number", err)
	}
}

func TestNewWebhookRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, url string }{
		{"plain-http-remote", "http://sms.example.org/send"},
		{"relative", "/send"},
		{"ftp", "ftp://127.0.0.1/"},
	}
	for _, tt := range tests {
		if _, err := smsotp.NewWebhook(smsotp.WebhookConfig{URL: tt.url}, nil); !errors.Is(err, smsotp.ErrInvalidConfig) {
			t.Errorf("%s: NewWebhook(%q) = %v, want %v", tt.name, tt.url, err, smsotp.ErrInvalidConfig)
		}
	}
	if _, err := smsotp.NewWebhook(smsotp.WebhookConfig{URL: "https://sms.example.org/", HeaderName: "X-Key", HeaderValueFile: filepath.Join(t.TempDir(), "none")}, nil); err == nil {
		t.Error("NewWebhook(missing header file) = nil, want an error")
	}
}

// smtpServer is a minimal SMTP server on 127.0.0.1 for one or more sessions: EHLO, AUTH
// PLAIN, MAIL, RCPT, DATA, QUIT (no STARTTLS: loopback).
type smtpServer struct {
	ln                  net.Listener
	mu                  sync.Mutex
	auth, from, rcpt    string
	data                string
	rejectRcpt, authBad bool
}

func newSMTPServer(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(c) })
		}
	})
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(l string) { _, _ = io.WriteString(c, l+"\r\n") }
	say("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		s.mu.Lock()
		switch verb {
		case "EHLO":
			say("250-test")
			say("250 AUTH PLAIN")
		case "AUTH":
			s.auth = line
			if s.authBad {
				say("535 bad credentials")
			} else {
				say("235 ok")
			}
		case "MAIL":
			s.from = line
			say("250 ok")
		case "RCPT":
			s.rcpt = line
			if s.rejectRcpt {
				say("550 no such user " + strings.TrimPrefix(line, "RCPT TO:"))
			} else {
				say("250 ok")
			}
		case "DATA":
			say("354 go")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					s.mu.Unlock()
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.data = b.String()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			s.mu.Unlock()
			return
		default:
			say("502 unknown")
		}
		s.mu.Unlock()
	}
}

func newSMTP(t *testing.T, addr string) *smsotp.SMTP {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("pässword\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := smsotp.NewSMTP(smsotp.SMTPConfig{Addr: addr, From: "Atea <no-reply@atea.example>", Username: "atea", PasswordFile: pw}, fixed, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMTP(t *testing.T) {
	t.Parallel()
	srv := newSMTPServer(t)
	s := newSMTP(t, srv.ln.Addr().String())
	m := smsotp.Message{To: "jon@example.org", Subject: "Su código de Atea", Body: "Su código es 8694211.\nNo lo comparta.", Kind: smsotp.KindEmail}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	wantAuth := "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00atea\x00pässword"))
	if srv.auth != wantAuth {
		t.Errorf("AUTH = %q, want %q", srv.auth, wantAuth)
	}
	if srv.from != "MAIL FROM:<no-reply@atea.example>" && !strings.HasPrefix(srv.from, "MAIL FROM:<no-reply@atea.example> ") {
		t.Errorf("MAIL = %q", srv.from)
	}
	if srv.rcpt != "RCPT TO:<jon@example.org>" {
		t.Errorf("RCPT = %q", srv.rcpt)
	}
	msg, err := mail.ReadMessage(strings.NewReader(srv.data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, srv.data)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subj != m.Subject {
		t.Errorf("Subject = %q (%v), want %q", subj, err, m.Subject)
	}
	if raw := msg.Header.Get("Subject"); !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("raw Subject = %q, want RFC 2047 encoded", raw)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(fixed()) {
		t.Errorf("Date = %v (%v), want %v", d, err, fixed())
	}
	if id := msg.Header.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f]{32}@atea\.example>$`).MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}
	for k, want := range map[string]string{"MIME-Version": "1.0", "Content-Type": `text/plain; charset="utf-8"`, "Content-Transfer-Encoding": "quoted-printable", "To": "<jon@example.org>"} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	body, _ := io.ReadAll(msg.Body)
	if !strings.Contains(string(body), "Su c=C3=B3digo es 8694211.\r\nNo lo comparta.") {
		t.Errorf("body = %q", body)
	}
}

func TestSMTPErrors(t *testing.T) {
	t.Parallel()
	t.Run("rcpt-rejected-masks-address", func(t *testing.T) {
		t.Parallel()
		srv := newSMTPServer(t)
		srv.mu.Lock()
		srv.rejectRcpt = true
		srv.mu.Unlock()
		err := newSMTP(t, srv.ln.Addr().String()).Send(t.Context(), smsotp.Message{To: "jon@example.org", Body: "8694211", Kind: smsotp.KindEmail})
		if err == nil || strings.Contains(err.Error(), "jon@example.org") || strings.Contains(err.Error(), "8694211") {
			t.Errorf("Send() = %v, want an error without the address or the code", err)
		}
	})
	t.Run("auth-refused", func(t *testing.T) {
		t.Parallel()
		srv := newSMTPServer(t)
		srv.mu.Lock()
		srv.authBad = true
		srv.mu.Unlock()
		err := newSMTP(t, srv.ln.Addr().String()).Send(t.Context(), smsotp.Message{To: "jon@example.org", Body: "x", Kind: smsotp.KindEmail})
		if err == nil || strings.Contains(err.Error(), "pässword") {
			t.Errorf("Send() = %v, want an error without the password", err)
		}
	})
	t.Run("bad-recipient", func(t *testing.T) {
		t.Parallel()
		s := newSMTP(t, "127.0.0.1:1")
		if err := s.Send(t.Context(), smsotp.Message{To: "not an address", Kind: smsotp.KindEmail}); err == nil {
			t.Error("Send(bad address) = nil")
		}
		if err := s.Send(t.Context(), smsotp.Message{To: "a@b.example", Subject: "x\r\nBcc: evil@example.org", Kind: smsotp.KindEmail}); err == nil {
			t.Error("Send(subject with CRLF) = nil, want header injection refused")
		}
	})
}
