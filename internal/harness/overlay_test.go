package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestOverlaySetAndWrite(t *testing.T) {
	o := NewOverlay(Endpoints{GRPC: "127.0.0.1:1", HTTP: "127.0.0.1:2", Health: "127.0.0.1:3", JournalHTTP: "127.0.0.1:4", MetricsPort: 5}, "/j").
		Set("processors::longspan::idle_timeout", 90*time.Second).
		Set("processors::longspan::snapshot::interval", time.Second).
		SetExporters("traces/sample", "file/test")
	path := filepath.Join(t.TempDir(), "o.yaml")
	if err := o.Write(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	ls := got["processors"].(map[string]any)["longspan"].(map[string]any)
	if ls["idle_timeout"] != "1m30s" || ls["snapshot"].(map[string]any)["interval"] != "1s" {
		t.Errorf("durations: %v", ls)
	}
	pipe := got["service"].(map[string]any)["pipelines"].(map[string]any)["traces/sample"].(map[string]any)
	if len(pipe) != 1 || pipe["exporters"].([]any)[0] != "file/test" {
		t.Errorf("traces/sample: %v", pipe)
	}
	if !strings.Contains(string(raw), "port: 5") || !strings.Contains(string(raw), "directory: /j") {
		t.Errorf("overlay:\n%s", raw)
	}
	if ep := NewOverlay(Endpoints{}, "/j"); !hasPath(ep, []string{"service", "telemetry", "metrics", "level"}) {
		t.Errorf("no metrics port: want level none, got %v", ep["service"])
	}
}

func TestCheckOverlay(t *testing.T) {
	def, err := DefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	ok := func() Overlay {
		return NewOverlay(Endpoints{GRPC: "a", HTTP: "b", Health: "c", JournalHTTP: "d", MetricsPort: 1}, "/j").
			Set("processors::longspan::idle_timeout", time.Second).
			Set("processors::longspan::limits::max_open_spans", 10).
			Set("processors::tail_sampling::policies", []any{map[string]any{"name": "p", "type": "always_sample"}}).
			Set("exporters::file/test::path", "/out").
			Set("exporters::file/live::path", "/live").
			SetExporters("traces/sample", "file/test").
			SetExporters("traces/live", "file/live")
	}
	if err := CheckOverlay(def, ok()); err != nil {
		t.Fatalf("a valid overlay: %v", err)
	}
	for _, bad := range []struct{ path string }{
		{"service::pipelines::traces/sample::processors"},
		{"service::pipelines::traces/in::receivers"},
		{"service::pipelines::traces/new::exporters"},
		{"service::extensions"},
		{"processors::longspan::no_such_knob"},
		{"processors::batch::timeout"},
		{"exporters::file/live::no_such_knob"},
	} {
		err := CheckOverlay(def, ok().Set(bad.path, []string{"x"}))
		if err == nil || !strings.Contains(err.Error(), bad.path) {
			t.Errorf("setting %s: got %v, want it named", bad.path, err)
		}
	}
}

const baseTopology = `
connectors: {forward/a: {}}
service:
  extensions: [health_check, spanjournal]
  pipelines:
    traces/in: {receivers: [otlp], processors: [longspan], exporters: [forward/a]}
    traces/out: {receivers: [forward/a], processors: [tail_sampling], exporters: [debug, file]}
`

func TestCompareTopology(t *testing.T) {
	parse := func(s string) map[string]any {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	base := parse(baseTopology)
	if err := compareTopology(base, parse(strings.Replace(baseTopology, "[debug, file]", "[otlp_grpc/backend]", 1))); err != nil {
		t.Errorf("other exporters: %v", err)
	}
	for name, merged := range map[string]string{
		"processors": strings.Replace(baseTopology, "[longspan]", "[memory_limiter, longspan]", 1),
		"receivers":  strings.Replace(baseTopology, "receivers: [otlp]", "receivers: [otlp/2]", 1),
		"connectors": strings.Replace(baseTopology, "exporters: [forward/a]", "exporters: [debug]", 1),
		"extensions": strings.Replace(baseTopology, "[health_check, spanjournal]", "[health_check]", 1),
		"pipelines":  baseTopology + "    logs: {receivers: [otlp], exporters: [debug]}\n",
	} {
		if err := compareTopology(base, parse(merged)); err == nil {
			t.Errorf("%s changed: no error", name)
		}
	}
}
