package watermarkprobe // import "github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Config is the watermarkprobe extension's configuration.
type Config struct {
	// Endpoint is the front tier's OTLP gRPC endpoint (host:port, plaintext). Set it,
	// or Endpoints for a front tier of several instances.
	Endpoint string `mapstructure:"endpoint"`
	// Endpoints are the OTLP gRPC endpoints of every instance of the front tier, when
	// clients may send to any of them: each is probed, and a shard's watermark is the
	// lowest of theirs. Not with Endpoint.
	Endpoints []string `mapstructure:"endpoints"`
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

// endpoints is every front-tier instance to probe.
func (c *Config) endpoints() []string {
	if c.Endpoint != "" {
		return []string{c.Endpoint}
	}
	return c.Endpoints
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	switch {
	case c.Endpoint == "" && len(c.Endpoints) == 0:
		errs = append(errs, errors.New("endpoint: required (or endpoints); the front tier's OTLP gRPC address, e.g. front:4317"))
	case c.Endpoint != "" && len(c.Endpoints) > 0:
		errs = append(errs, errors.New("endpoint and endpoints: set one of them"))
	case slices.Contains(c.Endpoints, ""):
		errs = append(errs, errors.New("endpoints: an empty entry"))
	}
	if c.Interval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("interval: %s must be at least 10ms", c.Interval))
	}
	if c.Spans < 1 || c.Spans > 100000 {
		errs = append(errs, fmt.Errorf("spans: %d must be between 1 and 100000", c.Spans))
	}
	return errors.Join(errs...)
}
