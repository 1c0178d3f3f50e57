package xmlgate

import (
	"bytes"
	"errors"
	"testing"
)

func TestInflate(t *testing.T) {
	t.Parallel()
	good := deflate(t, []byte(authnRequest))
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    string
		wantErr error
	}{
		{name: "ok", in: good, max: 64 << 10, want: authnRequest},
		{name: "ok/exactly-max", in: good, max: len(authnRequest), want: authnRequest},
		{name: "fail/one-over-max", in: good, max: len(authnRequest) - 1, wantErr: ErrTooLarge},
		{name: "fail/corrupt", in: []byte{0xff, 0xff, 0xff, 0xff}, max: 64 << 10, wantErr: ErrRejected},
		{name: "fail/truncated", in: good[:len(good)/2], max: 64 << 10, wantErr: ErrRejected},
		{name: "fail/empty", in: nil, max: 64 << 10, wantErr: ErrRejected},
		{name: "fail/negative-max", in: good, max: -1, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Inflate(tt.in, tt.max)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Inflate() error = %v, want %v", err, tt.wantErr)
				}
				if !errors.Is(err, ErrRejected) {
					t.Errorf("Inflate() error = %v, does not wrap ErrRejected", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Inflate() error = %v, want nil", err)
			}
			if string(got) != tt.want {
				t.Errorf("Inflate() = %q, want %q", got, tt.want)
			}
		})
	}
}

// countingReader counts the compressed bytes flate pulls; it is an io.ByteReader so flate does
// not add its own read-ahead buffer.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// TestInflateBomb: 12 MiB of 'A' deflated (about 12 KiB), capped at 64 KiB, must fail with
// ErrTooLarge after inflating only about max+1 bytes — never the whole bomb (CVE-2023-28119).
func TestInflateBomb(t *testing.T) {
	t.Parallel()
	const max = 64 << 10
	bomb := deflate(t, bytes.Repeat([]byte("A"), 12<<20))
	if _, err := Inflate(bomb, max); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Inflate(bomb) error = %v, want ErrTooLarge", err)
	}
	// 12 MiB come from len(bomb) compressed bytes, so the compressed bytes read measure how much
	// was inflated: reading max+1 output bytes needs about (max+1)/ratio of the input.
	cr := &countingReader{r: bytes.NewReader(bomb)}
	if _, err := inflateFrom(cr, max); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("inflateFrom(bomb) error = %v, want ErrTooLarge", err)
	}
	ratio := float64(12<<20) / float64(len(bomb))
	inflated := float64(cr.n) * ratio
	// Allow flate's internal window (32 KiB) and one block of slack over max+1.
	t.Logf("read %d of %d compressed bytes, about %.0f inflated", cr.n, len(bomb), inflated)
	if limit := float64(max + 1 + 64<<10); inflated > limit {
		t.Errorf("inflated about %.0f bytes (read %d of %d compressed), want at most %.0f", inflated, cr.n, len(bomb), limit)
	}
}

// TestInflaterReuse: the pooled Inflater gives the same results as Inflate, including after
// a bomb or a corrupt stream left a decompressor in an error state.
func TestInflaterReuse(t *testing.T) {
	t.Parallel()
	var in Inflater
	good := deflate(t, []byte("<a>hello</a>"))
	bomb := deflate(t, bytes.Repeat([]byte("A"), 1<<20))
	for i := 0; i < 3; i++ {
		if out, err := in.Inflate(good, 1024); err != nil || string(out) != "<a>hello</a>" {
			t.Fatalf("round %d: Inflate(good) = %q, %v", i, out, err)
		}
		if _, err := in.Inflate(bomb, 1024); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("round %d: Inflate(bomb) err = %v, want ErrTooLarge", i, err)
		}
		if _, err := in.Inflate([]byte{0xff, 0xff, 0xff}, 1024); !errors.Is(err, ErrRejected) {
			t.Fatalf("round %d: Inflate(corrupt) err = %v, want ErrRejected", i, err)
		}
	}
}
