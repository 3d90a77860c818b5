package longspan

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	iharness "github.com/otelcol-longspan/otelcol-longspan/internal/harness" // this package has a harness type of its own
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

// benchPageRequests is the life of one browser page as the testbed's browser_load
// sends it: 4 requests of 11 spans, about a third of them open. The page.session root is
// reported open, re-reported by each request, and ended by the last; each request opens
// two long-running operations that the next ends, and carries 6 ended children. The
// spans carry a session and the attributes of a browser fetch, so payloads are of a
// browser's size (~250 B).
func benchPageRequests(n uint64) []ptrace.Traces {
	var trace pcommon.TraceID
	binary.BigEndian.PutUint64(trace[:8], n+1)
	session := fmt.Sprintf("session-%d", n)
	id := func(r, k int) pcommon.SpanID {
		var s pcommon.SpanID
		binary.BigEndian.PutUint64(s[:], uint64(100*r+k+10))
		return s
	}
	attrs := map[string]string{"http.method": "GET", "http.url": "https://shop.example.com/api/cart?item=42", "http.user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}
	const life = 4
	out := make([]ptrace.Traces, life)
	for r := range life {
		root := spanSpec{trace: trace, id: rootID, name: "page.session", start: t0, session: session}
		if r == life-1 {
			root.end = t0.Add(time.Minute)
		}
		specs := []spanSpec{root}
		for k := range 2 {
			if r > 0 { // the operations the previous request opened
				specs = append(specs, spanSpec{trace: trace, id: id(r-1, k), parent: rootID, name: "websocket", start: t0, end: t0.Add(time.Second), session: session, attrs: attrs})
			}
			if r < life-1 {
				specs = append(specs, spanSpec{trace: trace, id: id(r, k), parent: rootID, name: "websocket", start: t0, session: session, attrs: attrs})
			}
		}
		for k := 2; k < 8; k++ {
			specs = append(specs, spanSpec{trace: trace, id: id(r, k), parent: rootID, name: "fetch", start: t0, end: t0.Add(time.Millisecond), session: session, attrs: attrs})
		}
		out[r] = traces(specs...)
	}
	return out
}

// BenchmarkConsumeTraces measures requests through the processor from 64 concurrent
// callers: pass-through (nothing open: no disk) and journaled (every request holds an
// open span and its children: one group-committed fsync shared by concurrent callers),
// held-and-released (then the root's end releases the trace downstream) and
// browser-page (benchPageRequests), each with the journal's min_sync_interval 0 and at
// its default. Besides the time per operation it reports the process's CPU time (user
// and system, the kernel's fsyncs included) per span: cpu-ns/span is what
// browser_load's cpu_s_per_million_spans measures of the collector, less the receiver
// and exporters, plus building the requests.
func BenchmarkConsumeTraces(b *testing.B) {
	for _, mode := range []string{"passthrough", "journaled", "held-and-released", "browser-page"} {
		for _, interval := range benchSyncIntervals {
			b.Run(fmt.Sprintf("%s/min_sync_interval=%s", mode, interval), func(b *testing.B) {
				benchConsumeTraces(b, mode, interval)
			})
		}
	}
}

// benchSyncIntervals are the journal's min_sync_interval the benchmarks compare: 0 (an
// fsync as soon as the previous one is done) and the default.
var benchSyncIntervals = []time.Duration{0, 5 * time.Millisecond}

// newBenchHarness is a harness for benchmarks: no session quota (the spans carry no
// session, and the shared no_session quota of 100k held would refuse the journaled
// modes long before a benchmark ends), the journal's min_sync_interval set, and a
// discarding next consumer.
func newBenchHarness(b *testing.B, interval time.Duration) *harness {
	noQuota := func(c *Config) { c.Quotas.NoSession = Quota{} }
	syncInterval := func(c *spanjournal.Config) { c.MinSyncInterval = interval }
	return newHarnessJournal(b, b.TempDir(), &manualClock{now: t0}, noQuota, consumertest.NewNop(), syncInterval)
}

func benchConsumeTraces(b *testing.B, mode string, interval time.Duration) {
	h := newBenchHarness(b, interval)
	var seq, spans atomic.Int64
	b.SetParallelism(32) // × GOMAXPROCS callers
	b.ResetTimer()
	cpu0 := iharness.SelfCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := uint64(seq.Add(1))
			if mode == "browser-page" {
				for _, td := range benchPageRequests(n) {
					spans.Add(int64(td.SpanCount()))
					if err := h.proc.ConsumeTraces(context.Background(), td); err != nil {
						b.Error(err)
						return
					}
				}
				continue
			}
			td := benchRequest(n, mode != "passthrough")
			spans.Add(int64(td.SpanCount())) // the root's end below repeats the root
			if err := h.proc.ConsumeTraces(context.Background(), td); err != nil {
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
	cpu := iharness.SelfCPU() - cpu0
	b.ReportMetric(float64(spans.Load())/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(spans.Load()), "cpu-ns/span")
}

// BenchmarkBrowserOpenLoop offers the requests of browser pages (benchPageRequests)
// open loop, as browser_load does: at a fixed rate, each on its own goroutine whatever
// the earlier ones' progress, 256 pages interleaved (a page's requests 256 sends apart).
// Group commit then sees requests one by one rather than in lockstep, so this is where
// fsyncs per request show: cpu-ns/span is the process's CPU per span, the kernel's
// fsyncs included, and ack-ms-p50/p99 the time from a request's send to its
// acknowledgement (what min_sync_interval adds to). One op is one page (4 requests, 44
// spans).
func BenchmarkBrowserOpenLoop(b *testing.B) {
	for _, interval := range benchSyncIntervals {
		b.Run(fmt.Sprintf("min_sync_interval=%s", interval), func(b *testing.B) {
			benchBrowserOpenLoop(b, interval)
		})
	}
}

func benchBrowserOpenLoop(b *testing.B, interval time.Duration) {
	const (
		requestsPerSec = 1000
		pagesInFlight  = 256
	)
	h := newBenchHarness(b, interval)
	pages := make([][]ptrace.Traces, b.N)
	for n := range pages {
		pages[n] = benchPageRequests(uint64(n))
	}
	var wg sync.WaitGroup
	var spans atomic.Int64
	acks := make([]time.Duration, 4*b.N)
	ticker := time.NewTicker(time.Second / requestsPerSec)
	defer ticker.Stop()
	b.ResetTimer()
	cpu0 := iharness.SelfCPU()
	for k := 0; k < 4*b.N; k++ {
		round, slot := k/(4*pagesInFlight), k%(4*pagesInFlight)
		n, r := round*pagesInFlight+slot%pagesInFlight, slot/pagesInFlight
		if n >= b.N {
			continue
		}
		<-ticker.C
		td := pages[n][r]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			if err := h.proc.ConsumeTraces(context.Background(), td); err != nil {
				b.Error(err)
			}
			acks[4*n+r] = time.Since(sent)
			spans.Add(int64(td.SpanCount()))
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := iharness.SelfCPU() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(spans.Load()), "cpu-ns/span")
	slices.Sort(acks)
	b.ReportMetric(float64(acks[len(acks)/2])/1e6, "ack-ms-p50")
	b.ReportMetric(float64(acks[len(acks)*99/100])/1e6, "ack-ms-p99")
}
