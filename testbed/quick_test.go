package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain doubles as the mock backend process: the testbed re-executes this test
// binary with TESTBED_ROLE=mockbackend.
func TestMain(m *testing.M) {
	if os.Getenv("TESTBED_ROLE") == "mockbackend" {
		if err := RunMockBackend(os.Getenv("TESTBED_BACKEND_GRPC"), os.Getenv("TESTBED_BACKEND_HTTP")); err != nil {
			fmt.Fprintln(os.Stderr, "mockbackend:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuick is `make testbed-quick`: the reduced testbed against the built binary. It
// asserts the zero-loss and completeness invariants, never timings. It runs only with
// LONGSPAN_TESTBED=1 (so `go test -race ./...` skips it) and needs the binary
// ($LONGSPAN_BINARY, else ../_build/otelcol-longspan).
func TestQuick(t *testing.T) {
	if os.Getenv("LONGSPAN_TESTBED") != "1" {
		t.Skip("set LONGSPAN_TESTBED=1 to run the testbed (make testbed-quick)")
	}
	bin := os.Getenv("LONGSPAN_BINARY")
	if bin == "" {
		bin = filepath.Join("..", "_build", "otelcol-longspan")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("collector binary %s: %v (run `make build` or set LONGSPAN_BINARY)", bin, err)
	}
	o := QuickOptions()
	o.Bin = bin
	o.OutDir = "results"
	o.WorkDir = t.TempDir()
	if only := os.Getenv("TESTBED_ONLY"); only != "" {
		o.Only = strings.Split(only, ",")
	}
	o.Log = testWriter{t}
	res, err := Run(o)
	if res != nil {
		var sb strings.Builder
		PrintTable(&sb, res)
		t.Log(sb.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Failed() {
		t.Errorf("invariant failed: %s: %s", c.Name, c.Detail)
	}
	if len(res.Checks) == 0 {
		t.Error("no invariant was checked")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
