// Package harness runs the built collector as a separate process, for the end-to-end test
// (test/e2e) and the testbed: start, kill -9 and stop processes by PID, wait for health,
// pick free ports, read /proc, scrape the collector's own metrics and the spanjournal's
// open-span view, and write the configuration overlay every harness layers over the one
// topology, config/otelcol-longspan.yaml.
//
// Errors are returned, never reported through testing.T: the testbed driver is a plain
// program, and the e2e test wraps them with t.Fatal.
package harness
