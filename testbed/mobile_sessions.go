package testbed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// MobileLife is how a simulated app session lives and ends.
type MobileLife string

// The React Native client's life cycles (clients/react-native: open-span snapshots with
// longspan.client.now_unix_nano, the app_background / app_terminated hints), then the
// ended-only SDKs (opentelemetry-android / -swift) and Embrace Apple 6.x.
const (
	LifeForeground         MobileLife = "foreground_only"
	LifeShortBackground    MobileLife = "short_background"       // silent idle_timeout/3, resumes
	LifeLongBackground     MobileLife = "background_then_resume" // silent 2 × idle_timeout (< background_timeout), resumes
	LifeBackgroundExpired  MobileLife = "background_past_limit"  // silent background_timeout + idle_timeout, resumes
	LifeKilledInBackground MobileLife = "killed_in_background"   // never heard of again
	LifeCrashRelaunch      MobileLife = "crash_then_next_launch" // silent idle_timeout/2, then app_terminated
	LifeOfflineBurst       MobileLife = "offline_then_burst"     // no network 4 × idle_timeout (20 min : 5 min), then all at once
	LifeEndedOnly          MobileLife = "ended_spans_only"       // opentelemetry-android: ended spans, session events, a disk-buffered burst
	LifeEmbraceApple       MobileLife = "embrace_apple"          // Embrace Apple 6.x: start-time and 5 s copies, status UNSET
)

// MobileLives is every life cycle, in the order of the tables.
var MobileLives = []MobileLife{LifeForeground, LifeShortBackground, LifeLongBackground, LifeBackgroundExpired,
	LifeKilledInBackground, LifeCrashRelaunch, LifeOfflineBurst, LifeEndedOnly, LifeEmbraceApple}

// mobileReconciles says whether the collector is right to reconcile a span of this life
// cycle: the app went away (or out of reach) for longer than its limit.
func mobileReconciles(l MobileLife) bool {
	switch l {
	case LifeBackgroundExpired, LifeKilledInBackground, LifeCrashRelaunch, LifeOfflineBurst, LifeEmbraceApple:
		return true
	}
	return false
}

// clockOffsets are the device clocks: real offsets from the true time, from 8 days slow to
// 2 hours fast (a phone set by hand, a dead RTC battery, a manual time zone mistake).
var clockOffsets = []time.Duration{-8 * 24 * time.Hour, -26 * time.Hour, -3 * time.Hour, -2 * time.Minute, 0, 0, 0,
	40 * time.Second, 10 * time.Minute, 70 * time.Minute, 2 * time.Hour}

// MobileParams shapes the mobile workload (time compressed through the collector's
// timeouts: background_timeout = 3 × idle_timeout as 15 min : 5 min).
type MobileParams struct {
	N                 int
	StartWindow       time.Duration
	MinLife, MaxLife  time.Duration
	ChildMin          time.Duration
	ChildMax          time.Duration
	SnapEvery         time.Duration // client snapshot period; Embrace Apple's 5 s heartbeat
	IdleTimeout       time.Duration
	BackgroundTimeout time.Duration
	Seed              uint64
	Retry             Retry
	Ledger            *Ledger
}

// mobileReport is one acknowledged report of an open span: when it was acknowledged
// (the true time) and the client's own time in it.
type mobileReport struct {
	Ack        time.Time
	ClientNano int64
	Hint       string
}

// mobileSpan is one span of a session as its client knows it (client clock).
type mobileSpan struct {
	Key        SpanKey
	StartNano  int64
	EndNano    int64 // the client's end; 0 while open (or never ended)
	Reports    []mobileReport
	Terminated *mobileReport // the next launch's app_terminated report
	LastSeen   int64         // longspan.client.last_seen_unix_nano sent with it
}

