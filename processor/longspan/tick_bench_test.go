package longspan

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// BenchmarkTickHolding measures one tick while the journal holds browser traces: one
// open page span and 300 ended children each, 100k and 1M held spans. The tick should
// not grow with what is held.
//
//   - idle: nothing due, nothing changed (the timed rules alone);
//
//   - churn: 1000 new children arrive in held traces before each tick (not timed);
//
//   - snapshots: snapshot.interval 30s, the clock moves 1s per tick, so a round
//     (taken and emitted) falls into every 30th tick;
//
//   - rereport: every root is reported again, in requests of 1000, before each tick
//     (not timed; the clock moves 1s, so every idle deadline moves). The requests'
//     own time is reported as ns/re-report: the emitter indexes what a request
//     changed in the request's update, not in the tick.
//
//     go test -run '^$' -bench BenchmarkTickHolding -benchtime 200x ./processor/longspan/
func BenchmarkTickHolding(b *testing.B) {
	const children = 300
	for _, held := range []int{100_000, 1_000_000} {
		for _, mode := range []string{"idle", "churn", "snapshots", "rereport"} {
			b.Run(fmt.Sprintf("held=%d/%s", held, mode), func(b *testing.B) {
				benchTickHolding(b, held, children, mode)
			})
		}
	}
}

func benchTickHolding(b *testing.B, held, children int, mode string) {
	clk := &manualClock{now: t0}
	h := newHarnessJournal(b, b.TempDir(), clk, func(c *Config) {
		roomFor(held)(c)
		if mode == "snapshots" {
			c.Snapshot.Interval = 30 * time.Second
			c.Snapshot.MinAge = 0
		}
	}, consumertest.NewNop(), func(j *spanjournal.Config) { j.Sync = wal.SyncNever })
	traceID, traceCount := holdBrowserTraces(h, held, children)
	h.advance(time.Second) // the first tick (indexes what is held)
	ctx := context.Background()
	next := uint64(1 << 32)
	var reporting time.Duration
	b.ResetTimer()
	for i := range b.N {
		switch mode {
		case "rereport":
			b.StopTimer()
			clk.Advance(time.Second)
			began := time.Now()
			for from := uint64(0); from < traceCount; from += 1000 {
				specs := make([]spanSpec, 0, 1000)
				for n := from; n < min(from+1000, traceCount); n++ {
					specs = append(specs, spanSpec{trace: traceID(n), id: rootID, name: "page.session", start: t0})
				}
				h.mustConsume(traces(specs...))
			}
			reporting += time.Since(began)
			b.StartTimer()
		case "churn":
			b.StopTimer()
			specs := make([]spanSpec, 0, 1000)
			for k := range uint64(1000) {
				next++
				var id pcommon.SpanID
				binary.BigEndian.PutUint64(id[:], next)
				specs = append(specs, spanSpec{trace: traceID((uint64(i)*1000 + k) % traceCount), id: id, parent: rootID,
					name: "fetch", start: clk.Now(), end: clk.Now().Add(time.Millisecond)})
			}
			h.mustConsume(traces(specs...))
			b.StartTimer()
		case "snapshots":
			clk.Advance(time.Second)
		}
		h.proc.tick(ctx)
	}
	if mode == "rereport" {
		b.ReportMetric(float64(reporting.Nanoseconds())/float64(uint64(b.N)*traceCount), "ns/re-report")
	}
}

// roomFor lifts the limits and quotas that would refuse a benchmark's held spans.
func roomFor(held int) func(*Config) {
	return func(c *Config) {
		c.Limits.MaxHeldSpans = 4 * held
		c.Limits.MaxOpenSpans = 4 * held
		c.Quotas.PerClient = Quota{}
		c.Quotas.PerSession = Quota{}
		c.Quotas.PerTrace = Quota{}
		c.Quotas.NoSession = Quota{}
	}
}

// holdBrowserTraces has h hold about held spans as browser traces: one open
// page.session root (rootID) and children ended children each. It returns the
// traces' ids (traceID(0) .. traceID(traceCount-1)).
func holdBrowserTraces(h *harness, held, children int) (traceID func(uint64) pcommon.TraceID, traceCount uint64) {
	traceID = func(n uint64) pcommon.TraceID {
		var trace pcommon.TraceID
		binary.BigEndian.PutUint64(trace[:8], n+1)
		binary.BigEndian.PutUint64(trace[8:], (n+1)*0x9E3779B97F4A7C15)
		return trace
	}
	traceCount = uint64(held / children)
	for n := range traceCount {
		specs := make([]spanSpec, 0, children+1)
		specs = append(specs, spanSpec{trace: traceID(n), id: rootID, name: "page.session", start: t0})
		for i := range uint64(children) {
			var id pcommon.SpanID
			binary.BigEndian.PutUint64(id[:], i+10)
			specs = append(specs, spanSpec{trace: traceID(n), id: id, parent: rootID, name: "fetch", start: t0, end: t0.Add(time.Millisecond)})
		}
		h.mustConsume(traces(specs...))
	}
	return traceID, traceCount
}
