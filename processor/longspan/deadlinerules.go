package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// deadlineRules are the instants at which the timed rules act, each written once:
// reconcileExpired and releaseDue act on them, traceDeadlines indexes them
// (deadlines.go), closeMessage names the idle timeout. They depend on the
// configuration and the processor's start only, not on the collector.
type deadlineRules struct {
	cfg *Config
	// startedAt is when this processor started, by its own clock: after a restart, the
	// instant the recovered state comes back to life. The idle clocks and holds of
	// recovered spans run from it (the journal does not keep their memory-only hold
	// start, and the downtime is not client silence). It is the one restart instant
	// the rules use: the extension's Recovery.At only reports the replay.
	startedAt time.Time
}

// idleTimeout is how long the client of s may stay silent: its heartbeat deadline,
// or idle_timeout.
func (r deadlineRules) idleTimeout(s *spanjournal.Span) time.Duration {
	if s.IdleTimeout != 0 {
		return s.IdleTimeout
	}
	return r.cfg.IdleTimeout
}

// silenceStart is when the client of open span s went silent: its last report, or
// this processor's start when that is later (the collector's own downtime is not
// client silence).
func (r deadlineRules) silenceStart(s *spanjournal.Span) time.Time {
	if r.startedAt.After(s.LastSeen()) {
		return r.startedAt
	}
	return s.LastSeen()
}

// idleDeadline is the instant of the silence clock (silenceClock) at which open span s
// is reconciled as idle_timeout: silenceStart plus its idle timeout.
func (r deadlineRules) idleDeadline(s *spanjournal.Span) time.Time {
	return r.silenceStart(s).Add(r.idleTimeout(s))
}

// maxDurationDeadline is the wall-clock instant at which open span s is reconciled as
// max_duration.
func (r deadlineRules) maxDurationDeadline(s *spanjournal.Span) time.Time {
	return s.Start().Add(r.cfg.MaxDuration)
}

// holdStart is when trace t began holding ended spans next to open ones: HeldSince,
// or this processor's start for a trace recovered from the journal (the hold start is
// not journaled; the hold restarts with us).
func (r deadlineRules) holdStart(t *spanjournal.Trace) time.Time {
	if h := t.HeldSince(); !h.IsZero() {
		return h
	}
	return r.startedAt
}

// holdDeadline is the wall-clock instant at which trace t releases early the ended
// spans it holds next to open ones (max_trace_hold).
func (r deadlineRules) holdDeadline(t *spanjournal.Trace) time.Time {
	return r.holdStart(t).Add(r.cfg.MaxTraceHold)
}

// releaseGate is the instant the grace clock (graceClock) must reach before a trace
// with nothing open leaves. It is the trace's GraceUntil: the end of its parent_grace,
// or with the watermark on, the arrival of the newest request that changed it
// (gateArrivals), so that every span the front tier accepted before that request
// (a child re-queued behind its root's end by a restarted front tier, or sent through
// another front-tier instance) has arrived first. With the watermark on, a trace
// recovered from the journal (GraceUntil not journaled) waits for the processor's
// start: what the front tier queued for this shard meanwhile comes first.
func (r deadlineRules) releaseGate(t *spanjournal.Trace) time.Time {
	g := t.GraceUntil()
	if r.cfg.Watermark.Enabled && g.Before(r.startedAt) {
		return r.startedAt
	}
	return g
}
