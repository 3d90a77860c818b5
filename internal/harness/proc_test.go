package harness

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

func TestProcKill9AndStop(t *testing.T) {
	dir := t.TempDir()
	p, err := StartProc("sleep", "sleep", []string{"60"}, nil, filepath.Join(dir, "sleep.log"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Exited() || p.Err() != nil {
		t.Fatalf("just started: exited %v, err %v", p.Exited(), p.Err())
	}
	p.Kill9()
	if !p.Exited() || p.Err() == nil {
		t.Fatalf("after Kill9: exited %v, err %v", p.Exited(), p.Err())
	}
	q, err := StartProc("sleep2", "sleep", []string{"60"}, nil, filepath.Join(dir, "sleep.log"))
	if err != nil {
		t.Fatal(err)
	}
	q.Stop(10 * time.Second)
	if !q.Exited() {
		t.Fatal("Stop returned with the process running")
	}
	if _, err := WaitHTTP200("http://127.0.0.1:1/", q, time.Second, 10*time.Millisecond); err == nil {
		t.Error("WaitHTTP200 on an exited process: no error")
	}
}

func TestScrape(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# HELP x\notelcol_a_total{k=\"1\"} 2\notelcol_a{k=\"2\"} 3\notelcol_ab 100\n")
	})
	mux.HandleFunc("/v1/open-spans", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"total_open": 7, "held_spans": 2, "open_spans": [{"trace_id": "t", "span_id": %q}]}`, r.URL.Query().Get("limit"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	if v, err := MetricAt(PortOf(addr), "otelcol_a"); err != nil || v != 5 {
		t.Errorf("MetricAt = %v, %v; want 5", v, err)
	}
	v, err := OpenSpansAt(addr, 1)
	if err != nil || v.TotalOpen != 7 || v.HeldSpans != 2 || len(v.OpenSpans) != 1 || v.OpenSpans[0].SpanID != "1" {
		t.Errorf("OpenSpansAt = %+v, %v", v, err)
	}
	if v, _ := OpenSpansAt(addr, 0); v.OpenSpans[0].SpanID != "" {
		t.Errorf("limit 0 sent ?limit=%s", v.OpenSpans[0].SpanID)
	}
	if _, err := WaitHTTP200("http://"+addr+"/metrics", nil, time.Second, 10*time.Millisecond); err != nil {
		t.Error(err)
	}
}
