// Command testbed runs the otelcol-longspan testbed (issue #6): the built distribution
// with and without longspan, side by side. See testbed/RESULTS.md.
//
//	go run ./testbed/cmd/testbed -quick     # reduced run, a few minutes
//	go run ./testbed/cmd/testbed -full      # everything (make testbed)
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
	"github.com/otelcol-longspan/otelcol-longspan/testbed"
)

func main() {
	if os.Getenv("TESTBED_ROLE") == "mockbackend" {
		if err := testbed.RunMockBackend(os.Getenv("TESTBED_BACKEND_GRPC"), os.Getenv("TESTBED_BACKEND_HTTP")); err != nil {
			fmt.Fprintln(os.Stderr, "mockbackend:", err)
			os.Exit(1)
		}
		return
	}
	quick := flag.Bool("quick", false, "reduced run (the one make testbed-quick / make test use)")
	full := flag.Bool("full", false, "full run (default)")
	out := flag.String("out", "testbed/results", "directory for latest.json")
	only := flag.String("only", "", "comma-separated scenarios: completeness,throughput,browser_load,crash_loop,recovery,overload,scale_out,abuse,held_scale,mobile")
	heldSpans := flag.Int64("held-spans", 0, "held_scale: held spans to build (default: 200000 quick, 10000000 full)")
	work := flag.String("workdir", "", "keep configs, journals and logs here (default: a temp dir)")
	repeat := flag.Int("repeat", 1, "scale_out: run it this many times, each a fresh deployment; latest.json gets runs, runs_passed and a summary per run")
	browserMeasure := flag.Duration("browser-measure", 0, "browser_load: measured window of each step (default: 20s full, 4s quick)")
	flag.Parse()
	_ = full
	o := testbed.FullOptions()
	if *quick {
		o = testbed.QuickOptions()
	}
	o.Bin = os.Getenv("LONGSPAN_BINARY")
	if o.Bin == "" {
		o.Bin = "_build/otelcol-longspan"
	}
	o.OutDir, o.WorkDir, o.Repeat = *out, *work, *repeat
	o.BrowserMeasure = *browserMeasure
	if *heldSpans > 0 {
		o.HeldSpans = *heldSpans
	}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	harness.KillAllOnSignal()
	res, err := testbed.Run(o)
	if res != nil {
		testbed.PrintTable(os.Stdout, res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testbed:", err)
		os.Exit(2)
	}
	if f := res.Failed(); len(f) > 0 {
		fmt.Fprintf(os.Stderr, "testbed: %d invariant(s) failed\n", len(f))
		os.Exit(1)
	}
}
