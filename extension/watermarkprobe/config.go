package watermarkprobe // import "github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"

import (
	"errors"
	"fmt"
	"time"
)

// Config is the watermarkprobe extension's configuration.
type Config struct {
	// Endpoint is the front tier's OTLP gRPC endpoint (host:port, plaintext). Required.
	Endpoint string `mapstructure:"endpoint"`
	// Interval is how often a probe request is sent. A shard's watermark trails the
	// wall clock by about this much plus the front tier's latency, and idle
	// reconciliation waits that much longer. Default 1s.
	Interval time.Duration `mapstructure:"interval"`
	// Spans is the number of probe spans per request, each with a random trace id, so
	// that every shard receives some: with S shards, 8×S spans miss a given shard in
	// one interval with probability about e^-8. Default 256 (right for up to 32
	// shards).
	Spans int `mapstructure:"spans"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: required; the front tier's OTLP gRPC address, e.g. front:4317"))
	}
	if c.Interval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("interval: %s must be at least 10ms", c.Interval))
	}
	if c.Spans < 1 || c.Spans > 100000 {
		errs = append(errs, fmt.Errorf("spans: %d must be between 1 and 100000", c.Spans))
	}
	return errors.Join(errs...)
}
