package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// snapshotChunk bounds the spans of one snapshot ConsumeTraces call.
const snapshotChunk = 1000

// maxRetryBackoff caps the wait between deliveries of a release the next consumer
// refused.
const maxRetryBackoff = 30 * time.Second

// snapshotOf is what a snapshot needs of an open span, copied under the journal lock.
type snapshotOf struct {
	span     *spanjournal.Span
	seq      uint32
	lastSeen time.Time
}

// tick runs the timed rules: reconciliation, early release, delivery of released
// traces (and their retries), forgetting traces past tail sampling, and snapshots.
// Only the journal's emitter runs it.
func (p *longspanProcessor) tick(ctx context.Context) {
	now := p.clock.Now()
	snapshotDue := p.cfg.Snapshot.Interval > 0 && !now.Before(p.nextSnapshot)
	if snapshotDue {
		p.nextSnapshot = now.Add(p.cfg.Snapshot.Interval)
	}
	var res ingestResult
	var due []*spanjournal.Released
	var snaps []snapshotOf
	var evicted int
	err := p.journal.Update(ctx, func(tx *spanjournal.Tx) error {
		tx.Traces(func(t *spanjournal.Trace) {
			p.expire(tx, t, now, &res)
		})
		p.releaseComplete(tx, &res, now)
		if snapshotDue {
			tx.Traces(func(t *spanjournal.Trace) {
				for _, s := range t.Spans {
					if s.State == spanjournal.SpanOpen && now.Sub(s.Start) >= p.cfg.Snapshot.MinAge {
						s.SnapshotSeq++
						snaps = append(snaps, snapshotOf{span: s, seq: s.SnapshotSeq, lastSeen: s.LastSeen})
					}
				}
			})
		}
		due = tx.TakeDue(now)
		tx.ForgetExpired(now)
		_, evicted = tx.ForgetReconciled(now.Add(-p.cfg.SupersedeWindow), p.cfg.Limits.MaxReconciledIDs)
		return nil
	})
	if evicted > 0 {
		p.telemetry.LongspanReconciledIdsEvicted.Add(ctx, int64(evicted))
		p.logger.Warn("Forgot reconciled span ids before supersede_window ended: limits.max_reconciled_ids reached; a late real end of those spans passes as a plain span",
			zap.Int("evicted", evicted), zap.Int("max_reconciled_ids", p.cfg.Limits.MaxReconciledIDs))
	}
	if err != nil {
		p.logger.Error("Journaling timed changes failed; they are retried on the next tick", zap.Error(err))
	}
	p.count(ctx, nil, res)
	p.deliver(ctx, due, now)
	p.emitSnapshots(ctx, snaps, now)
}

// expire reconciles the open spans of t whose client went quiet or that ran too long,
// and releases early what t has held for longer than max_trace_hold.
func (p *longspanProcessor) expire(tx *spanjournal.Tx, t *spanjournal.Trace, now time.Time, res *ingestResult) {
	if t.OpenSpans() == 0 {
		// Complete once its parent_grace is over; a trace recovered from the journal
		// with nothing open has no grace left and goes now.
		if !now.Before(t.GraceUntil) {
			res.touch(t.ID)
		}
		return
	}
	for _, s := range t.Spans {
		if s.State != spanjournal.SpanOpen {
			continue
		}
		idle := s.IdleTimeout
		if idle == 0 {
			idle = p.cfg.IdleTimeout
		}
		// The idle clock runs from the last report, or from this processor's start
		// when that is later: the collector's own downtime is not client silence.
		idleSince := s.LastSeen
		if p.startedAt.After(idleSince) {
			idleSince = p.startedAt
		}
		switch {
		case now.Sub(idleSince) >= idle:
			p.reconcile(tx, t, s, reasonIdleTimeout, now, res)
		case now.Sub(s.Start) >= p.cfg.MaxDuration:
			p.reconcile(tx, t, s, reasonMaxDuration, now, res)
		}
	}
	if t.OpenSpans() == 0 || len(t.Spans) == t.OpenSpans() {
		return
	}
	heldSince := t.HeldSince
	if heldSince.IsZero() { // recovered from the journal: the hold restarts with us
		heldSince = p.startedAt
	}
	if now.Sub(heldSince) >= p.cfg.MaxTraceHold {
		res.released = append(res.released, p.releaseTrace(tx, t, now, true))
	}
}

// deliver hands released batches to the next consumer, one ConsumeTraces call per
// batch so that a trace reaches tail sampling whole. A refused batch stays journaled
// and is retried with backoff; nothing acknowledged is dropped.
func (p *longspanProcessor) deliver(ctx context.Context, batches []*spanjournal.Released, now time.Time) {
	for _, r := range batches {
		err := p.next.ConsumeTraces(ctx, p.releasedTraces(r))
		n := int64(len(r.Spans))
		attempt := 0
		_ = p.journal.Update(ctx, func(tx *spanjournal.Tx) error {
			if err != nil {
				tx.Failed(r, now.Add(p.backoff(r.Attempts())))
				attempt = r.Attempts() // r may be retried by the tick once the lock is gone
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
	td, errs := decodeSpans(r.Spans, edit)
	p.reportUndecodable(errs)
	return td
}

// reportUndecodable logs and counts stored spans that could not be decoded. Only a
// payload damaged after its journal checksum was verified gets here.
func (p *longspanProcessor) reportUndecodable(errs []error) {
	if len(errs) == 0 {
		return
	}
	p.telemetry.LongspanSpansDropped.Add(context.Background(), int64(len(errs)), metric.WithAttributes(attribute.String("reason", dropUnencodable)))
	for _, err := range errs {
		p.logger.Error("Dropped a stored span that could not be decoded", zap.Error(err))
	}
}

func (p *longspanProcessor) backoff(attempts int) time.Duration {
	d := p.cfg.TickInterval
	for i := 0; i < attempts && d < maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, maxRetryBackoff)
}

// emitSnapshots sends a snapshot of each live span: the span as last reported, ended
// now, and marked so that the pipeline routes it around tail sampling.
func (p *longspanProcessor) emitSnapshots(ctx context.Context, snaps []snapshotOf, now time.Time) {
	for len(snaps) > 0 {
		chunk := snaps[:min(len(snaps), snapshotChunk)]
		snaps = snaps[len(chunk):]
		spans := make([]*spanjournal.Span, len(chunk))
		for i, sn := range chunk {
			spans[i] = sn.span
		}
		td, errs := decodeSpans(spans, func(i int, span ptrace.Span) {
			sn := chunk[i]
			span.SetEndTimestamp(timestamp(now))
			attrs := span.Attributes()
			attrs.PutStr(attrState, stateSnapshot)
			attrs.PutInt(attrSnapshotSeq, int64(sn.seq))
			setTime(attrs, attrLastSeen, sn.lastSeen)
			if sn.span.Source != "" {
				attrs.PutStr(attrSource, sn.span.Source)
			}
		})
		p.reportUndecodable(errs)
		n := td.SpanCount()
		if n == 0 {
			continue
		}
		if err := p.next.ConsumeTraces(ctx, td); err != nil {
			p.logger.Warn("The next consumer refused snapshot spans; they are not retried (the next round replaces them)",
				zap.Int("spans", n), zap.Error(err))
			continue
		}
		p.telemetry.LongspanSnapshotsEmitted.Add(ctx, int64(n))
	}
}