// MobileSession is one simulated app session and what of it was acknowledged.
type MobileSession struct {
	Idx    int
	Life   MobileLife
	Offset time.Duration // device clock - true time
	ID     string        // session.id
	Spans  []*mobileSpan // acknowledged spans
	Failed int           // sends given up
	mu     sync.Mutex
}

func (s *MobileSession) add(sp *mobileSpan) {
	s.mu.Lock()
	s.Spans = append(s.Spans, sp)
	s.mu.Unlock()
}

// mobileClient is one app: its clock, ids and sender.
type mobileClient struct {
	ctx  context.Context
	snd  *Sender
	p    MobileParams
	ss   *MobileSession
	r    *rand.Rand
	sent map[SpanKey]bool // spans already in the ledger and the session
}

// now is the device clock.
func (c *mobileClient) now() time.Time { return time.Now().Add(c.ss.Offset) }

func (c *mobileClient) traceID() pcommon.TraceID {
	var t pcommon.TraceID
	for i := range t {
		t[i] = byte(c.r.Uint32())
	}
	return t
}

func (c *mobileClient) spanID() pcommon.SpanID {
	var s pcommon.SpanID
	for i := range s {
		s[i] = byte(c.r.Uint32())
	}
	s[0] |= 1
	return s
}

// RunMobileSessions runs p.N app sessions against snd and returns them once every one
// has ended.
func RunMobileSessions(ctx context.Context, snd *Sender, p MobileParams) []*MobileSession {
	out := make([]*MobileSession, p.N)
	var wg sync.WaitGroup
	for i := 0; i < p.N; i++ {
		r := rand.New(rand.NewPCG(p.Seed, uint64(i)))
		ss := &MobileSession{Idx: i, Life: MobileLives[i%len(MobileLives)], Offset: clockOffsets[r.IntN(len(clockOffsets))]}
		ss.ID = fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
		out[i] = ss
		c := &mobileClient{ctx: ctx, snd: snd, p: p, ss: ss, r: r, sent: map[SpanKey]bool{}}
		delay := time.Duration(float64(p.StartWindow) * float64(i) / float64(p.N))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.sleep(delay) {
				c.run()
			}
		}()
	}
	wg.Wait()
	return out
}

// sleep waits d; false when the run was cancelled.
func (c *mobileClient) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *mobileClient) life() time.Duration {
	return c.p.MinLife + time.Duration(c.r.Int64N(int64(c.p.MaxLife-c.p.MinLife)+1))
}

func (c *mobileClient) childGap() time.Duration {
	return c.p.ChildMin + time.Duration(c.r.Int64N(int64(c.p.ChildMax-c.p.ChildMin)+1))
}

func (c *mobileClient) run() {
	switch c.ss.Life {
	case LifeEndedOnly:
		c.runEndedOnly()
	case LifeEmbraceApple:
		c.runEmbraceApple()
	default:
		c.runReactNative()
	}
}

// ------------------------------------------------------------------ payloads

func (c *mobileClient) newTraces(service string) (ptrace.Traces, ptrace.SpanSlice) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(service)
	return td, ss.Spans()
}

// spanSpec is one span as a client sends it (device clock).
type mobileSpec struct {
	trace      pcommon.TraceID
	id, parent pcommon.SpanID
	name       string
	start, end time.Time // end zero: open
	status     ptrace.StatusCode
}

func (c *mobileClient) put(spans ptrace.SpanSlice, sp mobileSpec) ptrace.Span {
	s := spans.AppendEmpty()
	s.SetTraceID(sp.trace)
	s.SetSpanID(sp.id)
	s.SetParentSpanID(sp.parent)
	s.SetName(sp.name)
	s.SetKind(ptrace.SpanKindInternal)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(sp.start))
	if !sp.end.IsZero() {
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(sp.end))
	}
	s.Status().SetCode(sp.status)
	s.Attributes().PutStr("session.id", c.ss.ID)
	s.Attributes().PutStr("mobile.life", string(c.ss.Life))
	s.Attributes().PutInt("testbed.session", int64(c.ss.Idx))
	return s
}

