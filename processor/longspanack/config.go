package longspanack // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspanack"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config of the longspan_ack processor.
type Config struct {
	// Journals are the spanjournal extensions whose released batches this processor
	// acknowledges. Default: empty, every spanjournal extension of the collector (a
	// scale-out gateway has one per shard, all feeding one tail_sampling).
	Journals []component.ID `mapstructure:"journals"`
	// Delay is how long after the exporters accepted a request its spans are
	// acknowledged. Acceptance means delivery only for an exporter that sends before it
	// returns (sending_queue disabled, or a persistent queue); one that buffers (the file
	// exporter until its flush_interval, an in-memory sending_queue) needs a delay that
	// covers the buffering. Acknowledgements fall due with later requests; those left
	// when requests stop fall back to release_retention. Default: 5s. 0 acknowledges at
	// once.
	Delay time.Duration `mapstructure:"delay"`
	// MaxPendingSpans bounds the span ids waiting out Delay. Past it the oldest
	// acknowledgements are dropped (counted in longspan_ack_spans_unacknowledged): their
	// batches fall back to release_retention, nothing is lost. Default: 1,000,000 (~30 MB).
	MaxPendingSpans int `mapstructure:"max_pending_spans"`
}

var _ component.Config = (*Config)(nil)

// Validate checks the bounds and that no journal is named twice.
func (c *Config) Validate() error {
	if c.Delay < 0 {
		return fmt.Errorf("delay: %s must not be negative", c.Delay)
	}
	if c.Delay > 0 && c.MaxPendingSpans <= 0 {
		return fmt.Errorf("max_pending_spans: %d must be positive when delay is set", c.MaxPendingSpans)
	}
	seen := make(map[component.ID]bool, len(c.Journals))
	for _, id := range c.Journals {
		if seen[id] {
			return errors.New("journals: " + id.String() + " is listed twice")
		}
		seen[id] = true
	}
	return nil
}
