package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
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
	// rules are the rules (internal/engine), made at Start: they own the processor's
	// start instant, the timed-rule index and the snapshot pacing.
	rules *engine.Engine

	// watermark is how far the input has arrived through a front tier
	// (Config.Watermark).
	watermark watermark

	// refusals rate-limits the logging of quota refusals per client.
	refusals *refusalLog

	stop chan struct{}
	wg   sync.WaitGroup
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Traces, clk clock) (*longspanProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &longspanProcessor{cfg: cfg, set: set, logger: set.Logger, telemetry: tb, clock: clk, next: next,
		refusals: newRefusalLog(cfg.Quotas.LogInterval, cfg.Quotas.MaxLoggedClients)}, nil
}

// rules is what the rules read of the configuration; passOn is set for an instance
// with a traces consumer.
func (cfg *Config) rules(passOn bool) engine.Config {
	return engine.Config{
		IdleTimeout: cfg.IdleTimeout, BackgroundTimeout: cfg.backgroundTimeout(), MaxDuration: cfg.MaxDuration,
		MaxTraceHold: cfg.MaxTraceHold, ParentGrace: cfg.ParentGrace, SupersedeWindow: cfg.SupersedeWindow,
		MaxFutureSkew: cfg.MaxFutureSkew, ClockTolerance: cfg.ClientClock.Tolerance,
		SessionSpanNames: cfg.SessionSpanNames, SessionRuleSameClient: cfg.Quotas.SessionRuleSameClient,
		Watermark: cfg.Watermark.Enabled, RerouteHeartbeats: cfg.RerouteHeartbeats,
		PassOn: passOn && !cfg.JournalPassThrough, MaxSpanBytes: cfg.Limits.MaxSpanBytes,
		SnapshotInterval: cfg.Snapshot.Interval, SnapshotMinAge: cfg.Snapshot.MinAge, TickInterval: cfg.TickInterval,
	}
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
	fronts := 1
	if p.cfg.Watermark.Enabled || p.cfg.RerouteHeartbeats {
		src, err := findProbeSource(host)
		if err != nil {
			return err
		}
		p.watermark.source, fronts = src, src.Fronts()
	}
	startedAt := p.clock.Now()
	p.watermark.start(startedAt, fronts, p.cfg)
	p.emitter = p.next != nil && p.journal.Claim(p)
	p.rules = engine.New(p.cfg.rules(p.next != nil), startedAt, &p.watermark, reconciledCodec{}, p.logger)
	if !p.emitter {
		p.logger.Info("Another longspan processor emits snapshots and releases for this journal; this one only ingests")
		return nil
	}
	if err := p.telemetry.RegisterLongspanSpansBackgroundedCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(p.rules.Backgrounded())
		return nil
	}); err != nil {
		return err
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

func (p *longspanProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	now := p.clock.Now()
	items, drops, probes := p.classify(td, now)
	out, err := p.apply(ctx, items, nil, now)
	if err != nil {
		return err
	}
	p.observeProbes(ctx, probes, now)
	p.count(ctx, drops, out)
	if out.Passed == len(items) && len(drops) == 0 && len(probes) == 0 && !out.Marked {
		return p.next.ConsumeTraces(ctx, td)
	}
	if out.Passed == 0 {
		return nil
	}
	return p.next.ConsumeTraces(ctx, passThrough(items))
}

// apply runs the rules on the valid spans and session.end events of one request under
// one journal update, marks the spans that go on, and delivers the traces it completed
// when this instance is the emitter. The emitter takes them inside the update, so that
// no tick takes them meanwhile, and hands them on right after it, not a tick later;
// other instances leave them to the emitter's tick.
func (p *longspanProcessor) apply(ctx context.Context, items []item, ends []sessionEnd, now time.Time) (ruleResult, error) {
	var res ruleResult
	client := p.clientOf(ctx)
	req := newRequest(items, client)
	sessionEnds := make([]engine.SessionEnd, len(ends))
	for i, end := range ends {
		sessionEnds[i] = engine.SessionEnd{Session: end.session, Client: client, Before: end.before}
	}
	err := p.journal.Update(ctx, func(jtx *spanjournal.Tx) error {
		tx := engine.Journal(jtx)
		if err := p.checkLimits(jtx, tx, req, now); err != nil {
			return err
		}
		res = p.rules.Ingest(tx, req.rules, sessionEnds, req, now)
		if p.emitter {
			for _, r := range res.Released {
				jtx.Take(r)
			}
		}
		return nil
	})
	if err != nil {
		p.reportRefusal(ctx, err, client, now)
		return res, err
	}
	req.markPassed()
	if p.emitter {
		p.deliver(ctx, res.Released, now)
	}
	return res, nil
}