// send sends td and, once acknowledged, records its spans: in the ledger, and in the
// session (the first time a span is acknowledged; its end when an ended copy is).
func (c *mobileClient) send(td ptrace.Traces, useHTTP bool) bool {
	res := c.snd.SendTraces(c.ctx, td, useHTTP, c.p.Retry)
	if !res.Acked {
		c.ss.Failed++
		return false
	}
	eachSpan(td, func(s ptrace.Span) {
		k := keyOf(s)
		if c.p.Ledger != nil {
			c.p.Ledger.Add(k, TagSessionChild)
		}
		if !c.sent[k] {
			c.sent[k] = true
			c.ss.add(&mobileSpan{Key: k, StartNano: int64(s.StartTimestamp())})
		}
	})
	return true
}

func (c *mobileClient) span(k SpanKey) *mobileSpan {
	c.ss.mu.Lock()
	defer c.ss.mu.Unlock()
	for _, sp := range c.ss.Spans {
		if sp.Key == k {
			return sp
		}
	}
	return nil
}

// ------------------------------------------------------------------ React Native

// rnApp is the React Native client's app session: an open app.session root reported
// (with longspan.client.now_unix_nano) every SnapEvery, ended children under it.
type rnApp struct {
	*mobileClient
	trace   pcommon.TraceID
	root    pcommon.SpanID
	start   time.Time // device clock
	pending []mobileSpec
}

const rnService = "rn-shop"

// report sends the open root, and whatever ended children wait, in one request.
func (a *rnApp) report(hint string) bool {
	td, spans := a.newTraces(rnService)
	for _, ch := range a.pending {
		a.put(spans, ch)
	}
	s := a.put(spans, mobileSpec{trace: a.trace, id: a.root, name: "app.session", start: a.start})
	clientNow := a.now().UnixNano()
	s.Attributes().PutInt("longspan.client.now_unix_nano", clientNow)
	if hint != "" {
		s.Attributes().PutStr("longspan.client.hint", hint)
	}
	if !a.send(td, true) {
		return false
	}
	for _, ch := range a.pending {
		a.span(keyOfSpec(ch)).EndNano = ch.end.UnixNano()
	}
	a.pending = nil
	root := a.span(keyOfIDs(a.trace, a.root))
	root.Reports = append(root.Reports, mobileReport{Ack: time.Now(), ClientNano: clientNow, Hint: hint})
	return true
}

func keyOfIDs(t pcommon.TraceID, s pcommon.SpanID) SpanKey {
	var k SpanKey
	copy(k[:16], t[:])
	copy(k[16:], s[:])
	return k
}

func keyOfSpec(sp mobileSpec) SpanKey { return keyOfIDs(sp.trace, sp.id) }

// child ends a child span now; it goes with the next request (the client's batch).
func (a *rnApp) child() {
	end := a.now()
	a.pending = append(a.pending, mobileSpec{trace: a.trace, id: a.spanID(), parent: a.root, name: "screen.interaction",
		start: end.Add(-time.Duration(a.r.IntN(150)+1) * time.Millisecond), end: end})
}

// foreground runs the app in the foreground for d: a child every childGap, a snapshot
// every SnapEvery.
func (a *rnApp) foreground(d time.Duration) bool {
	end := time.Now().Add(d)
	nextChild, nextSnap := time.Now().Add(a.childGap()), time.Now().Add(a.p.SnapEvery)
	for {
		next := nextChild
		if nextSnap.Before(next) {
			next = nextSnap
		}
		if !next.Before(end) {
			return a.sleep(time.Until(end))
		}
		if !a.sleep(time.Until(next)) {
			return false
		}
		if now := time.Now(); !now.Before(nextChild) {
			a.child()
			nextChild = now.Add(a.childGap())
		}
		if now := time.Now(); !now.Before(nextSnap) {
			a.report("")
			nextSnap = now.Add(a.p.SnapEvery)
		}
	}
}

