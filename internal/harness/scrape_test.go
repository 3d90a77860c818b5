package harness

import (
	"fmt"
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
