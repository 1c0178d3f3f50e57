package smsotp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Webhook defaults.
const (
	DefaultWebhookTimeout = 5 * time.Second
	DefaultWebhookTries   = 3
	DefaultWebhookBackoff = 500 * time.Millisecond
	// maxWebhookResponse bounds how much of a gateway's answer is read (and then dropped).
	maxWebhookResponse = 64 << 10
)

// Webhook errors.
var (
	// ErrRejected: the gateway answered 4xx; the message was not retried.
	ErrRejected = errors.New("smsotp: gateway rejected the message")
	// ErrUnavailable: the gateway answered 5xx or could not be reached on every try.
	ErrUnavailable = errors.New("smsotp: gateway unavailable")
)

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	// URL receives the POST; https unless the host is a loopback address.
	URL string
	// HeaderName is the auth header's name (e.g. "Authorization"); HeaderValueFile is the
	// file holding its value (e.g. "Bearer …"), read once by NewWebhook and trimmed.
	HeaderName, HeaderValueFile string
	// Timeout bounds each try (default 5 s); Tries is the number of tries on 5xx and
	// network errors (default 3); Backoff the wait before the second try, doubled after
	// each (default 500 ms).
	Timeout time.Duration
	Tries   int
	Backoff time.Duration
	// Client is the HTTP client (default: a new one, no redirects followed).
	Client *http.Client
}

// Webhook is a Sender for an SMS gateway: an HTTP JSON POST {"to","body","kind"} with an
// auth header, retried with exponential backoff on 5xx and network errors, never on 4xx.
type Webhook struct {
	cfg         WebhookConfig
	headerValue string
	log         *slog.Logger
}

var _ Sender = (*Webhook)(nil)

// NewWebhook returns a Webhook. It fails if the URL is not absolute http(s) (plain http only
// to loopback: the body carries the code), or the header file cannot be read.
func NewWebhook(cfg WebhookConfig, log *slog.Logger) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%w: webhook url must be absolute http(s)", ErrInvalidConfig)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%w: webhook url must be https unless on loopback", ErrInvalidConfig)
	}
	var value string
	if cfg.HeaderName != "" {
		if strings.ContainsAny(cfg.HeaderName, " :\r\n") {
			return nil, fmt.Errorf("%w: webhook header name %q", ErrInvalidConfig, cfg.HeaderName)
		}
		b, err := os.ReadFile(cfg.HeaderValueFile)
		if err != nil {
			return nil, fmt.Errorf("smsotp: read webhook header file: %w", err)
		}
		value = strings.TrimSpace(string(b))
		if value == "" || strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("%w: webhook header file is empty or has several lines", ErrInvalidConfig)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.Tries <= 0 {
		cfg.Tries = DefaultWebhookTries
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultWebhookBackoff
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			// A redirect would re-send the code somewhere the config did not name.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Webhook{cfg: cfg, headerValue: value, log: log}, nil
}

// Send implements Sender. Errors wrap ErrRejected (4xx, or any other non-2xx that is not
// 5xx), ErrUnavailable (after the last try), or ctx's error.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(struct {
		To   string `json:"to"`
		Body string `json:"body"`
		Kind string `json:"kind"`
	}{m.To, m.Body, m.Kind})
	if err != nil {
		return fmt.Errorf("smsotp: webhook: encode: %w", err)
	}
	backoff := w.cfg.Backoff
	var last error
	for try := 1; try <= w.cfg.Tries; try++ {
		if try > 1 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("smsotp: webhook: %w", ctx.Err())
			case <-t.C:
			}
			backoff *= 2
		}
		retry, err := w.post(ctx, body)
		if err == nil {
			w.log.InfoContext(ctx, "message sent to gateway", "kind", m.Kind, "to", MaskTo(m.To), "try", try)
			return nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			break
		}
		w.log.WarnContext(ctx, "gateway try failed", "to", MaskTo(m.To), "try", try, "err", err)
	}
	return fmt.Errorf("smsotp: webhook: %w", last)
}

// post makes one try and reports whether a failure is worth retrying.
func (w *Webhook) post(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.cfg.HeaderName != "" {
		req.Header.Set(w.cfg.HeaderName, w.headerValue)
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		// A url.Error names the configured URL and the cause, never the body.
		return true, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	// Drain a bounded amount so the connection can be reused; the answer is never echoed
	// in errors (a gateway may repeat the number or the text).
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponse))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500:
		return true, fmt.Errorf("%w: status %d", ErrUnavailable, resp.StatusCode)
	default:
		return false, fmt.Errorf("%w: status %d", ErrRejected, resp.StatusCode)
	}
}