func (c *mobileClient) runReactNative() {
	a := &rnApp{mobileClient: c, trace: c.traceID(), root: c.spanID(), start: c.now()}
	if !a.report("") {
		return
	}
	life := c.life()
	if !a.foreground(life / 2) {
		return
	}
	idle, bg := c.p.IdleTimeout, c.p.BackgroundTimeout
	switch c.ss.Life {
	case LifeShortBackground, LifeLongBackground, LifeBackgroundExpired, LifeKilledInBackground:
		a.report("app_background") // AppState background: every open span at once, forceFlush
		away := map[MobileLife]time.Duration{LifeShortBackground: idle / 3, LifeLongBackground: 2 * idle, LifeBackgroundExpired: bg + idle}[c.ss.Life]
		if c.ss.Life == LifeKilledInBackground || !a.sleep(away) {
			return
		}
		a.report("") // AppState active
	case LifeCrashRelaunch:
		if !a.foreground(life / 2) {
			return
		}
		// Crash: nothing more from this run. The next launch reports the previous run's
		// open span at once with its last persisted time.
		lastSeen := a.span(keyOfIDs(a.trace, a.root)).Reports
		if !a.sleep(idle / 2) {
			return
		}
		a.terminated(lastSeen[len(lastSeen)-1].ClientNano)
		return
	case LifeOfflineBurst:
		// Offline: the app works on, nothing reaches the collector; back online, the
		// buffered children and the open span go at once.
		until := time.Now().Add(4 * idle)
		for time.Now().Before(until) {
			if !a.sleep(a.childGap()) {
				return
			}
			a.child()
		}
		a.report("")
	}
	if !a.foreground(life / 2) {
		return
	}
	a.end()
}

// end sends the root's real end (with the children still waiting).
func (a *rnApp) end() {
	td, spans := a.newTraces(rnService)
	for _, ch := range a.pending {
		a.put(spans, ch)
	}
	end := a.now()
	a.put(spans, mobileSpec{trace: a.trace, id: a.root, name: "app.session", start: a.start, end: end})
	if a.send(td, true) {
		for _, ch := range a.pending {
			a.span(keyOfSpec(ch)).EndNano = ch.end.UnixNano()
		}
		a.span(keyOfIDs(a.trace, a.root)).EndNano = end.UnixNano()
	}
}

// terminated is the next launch's first request: the dead run's open span with
// longspan.client.hint=app_terminated and its last-known time.
func (a *rnApp) terminated(lastSeen int64) {
	td, spans := a.newTraces(rnService)
	s := a.put(spans, mobileSpec{trace: a.trace, id: a.root, name: "app.session", start: a.start})
	clientNow := a.now().UnixNano()
	s.Attributes().PutStr("longspan.client.hint", "app_terminated")
	s.Attributes().PutInt("longspan.client.last_seen_unix_nano", lastSeen)
	s.Attributes().PutInt("longspan.client.now_unix_nano", clientNow)
	if a.send(td, true) {
		root := a.span(keyOfIDs(a.trace, a.root))
		root.Terminated = &mobileReport{Ack: time.Now(), ClientNano: clientNow, Hint: "app_terminated"}
		root.LastSeen = lastSeen
	}
}

// ------------------------------------------------------------------ ended spans only

