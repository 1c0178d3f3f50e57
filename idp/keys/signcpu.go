package keys

import (
	"crypto"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// SignCPU counts the signatures made through the signers it wraps and the CPU time spent
// inside them, measured on the signing thread's own clock (CLOCK_THREAD_CPUTIME_ID), so other
// work on the machine does not count. It answers, for a running server, what share of its CPU
// the signatures take: the figure the core performance target is stated in, measured where
// the signatures happen instead of estimated from a signature made elsewhere. The cost is two
// clock reads per signature (about a microsecond against a millisecond of RSA). Safe for
// concurrent use; the zero value is ready.
type SignCPU struct {
	n     atomic.Int64
	nanos atomic.Int64
}

// Wrap returns s with its Sign calls counted; Public is s's.
func (c *SignCPU) Wrap(s crypto.Signer) crypto.Signer { return &accounted{Signer: s, c: c} }

// Totals returns the signatures counted so far and their CPU time.
func (c *SignCPU) Totals() (int64, time.Duration) {
	return c.n.Load(), time.Duration(c.nanos.Load())
}

type accounted struct {
	crypto.Signer
	c *SignCPU
}

func (a *accounted) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	// The thread clock means something only if the goroutine stays on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, err0 := ThreadCPU()
	sig, err := a.Signer.Sign(rand, digest, opts)
	t1, err1 := ThreadCPU()
	if err0 == nil && err1 == nil {
		a.c.n.Add(1)
		a.c.nanos.Add(int64(t1 - t0))
	}
	return sig, err
}

// ThreadCPU is the calling thread's CPU time, from CLOCK_THREAD_CPUTIME_ID (exact, unlike
// getrusage's tick-sampled RUSAGE_THREAD). The caller keeps its goroutine on the thread
// (runtime.LockOSThread) between two readings.
func ThreadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}
