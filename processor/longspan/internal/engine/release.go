package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// Release: when a held trace leaves. A trace is released whole once nothing in it is
// open (releaseComplete), or early, without its open spans, once it held ended spans
// longer than max_trace_hold (releaseDue). The journal keeps every released batch and
// its delivery bookkeeping (spanjournal's delivery.go); the processor delivers.

// releaseTrace moves a trace's spans into a released batch: all of them when the trace
// is complete, or only its ended and reconciled spans for an early release.
func releaseTrace(tx Tx, trace pcommon.TraceID, n int, now time.Time, early bool) *spanjournal.Released {
	spans := make([]*spanjournal.Span, 0, n)
	tx.Spans(trace, func(s *spanjournal.Span) {
		if !early || s.State != spanjournal.SpanOpen {
			spans = append(spans, s)
		}
	})
	return tx.Release(trace, spans, now, early)
}

// gateArrivals, with the watermark on, moves the release gate of every trace a
// request touched that has nothing open to the request's arrival, now.
func (e *Engine) gateArrivals(tx Tx, res *Result, now time.Time) {
	if !e.cfg.Watermark {
		return
	}
	for id := range res.touched {
		if t, ok := tx.Trace(id); ok && t.Open == 0 && t.GraceUntil.Before(now) {
			tx.SetGrace(id, now)
		}
	}
}

// releaseComplete releases every touched trace that has nothing open any more and
// whose release gate the grace clock has passed.
func (e *Engine) releaseComplete(tx Tx, res *Result, now time.Time) {
	for id := range res.touched {
		if t, ok := tx.Trace(id); ok && t.Open == 0 && t.Spans > 0 && !e.clocks.Grace(now).Before(e.releaseGate(t)) {
			res.Released = append(res.Released, releaseTrace(tx, id, t.Spans, now, false))
		}
	}
	clear(res.touched)
}

// releaseDue is the timed part of release for one trace, after the timed rules
// reconciled what they had to. A trace with nothing open is complete once the grace
// clock passed its release gate; releaseComplete releases it. A trace still open
// releases early the ended spans it has held longer than max_trace_hold.
func (e *Engine) releaseDue(tx Tx, trace pcommon.TraceID, now time.Time, res *Result) {
	t, ok := tx.Trace(trace)
	switch {
	case !ok:
	case t.Open == 0:
		if !e.clocks.Grace(now).Before(e.releaseGate(t)) {
			res.touch(trace)
		}
	case t.Spans == t.Open:
		// nothing held
	case !now.Before(e.holdDeadline(t)):
		res.Released = append(res.Released, releaseTrace(tx, trace, t.Spans, now, true))
	}
}
