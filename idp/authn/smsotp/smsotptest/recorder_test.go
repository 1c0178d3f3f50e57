package smsotptest_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/authn/smsotp/smsotptest"
)

func TestRecorder(t *testing.T) {
	t.Parallel()
	var r smsotptest.Recorder
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_ = r.Send(t.Context(), smsotp.Message{To: "+34600000707", Body: smsotp.Text("es", "1112223"), Kind: smsotp.KindSMS})
		})
	}
	wg.Wait()
	_ = r.Send(t.Context(), smsotp.Message{To: "+34600000707", Body: smsotp.Text("eu", "8694211"), Kind: smsotp.KindSMS})
	_ = r.Send(t.Context(), smsotp.Message{To: "+34600000808", Body: "Atea 2030: 555012", Kind: smsotp.KindSMS})
	tests := []struct {
		to, want string
		ok       bool
	}{
		{"+34600000707", "8694211", true},
		{"+34600000808", "2030", true},
		{"+34600000999", "", false},
	}
	for _, tt := range tests {
		if got, ok := r.LastCode(tt.to); got != tt.want || ok != tt.ok {
			t.Errorf("LastCode(%q) = %q, %v, want %q, %v", tt.to, got, ok, tt.want, tt.ok)
		}
	}
	if got := r.Count("+34600000707"); got != 11 {
		t.Errorf("Count() = %d, want 11", got)
	}
	boom := errors.New("down")
	r.Fail(boom)
	if err := r.Send(t.Context(), smsotp.Message{To: "x"}); !errors.Is(err, boom) {
		t.Errorf("Send() after Fail = %v, want %v", err, boom)
	}
	if got := len(r.Messages()); got != 12 {
		t.Errorf("Messages() has %d, want 12 (a failed send records nothing)", got)
	}
}
