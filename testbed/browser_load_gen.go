package testbed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The open-loop load of browser_load (issue #21). Browsers are an open population:
// thousands of pages each post a few spans every few seconds, none waiting for another.
// So arrivals come at a fixed offered rate, each request sent at its scheduled time
// whether or not earlier ones were acknowledged, and its acknowledgement latency counts
// from that time (a request that waits for a pooled connection waits on the collector).

// OpenLoopParams shapes one open-loop run (one step of the step search).
type OpenLoopParams struct {
	Rate float64 // offered spans/s
	// Pages is the number of simulated pages posting at once. Each page posts about every
	// PagePeriod; so that it does, the run uses max(Pages, Rate × PagePeriod / mean spans
	// per request) pages.
	Pages      int
	PagePeriod time.Duration
	// Addresses is how many client addresses (127.22.0.x) the pages are spread over, as
	// browsers behind as many networks; each address has its own pool of ConnsPerAddress
	// HTTP/1.1 keep-alive connections, shared by its pages.
	Addresses       int
	ConnsPerAddress int
	Warmup          time.Duration // sends scheduled before it are not counted
	Measure         time.Duration // the measured window
	// MinSpans..MaxSpans spans per request, uniform; about one in OpenEvery of them is open.
	MinSpans, MaxSpans, OpenEvery int
	// MinLife..MaxLife requests a page sends, its last ending its root; a new page (a new
	// trace) then takes its place.
	MinLife, MaxLife int
	// LateAfter: a send dispatched later than this after its scheduled time is late, the
	// generator itself behind.
	LateAfter time.Duration
	// MaxInFlight bounds the requests not yet answered; a send past it is dropped and
	// counted (the collector is not answering: the step fails).
	MaxInFlight int
	Timeout     time.Duration // of one request
	// EndRetry is how the pages' last requests, after the run, retry refusals.
	EndRetry Retry
	Seed     uint64
	Ledger   *Ledger // optional: the spans of every acknowledged request
	// OnWindow, when set, is called as the measured window opens (true) and when the last
	// send scheduled in it was dispatched (false): the scenario reads the collector there.
	OnWindow func(open bool)
}

// OpenLoopResult is what one run measured; everything but the flush counts only sends
// scheduled in the measured window.
type OpenLoopResult struct {
	Pages              int     `json:"pages"`
	Connections        int     `json:"connections"`
	OfferedSpansPerSec float64 `json:"offered_spans_per_s"`
	// SentSpansPerSec is what the generator dispatched: below the offered rate when it
	// fell behind.
	SentSpansPerSec  float64 `json:"sent_spans_per_s"`
	Requests         int64   `json:"requests"`
	Spans            int64   `json:"spans"`
	OpenSpans        int64   `json:"open_spans"`
	AckedRequests    int64   `json:"acked_requests"`
	AckedSpans       int64   `json:"acked_spans"`
	QuotaRefused     int64   `json:"refused_429"`
	LimitRefused     int64   `json:"refused_503"`
	Errors           int64   `json:"errors"`
	DroppedInFlight  int64   `json:"dropped_in_flight"`
	LateSends        int64   `json:"late_sends"`
	LagP99Ms         float64 `json:"dispatch_lag_p99_ms"`
	LagMaxMs         float64 `json:"dispatch_lag_max_ms"`
	AckP50Ms         float64 `json:"ack_p50_ms"`
	AckP99Ms         float64 `json:"ack_p99_ms"`
	AckMaxMs         float64 `json:"ack_max_ms"`
	PagesEnded       int64   `json:"pages_ended_after_window"`
	PagesEndedFailed int64   `json:"pages_end_failed"`
	MeasureSec       float64 `json:"measure_s"`
}

// Refusals are the refused, failed and dropped sends: a step with any is not sustained.
func (r OpenLoopResult) Refusals() int64 {
	return r.QuotaRefused + r.LimitRefused + r.Errors + r.DroppedInFlight
}

func (p OpenLoopParams) meanSpans() float64 { return float64(p.MinSpans+p.MaxSpans) / 2 }

// pageCount is how many pages post at once at p's rate.
func (p OpenLoopParams) pageCount() int {
	return max(p.Pages, int(p.Rate*p.PagePeriod.Seconds()/p.meanSpans()))
}

// openOp is a long-running operation of a page (a websocket, a long poll) reported open
// in one request and ended in the page's next.
type openOp struct {
	id    [8]byte
	start pcommon.Timestamp
}

// browserPage is one simulated page: a page.session root, open while the page lives,
// reported (as the web client's snapshot, end time 0) in every request but the last,
// which ends it. It reuses the session builders of sessions.go (newTraces, rootSpan).
type browserPage struct {
	sr   sessionRun
	addr int // index of the client address (and pool) the page posts from
	sent int // requests built
	life int // requests the page sends
	ops  []openOp
}

// openLoop is one run's state: pages are touched by the scheduler only; counters and
// latencies by the send goroutines.
type openLoop struct {
	p       OpenLoopParams
	gen     *IDGen
	rng     *rand.Rand
	pages   []*browserPage
	senders []*Sender
	slot    int // page slots used so far (session index of the next page)

	inFlight                                                       atomic.Int64
	acked, ackedSpans, quota, limit, errs, ended, endFail, dropped atomic.Int64
	mu                                                             sync.Mutex
	lats                                                           []time.Duration
}

func (l *openLoop) newPage(addr int) *browserPage {
	ss := &Session{Idx: l.slot, Kind: KindNormal, Trace: l.gen.Trace(), Root: l.gen.Span(), Start: time.Now()}
	l.slot++
	return &browserPage{sr: sessionRun{ss: ss, name: "page.session"}, addr: addr,
		life: l.p.MinLife + l.rng.IntN(l.p.MaxLife-l.p.MinLife+1)}
}

// request builds the page's next request at now: n spans, MinSpans..MaxSpans; when the
// page goes on, the root's snapshot and about n/OpenEvery - 1 new operations open, ended
// spans for the rest (the previous request's operations first, then fetches); the last
// request ends the root and every operation. It returns the request, its span count and
// how many of its spans are open.
func (l *openLoop) request(pg *browserPage, now time.Time) (ptrace.Traces, int, int) {
	pg.sent++
	final := pg.sent >= pg.life
	ts := pcommon.NewTimestampFromTime(now)
	clientNow := now.UnixNano()
	td, root := pg.sr.newTraces()
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	trace, rootID := pg.sr.ss.Trace, pg.sr.ss.Root
	n := l.p.MinSpans + l.rng.IntN(l.p.MaxSpans-l.p.MinSpans+1)
	open := 0
	if final {
		pg.sr.rootSpan(root, now, "")
	} else {
		pg.sr.rootSpan(root, time.Time{}, "")
		root.Attributes().PutInt("longspan.client.now_unix_nano", clientNow)
		open = max(1, (n+l.p.OpenEvery/2)/l.p.OpenEvery)
	}
	endSlots := n - open
	if final {
		endSlots = max(n-1, len(pg.ops))
	}
	k := min(len(pg.ops), endSlots)
	for _, op := range pg.ops[:k] {
		fillSpan(spans.AppendEmpty(), trace, op.id, rootID, op.start, ts, "websocket")
	}
	pg.ops = append(pg.ops[:0], pg.ops[k:]...)
	for range endSlots - k {
		fillSpan(spans.AppendEmpty(), trace, l.gen.Span(), rootID, ts-pcommon.Timestamp(1+l.rng.IntN(300))*1e6, ts, "fetch")
	}
	for range open - 1 {
		op := openOp{id: l.gen.Span(), start: ts}
		sp := spans.AppendEmpty()
		fillSpan(sp, trace, op.id, rootID, op.start, 0, "websocket")
		sp.Attributes().PutInt("longspan.client.now_unix_nano", clientNow)
		pg.ops = append(pg.ops, op)
	}
	return td, spans.Len(), open
}

// send posts td as one attempt and records the outcome; latency counts from sched.
func (l *openLoop) send(ctx context.Context, snd *Sender, td ptrace.Traces, sched time.Time, counted bool) {
	res := snd.SendTracesJSON(ctx, td, Retry{})
	lat := time.Since(sched)
	if res.Acked && l.p.Ledger != nil {
		l.p.Ledger.AddTraces(td)
	}
	if !counted {
		return
	}
	switch {
	case res.Acked:
		l.acked.Add(1)
		l.ackedSpans.Add(int64(td.SpanCount()))
		l.mu.Lock()
		l.lats = append(l.lats, lat)
		l.mu.Unlock()
	case res.QuotaRefused > 0:
		l.quota.Add(1)
	case res.Refused > 0:
		l.limit.Add(1)
	default:
		l.errs.Add(1)
	}
}

// RunOpenLoop runs p: one scheduler dispatches every request at its time to a goroutine
// of its own, then every page that sent something ends (its root and operations, retried)
// so that nothing is left open.
func RunOpenLoop(ctx context.Context, grpcAddr, httpAddr string, p OpenLoopParams) (OpenLoopResult, error) {
	l := &openLoop{p: p, gen: NewIDGen(uint32(p.Seed) | 0x40000000), rng: rand.New(rand.NewPCG(p.Seed, 21))}
	for a := range p.Addresses {
		snd, err := NewSenderWith(grpcAddr, httpAddr, SenderOptions{LocalIP: fmt.Sprintf("127.22.%d.%d", a/250, 1+a%250), MaxConns: p.ConnsPerAddress})
		if err != nil {
			return OpenLoopResult{}, err
		}
		snd.Timeout = p.Timeout
		defer snd.Close()
		l.senders = append(l.senders, snd)
	}
	res := OpenLoopResult{Pages: p.pageCount(), Connections: p.Addresses * p.ConnsPerAddress,
		OfferedSpansPerSec: p.Rate, MeasureSec: p.Measure.Seconds()}
	for i := range res.Pages {
		l.pages = append(l.pages, l.newPage(i%p.Addresses))
	}
	var (
		wg   sync.WaitGroup
		lags []time.Duration
	)
	start := time.Now()
	window, end := start.Add(p.Warmup), start.Add(p.Warmup+p.Measure)
	opened := false
	next := start
	for i := 0; next.Before(end) && ctx.Err() == nil; i++ {
		time.Sleep(time.Until(next))
		counted := !next.Before(window)
		if counted && !opened {
			opened = true
			if p.OnWindow != nil {
				p.OnWindow(true)
			}
		}
		lag := time.Since(next)
		slot := i % len(l.pages)
		pg := l.pages[slot]
		td, n, open := l.request(pg, time.Now())
		if pg.sent >= pg.life {
			l.pages[slot] = l.newPage(pg.addr)
		}
		sched := next
		next = next.Add(time.Duration(float64(n) / p.Rate * float64(time.Second)))
		if counted {
			res.Requests++
			res.Spans += int64(n)
			res.OpenSpans += int64(open)
			lags = append(lags, lag)
			if lag > p.LateAfter {
				res.LateSends++
			}
		}
		if l.inFlight.Load() >= int64(p.MaxInFlight) {
			if counted {
				l.dropped.Add(1)
			}
			continue
		}
		l.inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.inFlight.Add(-1)
			l.send(ctx, l.senders[pg.addr], td, sched, counted)
		}()
	}
	if opened && p.OnWindow != nil {
		p.OnWindow(false)
	}
	if el := time.Since(window); el > 0 {
		res.SentSpansPerSec = round1(float64(res.Spans) / el.Seconds())
	}
	wg.Wait()
	l.endPages(ctx)
	res.AckedRequests, res.AckedSpans = l.acked.Load(), l.ackedSpans.Load()
	res.QuotaRefused, res.LimitRefused, res.Errors, res.DroppedInFlight = l.quota.Load(), l.limit.Load(), l.errs.Load(), l.dropped.Load()
	res.PagesEnded, res.PagesEndedFailed = l.ended.Load(), l.endFail.Load()
	ms := func(d time.Duration) float64 { return round3(float64(d.Microseconds()) / 1000) }
	res.LagP99Ms, res.LagMaxMs = ms(quantile(lags, 0.99)), ms(quantile(lags, 1))
	res.AckP50Ms, res.AckP99Ms, res.AckMaxMs = ms(quantile(l.lats, 0.5)), ms(quantile(l.lats, 0.99)), ms(quantile(l.lats, 1))
	return res, nil
}

// endPages sends every started page's last request (its root and open operations
// ended), retried, 64 at a time: after the run nothing the pages opened stays open.
func (l *openLoop) endPages(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, pg := range l.pages {
		if pg.sent == 0 {
			continue
		}
		pg.life = pg.sent + 1
		td, _, _ := l.request(pg, time.Now())
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := l.senders[pg.addr].SendTracesJSON(ctx, td, l.p.EndRetry)
			if r.Acked {
				l.ended.Add(1)
				if l.p.Ledger != nil {
					l.p.Ledger.AddTraces(td)
				}
			} else {
				l.endFail.Add(1)
			}
		}()
	}
	wg.Wait()
}
