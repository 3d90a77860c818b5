package testbed

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

type hsRun struct {
	r       *Runner
	c       *Collector
	plan    *hsPlan
	res     *HeldScaleResult
	shipped hsShipped

	mu          sync.Mutex // serialises raises
	refusedOnce bool
	gen         atomic.Int64
	raised      map[string]any
	byLimit     map[string]float64
	acked       atomic.Int64 // spans of acknowledged build requests
	roots       atomic.Int64
	bytes       atomic.Int64
	refused     atomic.Int64
	unanswd     atomic.Int64
	neverAck    atomic.Int64
}

type hsShipped struct {
	MaxOpen, MaxHeld    int
	JournalMax          int64
	Tick, Snap, SnapMin time.Duration
}

// readShipped reads the limits and timings of config/otelcol-longspan.yaml, so the
// scenario runs at whatever the shipped config says.
func readShipped() (hsShipped, map[string]any, error) {
	s := hsShipped{MaxOpen: 1000000, MaxHeld: 1000000, Tick: time.Second, Snap: 10 * time.Second, SnapMin: 10 * time.Second}
	path, err := harness.DefaultConfig()
	if err != nil {
		return s, nil, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return s, nil, err
	}
	var cfg struct {
		Extensions struct {
			Spanjournal struct {
				MaxBytes *int64 `yaml:"max_bytes"`
			} `yaml:"spanjournal"`
		} `yaml:"extensions"`
		Processors struct {
			Longspan struct {
				Tick     string `yaml:"tick_interval"`
				Snapshot struct {
					Interval string `yaml:"interval"`
					MinAge   string `yaml:"min_age"`
				} `yaml:"snapshot"`
				Limits struct {
					MaxOpen *int `yaml:"max_open_spans"`
					MaxHeld *int `yaml:"max_held_spans"`
				} `yaml:"limits"`
			} `yaml:"longspan"`
		} `yaml:"processors"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return s, nil, err
	}
	l := cfg.Processors.Longspan
	if l.Limits.MaxOpen != nil {
		s.MaxOpen = *l.Limits.MaxOpen
	}
	if l.Limits.MaxHeld != nil {
		s.MaxHeld = *l.Limits.MaxHeld
	}
	if cfg.Extensions.Spanjournal.MaxBytes != nil {
		s.JournalMax = *cfg.Extensions.Spanjournal.MaxBytes
	}
	for _, x := range []struct {
		v string
		d *time.Duration
	}{{l.Tick, &s.Tick}, {l.Snapshot.Interval, &s.Snap}, {l.Snapshot.MinAge, &s.SnapMin}} {
		if d, err := time.ParseDuration(x.v); err == nil {
			*x.d = d
		}
	}
	shown := map[string]any{
		"processors::longspan::limits::max_open_spans": s.MaxOpen,
		"processors::longspan::limits::max_held_spans": s.MaxHeld,
		"extensions::spanjournal::max_bytes":           s.JournalMax,
		"processors::longspan::quotas":                 "as shipped",
		"processors::longspan::tick_interval":          s.Tick.String(),
		"processors::longspan::snapshot":               s.Snap.String() + " / min_age " + s.SnapMin.String(),
	}
	return s, shown, nil
}

// hsParams is the collector of the scenario: the shipped limits, quotas, tick and
// snapshot timings; idle_timeout long enough that the roots stay open through the build
// (the roots are also re-reported once), tail_sampling sized for every held trace.
func (h *hsRun) params() CollectorParams {
	s := h.shipped
	p := CollectorParams{
		Mode: Longspan, IdleTimeout: 2 * time.Hour, Tick: s.Tick, SnapInterval: s.Snap, SnapMinAge: s.SnapMin,
		MaxOpen: s.MaxOpen, MaxHeld: s.MaxHeld, JournalMax: s.JournalMax,
		NumTraces: max(200000, 2*h.plan.traces()), Overlay: map[string]any{},
	}
	for k, v := range h.raised {
		p.Overlay[k] = v
	}
	return p
}

// raiseFor maps a refusing limit (otelcol_longspan_requests_refused{limit}) to the overlay
// keys that lift it.
func (h *hsRun) raiseFor(limit string) map[string]any {
	n := h.plan.total
	switch {
	case limit == "max_open_spans":
		return map[string]any{"processors::longspan::limits::max_open_spans": int(2*n) + 1000}
	case limit == "max_held_spans":
		return map[string]any{"processors::longspan::limits::max_held_spans": int(2*n) + 1000}
	case limit == "max_journal_bytes":
		return map[string]any{"extensions::spanjournal::max_bytes": 0}
	case strings.HasPrefix(limit, "quota_"):
		parts := strings.Split(strings.TrimPrefix(limit, "quota_"), "_")
		if len(parts) < 2 {
			return nil
		}
		scope, bound := strings.Join(parts[:len(parts)-1], "_"), parts[len(parts)-1]
		key := map[string]string{"open": "max_open_spans", "held": "max_held_spans", "bytes": "max_bytes"}[bound]
		if key == "" {
			return nil
		}
		return map[string]any{"processors::longspan::quotas::" + scope + "::" + key: 0}
	}
	return nil
}

// onRefusal runs when an attempt of generation gen was refused: it reads which limits
// refused and, the first time a limit shows up, restarts the collector (same journal,
// same addresses) with that limit raised in the overlay. It returns false when nothing
// more can be raised (the caller backs off and retries a bounded number of times).
func (h *hsRun) onRefusal(gen int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen.Load() != gen {
		return true // someone raised since this attempt
	}
	if !h.refusedOnce {
		h.refusedOnce = true
		h.res.DefaultsRefused = len(h.raised) == 0
		h.res.DefaultsRefusedAt = h.acked.Load()
	}
	now, err := harness.MetricByLabel(h.c.Params.MetricsPort, "otelcol_longspan_requests_refused", "limit")
	if err != nil {
		return false
	}
	add := map[string]any{}
	for limit, v := range now {
		if v <= 0 {
			continue
		}
		for k, val := range h.raiseFor(limit) {
			if _, done := h.raised[k]; !done {
				add[k] = val
			}
		}
	}
	if len(add) == 0 || h.res.RaiseRestarts >= 6 {
		return false
	}
	for limit, v := range now {
		h.byLimit[limit] += v
	}
	for k, v := range add {
		h.raised[k] = v
	}
	h.r.logf("held_scale: refused at %d acked spans by %s; restarting with %v", h.acked.Load(), limitsString(now), add)
	h.c.Stop()
	p := h.params()
	p.Endpoints, p.Backend, p.JournalDir = h.c.Params.Endpoints, h.c.Params.Backend, h.c.Params.JournalDir
	h.res.RaiseRestarts++
	cfgs, err := RenderConfig(h.r.env.WorkDir, fmt.Sprintf("%s-raised%d", h.c.Name, h.res.RaiseRestarts), p)
	if err == nil {
		err = harness.Validate(h.r.env.Bin, cfgs...)
	}
	if err == nil {
		err = harness.CheckTopology(h.r.env.Bin, cfgs...)
	}
	if err != nil {
		h.r.logf("held_scale: raised config: %v", err)
		return false
	}
	h.c.Configs, h.c.Params = cfgs, p.withDefaults()
	if _, err := h.c.Start(); err != nil {
		h.r.logf("held_scale: restart with raised limits: %v", err)
		return false
	}
	h.gen.Add(1)
	return true
}

// send sends one build request: single attempts, a refusal raises the refusing limit
// (see onRefusal), unanswered attempts (the collector restarting) are retried, bounded.
func (h *hsRun) send(snd *Sender, td ptrace.Traces) bool {
	deadline := time.Now().Add(3 * time.Minute)
	backoff := 100 * time.Millisecond
	for time.Now().Before(deadline) {
		gen := h.gen.Load()
		res := snd.SendTraces(context.Background(), td, false, Retry{})
		if res.Acked {
			return true
		}
		if res.Refused > 0 {
			h.refused.Add(1)
			if h.onRefusal(gen) {
				continue
			}
		} else {
			h.unanswd.Add(1)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
	h.neverAck.Add(1)
	return false
}

// forClients runs fn for each client in [lo, hi) on `workers` goroutines, each client
// with its own sender bound to its own loopback address.
func (h *hsRun) forClients(lo, hi, workers int, fn func(c int, snd *Sender)) {
	var next atomic.Int64
	next.Store(int64(lo))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1) - 1)
				if c >= hi {
					return
				}
				snd, err := NewSenderWith(h.c.Params.GRPC, h.c.Params.HTTP, SenderOptions{LocalIP: hsClientIP(c)})
				if err != nil {
					h.r.logf("held_scale: sender for client %d: %v", c, err)
					h.neverAck.Add(1)
					continue
				}
				snd.Timeout = 60 * time.Second
				fn(c, snd)
				snd.Close()
			}
		}()
	}
	wg.Wait()
}

var hsMarshaler ptrace.ProtoMarshaler

func (h *hsRun) build(lo, hi, workers int) {
	h.forClients(lo, hi, workers, func(c int, snd *Sender) {
		h.plan.clientRequests(c, func(td ptrace.Traces, spans, roots int) bool {
			size := hsMarshaler.TracesSize(td)
			if h.send(snd, td) {
				h.acked.Add(int64(spans))
				h.roots.Add(int64(roots))
				h.bytes.Add(int64(size))
			}
			return true
		})
	})
}
