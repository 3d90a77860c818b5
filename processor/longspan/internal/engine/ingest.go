package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// Ingest applies the rules to every valid span and session.end event of a request,
// under the request's journal update: it stores, passes on (Item.Pass), reconciles and
// releases, and returns what it did.
func (e *Engine) Ingest(tx Tx, items []Item, ends []SessionEnd, req Request, now time.Time) Result {
	var res Result
	for i := range items {
		if items[i].Open {
			e.ingestOpen(tx, items, i, req, now, &res)
			continue
		}
		e.ingestEnded(tx, items, i, req, now, &res)
	}
	for _, end := range ends {
		e.closeSession(tx, end, pcommon.TraceID{}, now, &res)
	}
	e.gateArrivals(tx, &res, now)
	e.releaseComplete(tx, &res, now)
	if e.deadlines != nil {
		// The emitter indexes what its requests changed in their own updates: the
		// tick, which holds the journal lock while everyone waits, then only pops
		// what is due (deadlines.go).
		e.indexChanged(tx)
	}
	return res
}

// verdict is what the rules do with one incoming span, decided before anything
// changes (decide): Ingest acts on it, and Adds measures the request by it, so the
// limits and quotas count what the rules will store.
type verdict uint8

const (
	// keepOpen stores an open span: a new one, or an update of one held.
	keepOpen verdict = iota
	// keepEnded stores an ended span in its held trace: a new one, or the end of one
	// held.
	keepEnded
	// holdForParent stores an ended span of a trace with nothing held, for
	// parent_grace (waitsForParent).
	holdForParent
	// passEnded passes an ended span of a trace with nothing held on.
	passEnded
	// passInterrupted passes on an ended span of a trace with nothing held that its
	// client closed as interrupted, marked.
	passInterrupted
	// supersedeEnd passes on the real end of a span reconciled here, marked.
	supersedeEnd
	// staleSnapshot drops a snapshot of a span that ended, was reconciled or released.
	staleSnapshot
	// repeatEnd drops a repeat of an end taken in and released already.
	repeatEnd
)

// decide is the ingest decision for one incoming span: the verdict, the span's
// earlier copy (nil when not held) and, for supersedeEnd, when the span was closed.
// assumeHeld makes an ended span of a trace with nothing held decide as if its trace
// were held: Adds passes it for traces an earlier span of the same request opens.
func (e *Engine) decide(tx Tx, it *Item, now time.Time, assumeHeld bool) (v verdict, old *spanjournal.Span, closed spanjournal.Closed) {
	_, held := tx.Trace(it.TraceID)
	if held {
		old = tx.Span(it.TraceID, it.SpanID)
	}
	if it.Open {
		switch {
		case old != nil && old.State != spanjournal.SpanOpen:
			// The span already ended (or was reconciled): this snapshot is older news.
			return staleSnapshot, old, closed
		case old == nil:
			if _, ok := e.closedRecently(tx, it, now); ok || wasReleased(tx, it) {
				// Closed or released already: reopening it would reconcile it again.
				return staleSnapshot, old, closed
			}
		}
		return keepOpen, old, closed
	}
	if old == nil {
		if c, ok := e.closedRecently(tx, it, now); ok {
			if c.Ended {
				// The client's end of this span was taken in and released already: a
				// repeat delivery (the front tier re-sends what it was sending when it
				// restarted).
				return repeatEnd, old, c
			}
			// The real end of a span already reconciled and released: it goes on as
			// the authoritative version, after the trace's earlier release.
			return supersedeEnd, old, c
		}
	}
	switch {
	case held || assumeHeld:
		return keepEnded, old, closed
	case wasReleased(tx, it):
		// A repeat of a span whose released batch is still journaled (until
		// longspan_ack or release_retention forgets it): the batch may still sit in
		// tail_sampling, where a second copy would join it in one export.
		return repeatEnd, old, closed
	case it.Interrupted:
		return passInterrupted, old, closed
	case e.waitsForParent(it):
		return holdForParent, old, closed
	}
	return passEnded, old, closed
}

