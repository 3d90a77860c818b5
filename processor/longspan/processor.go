package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadata"
)

type longspanProcessor struct {
	cfg       *Config
	set       processor.Settings
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	clock     clock
	// next is the traces consumer; nil for an instance in a logs pipeline, which
	// passes heartbeat-log records on to nextLogs instead.
	next     consumer.Traces
	nextLogs consumer.Logs

	journal *spanjournal.Journal
	emitter bool
	// startedAt is when this processor started, which after a restart is when the
	// journal was recovered: idle clocks and holds of recovered spans run from it.
	startedAt time.Time

	// nextSnapshot is when the next round of snapshots is due; touched by the tick
	// goroutine only.
	nextSnapshot time.Time

	stop chan struct{}
	wg   sync.WaitGroup
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Traces, clk clock) (*longspanProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &longspanProcessor{cfg: cfg, set: set, logger: set.Logger, telemetry: tb, clock: clk, next: next}, nil
}

func (p *longspanProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (p *longspanProcessor) Start(_ context.Context, host component.Host) error {
	ext, ok := host.GetExtensions()[p.cfg.Journal]
	if !ok {
		return fmt.Errorf("longspan: journal: extension %q is not configured; add it under `extensions:` and to `service::extensions`", p.cfg.Journal)
	}
	provider, ok := ext.(spanjournal.Provider)
	if !ok {
		return fmt.Errorf("longspan: journal: extension %q is not a spanjournal extension", p.cfg.Journal)
	}
	p.journal = provider.Journal()
	if p.journal == nil {
		return fmt.Errorf("longspan: journal: extension %q has not started", p.cfg.Journal)
	}
	p.startedAt = p.clock.Now()
	p.emitter = p.next != nil && p.journal.Claim(p)
	if !p.emitter {
		p.logger.Info("Another longspan processor emits snapshots and releases for this journal; this one only ingests")
		return nil
	}
	p.stop = make(chan struct{})
	ticks, stopTicker := p.clock.NewTicker(p.cfg.TickInterval)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer stopTicker()
		for {
			select {
			case <-p.stop:
				return
			case <-ticks:
				p.tick(context.Background())
			}
		}
	}()
	return nil
}

func (p *longspanProcessor) Shutdown(context.Context) error {
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
		p.stop = nil
	}
	if p.journal != nil && p.emitter {
		p.journal.Unclaim(p)
	}
	p.telemetry.Shutdown()
	return nil
}

// errLimit is the retryable refusal past a limit. It is deliberately not a permanent
// error: the OTLP receiver answers it with HTTP 503 / gRPC UNAVAILABLE, which every
// OTLP exporter and SDK retries with backoff.
type errLimit struct {
	limit  string
	detail string
}

func (e *errLimit) Error() string {
	return fmt.Sprintf("longspan: %s reached (%s); retry later", e.limit, e.detail)
}

func (p *longspanProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	now := p.clock.Now()
	items, drops := p.classify(td, now)
	out, err := p.apply(ctx, items, now)
	if err != nil {
		return err
	}
	p.count(ctx, drops, out)
	if out.passed == len(items) && len(drops) == 0 && !out.marked {
		return p.next.ConsumeTraces(ctx, td)
	}
	if out.passed == 0 {
		return nil
	}
	return p.next.ConsumeTraces(ctx, passThrough(items))
}

// apply runs the rules on the valid spans of one request under one journal update,
// and delivers the traces it completed when this instance is the emitter.
func (p *longspanProcessor) apply(ctx context.Context, items []item, now time.Time) (ingestResult, error) {
	var out ingestResult
	err := p.journal.Update(ctx, func(tx *spanjournal.Tx) error {
		if err := p.checkLimits(tx, items); err != nil {
			return err
		}
		out = p.ingest(tx, items, now)
		if p.emitter {
			// Deliver what this request completed right away, not a tick later.
			for _, r := range out.released {
				tx.Take(r)
			}
		}
		return nil
	})
	var limit *errLimit
	if errors.As(err, &limit) {
		p.telemetry.LongspanRequestsRefused.Add(ctx, 1, metric.WithAttributes(attribute.String("limit", limit.limit)))
		p.logger.Warn("Refusing a request with a retryable error: a limit is reached", zap.String("limit", limit.limit), zap.String("detail", limit.detail))
		return out, err
	}
	if err != nil {
		return out, err
	}
	if p.emitter && len(out.released) > 0 {
		p.deliver(ctx, out.released, now)
	}
	return out, nil
}

func (p *longspanProcessor) count(ctx context.Context, drops map[string]int, out ingestResult) {
	for reason, n := range drops {
		p.telemetry.LongspanSpansDropped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", reason)))
	}
	for reason, n := range out.dropped {
		p.telemetry.LongspanSpansDropped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", reason)))
	}
	for outcome, n := range out.received {
		p.telemetry.LongspanSpansReceived.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", outcome)))
	}
	for reason, n := range out.reconciled {
		p.telemetry.LongspanSpansReconciled.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", reason)))
	}
	if n := out.received[outcomeSuperseding]; n > 0 {
		p.telemetry.LongspanSpansSuperseding.Add(ctx, int64(n))
	}
}
