package xmlgate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Inflate decompresses raw DEFLATE data (RFC 1951), the encoding of the HTTP-Redirect binding
// (saml-bindings-2.0-os §3.4.4.1). Output over max bytes yields an error wrapping ErrTooLarge;
// reading stops at max+1 bytes, so a DEFLATE bomb is never expanded in full (crewjam
// CVE-2023-28119). A corrupt or truncated stream yields an error wrapping ErrRejected.
func Inflate(deflated []byte, max int) ([]byte, error) {
	return inflateFrom(bytes.NewReader(deflated), max)
}

// inflateFrom is Inflate over a reader; flate reads an io.ByteReader one byte at a time, so the
// input consumed is only what the output produced so far needs.
func inflateFrom(r io.Reader, max int) ([]byte, error) {
	if max < 0 {
		max = 0
	}
	fr := flate.NewReader(r)
	defer fr.Close()
	return readLimited(fr, max)
}

// readLimited reads at most max+1 inflated bytes from fr and classifies the outcome.
func readLimited(fr io.Reader, max int) ([]byte, error) {
	if max < 0 {
		max = 0
	}
	out, err := io.ReadAll(io.LimitReader(fr, int64(max)+1))
	if len(out) > max {
		return nil, fmt.Errorf("%w: inflated data exceeds %d bytes", ErrTooLarge, max)
	}
	if err != nil {
		var ce flate.CorruptInputError
		if errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: corrupt DEFLATE data", ErrRejected)
		}
		return nil, fmt.Errorf("%w: DEFLATE data unreadable", ErrRejected)
	}
	return out, nil
}

// Inflater is Inflate with its decompressors reused: a flate reader carries a 32 KiB window,
// allocated anew by every flate.NewReader, and the HTTP-Redirect binding inflates on every
// request. The zero value is ready to use and it is safe for concurrent use. (A type rather
// than a package-level pool: Atea keeps no package-level mutable state.)
type Inflater struct{ pool sync.Pool }

// Inflate is [Inflate] with a pooled decompressor: same limits, same errors.
func (in *Inflater) Inflate(deflated []byte, max int) ([]byte, error) {
	src := bytes.NewReader(deflated)
	fr, ok := in.pool.Get().(io.ReadCloser)
	if ok {
		if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
			ok = false
		}
	}
	if !ok {
		fr = flate.NewReader(src)
	}
	out, err := readLimited(fr, max)
	in.pool.Put(fr)
	return out, err
}
