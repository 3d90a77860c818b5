package longspanack // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspanack"

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspanack/internal/metadata"
)

// ackProcessor passes every request on unchanged and, once the next consumer (the
// exporters) accepted it and delay passed, has the journals forget the released
// batches it completes.
type ackProcessor struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	next      consumer.Traces
	journals  []*spanjournal.Journal
	now       func() time.Time

	mu      sync.Mutex
	pending pendingAcks
}

func newAckProcessor(set processor.Settings, cfg *Config, next consumer.Traces, now func() time.Time) (*ackProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &ackProcessor{cfg: cfg, logger: set.Logger, telemetry: tb, next: next, now: now}, nil
}

func (p *ackProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start finds the journals: the configured ones, or every spanjournal extension.
// Finding none is an error: the processor would do nothing, which is a
// misconfiguration rather than a choice.
func (p *ackProcessor) Start(_ context.Context, host component.Host) error {
	exts := host.GetExtensions()
	ids := p.cfg.Journals
	if len(ids) == 0 {
		for id, ext := range exts {
			if _, ok := ext.(spanjournal.Provider); ok {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, func(a, b component.ID) int { return cmp.Compare(a.String(), b.String()) })
	}
	for _, id := range ids {
		ext, ok := exts[id]
		if !ok {
			return fmt.Errorf("longspan_ack: journals: extension %q is not configured; add it under `extensions:` and to `service::extensions`", id)
		}
		provider, ok := ext.(spanjournal.Provider)
		if !ok {
			return fmt.Errorf("longspan_ack: journals: extension %q is not a spanjournal extension", id)
		}
		j := provider.Journal()
		if j == nil {
			return fmt.Errorf("longspan_ack: journals: extension %q has not started", id)
		}
		p.journals = append(p.journals, j)
	}
	if len(p.journals) == 0 {
		return errors.New("longspan_ack: no spanjournal extension in this collector; add one, or remove longspan_ack from the pipeline")
	}
	p.logger.Info("Spans exported after tail_sampling are acknowledged to the span journal",
		zap.Stringers("journals", ids), zap.Duration("delay", p.cfg.Delay))
	return nil
}

func (p *ackProcessor) Shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

// ConsumeTraces hands td on and, if the next consumer accepted it, acknowledges its
// spans once delay is over. A refusal acknowledges nothing: the journal keeps the
// batches and release_retention applies.
func (p *ackProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	passed, n := spanIDsByTrace(td) // before: the next consumer may change td
	if err := p.next.ConsumeTraces(ctx, td); err != nil {
		return err
	}
	if p.cfg.Delay == 0 {
		p.acknowledge(ctx, passed)
		return nil
	}
	p.mu.Lock()
	now := p.now() // under the lock: the queue stays in time order
	dropped := p.pending.add(now.Add(p.cfg.Delay), passed, n, p.cfg.MaxPendingSpans)
	due := p.pending.takeDue(now)
	p.mu.Unlock()
	if dropped > 0 {
		p.telemetry.LongspanAckSpansUnacknowledged.Add(ctx, int64(dropped))
	}
	for _, a := range due {
		p.acknowledge(ctx, a.passed)
	}
	return nil
}

// acknowledge has every journal forget the batches passed completes.
func (p *ackProcessor) acknowledge(ctx context.Context, passed map[pcommon.TraceID][]pcommon.SpanID) {
	var batches, spans int
	for _, j := range p.journals {
		// No fsync: the drops ride with the journal's next write (Tx.ForgetPassed).
		// An Update that only rides writes nothing, so it cannot fail.
		_ = j.Update(ctx, func(tx *spanjournal.Tx) error {
			b, s := tx.ForgetPassed(passed)
			batches += b
			spans += s
			return nil
		})
	}
	if batches > 0 {
		p.telemetry.LongspanAckBatchesForgotten.Add(ctx, int64(batches))
		p.telemetry.LongspanAckSpansForgotten.Add(ctx, int64(spans))
	}
}

// spanIDsByTrace lists the span ids of td by trace, and counts them.
func spanIDsByTrace(td ptrace.Traces) (map[pcommon.TraceID][]pcommon.SpanID, int) {
	out := make(map[pcommon.TraceID][]pcommon.SpanID)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for k := 0; k < sss.Len(); k++ {
			spans := sss.At(k).Spans()
			for n := 0; n < spans.Len(); n++ {
				s := spans.At(n)
				out[s.TraceID()] = append(out[s.TraceID()], s.SpanID())
			}
		}
	}
	return out, td.SpanCount()
}
