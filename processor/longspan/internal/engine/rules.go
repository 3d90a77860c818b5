package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"slices"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// The instants at which the timed rules act, each written once: the tick's rules
// (reconcileExpired, releaseDue, releaseComplete) act on them, traceDeadlines indexes
// them, closeMessage names the idle timeout. They depend on the configuration and the
// processor's start only.

// idleTimeout is how long the client of s may stay silent: its own limit (heartbeat
// deadline, background_timeout), or idle_timeout.
func (e *Engine) idleTimeout(s *spanjournal.Span) time.Duration {
	if s.IdleTimeout != 0 {
		return s.IdleTimeout
	}
	return e.cfg.IdleTimeout
}

// silenceStart is when the client of open span s went silent: its last report, or
// the processor's start when that is later (the collector's own downtime is not
// client silence).
func (e *Engine) silenceStart(s *spanjournal.Span) time.Time {
	if e.startedAt.After(s.LastSeen()) {
		return e.startedAt
	}
	return s.LastSeen()
}

// idleDeadline is the instant of the silence clock at which open span s is
// reconciled as idle_timeout: silenceStart plus its idle timeout.
func (e *Engine) idleDeadline(s *spanjournal.Span) time.Time {
	return e.silenceStart(s).Add(e.idleTimeout(s))
}

// maxDurationDeadline is the wall-clock instant at which open span s is reconciled as
// max_duration: its start, in the collector's clock (clock.go), plus max_duration.
func (e *Engine) maxDurationDeadline(s *spanjournal.Span) time.Time {
	return s.Start().Add(e.cfg.MaxDuration - s.ClockOffset())
}

// holdStart is when a trace began holding ended spans next to open ones: HeldSince,
// or the processor's start for a trace recovered from the journal (the hold start is
// not journaled; the hold restarts with us).
func (e *Engine) holdStart(t TraceState) time.Time {
	if !t.HeldSince.IsZero() {
		return t.HeldSince
	}
	return e.startedAt
}

// holdDeadline is the wall-clock instant at which a trace releases early the ended
// spans it holds next to open ones (max_trace_hold).
func (e *Engine) holdDeadline(t TraceState) time.Time {
	return e.holdStart(t).Add(e.cfg.MaxTraceHold)
}

// releaseGate is the instant the grace clock must reach before a trace with nothing
// open leaves. It is the trace's GraceUntil: the end of its parent_grace, or with the
// watermark on, the arrival of the newest request that changed it (gateArrivals), so
// that every span the front tier accepted before that request (a child re-queued
// behind its root's end by a restarted front tier, or sent through another front-tier
// instance) has arrived first. With the watermark on, a trace recovered from the
// journal (GraceUntil not journaled) waits for the processor's start: what the front
// tier queued for this shard meanwhile comes first.
func (e *Engine) releaseGate(t TraceState) time.Time {
	g := t.GraceUntil
	if e.cfg.Watermark && g.Before(e.startedAt) {
		return e.startedAt
	}
	return g
}

// waitsForParent says whether an ended span of a trace with nothing held waits
// parent_grace for its parent, which may be an open span the client has not reported
// yet (a browser exports ended children before the first snapshot of their page).
//
// With heartbeats rerouted, every such span waits at least until the logs queue's
// watermark passes its arrival (the grace clock): its parent may be a heartbeat span
// whose report, accepted by the front tier before this span, takes the longer way.
func (e *Engine) waitsForParent(it *Item) bool {
	return (e.cfg.ParentGrace > 0 || e.cfg.RerouteHeartbeats) && !it.ParentID.IsEmpty()
}

// closedRecently says whether the span was open here and was closed (reconciled, or
// ended by its client) within supersede_window.
func (e *Engine) closedRecently(tx Tx, it *Item, now time.Time) (spanjournal.Closed, bool) {
	c, ok := tx.ClosedAt(spanjournal.SpanKey{Trace: it.TraceID, Span: it.SpanID})
	return c, ok && now.Sub(c.At) < e.cfg.SupersedeWindow
}

// isSessionSpan says whether it starts (open) or ends (ended) its session.
func (e *Engine) isSessionSpan(it *Item) bool {
	if it.Session == "" || !it.ParentID.IsEmpty() {
		return false
	}
	return len(e.cfg.SessionSpanNames) == 0 || slices.Contains(e.cfg.SessionSpanNames, it.Name)
}
