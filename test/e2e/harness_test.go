//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// waitLimit bounds every wait in these tests.
const waitLimit = 60 * time.Second

// repoRoot is the repository root, seen from this package's directory (where `go test` runs).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// binaryPath finds the collector binary: $LONGSPAN_BINARY, else ../../_build/otelcol-longspan.
// A missing default binary skips the test; a missing explicit one fails it.
func binaryPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LONGSPAN_BINARY"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("LONGSPAN_BINARY=%s: %v (run `make build`)", p, err)
		}
		return abs
	}
	p := filepath.Join(repoRoot(t), "_build", "otelcol-longspan")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("collector binary %s not found (run `make build` or set LONGSPAN_BINARY): %v", p, err)
	}
	return p
}

// TestMain stops every collector on Ctrl-C: they run in process groups of their own.
func TestMain(m *testing.M) {
	harness.KillAllOnSignal()
	os.Exit(m.Run())
}

// defaultConfig is config/otelcol-longspan.yaml, the topology the test runs with an overlay.
func defaultConfig(t *testing.T) string {
	t.Helper()
	p, err := harness.DefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeOverlay writes o to path and returns the collector's --config files: the default
// config, then o. It fails the test unless o only tunes the default and, merged, leaves its
// pipelines as they are (the overlay replaces exporters, never receivers or processors).
func writeOverlay(t *testing.T, bin, def string, o harness.Overlay, path string) []string {
	t.Helper()
	if err := harness.CheckOverlay(def, o); err != nil {
		t.Fatal(err)
	}
	if err := o.Write(path); err != nil {
		t.Fatal(err)
	}
	if err := harness.CheckTopology(bin, def, path); err != nil {
		t.Fatal(err)
	}
	return []string{def, path}
}

// startCollector runs the binary on configs, output to logDir/name.log. Cleanup stops it
// and, when the test failed, dumps its log.
func startCollector(t *testing.T, name, bin string, configs []string, logDir string) *harness.Proc {
	t.Helper()
	p, err := harness.StartProc(name, bin, harness.ConfigArgs(configs...), nil, filepath.Join(logDir, name+".log"))
	if err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Logf("%s: started pid %d, log %s", name, p.Pid(), p.LogPath)
	t.Cleanup(func() {
		p.Stop(15 * time.Second)
		if t.Failed() {
			dumpFile(t, p.Name+" log", p.LogPath, 64<<10)
		}
	})
	return p
}

// waitHealthy polls the health_check extension until it answers 200.
func waitHealthy(t *testing.T, p *harness.Proc, healthAddr string) {
	t.Helper()
	if _, err := harness.WaitHTTP200("http://"+healthAddr+"/", p, waitLimit, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

// kill9 sends SIGKILL and waits for the process to be gone.
func kill9(t *testing.T, p *harness.Proc) {
	t.Helper()
	if p.Exited() {
		t.Fatalf("%s exited before kill -9: %v", p.Name, p.Err())
	}
	p.Kill9()
	if !p.Exited() {
		t.Fatalf("%s did not die after SIGKILL", p.Name)
	}
	t.Logf("%s: killed with SIGKILL", p.Name)
}

// eventually polls cond every 100ms until it returns true, failing after limit (or as soon as
// the collector, when given, exits). cond's string describes the last state for the message.
func eventually(t *testing.T, c *harness.Proc, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var state string
	for {
		var ok bool
		ok, state = cond()
		if ok {
			return
		}
		if c != nil && c.Exited() {
			t.Fatalf("waiting for %s: collector %s exited: %v (last state: %s)", what, c.Name, c.Err(), state)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last state: %s)", limit, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// postTraces posts OTLP/JSON to /v1/traces, retrying refusals the processor marks as
// retryable (429/503) and connection errors within waitLimit.
func postTraces(t *testing.T, httpAddr string, td ptrace.Traces) {
	t.Helper()
	body, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + httpAddr + "/v1/traces"
	client := &http.Client{Timeout: 10 * time.Second}
	eventually(t, nil, waitLimit, "POST "+url+" accepted", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		switch resp.StatusCode {
		case http.StatusOK:
			return true, ""
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			return false, fmt.Sprintf("%s: %s", resp.Status, msg)
		default:
			t.Fatalf("POST %s: %s: %s", url, resp.Status, msg)
			return false, ""
		}
	})
}

// loadFixture reads an OTLP/JSON wire sample from testdata/wire at the repository root.
func loadFixture(t *testing.T, name string) ptrace.Traces {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "wire", name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return td
}

// shiftTimes moves every non-zero span start/end time by d.
func shiftTimes(td ptrace.Traces, d time.Duration) {
	eachSpan(td, func(_ ptrace.ResourceSpans, s ptrace.Span) {
		if st := s.StartTimestamp(); st != 0 {
			s.SetStartTimestamp(pcommon.Timestamp(int64(st) + int64(d)))
		}
		if et := s.EndTimestamp(); et != 0 {
			s.SetEndTimestamp(pcommon.Timestamp(int64(et) + int64(d)))
		}
	})
}

func eachSpan(td ptrace.Traces, fn func(ptrace.ResourceSpans, ptrace.Span)) {
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				fn(rs, ss.Spans().At(k))
			}
		}
	}
}

func firstSpan(t *testing.T, td ptrace.Traces) ptrace.Span {
	t.Helper()
	var found ptrace.Span
	ok := false
	eachSpan(td, func(_ ptrace.ResourceSpans, s ptrace.Span) {
		if !ok {
			found, ok = s, true
		}
	})
	if !ok {
		t.Fatal("fixture has no span")
	}
	return found
}

// batch is one line of the file exporter's JSON output: one ConsumeTraces call.
type batch struct {
	line int
	td   ptrace.Traces
}

// readBatches parses the complete lines of a file exporter output file (format: json).
// A missing file is an empty result; a trailing partial line is ignored.
func readBatches(t *testing.T, path string) []batch {
	t.Helper()
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []batch
	r := bufio.NewReader(bytes.NewReader(raw))
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err != nil { // io.EOF: no newline yet -> partial line, not flushed completely
			break
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		td, uerr := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		if uerr != nil {
			t.Fatalf("%s line %d: not OTLP/JSON traces: %v", path, n, uerr)
		}
		out = append(out, batch{line: n, td: td})
	}
	return out
}

// spanRef is a span found in exporter output.
type spanRef struct {
	line int
	rs   ptrace.ResourceSpans
	span ptrace.Span
}

func findSpans(batches []batch, match func(ptrace.Span) bool) []spanRef {
	var out []spanRef
	for _, b := range batches {
		eachSpan(b.td, func(rs ptrace.ResourceSpans, s ptrace.Span) {
			if match(s) {
				out = append(out, spanRef{line: b.line, rs: rs, span: s})
			}
		})
	}
	return out
}

func strAttr(s ptrace.Span, key string) string {
	v, ok := s.Attributes().Get(key)
	if !ok {
		return ""
	}
	return v.AsString()
}

func countSpans(batches []batch) int {
	n := 0
	for _, b := range batches {
		n += b.td.SpanCount()
	}
	return n
}

func dumpFile(t *testing.T, what, path string, limit int64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Logf("---- %s (%s): %v", what, path, err)
		return
	}
	if int64(len(raw)) > limit {
		raw = append([]byte("...[truncated]...\n"), raw[int64(len(raw))-limit:]...)
	}
	t.Logf("---- %s (%s) ----\n%s\n---- end of %s ----", what, path, strings.TrimRight(string(raw), "\n"), what)
}
