package longspanack // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspanack"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspanack/internal/metadata"
)

// NewFactory returns the factory of the longspan_ack processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	return &Config{Delay: 5 * time.Second, MaxPendingSpans: 1_000_000}
}

func createTraces(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	return newAckProcessor(set, cfg.(*Config), next, time.Now)
}