func (e *Engine) ingestEnded(tx Tx, items []Item, i int, req Request, now time.Time, res *Result) {
	it := &items[i]
	v, old, c := e.decide(tx, it, now, false)
	switch v {
	case repeatEnd:
		res.receive(OutcomeRepeat)
		e.logger.Debug("Dropped a repeat delivery of an ended span already released",
			zap.Stringer("trace_id", it.TraceID), zap.Stringer("span_id", it.SpanID), zap.String("name", it.Name))
		return
	}
	clock := e.clockOf(it, old, now, res)
	switch v {
	case supersedeEnd:
		it.ReconciledAt = c.At
		e.passOn(tx, items, i, req, MarkSuperseding, clock, now, res)
		res.receive(OutcomeSuperseding)
		// Remembered as ended by its client: a repeat of this end (a mobile SDK's
		// disk buffer sends a file again when its acknowledgement was lost) is
		// dropped as a repeat, not superseding a second time.
		tx.RememberClosed(spanjournal.SpanKey{Trace: it.TraceID, Span: it.SpanID}, spanjournal.Closed{At: now, Ended: true})
		return
	case passEnded, passInterrupted:
		mark := MarkNone
		if v == passInterrupted {
			mark = MarkInterrupted
		}
		e.passOn(tx, items, i, req, mark, clock, now, res)
		res.receive(OutcomePassed)
		e.endSession(tx, it, now, res)
		return
	case holdForParent:
		if s, ok := e.newSpan(items, i, req, now, spanjournal.SpanEnded, MarkNone, clock, res); ok {
			tx.Put(s, now)
			tx.SetGrace(it.TraceID, now.Add(e.cfg.ParentGrace))
			res.receive(OutcomeGraceHeld)
		}
		return
	}
	mark := MarkNone
	if it.Interrupted {
		mark = MarkInterrupted
	}
	s, ok := e.newSpan(items, i, req, now, spanjournal.SpanEnded, mark, clock, res)
	if !ok {
		return
	}
	if old != nil {
		s.SetFirstSeen(old.FirstSeen())
		s.SnapshotSeq = old.SnapshotSeq
		if old.State == spanjournal.SpanOpen {
			// Remembered past its release: a snapshot of it delivered late is older
			// news, not a span to open again.
			tx.RememberClosed(spanjournal.SpanKey{Trace: it.TraceID, Span: it.SpanID}, spanjournal.Closed{At: now, Ended: true})
		}
		res.receive(OutcomeEnded)
	} else {
		res.receive(OutcomeHeld)
	}
	if it.Source != "" {
		s.SetSource(it.Source)
	}
	tx.Put(s, now)
	if it.ParentID.IsEmpty() {
		tx.SetGrace(it.TraceID, time.Time{}) // the root ended: no parent left to wait for
	}
	if it.Interrupted {
		// The client gave up on this span: its open descendants will never end.
		e.closeDescendants(tx, it.TraceID, it.SpanID, now, res)
	}
	res.touch(it.TraceID)
	e.endSession(tx, it, now, res)
}

func (e *Engine) ingestOpen(tx Tx, items []Item, i int, req Request, now time.Time, res *Result) {
	it := &items[i]
	v, old, _ := e.decide(tx, it, now, false)
	if v == staleSnapshot {
		res.drop(DropStaleSnapshot)
		e.logger.Debug("Dropped an open-span snapshot of a span that already ended, was reconciled or released",
			zap.Stringer("trace_id", it.TraceID), zap.Stringer("span_id", it.SpanID), zap.String("name", it.Name))
		return
	}
	s, ok := e.newSpan(items, i, req, now, spanjournal.SpanOpen, MarkNone, e.clockOf(it, old, now, res), res)
	if !ok {
		return
	}
	s.SetSource(it.Source)
	s.IdleTimeout = it.IdleTimeout
	if e.livesBySession(it) {
		s.IdleTimeout = e.cfg.MaxDuration // alive while its session span is (embrace.go)
	}
	if it.Hint == HintAppBackground {
		// The app went to the background: silent for up to background_timeout. Any
		// later report without the hint restores idle_timeout.
		s.IdleTimeout = e.cfg.BackgroundTimeout
	}
	if old != nil {
		s.SetFirstSeen(old.FirstSeen())
		s.SnapshotSeq = old.SnapshotSeq
		if s.IdleTimeout == 0 && it.Heartbeat {
			// A heartbeat without a frequency keeps the limit it had.
			s.IdleTimeout = old.IdleTimeout
		}
		res.receive(OutcomeUpdated)
	} else {
		res.receive(OutcomeOpened)
	}
	if it.Hint == HintAppTerminated {
		// The run that had this span open was killed or crashed; the next launch
		// reports the last time it knew it open, in the client's clock, as the span's
		// own times are: that is when it was last seen.
		s.SetTimes(s.Start(), s.FirstSeen(), terminatedLastSeen(it, s.ClockOffset(), now))
	}
	tx.Put(s, now)
	if old == nil && e.isSessionSpan(it) {
		// A new session span: the session's earlier page or app session is over.
		e.reconcileSession(tx, it, now, res)
	}
	if it.Hint == HintPageUnload || it.Hint == HintAppTerminated {
		// The page is gone (pagehide, not kept in the back/forward cache), or the app
		// run is: the span will never end. Close it now, at its last report.
		e.reconcile(tx, s, ReasonClientInterrupted, now, res)
	}
}

