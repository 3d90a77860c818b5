package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// Device clocks. A span's own times (start, end, a client's last-seen) are in its
// client's clock; the collector's receipt times (first and last seen) and deadlines
// are in its own. A phone's clock may be hours or days off. Our clients stamp every
// open-span report with longspan.client.now_unix_nano, the client's clock when it
// sent it (an Embrace Apple copy's end, its export time, stands for one); the
// processor takes the first stamp of each resource of a request as that client's
// clock for the resource's spans: offset = stamp − receipt time (network
// latency makes it a little low; a reconciled end, lastSeen + offset, is then the
// client's send time of the last report, as the client saw it).
//
// A span keeps its offset in its Origin (spanjournal), journaled with it, so that a
// restart judges it the same. The offset changes only when the estimate moves past
// client_clock.tolerance, and new estimates are rounded to multiples of it, so the
// spans of a session keep sharing one Origin.
//
// The rules then judge every span in its client's clock:
//   - max_duration runs from the start as the collector's clock has it (start −
//     offset);
//   - a reconciled span ends at its last report as the client's clock had it
//     (lastSeen + offset), so its duration is what the client lived;
//   - an app_terminated report's last-known time is the client's: last seen is it −
//     offset;
//   - snapshots end at the tick's time in the client's clock, and snapshot.min_age is
//     measured there.
//
// A start later than max_future_skew past the client's clock (or, unstamped, the
// collector's) is impossible: rather than drop it, the span is taken to come from a
// clock at least that far ahead, offset = start − receipt time, and counted
// (spans_clock_suspect{start_in_future}). So a span of a trace with nothing held is
// never dropped for its times: an ended one goes on (or is held with its trace) as a
// stock collector would pass it; an open one is held as if it had just started.

// clockOf is the client clock offset a span of it is stored with: the held copy's
// while the estimate stays within client_clock.tolerance of it, else the estimate
// (rounded to the tolerance); then, if the span starts impossibly far ahead of that
// clock, the offset that makes it start now.
func (e *Engine) clockOf(it *Item, old *spanjournal.Span, now time.Time, res *Result) time.Duration {
	var o time.Duration
	switch {
	case old != nil && (!it.Stamped || absDuration(it.ClockOffset-old.ClockOffset()) <= e.cfg.ClockTolerance):
		o = old.ClockOffset()
	case it.Stamped:
		o = it.ClockOffset.Round(e.cfg.ClockTolerance)
		if old != nil {
			res.OffsetMoves++
		}
	}
	if it.Start.Sub(now) > o+e.cfg.MaxFutureSkew {
		Increment(&res.ClockSuspect, SuspectStartInFuture)
		o = it.Start.Sub(now)
	}
	return o
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// clientTime is t, an instant of the collector's clock, in the client clock of s.
func clientTime(s *spanjournal.Span, t time.Time) time.Time { return t.Add(s.ClockOffset()) }
