package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// closeMessage is the status message of a span reconciled for reason.
func (e *Engine) closeMessage(reason string, s *spanjournal.Span) string {
	switch reason {
	case ReasonIdleTimeout:
		return fmt.Sprintf("longspan: the client stopped reporting this span; closed after %s of silence at the time it was last seen", e.idleTimeout(s))
	case ReasonSessionEnded:
		return fmt.Sprintf("longspan: session %q started again or ended while this span was open; closed at the time it was last seen", s.SessionID())
	case ReasonMaxDuration:
		return fmt.Sprintf("longspan: open longer than max_duration (%s); closed at the time it was last seen", e.cfg.MaxDuration)
	case ReasonParentReconciled:
		return "longspan: its parent span was reconciled; closed at the time it was last seen"
	case ReasonClientInterrupted:
		return "longspan: the client went away before the span ended (page unloaded or app terminated); closed at its last report"
	}
	return "longspan: closed by the collector: " + reason
}

// reconcileExpired reconciles the open spans of a trace whose client went quiet or
// that ran longer than max_duration (the timed rules). The tick calls it only for
// traces whose deadline (deadlines.go) is due; it visits their open spans only.
func (e *Engine) reconcileExpired(tx Tx, trace pcommon.TraceID, now time.Time, res *Result) {
	silence := e.clocks.Silence(now)
	var open []*spanjournal.Span
	tx.OpenSpansOf(trace, func(s *spanjournal.Span) { open = append(open, s) })
	for _, s := range open {
		if tx.Span(trace, s.SpanID) != s || s.State != spanjournal.SpanOpen {
			continue // closed meanwhile as a descendant of an earlier one
		}
		switch {
		case !silence.Before(e.idleDeadline(s)):
			e.reconcile(tx, s, ReasonIdleTimeout, now, res)
		case !now.Before(e.maxDurationDeadline(s)):
			e.reconcile(tx, s, ReasonMaxDuration, now, res)
		}
	}
}

// reconcile closes an open span that will never end, and every open descendant of it
// in the same trace, and journals them.
func (e *Engine) reconcile(tx Tx, s *spanjournal.Span, reason string, now time.Time, res *Result) {
	e.closeSpan(tx, s, reason, now, res)
	e.closeDescendants(tx, s.TraceID, s.SpanID, now, res)
	e.endEmbraceSession(tx, s, now, res)
}

// closeDescendants reconciles the open descendants of a span that was reconciled or
// that the client ended as interrupted.
func (e *Engine) closeDescendants(tx Tx, trace pcommon.TraceID, root pcommon.SpanID, now time.Time, res *Result) {
	children := map[pcommon.SpanID][]*spanjournal.Span{}
	tx.OpenSpansOf(trace, func(c *spanjournal.Span) {
		if !c.ParentID.IsEmpty() {
			children[c.ParentID] = append(children[c.ParentID], c)
		}
	})
	// children was built from the spans before any was closed; delete marks a parent
	// done, so a parent loop in bad input cannot make this run forever.
	queue := []pcommon.SpanID{root}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		kids := children[id]
		delete(children, id)
		for _, c := range kids {
			if cur := tx.Span(trace, c.SpanID); cur == nil || cur.State != spanjournal.SpanOpen {
				continue
			}
			e.closeSpan(tx, c, ReasonParentReconciled, now, res)
			queue = append(queue, c.SpanID)
		}
	}
}

// closeSpan turns the last known copy of an open span into its reconciled version:
// it ends when the client was last seen (never "now"), in the client's clock
// (clock.go), not before its start, with status Error.
func (e *Engine) closeSpan(tx Tx, s *spanjournal.Span, reason string, now time.Time, res *Result) {
	e.closeSpanAt(tx, s, reason, s.LastSeen(), now, res)
}

// closeSpanAt is closeSpan for a span known alive until alive (the collector's clock).
func (e *Engine) closeSpanAt(tx Tx, s *spanjournal.Span, reason string, alive, now time.Time, res *Result) {
	lastSeen := clientTime(s, alive)
	end := lastSeen
	if end.Before(s.Start()) {
		end = s.Start()
	}
	stored, err := tx.Payloads([]*spanjournal.Span{s})
	var payload []byte
	if err == nil {
		payload, err = e.codec.Reconciled(stored[0], Reconciliation{End: end, Reason: reason, Message: e.closeMessage(reason, s),
			LastSeen: lastSeen, Source: s.Source()})
	}
	if err != nil {
		// Only a payload this processor failed to write could get here; keep the
		// span as it was stored rather than lose it.
		e.logger.Error("Could not rewrite a stored span as reconciled; releasing it as stored",
			zap.Stringer("trace_id", s.TraceID), zap.Stringer("span_id", s.SpanID), zap.Error(err))
		payload = stored[0] // nil: the copy keeps where the journal holds s's payload
	}
	closed := s.ReconciledCopy(payload)
	tx.Put(closed, now)
	tx.RememberClosed(spanjournal.SpanKey{Trace: s.TraceID, Span: s.SpanID}, spanjournal.Closed{At: now})
	res.reconcile(s.TraceID, reason)
	e.logger.Debug("Reconciled a span", zap.String("close_reason", reason), zap.String("name", s.Name),
		zap.Stringer("trace_id", s.TraceID), zap.Stringer("span_id", s.SpanID), zap.Time("last_seen", lastSeen))
}

// reconcileSession applies the session_ended rule for the session span in it: the
// open spans of the same session in other traces, started before it (before its end,
// for an ended one), will never end.
func (e *Engine) reconcileSession(tx Tx, it *Item, now time.Time, res *Result) {
	end := SessionEnd{Session: it.Session, Client: it.Client, Before: it.Start}
	if !it.Open {
		end.Before = it.End
	}
	e.closeSession(tx, end, it.TraceID, now, res)
}

// SessionEnd is the end of a session that a client reported: a session span, or a
// session.end event (OpenTelemetry Android and Swift).
type SessionEnd struct {
	Session string
	// Client is who reported it.
	Client string
	// Before is the instant (the client's clock, as its spans' start times) before
	// which the session's open spans started are over; zero: all of them.
	Before time.Time
}

// closeSession reconciles session_ended the open spans of a session that is over, in
// other traces than except, started before end.Before. The rule trusts whoever ended
// the session only for spans last reported by the same client (docs/design.md, "How
// far the session rule trusts a client").
func (e *Engine) closeSession(tx Tx, end SessionEnd, except pcommon.TraceID, now time.Time, res *Result) {
	for _, s := range tx.SessionSpans(end.Session) {
		if s.TraceID == except || (!end.Before.IsZero() && !s.Start().Before(end.Before)) {
			continue
		}
		if e.cfg.SessionRuleSameClient && end.Client != "" && s.Client() != "" && s.Client() != end.Client {
			// Knowing a session id is not enough to close the session's spans: only
			// the client that reports them may. They keep their idle deadline.
			res.UntrustedSession++
			continue
		}
		// An earlier span of this loop may have closed s as a descendant already.
		if tx.Span(s.TraceID, s.SpanID) != s {
			continue
		}
		e.reconcile(tx, s, ReasonSessionEnded, now, res)
	}
}
