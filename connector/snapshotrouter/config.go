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
	// SnapshotSpanIDs says which span id a snapshot leaves with: "keep" (the default, also
	// when empty) sends it with the open span's own id, as longspan emits it (docs/design.md,
	// promise 4); "unique" gives each snapshot an id of its own, for trace backends that key
	// spans by trace and span id (Jaeger): see UniqueSnapshotIDs.
	SnapshotSpanIDs string `mapstructure:"snapshot_span_ids"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// Values of snapshot_span_ids.
const (
	SnapshotSpanIDsKeep   = "keep"
	SnapshotSpanIDsUnique = "unique"
)

// Validate checks that default_pipelines is given, that no pipeline is in both sets (it
// would receive the snapshots too) and the value of snapshot_span_ids.
func (c *Config) Validate() error {
	if len(c.DefaultPipelines) == 0 {
		return errors.New("default_pipelines: at least one pipeline is required")
	}
	switch c.SnapshotSpanIDs {
	case "", SnapshotSpanIDsKeep, SnapshotSpanIDsUnique:
	default:
		return fmt.Errorf("snapshot_span_ids: %q is not one of %q, %q", c.SnapshotSpanIDs, SnapshotSpanIDsKeep, SnapshotSpanIDsUnique)
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
