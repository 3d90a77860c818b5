package testbed

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Kind is how a simulated session ends.
type Kind string

const (
	KindNormal        Kind = "ends_normally"        // browser page, root ended by the SDK
	KindHeartbeat     Kind = "heartbeat_normal"     // G-Research heartbeat logs, ends with stop
	KindTabClosed     Kind = "tab_closed"           // page_unload hint (longspan), nothing (stock)
	KindBrowserKilled Kind = "browser_killed"       // silent
	KindBackgrounded  Kind = "app_backgrounded"     // mobile, quiet for a while, resumes, ends
	KindLateDelivery  Kind = "mobile_late_delivery" // real end arrives after idle_timeout
)

var AllKinds = []Kind{KindNormal, KindHeartbeat, KindTabClosed, KindBrowserKilled, KindBackgrounded, KindLateDelivery}

var kindWeights = map[Kind]int{KindNormal: 25, KindHeartbeat: 10, KindTabClosed: 15, KindBrowserKilled: 15, KindBackgrounded: 15, KindLateDelivery: 20}

// SessionParams shapes a session workload (time compressed).
type SessionParams struct {
	Mode        Mode // longspan: our clients (snapshots, heartbeats, hints); baseline: stock SDKs
	N           int
	StartWindow time.Duration // sessions start uniformly over this window
	MinLife     time.Duration
	MaxLife     time.Duration
	ChildMin    time.Duration // gap between ended children
	ChildMax    time.Duration
	SnapEvery   time.Duration // client snapshot / heartbeat period (longspan mode)
	IdleTimeout time.Duration // the collector's, to time the mobile pauses
	Seed        uint64
	Retry       Retry
	Ledger      *Ledger // optional: acknowledged spans
	// SenderFor, when set, is the sender of session i (RunSessions' snd otherwise): to
	// send sessions from different client addresses.
	SenderFor func(i int) *Sender
}

// Session is one simulated session and what of it was acknowledged.
type Session struct {
	Idx      int
	Kind     Kind
	Trace    [16]byte
	Root     [8]byte
	Start    time.Time
	Children [][8]byte // acknowledged ended children
	Aborted  bool      // the opening report was never acknowledged: nothing more sent
	RootEnd  bool      // the root's real end was acknowledged
	Refused  int
	ConnErrs int
	Failed   int // sends given up
	// LastReport is when the client's last report of the open root (snapshot or
	// heartbeat) was acknowledged: the client's own log of when it went quiet.
	LastReport time.Time
	// Reports are when each report of the open root was acknowledged, in order.
	Reports []time.Time
}

func (s *Session) key(span [8]byte) SpanKey {
	var k SpanKey
	copy(k[:16], s.Trace[:])
	copy(k[16:], span[:])
	return k
}

func pickKind(r *rand.Rand) Kind {
	total := 0
	for _, k := range AllKinds {
		total += kindWeights[k]
	}
	x := r.IntN(total)
	for _, k := range AllKinds {
		x -= kindWeights[k]
		if x < 0 {
			return k
		}
	}
	return KindNormal
}

func mobile(k Kind) bool { return k == KindBackgrounded || k == KindLateDelivery }

// RunSessions runs p.N sessions against s and returns them when every one has ended.
func RunSessions(ctx context.Context, snd *Sender, p SessionParams) []*Session {
	out := make([]*Session, p.N)
	var wg sync.WaitGroup
	for i := 0; i < p.N; i++ {
		r := rand.New(rand.NewPCG(p.Seed, uint64(i)))
		ss := &Session{Idx: i, Kind: pickKind(r)}
		for j := range ss.Trace {
			ss.Trace[j] = byte(r.Uint32())
		}
		for j := range ss.Root {
			ss.Root[j] = byte(r.Uint32())
		}
		ss.Root[0] |= 1
		out[i] = ss
		delay := time.Duration(float64(p.StartWindow) * float64(i) / float64(p.N))
		snd := snd
		if p.SenderFor != nil {
			snd = p.SenderFor(i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				ss.Aborted = true
				return
			}
			runSession(ctx, snd, p, ss, r)
		}()
	}
	wg.Wait()
	return out
}

