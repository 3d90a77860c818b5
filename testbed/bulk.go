package testbed

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// BulkKind is a synthetic high-volume workload.
type BulkKind string

const (
	// PassThrough: ended traces, nothing open (longspan passes them on without disk).
	PassThrough BulkKind = "pass_through"
	// Journaled: every trace opens with an open root and ended children (held,
	// journaled); the worker's next request ends the roots (release).
	Journaled BulkKind = "journaled"
	// OpenOnly: open spans only (recovery, overload).
	OpenOnly BulkKind = "open_only"
)

type BulkParams struct {
	Kind          BulkKind
	Workers       int
	TracesPerReq  int
	SpansPerTrace int
	Duration      time.Duration // 0: until TotalSpans sent
	Warmup        time.Duration // excluded from the counters
	Rate          float64       // spans/s offered in total; 0 = as fast as acks come back
	TotalSpans    int64         // OpenOnly: stop after this many acked... attempted spans
	Retry         Retry
	HTTPEvery     int // every n-th request goes over HTTP (0: gRPC only)
	Ledger        *Ledger
	Gen           *IDGen
}

type BulkResult struct {
	Requests        int64
	AckedRequests   int64
	AckedSpans      int64 // after warm-up
	AckedSpansAll   int64
	RefusedAttempts int64
	RefusedRequests int64 // requests that ended unacknowledged after a refusal
	RefusedSpans    int64
	FailedRequests  int64
	ConnErrors      int64
	Elapsed         time.Duration // measured window (after warm-up)
	Latencies       []time.Duration
}

func (r BulkResult) SpansPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.AckedSpans) / r.Elapsed.Seconds()
}

func (r BulkResult) P(q float64) time.Duration { return quantile(r.Latencies, q) }

// quantile is the q-quantile of ds (the rank q·(n-1), rounded down); 0 when ds is empty.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), ds...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[int(q*float64(len(l)-1))]
}

type openRoot struct {
	trace [16]byte
	span  [8]byte
	start pcommon.Timestamp
}

func fillSpan(sp ptrace.Span, trace [16]byte, id, parent [8]byte, start, end pcommon.Timestamp, name string) {
	sp.SetTraceID(trace)
	sp.SetSpanID(id)
	if parent != [8]byte{} {
		sp.SetParentSpanID(parent)
	}
	sp.SetName(name)
	sp.SetKind(ptrace.SpanKindClient)
	sp.SetStartTimestamp(start)
	sp.SetEndTimestamp(end)
	a := sp.Attributes()
	a.PutStr("http.request.method", "GET")
	a.PutStr("url.full", "https://shop.example.com/api/v1/products?page=2")
	a.PutInt("http.response.status_code", 200)
}

// buildBulk makes one request; returns it, its span count and (Journaled) its new roots.
func buildBulk(p BulkParams, ends []openRoot) (ptrace.Traces, int, []openRoot) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bulk-"+string(p.Kind))
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("testbed")
	spans := ss.Spans()
	now := pcommon.NewTimestampFromTime(time.Now())
	n := 0
	var roots []openRoot
	for _, e := range ends {
		fillSpan(spans.AppendEmpty(), e.trace, e.span, [8]byte{}, e.start, now, "session")
		n++
	}
	for t := 0; t < p.TracesPerReq; t++ {
		trace := p.Gen.Trace()
		root := p.Gen.Span()
		start := now - 1_000_000
		rootEnd := now
		if p.Kind != PassThrough {
			rootEnd = 0
		}
		fillSpan(spans.AppendEmpty(), trace, root, [8]byte{}, start, rootEnd, "session")
		n++
		if p.Kind == Journaled {
			roots = append(roots, openRoot{trace, root, start})
		}
		for c := 1; c < p.SpansPerTrace; c++ {
			end := now
			if p.Kind == OpenOnly {
				end = 0
			}
			fillSpan(spans.AppendEmpty(), trace, p.Gen.Span(), root, start+500_000, end, "child")
			n++
		}
	}
	return td, n, roots
}

// RunBulk runs p against snd until Duration passes, TotalSpans were sent, or ctx ends.
func RunBulk(ctx context.Context, snd *Sender, p BulkParams) BulkResult {
	var (
		res                                          BulkResult
		reqs, acked, spansAll, spansMeas             atomic.Int64
		refusedAtt, refusedReq, refusedSpans, failed atomic.Int64
		connErrs, sentSpans                          atomic.Int64
		mu                                           sync.Mutex
	)
	start := time.Now()
	measStart := start.Add(p.Warmup)
	var stop time.Time
	if p.Duration > 0 {
		stop = measStart.Add(p.Duration)
	}
	spansPerReq := p.TracesPerReq * p.SpansPerTrace
	if p.Kind == Journaled {
		spansPerReq += p.TracesPerReq
	}
	var interval time.Duration
	if p.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(p.Workers*spansPerReq) / p.Rate)
	}
	var wg sync.WaitGroup
	for w := 0; w < p.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pending []openRoot
			var lats []time.Duration
			next := time.Now().Add(time.Duration(w) * interval / time.Duration(max(p.Workers, 1)))
			for i := 0; ; i++ {
				if ctx.Err() != nil || (!stop.IsZero() && time.Now().After(stop)) {
					break
				}
				if p.TotalSpans > 0 && sentSpans.Load() >= p.TotalSpans {
					break
				}
				if interval > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(interval)
				}
				td, n, roots := buildBulk(p, pending)
				sentSpans.Add(int64(n))
				useHTTP := p.HTTPEvery > 0 && (i+w)%p.HTTPEvery == 0
				r := snd.SendTraces(ctx, td, useHTTP, p.Retry)
				reqs.Add(1)
				refusedAtt.Add(int64(r.Refused))
				connErrs.Add(int64(r.ConnErrs))
				if r.Acked {
					acked.Add(1)
					spansAll.Add(int64(n))
					if t := time.Now(); t.After(measStart) && (stop.IsZero() || !t.After(stop)) {
						spansMeas.Add(int64(n))
						lats = append(lats, r.Latency)
					}
					if p.Ledger != nil {
						p.Ledger.AddTraces(td)
					}
					pending = roots
				} else {
					failed.Add(1)
					if r.Refused > 0 {
						refusedReq.Add(1)
						refusedSpans.Add(int64(n))
					}
					// new opens were not acknowledged; the ends still owed stay pending
				}
			}
			// Close what this worker left open, so nothing waits for idle_timeout.
			if len(pending) > 0 {
				fin := p
				fin.TracesPerReq = 0
				td, n, _ := buildBulk(fin, pending)
				r := snd.SendTraces(context.Background(), td, false, Retry{MaxElapsed: 60 * time.Second})
				if r.Acked {
					spansAll.Add(int64(n))
					if p.Ledger != nil {
						p.Ledger.AddTraces(td)
					}
				}
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lats...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	end := time.Now()
	if !stop.IsZero() && end.After(stop) {
		end = stop
	}
	res.Elapsed = end.Sub(measStart)
	res.Requests, res.AckedRequests = reqs.Load(), acked.Load()
	res.AckedSpans, res.AckedSpansAll = spansMeas.Load(), spansAll.Load()
	res.RefusedAttempts, res.RefusedRequests, res.RefusedSpans = refusedAtt.Load(), refusedReq.Load(), refusedSpans.Load()
	res.FailedRequests, res.ConnErrors = failed.Load(), connErrs.Load()
	return res
}
