package testbed

import (
	"testing"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// The longspan-mode overlay only tunes the default config (the binary-level check,
// harness.CheckTopology, runs in NewCollector).
func TestLongspanOverlayOnlyTunesTheDefault(t *testing.T) {
	def, err := harness.DefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, p := range map[string]CollectorParams{
		"completeness": {Mode: Longspan, SamplePercent: 50, SnapInterval: 500 * time.Millisecond},
		"recovery":     {Mode: Longspan, IdleTimeout: time.Hour, MaxOpen: 10, MaxHeld: 10},
		"no-routing":   {Mode: Longspan, NoRouting: true},
		"baseline":     {Mode: Baseline},
		"quotas-off":   {Mode: Longspan, Overlay: quotasOff()},
		"abuse-direct": {Mode: Longspan, Overlay: abuseQuotas.overlay("")},
		"abuse-proxy":  {Mode: Longspan, Overlay: abuseQuotas.overlay(abuseHeader)},
		"held-scale":   heldScaleParams(t),
	} {
		p.Endpoints = harness.Endpoints{GRPC: "127.0.0.1:1", HTTP: "127.0.0.1:2", Health: "127.0.0.1:3", JournalHTTP: "127.0.0.1:4", MetricsPort: 5}
		p.JournalDir = dir
		if p.Mode == Longspan {
			if err := harness.CheckOverlay(def, p.withDefaults().longspanOverlay()); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		files, err := RenderConfig(dir, name, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := map[bool]int{false: 2, true: 4}[p.NoRouting]
		if p.Mode == Baseline {
			want = 1
		} else if files[0] != def {
			t.Errorf("%s: first config %s, want the default %s", name, files[0], def)
		}
		if len(files) != want {
			t.Errorf("%s: %d config files %v, want %d", name, len(files), files, want)
		}
	}
}

// heldScaleParams is held_scale's collector with every limit raised that it may raise.
func heldScaleParams(t *testing.T) CollectorParams {
	h := &hsRun{plan: newHSPlan(1000, 1), raised: map[string]any{}}
	var err error
	if h.shipped, _, err = readShipped(); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"max_open_spans", "max_held_spans", "max_journal_bytes", "quota_per_client_held", "quota_no_session_bytes"} {
		for k, v := range h.raiseFor(l) {
			h.raised[k] = v
		}
	}
	return h.params()
}
