package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadata"
)

// NewFactory returns the factory of the longspan processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Journal:           component.MustNewID("spanjournal"),
		IdleTimeout:       5 * time.Minute,
		BackgroundTimeout: 15 * time.Minute,
		MaxDuration:       168 * time.Hour,
		MaxTraceHold:      time.Hour,
		SessionAttributes: []string{"session.id", "emb.user_session_id"},
		SessionSpanNames:  []string{"page.session", "emb-session"},
		Snapshot: SnapshotConfig{
			Interval: 30 * time.Second,
			MinAge:   30 * time.Second,
		},
		ReleaseRetention: time.Minute,
		SupersedeWindow:  24 * time.Hour,
		HeartbeatFactor:  3,
		TickInterval:     time.Second,
		MaxFutureSkew:    time.Hour,
		ClientClock:      ClientClockConfig{Tolerance: time.Second},
		Limits: LimitsConfig{
			MaxOpenSpans:      1_000_000,
			MaxHeldSpans:      10_000_000,
			MaxReconciledIDs:  1_000_000,
			MaxSpanBytes:      64 << 10,
			MaxAttributeDepth: 8,
		},
		Quotas: QuotasConfig{
			RetryAfter:            10 * time.Second,
			LogInterval:           time.Minute,
			MaxLoggedClients:      10_000,
			SessionRuleSameClient: true,
			PerClient:             Quota{MaxOpenSpans: 10_000, MaxHeldSpans: 100_000, MaxBytes: 64 << 20},
			PerSession:            Quota{MaxOpenSpans: 1_000, MaxHeldSpans: 20_000, MaxBytes: 32 << 20},
			PerTrace:              Quota{MaxOpenSpans: 1_000, MaxHeldSpans: 10_000, MaxBytes: 16 << 20},
			NoSession:             Quota{MaxOpenSpans: 100_000, MaxHeldSpans: 100_000, MaxBytes: 128 << 20},
		},
		Watermark: WatermarkConfig{StallWarning: time.Minute},
	}
}

func createTraces(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	return newProcessor(set, cfg.(*Config), next, systemClock{})
}

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newProcessor(set, cfg.(*Config), nil, systemClock{})
	if err != nil {
		return nil, err
	}
	p.nextLogs = next
	return p, nil
}