// terminatedLastSeen is an app_terminated span's last-known time, not before its
// start, in the collector's clock (the client's is ahead by offset); without one, the
// receipt time now.
func terminatedLastSeen(it *Item, offset time.Duration, now time.Time) time.Time {
	switch {
	case it.ClientLastSeen.IsZero():
		return now
	case it.ClientLastSeen.After(it.Start):
		return it.ClientLastSeen.Add(-offset)
	}
	return it.Start.Add(-offset)
}

// wasReleased says whether the span of it was released and is still journaled.
func wasReleased(tx Tx, it *Item) bool {
	for _, r := range tx.Released(it.TraceID) {
		for _, s := range r.Spans {
			if s.SpanID == it.SpanID {
				return true
			}
		}
	}
	return false
}

// passOn sends an ended span on, unchanged or marked. An instance in a logs pipeline
// has no traces consumer, and journal_pass_through wants every acknowledged span on
// disk (Config.PassOn unset): then it journals the span as a complete trace of its
// own, which the journal's emitter delivers and keeps for release_retention.
func (e *Engine) passOn(tx Tx, items []Item, i int, req Request, mark Mark, clock time.Duration, now time.Time, res *Result) {
	if e.cfg.PassOn {
		res.pass(&items[i], mark)
		return
	}
	if s, ok := e.newSpan(items, i, req, now, spanjournal.SpanEnded, mark, clock, res); ok {
		tx.Put(s, now)
		res.touch(items[i].TraceID)
	}
}

// newSpan builds the journal entry of an incoming span, its stored copy changed by
// mark, from a client whose clock is ahead by clock (clock.go).
func (e *Engine) newSpan(items []Item, i int, req Request, now time.Time, st spanjournal.SpanState, mark Mark, clock time.Duration, res *Result) (*spanjournal.Span, bool) {
	it := &items[i]
	payload, err := req.Payload(i, mark)
	if err != nil {
		res.drop(DropUnencodable)
		e.logger.Warn("Dropped a span that could not be encoded", zap.Stringer("trace_id", it.TraceID), zap.Stringer("span_id", it.SpanID), zap.Error(err))
		return nil, false
	}
	if len(payload) > e.cfg.MaxSpanBytes {
		res.drop(DropTooLarge)
		e.logger.Warn("Dropped a span larger than limits.max_span_bytes",
			zap.Stringer("trace_id", it.TraceID), zap.Stringer("span_id", it.SpanID),
			zap.String("name", it.Name), zap.Int("bytes", len(payload)), zap.Int("max_span_bytes", e.cfg.MaxSpanBytes))
		return nil, false
	}
	s := &spanjournal.Span{
		TraceID: it.TraceID, SpanID: it.SpanID, ParentID: it.ParentID, State: st,
		Name: it.Name,
	}
	s.SetOrigin(spanjournal.Origin{Service: it.Service, SessionID: it.Session, Client: it.Client, ClockOffset: clock})
	s.SetTimes(it.Start, now, now)
	s.SetPayload(payload)
	return s, true
}

// endSession applies the session_ended rule for an ended session span: every other
// open span of that session, in other traces, will never end.
func (e *Engine) endSession(tx Tx, it *Item, now time.Time, res *Result) {
	if e.isSessionSpan(it) {
		e.reconcileSession(tx, it, now, res)
	}
}
