package harness

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMetricByLabel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# HELP otelcol_longspan_requests_refused_total Requests refused.
# TYPE otelcol_longspan_requests_refused_total counter
otelcol_longspan_requests_refused_total{limit="quota_per_client_open",otel_scope_name="x",processor="longspan"} 7
otelcol_longspan_requests_refused_total{limit="quota_per_client_open",otel_scope_name="x",processor="longspan/2"} 3
otelcol_longspan_requests_refused_total{otel_scope_name="x",limit="max_open_spans"} 2
otelcol_longspan_requests_refused_total{note="a \"quoted\", value",limit="quota_no_session_open"} 1.5
otelcol_longspan_requests_refused_other_total{limit="quota_per_client_open"} 100
otelcol_longspan_requests_refused 4
`)
	}))
	defer srv.Close()
	got, err := MetricByLabel(PortOf(srv.Listener.Addr().String()), "otelcol_longspan_requests_refused", "limit")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"quota_per_client_open": 10, "max_open_spans": 2, "quota_no_session_open": 1.5, "": 4}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// HistogramAt finds the histogram under its unit suffix, sums its buckets over labels
// and ignores other metrics sharing the prefix.
func TestHistogramAt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# TYPE otelcol_spanjournal_view_lock_duration_seconds histogram
otelcol_spanjournal_view_lock_duration_seconds_bucket{otel_scope_name="x",le="0.001"} 3
otelcol_spanjournal_view_lock_duration_seconds_bucket{otel_scope_name="x",le="0.005"} 4
otelcol_spanjournal_view_lock_duration_seconds_bucket{otel_scope_name="x",le="+Inf"} 4
otelcol_spanjournal_view_lock_duration_seconds_bucket{otel_scope_name="y",le="0.001"} 1
otelcol_spanjournal_view_lock_duration_seconds_bucket{otel_scope_name="y",le="0.005"} 1
otelcol_spanjournal_view_lock_duration_seconds_bucket{otel_scope_name="y",le="+Inf"} 1
otelcol_spanjournal_view_lock_duration_seconds_sum 0.01
otelcol_spanjournal_view_lock_duration_seconds_count 5
otelcol_spanjournal_view_lock_duration_other_bucket{le="0.001"} 100
`)
	}))
	defer srv.Close()
	name, h, err := HistogramAt(PortOf(srv.Listener.Addr().String()), "otelcol_spanjournal_view_lock_duration")
	if err != nil {
		t.Fatal(err)
	}
	if name != "otelcol_spanjournal_view_lock_duration_seconds" {
		t.Errorf("name %q", name)
	}
	want := Histogram{0.001: 4, 0.005: 5, math.Inf(1): 5}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", h, want)
	}
	if m := h.MaxSince(nil); m == nil || *m != 0.005 {
		t.Errorf("max bound %v, want 0.005", m)
	}
	if m := h.MaxSince(Histogram{0.001: 3, 0.005: 4, math.Inf(1): 4}); m == nil || *m != 0.001 {
		t.Errorf("max bound since %v, want 0.001 (the one new observation)", m)
	}
	if m := h.MaxSince(h); m != nil {
		t.Errorf("nothing observed, max %v", *m)
	}
}

func TestHistogramQuantileSince(t *testing.T) {
	before := Histogram{1: 0, 5: 0, 10: 0, math.Inf(1): 0}
	after := Histogram{1: 50, 5: 90, 10: 100, math.Inf(1): 100}
	v, n := after.QuantileSince(before, 0.99)
	if v == nil || n != 100 || math.Abs(*v-9.5) > 1e-9 {
		t.Fatalf("p99 %v over %v, want 9.5 over 100", v, n)
	}
	after[math.Inf(1)] = 200
	if v, _ := after.QuantileSince(before, 0.99); v == nil || *v != 10 {
		t.Fatalf("p99 in +Inf: %v, want the largest finite bound 10", v)
	}
	if v, n := after.QuantileSince(after, 0.99); v != nil || n != 0 {
		t.Fatalf("no ticks: %v, %v", v, n)
	}
}
