// Package e2e holds end-to-end tests of the built otelcol-longspan binary.
//
// The tests are behind the `e2e` build tag, so a plain `go test ./...` compiles nothing here.
// Run them with `make e2e`, or:
//
//	make build
//	LONGSPAN_BINARY=$PWD/_build/otelcol-longspan go test -count=1 -tags e2e -v ./test/e2e/...
//
// Environment:
//
//	LONGSPAN_BINARY  path to the collector binary (default ../../_build/otelcol-longspan; the test
//	                 skips if the default is missing and fails if an explicit path is missing)
//
// The collector runs on the default config, config/otelcol-longspan.yaml, plus an overlay the
// test writes to its temp dir (loopback addresses, short timings, file exporters for the two
// traces branches); internal/harness starts and kills it and checks that the overlay leaves
// the default's pipelines as they are. The wire samples come from testdata/wire at the
// repository root.
package e2e
