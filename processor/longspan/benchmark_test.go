package longspan

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// benchRequest is one request of 10 ended spans in one trace; open adds the trace's
// root as an open span, so the processor journals all of them.
func benchRequest(n uint64, open bool) ptrace.Traces {
	var trace pcommon.TraceID
	binary.BigEndian.PutUint64(trace[:8], n+1)
	specs := make([]spanSpec, 0, 11)
	if open {
		specs = append(specs, spanSpec{trace: trace, id: rootID, name: "page.session", start: t0})
	}
	for i := 0; i < 10; i++ {
		var id pcommon.SpanID
		binary.BigEndian.PutUint64(id[:], uint64(i)+10)
		specs = append(specs, spanSpec{trace: trace, id: id, parent: rootID, name: "fetch", start: t0, end: t0.Add(time.Millisecond)})
	}
	return traces(specs...)
}

// benchRootEnd is the final version of benchRequest's open root: it releases the trace.
func benchRootEnd(n uint64) ptrace.Traces {
	var trace pcommon.TraceID
	binary.BigEndian.PutUint64(trace[:8], n+1)
	return traces(spanSpec{trace: trace, id: rootID, name: "page.session", start: t0, end: t0.Add(time.Second)})
}

// BenchmarkConsumeTraces measures requests through the processor from 64 concurrent
// callers: pass-through (nothing open: no disk) and journaled (every request holds an
// open span and its children: one group-committed fsync shared by concurrent callers),
// and held-and-released (then the root's end releases the trace downstream).
func BenchmarkConsumeTraces(b *testing.B) {
	for _, mode := range []string{"passthrough", "journaled", "held-and-released"} {
		b.Run(mode, func(b *testing.B) {
			// The spans carry no session: the shared no_session quota (100k held) would
			// refuse the journaled mode long before the benchmark ends.
			noQuota := func(c *Config) { c.Quotas.NoSession = Quota{} }
			h := newHarnessWith(b, b.TempDir(), &manualClock{now: t0}, noQuota, consumertest.NewNop())
			var seq atomic.Uint64
			b.SetParallelism(32) // × GOMAXPROCS callers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					if err := h.proc.ConsumeTraces(context.Background(), benchRequest(n, mode != "passthrough")); err != nil {
						b.Error(err)
						return
					}
					if mode == "held-and-released" {
						if err := h.proc.ConsumeTraces(context.Background(), benchRootEnd(n)); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
			b.StopTimer()
			spans := float64(b.N * 10)
			if mode != "passthrough" {
				spans = float64(b.N * 11)
			}
			b.ReportMetric(spans/b.Elapsed().Seconds(), "spans/s")
		})
	}
}
