package smsotp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSMTPRequiresSTARTTLS: a server that is not on loopback and offers no STARTTLS gets
// neither the password nor the message. The server listens on loopback, so the sender is
// told its name is a remote one.
func TestSMTPRequiresSTARTTLS(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		verbs []string
	)
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		_, _ = io.WriteString(c, "220 test\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			verb := strings.ToUpper(strings.Fields(line + " x")[0])
			mu.Lock()
			verbs = append(verbs, verb)
			mu.Unlock()
			switch verb {
			case "EHLO":
				_, _ = io.WriteString(c, "250-test\r\n250 AUTH PLAIN\r\n")
			case "QUIT":
				_, _ = io.WriteString(c, "221 bye\r\n")
				return
			default:
				_, _ = io.WriteString(c, "250 ok\r\n")
			}
		}
	})
	s, err := NewSMTP(SMTPConfig{Addr: ln.Addr().String(), From: "a@atea.example"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.host = "mail.example.org"
	s.cfg.Username, s.password = "atea", "secret"
	err = s.Send(t.Context(), Message{To: "jon@example.org", Body: "8694211", Kind: KindEmail})
	if !errors.Is(err, ErrNoSTARTTLS) {
		t.Fatalf("Send() = %v, want %v", err, ErrNoSTARTTLS)
	}
	_ = ln.Close()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, v := range verbs {
		if v == "AUTH" || v == "MAIL" || v == "DATA" {
			t.Errorf("server got %s without TLS (verbs %v)", v, verbs)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "127.1.2.3": true, "10.0.0.1": false, "mail.example.org": false, "": false} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