// runEndedOnly is opentelemetry-android: session.start / session.end log events, ended
// spans only; the second half of the session's spans sit in the disk buffer while the
// app is offline and arrive in one burst 4 × idle_timeout later.
func (c *mobileClient) runEndedOnly() {
	c.sessionEvent("session.start")
	trace, root := c.traceID(), c.spanID()
	start := c.now()
	life := c.life()
	var buffered []mobileSpec
	until := time.Now().Add(life)
	for time.Now().Before(until) {
		if !c.sleep(c.childGap()) {
			return
		}
		end := c.now()
		ch := mobileSpec{trace: trace, id: c.spanID(), parent: root, name: "http.request", start: end.Add(-40 * time.Millisecond), end: end}
		if time.Until(until) > life/2 {
			c.sendEnded(ch)
		} else {
			buffered = append(buffered, ch)
		}
	}
	buffered = append(buffered, mobileSpec{trace: trace, id: root, name: "screen.checkout", start: start, end: c.now()})
	if !c.sleep(4 * c.p.IdleTimeout) {
		return
	}
	c.sendEnded(buffered...)
	c.sessionEvent("session.end")
}

func (c *mobileClient) sendEnded(specs ...mobileSpec) {
	td, spans := c.newTraces("shop-android")
	for _, sp := range specs {
		c.put(spans, sp)
	}
	if c.send(td, false) {
		for _, sp := range specs {
			c.span(keyOfSpec(sp)).EndNano = sp.end.UnixNano()
		}
	}
}

// sessionEvent sends an opentelemetry-android session event (a log record with an event
// name and session.id).
func (c *mobileClient) sessionEvent(name string) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "shop-android")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(c.now()))
	lr.SetEventName(name)
	lr.Attributes().PutStr("session.id", c.ss.ID)
	if !c.snd.SendLogs(c.ctx, ld, c.p.Retry).Acked {
		c.ss.Failed++
	}
}

// ------------------------------------------------------------------ Embrace Apple

// runEmbraceApple is Embrace Apple 6.x: the emb-session span exported at its start and at
// every heartbeat (SnapEvery), end = export time, status UNSET, never exported ended; each
// other span exported at its start (the same way) and once ended, status OK.
func (c *mobileClient) runEmbraceApple() {
	session := mobileSpec{trace: c.traceID(), id: c.spanID(), name: "emb-session", start: c.now()}
	if !c.appleCopy(session, "ux.session") {
		return
	}
	until := time.Now().Add(c.life())
	nextBeat := time.Now().Add(c.p.SnapEvery)
	for time.Now().Before(until) {
		gap := c.childGap()
		if !c.sleep(min(gap, time.Until(nextBeat))) {
			return
		}
		if !time.Now().Before(nextBeat) {
			c.appleCopy(session, "ux.session")
			nextBeat = time.Now().Add(c.p.SnapEvery)
			continue
		}
		sp := mobileSpec{trace: c.traceID(), id: c.spanID(), name: "checkout", start: c.now()}
		c.appleCopy(sp, "perf")
		if !c.sleep(gap / 2) {
			return
		}
		sp.end, sp.status = c.now(), ptrace.StatusCodeOk
		c.appleCopy(sp, "perf")
	}
	// The session ends (app backgrounded without background sessions): Embrace exports
	// no ended session span.
}

// appleCopy exports sp as Embrace Apple does: an unended span with end = now (status
// UNSET), an ended one as it is.
func (c *mobileClient) appleCopy(sp mobileSpec, embType string) bool {
	td, spans := c.newTraces("shop-ios")
	// The OpenTelemetry Swift SDK's resource, which Embrace Apple exports with.
	td.ResourceSpans().At(0).Resource().Attributes().PutStr("telemetry.sdk.language", "swift")
	now := c.now()
	ended := !sp.end.IsZero()
	if !ended {
		sp.end = now
	}
	s := c.put(spans, sp)
	s.Attributes().PutStr("emb.type", embType)
	if embType == "ux.session" {
		s.Attributes().PutStr("emb.heartbeat_time_unix_nano", fmt.Sprint(now.UnixNano()))
	}
	if !c.send(td, true) {
		return false
	}
	got := c.span(keyOfSpec(sp))
	if ended {
		got.EndNano = sp.end.UnixNano()
	} else {
		got.Reports = append(got.Reports, mobileReport{Ack: time.Now(), ClientNano: now.UnixNano()})
	}
	return true
}
