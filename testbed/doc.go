// Package testbed runs the built otelcol-longspan distribution as a separate process
// and compares it, in one run, with the same binary configured without longspan
// (otlp → tail_sampling → exporter, the stock answer). See README.md / RESULTS.md.
//
// Processes: the driver (this package, run by `go run ./testbed/cmd/testbed` or by the
// quick test) starts a mock OTLP backend (this same executable re-executed with
// TESTBED_ROLE=mockbackend) and the collector, drives the load generator in-process,
// and writes results/latest.json plus a printed table.
package testbed