type sessionRun struct {
	ctx  context.Context
	snd  *Sender
	p    SessionParams
	ss   *Session
	r    *rand.Rand
	name string
	http bool
	seq  int
}

func runSession(ctx context.Context, snd *Sender, p SessionParams, ss *Session, r *rand.Rand) {
	ss.Start = time.Now()
	sr := &sessionRun{ctx: ctx, snd: snd, p: p, ss: ss, r: r}
	sr.http = !mobile(ss.Kind) && ss.Kind != KindHeartbeat
	sr.name = "page.session"
	if mobile(ss.Kind) {
		sr.name = "emb-session"
	} else if ss.Kind == KindHeartbeat {
		sr.name = "desktop.session"
	}
	life := p.MinLife + time.Duration(r.Int64N(int64(p.MaxLife-p.MinLife)+1))
	longspan := p.Mode == Longspan

	if longspan && !sr.reportOpen("") {
		ss.Aborted = true
		return
	}
	end := ss.Start.Add(life)
	nextChild := time.Now().Add(sr.childGap())
	nextSnap := time.Now().Add(p.SnapEvery)
	paused := false
	for {
		now := time.Now()
		if !now.Before(end) || ctx.Err() != nil {
			break
		}
		if ss.Kind == KindBackgrounded && !paused && now.After(ss.Start.Add(life/2)) {
			// App backgrounded: nothing sent for a third of idle_timeout, then resumed.
			paused = true
			time.Sleep(p.IdleTimeout / 3)
			end = end.Add(p.IdleTimeout / 3)
			nextSnap = time.Now()
			continue
		}
		next := nextChild
		if longspan && nextSnap.Before(next) {
			next = nextSnap
		}
		if next.After(end) {
			next = end
		}
		time.Sleep(time.Until(next))
		now = time.Now()
		if !now.Before(nextChild) && now.Before(end) {
			sr.sendChild()
			nextChild = now.Add(sr.childGap())
		}
		if longspan && !now.Before(nextSnap) && now.Before(end) {
			sr.reportOpen("")
			nextSnap = now.Add(p.SnapEvery)
		}
	}
	realEnd := time.Now()
	switch ss.Kind {
	case KindNormal, KindBackgrounded, KindHeartbeat:
		sr.sendRootEnd(realEnd)
	case KindTabClosed:
		if longspan {
			sr.reportOpen("page_unload") // our web client's last snapshot on pagehide
		}
	case KindBrowserKilled:
		// silent
	case KindLateDelivery:
		// The app is killed before it can send; on next launch, after the collector
		// reconciled the span, it delivers the real end from disk.
		select {
		case <-time.After(p.IdleTimeout + 2*time.Second):
		case <-ctx.Done():
			return
		}
		sr.sendRootEnd(realEnd)
	}
}

func (sr *sessionRun) childGap() time.Duration {
	return sr.p.ChildMin + time.Duration(sr.r.Int64N(int64(sr.p.ChildMax-sr.p.ChildMin)+1))
}

func (sr *sessionRun) newTraces() (ptrace.Traces, ptrace.Span) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	svc := "web-shop"
	if mobile(sr.ss.Kind) {
		svc = "shop-android"
	} else if sr.ss.Kind == KindHeartbeat {
		svc = "desktop-app"
	}
	rs.Resource().Attributes().PutStr("service.name", svc)
	rs.Resource().Attributes().PutStr("session.id", fmt.Sprintf("s-%d-%s", sr.ss.Idx, hex.EncodeToString(sr.ss.Trace[:4])))
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("testbed")
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(sr.ss.Trace)
	return td, sp
}

