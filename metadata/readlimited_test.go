package metadata

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadLimited: the body comes back whole whatever the size hint says (right, too small,
// too large, unknown), and never more than max+1 bytes are read.
func TestReadLimited(t *testing.T) {
	body := strings.Repeat("0123456789", 1000) // 10,000 bytes
	for _, tc := range []struct {
		name      string
		hint, max int64
		want      int
	}{
		{"exact hint", 10000, 20000, 10000},
		{"hint too small", 10, 20000, 10000},
		{"hint too large", 15000, 20000, 10000},
		{"no hint", -1, 20000, 10000},
		{"hint above max", 30000, 20000, 10000},
		{"over max", 10000, 5000, 5001},
		{"over max, no hint", -1, 5000, 5001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readLimited(iotest.HalfReader(strings.NewReader(body)), tc.hint, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want || !bytes.Equal(got, []byte(body[:tc.want])) {
				t.Errorf("read %d bytes, want the first %d of the body", len(got), tc.want)
			}
		})
	}
	if _, err := readLimited(iotest.ErrReader(iotest.ErrTimeout), 100, 200); err == nil {
		t.Error("a failing reader gave no error")
	}
}
