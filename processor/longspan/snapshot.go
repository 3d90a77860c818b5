package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// snapshotChunk bounds the spans of one snapshot ConsumeTraces call.
const snapshotChunk = 1000

// emitSnapshots sends a snapshot of each live span: the span as last reported, ended
// at the tick in its client's clock, and marked so that the pipeline routes it around
// tail sampling.
func (p *longspanProcessor) emitSnapshots(ctx context.Context, snaps []engine.Snapshot) {
	for len(snaps) > 0 {
		chunk := snaps[:min(len(snaps), snapshotChunk)]
		snaps = snaps[len(chunk):]
		spans := make([]*spanjournal.Span, len(chunk))
		for i, sn := range chunk {
			spans[i] = sn.Span
		}
		payloads, err := p.journal.Payloads(spans)
		td, errs := decodeSpans(spans, payloads, err, func(i int, span ptrace.Span) {
			sn := chunk[i]
			span.SetEndTimestamp(timestamp(sn.End))
			attrs := span.Attributes()
			attrs.PutStr(attrState, stateSnapshot)
			attrs.PutInt(attrSnapshotSeq, int64(sn.Seq))
			setTime(attrs, attrLastSeen, sn.LastSeen)
			if sn.Span.Source() != "" {
				attrs.PutStr(attrSource, sn.Span.Source())
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
