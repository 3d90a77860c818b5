package longspan

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	iharness "github.com/otelcol-longspan/otelcol-longspan/internal/harness" // this package has a harness type of its own
	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// BenchmarkRelease measures the processor's share of releasing held traces (the
// testbed's held_scale release_spans_per_s includes tail_sampling, the exporter, the
// backend and the senders on the same cores): the journal holds browser traces (an
// open root and 300 ended children each), then every root ends, in requests of 1,000
// roots: the requests release the traces they complete (the ticks after them any
// left), read their payloads back from the journal, decode them and hand them to the
// next consumer one trace per call. From the first of those requests until every span
// has reached the end it reports spans/s and the process's CPU per span (cpu-ns/span,
// user and system). With next=tail_sampling the stock tail_sampling processor
// (always_sample, decision_wait 100ms) sits between the processor and the end, as in
// the shipped pipeline: the difference in cpu-ns/span is its share (its spans/s is
// bounded by its decision_wait and ticker, a second or so per round, not by CPU). One
// iteration is one such round, on a journal of its own.
//
//	go test -run '^$' -bench BenchmarkRelease -benchtime 3x ./processor/longspan/
func BenchmarkRelease(b *testing.B) {
	const children = 300
	for _, tc := range []struct {
		held         int
		sync         wal.SyncPolicy
		tailSampling bool
	}{
		{100_000, wal.SyncNever, false},
		{100_000, wal.SyncAlways, false},
		{100_000, wal.SyncNever, true},
		{1_000_000, wal.SyncNever, false},
		{1_000_000, wal.SyncNever, true},
	} {
		next := "sink"
		if tc.tailSampling {
			next = "tail_sampling"
		}
		b.Run(fmt.Sprintf("held=%d/sync=%s/next=%s", tc.held, tc.sync, next), func(b *testing.B) {
			var wall, cpu time.Duration
			var spans int
			for range b.N {
				b.StopTimer()
				w, c, n := releaseRound(b, tc.held, children, tc.sync, tc.tailSampling)
				wall += w
				cpu += c
				spans += n
				b.StartTimer()
			}
			b.ReportMetric(float64(spans)/wall.Seconds(), "spans/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(spans), "cpu-ns/span")
		})
	}
}

// releaseRound holds held spans, ends every root and returns how long it took until
// every span had left (through tail_sampling when tailSampling), the process's CPU in
// that time, and how many spans left.
func releaseRound(b *testing.B, held, children int, sync wal.SyncPolicy, tailSampling bool) (wall, cpu time.Duration, spans int) {
	clk := &manualClock{now: t0}
	var out atomic.Int64
	want := int64(held/children) * int64(children+1)
	all := make(chan struct{})
	end, err := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
		if out.Add(int64(td.SpanCount())) == want {
			close(all)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	next := end
	if tailSampling {
		next = newTailSampler(b, 100*time.Millisecond, end)
	}
	h := newHarnessJournal(b, b.TempDir(), clk, roomFor(held), next, func(j *spanjournal.Config) { j.Sync = sync })
	defer h.stop()
	traceID, traceCount := holdBrowserTraces(h, held, children)
	h.advance(time.Second)

	began, cpuBefore := time.Now(), iharness.SelfCPU()
	for from := uint64(0); from < traceCount; from += 1000 {
		specs := make([]spanSpec, 0, 1000)
		for n := from; n < min(from+1000, traceCount); n++ {
			specs = append(specs, spanSpec{trace: traceID(n), id: rootID, name: "page.session", start: t0, end: clk.Now()})
		}
		h.mustConsume(traces(specs...))
	}
	// Traces the requests did not release (none, as the processor stands) leave with
	// the ticks; tail_sampling's own ticker passes them on.
	for tick := 0; out.Load() < want && tick < 10; tick++ {
		h.advance(time.Second)
	}
	select {
	case <-all:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d spans left within a minute", out.Load(), want)
	}
	return time.Since(began), iharness.SelfCPU() - cpuBefore, int(want)
}
