package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

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
