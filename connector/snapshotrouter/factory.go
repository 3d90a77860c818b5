package snapshotrouter // import "github.com/otelcol-longspan/otelcol-longspan/connector/snapshotrouter"

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
)

// Type is the component type of the connector.
var Type = component.MustNewType("snapshot_router")

// Stability of the traces to traces connector.
const Stability = component.StabilityLevelAlpha

// NewFactory returns the factory of the snapshot_router connector.
func NewFactory() connector.Factory {
	return connector.NewFactory(Type, createDefaultConfig,
		connector.WithTracesToTraces(createTracesToTraces, Stability))
}

func createDefaultConfig() component.Config {
	return &Config{}
}

func createTracesToTraces(_ context.Context, _ connector.Settings, cfg component.Config, next consumer.Traces) (connector.Traces, error) {
	c := cfg.(*Config)
	tr, ok := next.(connector.TracesRouterAndConsumer)
	if !ok {
		return nil, errors.New("snapshot_router: expected a traces router as the next consumer")
	}
	var live consumer.Traces // nil: snapshots are dropped
	if len(c.SnapshotPipelines) > 0 {
		var err error
		if live, err = tr.Consumer(c.SnapshotPipelines...); err != nil {
			return nil, fmt.Errorf("snapshot_pipelines: %w", err)
		}
	}
	rest, err := tr.Consumer(c.DefaultPipelines...)
	if err != nil {
		return nil, fmt.Errorf("default_pipelines: %w", err)
	}
	return &router{snapshots: live, rest: rest, uniqueIDs: c.SnapshotSpanIDs == SnapshotSpanIDsUnique}, nil
}
