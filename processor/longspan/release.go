package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// Release: when a held trace leaves, and how it reaches the next consumer. A trace is
// released whole once nothing in it is open (releaseComplete), or early, without its
// open spans, once it held ended spans longer than max_trace_hold (releaseDue). The
// journal keeps every released batch and its delivery bookkeeping (see
// spanjournal's delivery.go); only the emitter delivers.

// releaseTrace moves a trace's spans into a released batch: all of them when the trace
// is complete, or only its ended and reconciled spans for an early release.
func releaseTrace(tx *spanjournal.Tx, t *spanjournal.Trace, now time.Time, early bool) *spanjournal.Released {
	spans := make([]*spanjournal.Span, 0, len(t.Spans))
	for _, s := range t.Spans {
		if !early || s.State != spanjournal.SpanOpen {
			spans = append(spans, s)
		}
	}
	return tx.Release(t, spans, now, early)
}

// gateArrivals, with the watermark on, moves the release gate of every trace a
// request touched that has nothing open to the request's arrival, now.
func (p *longspanProcessor) gateArrivals(tx *spanjournal.Tx, res *ruleResult, now time.Time) {
	if !p.cfg.Watermark.Enabled {
		return
	}
	for id := range res.touched {
		if t := tx.Trace(id); t != nil && t.OpenSpans() == 0 && t.GraceUntil().Before(now) {
			tx.SetGrace(t, now)
		}
	}
}

// releaseComplete releases every touched trace that has nothing open any more and
// whose release gate the grace clock has passed.
func (p *longspanProcessor) releaseComplete(tx *spanjournal.Tx, res *ruleResult, now time.Time) {
	for id := range res.touched {
		if t := tx.Trace(id); t != nil && t.OpenSpans() == 0 && len(t.Spans) > 0 && !p.graceClock(now).Before(p.rules.releaseGate(t)) {
			res.released = append(res.released, releaseTrace(tx, t, now, false))
		}
	}
	clear(res.touched)
}

// releaseDue is the timed part of release for one trace, after the timed rules
// reconciled what they had to. A trace with nothing open is complete once the grace
// clock passed its release gate; releaseComplete releases it. A trace still open
// releases early the ended spans it has held longer than max_trace_hold.
func (p *longspanProcessor) releaseDue(tx *spanjournal.Tx, t *spanjournal.Trace, now time.Time, res *ruleResult) {
	if t.OpenSpans() == 0 {
		if !p.graceClock(now).Before(p.rules.releaseGate(t)) {
			res.touch(t.ID)
		}
		return
	}
	if len(t.Spans) == t.OpenSpans() {
		return // nothing held
	}
	if !now.Before(p.rules.holdDeadline(t)) {
		res.released = append(res.released, releaseTrace(tx, t, now, true))
	}
}

// takeForDelivery, on the emitter, takes the batches a request released inside the
// request's journal update, so that no tick takes them meanwhile: deliverTaken hands
// them on right after the update, not a tick later. Other instances leave them to
// the emitter's tick.
func (p *longspanProcessor) takeForDelivery(tx *spanjournal.Tx, released []*spanjournal.Released) {
	if !p.emitter {
		return
	}
	for _, r := range released {
		tx.Take(r)
	}
}

// deliverTaken delivers what takeForDelivery took.
func (p *longspanProcessor) deliverTaken(ctx context.Context, released []*spanjournal.Released, now time.Time) {
	if p.emitter {
		p.deliver(ctx, released, now)
	}
}

// deliver hands released batches to the next consumer, one ConsumeTraces call per
// batch so that a trace reaches tail sampling whole, and reports each outcome to the
// journal. A refused batch stays journaled and the journal queues it again with
// backoff (from tick_interval); nothing acknowledged is dropped.
func (p *longspanProcessor) deliver(ctx context.Context, batches []*spanjournal.Released, now time.Time) {
	for _, r := range batches {
		err := p.next.ConsumeTraces(ctx, p.releasedTraces(r))
		n := int64(len(r.Spans))
		attempt := 0
		// Delivered and Failed change memory only: this update writes nothing, and
		// cannot fail.
		_ = p.journal.Update(ctx, func(tx *spanjournal.Tx) error {
			if err != nil {
				attempt = tx.Failed(r, now, p.cfg.TickInterval)
			} else {
				tx.Delivered(r, now.Add(p.cfg.ReleaseRetention))
			}
			return nil
		})
		if err != nil {
			p.telemetry.LongspanReleaseFailures.Add(ctx, 1)
			p.logger.Warn("The next consumer refused a released trace; it stays journaled and is retried",
				zap.Stringer("trace_id", r.TraceID), zap.Int("spans", len(r.Spans)), zap.Int("attempt", attempt), zap.Error(err))
			continue
		}
		p.telemetry.LongspanSpansReleased.Add(ctx, n)
		if r.Replayed {
			p.telemetry.LongspanSpansResent.Add(ctx, n)
		}
		if r.Early {
			p.telemetry.LongspanSpansReleasedEarly.Add(ctx, n)
		} else {
			p.telemetry.LongspanTracesReleased.Add(ctx, 1)
		}
	}
}

// releasedTraces builds the request for one released batch. Spans of an early
// release are marked; everything else leaves as it is stored (client spans unchanged,
// reconciled spans as reconciled).
func (p *longspanProcessor) releasedTraces(r *spanjournal.Released) ptrace.Traces {
	var edit func(int, ptrace.Span)
	if r.Early {
		edit = func(_ int, span ptrace.Span) { span.Attributes().PutStr(attrState, stateReleasedEarly) }
	}
	payloads, err := p.journal.Payloads(r.Spans)
	td, errs := decodeSpans(r.Spans, payloads, err, edit)
	p.reportUndecodable(errs)
	return td
}
