package idp_test

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/redisstore"
	"github.com/ateaidp/atea/idp/store/redisstore/redistest"
)

// BenchmarkSSOStores runs SP-initiated SSO with an existing session (Redirect binding, both
// signatures, 8 in flight) on the memory store and on a private redis-server in the same
// run, and reports what Redis costs in throughput: redis-vs-memory is the ratio of CPU time
// per SSO, Atea's plus redis-server's (the target: ≤ 1.10, Redis costing at most
// 10 % of throughput).
func BenchmarkSSOStores(b *testing.B) {
	rs := redistest.Start(b)
	// run returns the CPU time per SSO: this process's, plus redis-server's when Redis is used
	// (INFO cpu). On a CPU-bound server throughput is cores ÷ CPU per SSO, and CPU time is far
	// less disturbed than wall time by the neighbours of a small VM.
	redisCPU := func() time.Duration {
		info, err := rs.Client(b).Info(b.Context(), "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var total float64
		for _, line := range strings.Split(info, "\r\n") {
			for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
				if v, ok := strings.CutPrefix(line, k); ok {
					f, _ := strconv.ParseFloat(v, 64)
					total += f
				}
			}
		}
		return time.Duration(total * float64(time.Second))
	}
	selfCPU := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	run := func(b *testing.B, wrap func(store.Store) store.Store) time.Duration {
		ti := newTestIdPWith(b, nil, wrap)
		sp := ti.newSP("sp-one", false, nil)
		cookies := signIn(b, ti, sp)
		reqs := make([]*http.Request, b.N)
		for i := range reqs {
			reqs[i] = redirectRequest(b, ti, sp, cookies)
		}
		// Throughput, as a server sees it: several SSOs in flight, so one's Redis round trips
		// overlap with another's signatures (on 2 cores, 8 in flight keep both busy).
		var next atomic.Int64
		var wg sync.WaitGroup
		cpu0, rcpu0 := selfCPU(), redisCPU()
		for range 8 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(reqs) {
						return
					}
					w := httptest.NewRecorder()
					ti.srv.ServeHTTP(w, reqs[i])
					if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`name="SAMLResponse"`)) {
						b.Errorf("SSO %d: HTTP %d", i, w.Code)
						return
					}
				}
			})
		}
		wg.Wait()
		cpu := selfCPU() - cpu0
		if wrap != nil {
			cpu += redisCPU() - rcpu0
		}
		return cpu / time.Duration(b.N)
	}
	newRedis := func(store.Store) store.Store {
		secret := make([]byte, 32)
		record := make([]byte, 32)
		_, _ = rand.Read(secret)
		_, _ = rand.Read(record)
		st, err := redisstore.New(redisstore.Options{Client: rs.Client(b), Prefix: "bench:" + time.Now().Format("150405.000000") + ":", KeySecret: secret, RecordKey: record})
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	b.Run("memory-and-redis", func(b *testing.B) {
		// Interleaved and each the best of two, so warm-up and a noisy neighbour on a small
		// VM do not decide the ratio.
		mem, red := run(b, nil), run(b, newRedis)
		mem, red = min(mem, run(b, nil)), min(red, run(b, newRedis))
		b.ReportMetric(float64(mem.Microseconds()), "cpu-µs/sso-memory")
		b.ReportMetric(float64(red.Microseconds()), "cpu-µs/sso-redis")
		b.ReportMetric(float64(red)/float64(mem), "redis-vs-memory")
	})
}
