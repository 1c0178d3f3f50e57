package directory_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ateaidp/atea/idp/directory"
)

// TestSignInsRecordAndList: sign-ins come back newest first, with the stored fields, and
// survive a reopen of the file; n limits the list.
func TestSignInsRecordAndList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	u := f.add(t, ane(), anePW)
	ctx := t.Context()
	if got, err := f.d.RecentSignIns(ctx, u.ID, 0); err != nil || len(got) != 0 {
		t.Fatalf("RecentSignIns before any = %v, %v; want none", got, err)
	}
	t0 := f.clock.Now()
	want := []directory.SignIn{
		{Time: t0.Add(2 * time.Minute), Level: "substantial", Method: "coordcard", Network: "192.0.2.0/24"},
		{Time: t0.Add(time.Minute), Level: "low", Method: "password", Network: "2001:db8:1::/48"},
		{Time: t0, Level: "low", Method: "password"},
	}
	for i := len(want) - 1; i >= 0; i-- {
		if err := f.d.RecordSignIn(ctx, u.ID, want[i]); err != nil {
			t.Fatalf("RecordSignIn(%d) = %v", i, err)
		}
	}
	f.reopen(t)
	got, err := f.d.RecentSignIns(ctx, u.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("RecentSignIns (-want +got):\n%s", d)
	}
	got, err = f.d.RecentSignIns(ctx, u.ID, 2)
	if err != nil || len(got) != 2 || !got[0].Time.Equal(want[0].Time) {
		t.Errorf("RecentSignIns(n=2) = %v, %v; want the 2 newest", got, err)
	}
}

// TestSignInsKeepsNewest: at most MaxSignIns are kept, the oldest dropped; an out-of-order
// record (another instance's clock) still lands in time order; a zero time means now.
func TestSignInsKeepsNewest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	u := f.add(t, ane(), anePW)
	ctx := t.Context()
	t0 := f.clock.Now()
	for i := range directory.MaxSignIns + 5 {
		si := directory.SignIn{Time: t0.Add(time.Duration(i) * time.Minute), Level: "low", Method: fmt.Sprintf("m%d", i)}
		if err := f.d.RecordSignIn(ctx, u.ID, si); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.d.RecentSignIns(ctx, u.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != directory.MaxSignIns {
		t.Fatalf("kept %d sign-ins, want %d", len(got), directory.MaxSignIns)
	}
	if got[0].Method != fmt.Sprintf("m%d", directory.MaxSignIns+4) || got[len(got)-1].Method != "m5" {
		t.Errorf("kept %s … %s, want m%d … m5", got[0].Method, got[len(got)-1].Method, directory.MaxSignIns+4)
	}
	// Older than all kept: recorded, then dropped at once.
	if err := f.d.RecordSignIn(ctx, u.ID, directory.SignIn{Time: t0.Add(-time.Hour), Level: "low", Method: "old"}); err != nil {
		t.Fatal(err)
	}
	// Between two kept ones.
	if err := f.d.RecordSignIn(ctx, u.ID, directory.SignIn{Time: t0.Add(10*time.Minute + 30*time.Second), Level: "low", Method: "mid"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	if err := f.d.RecordSignIn(ctx, u.ID, directory.SignIn{Level: "high", Method: "certificate"}); err != nil {
		t.Fatal(err)
	}
	got, err = f.d.RecentSignIns(ctx, u.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != directory.MaxSignIns {
		t.Fatalf("kept %d, want %d", len(got), directory.MaxSignIns)
	}
	if got[0].Method != "certificate" || !got[0].Time.Equal(f.clock.Now()) {
		t.Errorf("newest = %+v, want the zero-time record stamped now (%v)", got[0], f.clock.Now())
	}
	var methods []string
	for i, si := range got {
		methods = append(methods, si.Method)
		if i > 0 && si.Time.After(got[i-1].Time) {
			t.Errorf("entry %d (%s) is newer than entry %d", i, si.Method, i-1)
		}
	}
	joined := strings.Join(methods, ",")
	if strings.Contains(joined, "old") || !strings.Contains(joined, "mid") {
		t.Errorf("kept %s: want mid kept, old dropped", joined)
	}
}

// TestSignInsRefused: an unknown user, a field with a control character or too long are
// refused, and nothing is stored for them.
func TestSignInsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	u := f.add(t, ane(), anePW)
	ctx := t.Context()
	if err := f.d.RecordSignIn(ctx, "unobody", directory.SignIn{Level: "low", Method: "password"}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("RecordSignIn(unknown user) = %v, want ErrNotFound", err)
	}
	if _, err := f.d.RecentSignIns(ctx, "unobody", 0); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("RecentSignIns(unknown user) = %v, want ErrNotFound", err)
	}
	for _, si := range []directory.SignIn{
		{Level: "low\nforged", Method: "password"},
		{Level: "low", Method: strings.Repeat("m", 65)},
		{Level: "low", Method: "password", Network: "\u202e10.0.0.0/24"},
		{Level: "low", Method: "password", Network: "\xff"},
	} {
		if err := f.d.RecordSignIn(ctx, u.ID, si); !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("RecordSignIn(%q) = %v, want ErrInvalid", si, err)
		}
	}
	if got, err := f.d.RecentSignIns(ctx, u.ID, 0); err != nil || len(got) != 0 {
		t.Errorf("after refusals: %v, %v; want none stored", got, err)
	}
	if err := f.d.Check(ctx); err != nil {
		t.Errorf("Check() after sign-ins = %v", err)
	}
}
