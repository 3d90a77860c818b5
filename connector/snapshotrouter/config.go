package snapshotrouter // import "github.com/otelcol-longspan/otelcol-longspan/connector/snapshotrouter"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pipeline"
)

// Config of the snapshot_router connector.
type Config struct {
	// SnapshotPipelines receive the snapshot spans (longspan.state = "snapshot").
	// Empty: snapshots are dropped.
	SnapshotPipelines []pipeline.ID `mapstructure:"snapshot_pipelines"`
	// DefaultPipelines receive every other span (the ones with tail_sampling).
	DefaultPipelines []pipeline.ID `mapstructure:"default_pipelines"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks that default_pipelines is given and that no pipeline is in both sets:
// it would receive the snapshots too.
func (c *Config) Validate() error {
	if len(c.DefaultPipelines) == 0 {
		return errors.New("default_pipelines: at least one pipeline is required")
	}
	snap := map[pipeline.ID]bool{}
	for _, id := range c.SnapshotPipelines {
		snap[id] = true
	}
	for _, id := range c.DefaultPipelines {
		if snap[id] {
			return fmt.Errorf("pipeline %q is in both snapshot_pipelines and default_pipelines: snapshots would reach it", id)
		}
	}
	return nil
}