func (sr *sessionRun) rootSpan(sp ptrace.Span, end time.Time, hint string) {
	sp.SetSpanID(sr.ss.Root)
	sp.SetName(sr.name)
	sp.SetKind(ptrace.SpanKindInternal)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(sr.ss.Start))
	if !end.IsZero() {
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	}
	sp.Attributes().PutStr("session.kind", string(sr.ss.Kind))
	sp.Attributes().PutInt("testbed.session", int64(sr.ss.Idx))
	if hint != "" {
		sp.Attributes().PutStr("longspan.client.hint", hint)
	}
}

func (sr *sessionRun) account(res SendResult) bool {
	sr.ss.Refused += res.Refused
	sr.ss.ConnErrs += res.ConnErrs
	if !res.Acked {
		sr.ss.Failed++
	}
	return res.Acked
}

// reportOpen sends the open root: a snapshot (end 0) or, for heartbeat sessions, a
// G-Research heartbeat log record.
func (sr *sessionRun) reportOpen(hint string) bool {
	td, sp := sr.newTraces()
	sr.rootSpan(sp, time.Time{}, hint)
	sr.seq++
	sp.Attributes().PutInt("client.snapshot.seq", int64(sr.seq))
	var res SendResult
	if sr.ss.Kind == KindHeartbeat {
		res = sr.snd.SendLogs(sr.ctx, heartbeatLog(td, "heartbeat"), sr.p.Retry)
	} else {
		res = sr.snd.SendTraces(sr.ctx, td, sr.http, sr.p.Retry)
	}
	ok := sr.account(res)
	if ok {
		sr.ss.LastReport = time.Now()
		sr.ss.Reports = append(sr.ss.Reports, sr.ss.LastReport)
		if sr.p.Ledger != nil {
			sr.p.Ledger.Add(sr.ss.key(sr.ss.Root), TagSessionRoot)
		}
	}
	return ok
}

func (sr *sessionRun) sendChild() {
	td, sp := sr.newTraces()
	var id [8]byte
	for j := range id {
		id[j] = byte(sr.r.Uint32())
	}
	id[0] |= 2
	sp.SetSpanID(id)
	sp.SetParentSpanID(sr.ss.Root)
	sp.SetName("user.interaction")
	now := time.Now()
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(sr.r.IntN(100)+1) * time.Millisecond)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	sp.Attributes().PutInt("testbed.session", int64(sr.ss.Idx))
	if sr.account(sr.snd.SendTraces(sr.ctx, td, sr.http, sr.p.Retry)) {
		sr.ss.Children = append(sr.ss.Children, id)
		if sr.p.Ledger != nil {
			sr.p.Ledger.Add(sr.ss.key(id), TagSessionChild)
		}
	}
}

func (sr *sessionRun) sendRootEnd(end time.Time) {
	td, sp := sr.newTraces()
	sr.rootSpan(sp, end, "")
	var res SendResult
	if sr.ss.Kind == KindHeartbeat && sr.p.Mode == Longspan {
		res = sr.snd.SendLogs(sr.ctx, heartbeatLog(td, "stop"), sr.p.Retry)
	} else {
		res = sr.snd.SendTraces(sr.ctx, td, sr.http, sr.p.Retry)
	}
	if sr.account(res) {
		sr.ss.RootEnd = true
		if sr.p.Ledger != nil {
			sr.p.Ledger.Add(sr.ss.key(sr.ss.Root), TagSessionRoot)
		}
	}
}

// heartbeatLog wraps a one-span TracesData as a G-Research PartialSpanProcessor record.
func heartbeatLog(td ptrace.Traces, event string) plog.Logs {
	body, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	td.ResourceSpans().At(0).Resource().CopyTo(rl.Resource())
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("partial")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.Body().SetStr(string(body))
	lr.Attributes().PutStr("partial.event", event)
	lr.Attributes().PutStr("partial.body.type", "json/v1")
	lr.Attributes().PutStr("partial.frequency", "1000ms")
	return ld
}
