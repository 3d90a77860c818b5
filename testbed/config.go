package testbed

import (
	"os"
	"path/filepath"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// Mode is the collector configuration under test.
type Mode string

const (
	Baseline Mode = "baseline" // otlp → tail_sampling → otlp_grpc (stock answer)
	Longspan Mode = "longspan" // otlp → longspan → {tail_sampling, live} → otlp_grpc
)

// CollectorParams describes one collector configuration.
type CollectorParams struct {
	Mode Mode
	harness.Endpoints
	Backend       string // mock backend gRPC endpoint
	JournalDir    string
	SamplePercent float64 // 0 or 100 → always_sample
	DecisionWait  time.Duration
	IdleTimeout   time.Duration
	SnapInterval  time.Duration // 0 = off
	SnapMinAge    time.Duration
	Tick          time.Duration
	Retention     time.Duration
	MaxOpen       int
	MaxHeld       int
	JournalMax    int64 // 0 = unbounded
	NumTraces     int
	// NoRouting (longspan only, diagnostic): otlp → longspan → tail_sampling → backend,
	// without the snapshot_router connector.
	NoRouting bool
	// Overlay (longspan only) sets more of the default config's keys, path ("::"
	// separated, as harness.Overlay.Set) to value, after everything else.
	Overlay map[string]any
}

func (p CollectorParams) withDefaults() CollectorParams {
	if p.DecisionWait == 0 {
		p.DecisionWait = time.Second
	}
	if p.IdleTimeout == 0 {
		p.IdleTimeout = 3 * time.Second
	}
	if p.SnapMinAge == 0 {
		p.SnapMinAge = 500 * time.Millisecond
	}
	if p.Tick == 0 {
		p.Tick = 100 * time.Millisecond
	}
	if p.Retention == 0 {
		p.Retention = 5 * time.Second
	}
	if p.MaxOpen == 0 {
		p.MaxOpen = 1000000
	}
	if p.MaxHeld == 0 {
		p.MaxHeld = 1000000
	}
	if p.NumTraces == 0 {
		p.NumTraces = 200000
	}
	return p
}

const backendExporter = "otlp_grpc/backend"

// shared sets what both modes configure alike on c, a whole config (baseline) or an
// overlay (longspan): the receiver, tail_sampling, the backend exporter and telemetry.
func (p CollectorParams) shared(c harness.Overlay) harness.Overlay {
	c.Set("receivers::otlp::protocols::grpc::max_recv_msg_size_mib", 64)
	c.Set("processors::tail_sampling::decision_wait", p.DecisionWait)
	c.Set("processors::tail_sampling::num_traces", p.NumTraces)
	c.Set("processors::tail_sampling::decision_cache::sampled_cache_size", 200000)
	c.Set("processors::tail_sampling::decision_cache::non_sampled_cache_size", 200000)
	policy := map[string]any{"name": "keep-everything", "type": "always_sample"}
	if p.SamplePercent > 0 && p.SamplePercent < 100 {
		policy = map[string]any{"name": "probabilistic", "type": "probabilistic",
			"probabilistic": map[string]any{"sampling_percentage": p.SamplePercent}}
	}
	c.Set("processors::tail_sampling::policies", []any{policy})
	c.Set("exporters::"+backendExporter, map[string]any{
		"endpoint":         p.Backend,
		"tls":              map[string]any{"insecure": true},
		"compression":      "none",
		"sending_queue":    map[string]any{"enabled": false},
		"retry_on_failure": map[string]any{"enabled": true, "max_elapsed_time": "60s"},
	})
	c.Set("service::telemetry::logs::level", "warn")
	return c
}

// longspanOverlay is what a longspan-mode collector layers over the default config
// (config/otelcol-longspan.yaml, the one topology): the testbed's addresses and compressed
// timings, and the mock backend as the exporter of both traces branches. The logs pipeline
// keeps the default's exporter (debug/live, verbosity basic).
func (p CollectorParams) longspanOverlay() harness.Overlay {
	o := p.shared(harness.NewOverlay(p.Endpoints, p.JournalDir))
	o.Set("extensions::spanjournal::max_bytes", p.JournalMax)
	for k, v := range map[string]any{
		"idle_timeout":           p.IdleTimeout,
		"release_retention":      p.Retention,
		"tick_interval":          p.Tick,
		"snapshot::interval":     p.SnapInterval,
		"snapshot::min_age":      p.SnapMinAge,
		"limits::max_open_spans": p.MaxOpen,
		"limits::max_held_spans": p.MaxHeld,
	} {
		o.Set("processors::longspan::"+k, v)
	}
	// The backend exporter has no queue (shared): accepted means delivered.
	o.Set("processors::longspan_ack::delay", "0s")
	if !p.NoRouting {
		o.SetExporters("traces/sample", backendExporter)
		o.SetExporters("traces/live", backendExporter)
	}
	for path, v := range p.Overlay {
		o.Set(path, v)
	}
	return o
}

// noRoutingPipelines is the diagnostic NoRouting variant, the only configuration that
// replaces the default's service::pipelines wholesale (written after a file that sets them
// to null, since maps merge): otlp → memory_limiter → longspan → tail_sampling → backend,
// without the snapshot_router connector, to measure what the routing costs.
func noRoutingPipelines() harness.Overlay {
	return harness.Overlay{}.
		Set("service::pipelines::traces", map[string]any{
			"receivers":  []string{"otlp"},
			"processors": []string{"memory_limiter", "longspan", "tail_sampling"},
			"exporters":  []string{backendExporter},
		}).
		Set("service::pipelines::logs", map[string]any{
			"receivers":  []string{"otlp"},
			"processors": []string{"memory_limiter", "longspan"},
			"exporters":  []string{"debug/live"},
		})
}

// baselineConfig is the stock pipeline without longspan, the comparator: not our
// topology, so a configuration of its own.
func (p CollectorParams) baselineConfig() harness.Overlay {
	c := p.shared(harness.NewOverlay(p.Endpoints, ""))
	c.Set("service::extensions", []string{"health_check"})
	c.Set("service::pipelines::traces", map[string]any{
		"receivers":  []string{"otlp"},
		"processors": []string{"tail_sampling"},
		"exporters":  []string{backendExporter},
	})
	return c
}

// RenderConfig writes the configuration of p into dir and returns the --config files, in
// merge order: longspan mode is the default config plus an overlay; baseline a config of
// its own.
func RenderConfig(dir, name string, p CollectorParams) ([]string, error) {
	p = p.withDefaults()
	write := func(suffix string, c harness.Overlay) (string, error) {
		path := filepath.Join(dir, name+suffix+".yaml")
		return path, c.Write(path)
	}
	if p.Mode != Longspan {
		path, err := write("", p.baselineConfig())
		return []string{path}, err
	}
	def, err := harness.DefaultConfig()
	if err != nil {
		return nil, err
	}
	overlay, err := write("", p.longspanOverlay())
	if err != nil {
		return nil, err
	}
	if !p.NoRouting {
		return []string{def, overlay}, nil
	}
	reset := filepath.Join(dir, name+"-no-pipelines.yaml")
	if err := os.WriteFile(reset, []byte("service:\n  pipelines: null\n"), 0o644); err != nil {
		return nil, err
	}
	pipes, err := write("-pipelines", noRoutingPipelines())
	return []string{def, overlay, reset, pipes}, err
}
