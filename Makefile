# otelcol-longspan — build, run and test.
#
#   make build      ocb -> _build/otelcol-longspan (rebuilt only when inputs change)
#   make run        build, then run it with config/otelcol-longspan.yaml (journal under ./data/)
#   make test       lint + unit (-race) + fuzz + build + e2e + browser + hermes + testbed-quick
#   make lint       go vet + gofmt check + golangci-lint (pinned in tools/go.mod, .golangci.yml)
#   make unit       go test -race ./...
#   make fuzz       the longspan processor's fuzz targets, a fixed budget each (~1 min)
#   make e2e        build, then the end-to-end test against the binary (-tags e2e)
#   make browser    web client unit tests + five scenarios in headless Chromium
#   make hermes     the React Native client bundled as Metro does, run on the Hermes VM, posted to the binary
#   make testbed    full testbed run vs the stock pipeline (~20 min); testbed-quick: ~4 min
#   make validate   build, then `otelcol-longspan validate` every config in config/
#   make generate   mdatagen for our components
#   make tools      install pinned tools into .tools/bin
#   make clean      remove _build/ and data/        (make distclean also removes .tools/)
#   make jaeger     Jaeger v1.75.0 (tools/jaeger/go.mod) -> .tools/bin (cold ~10-16 min; not in make test)
#   make demo       Jaeger UI + the collector + a demo web shop on loopback, until Ctrl-C (JAEGER_UI_ASSETS=...)
#   make demo-shots the demo driven by headless Chromium: checks Jaeger's /api/traces, docs/demo-*.png
#
# Go's caches are not overridden: GOMODCACHE / GOCACHE / GOFLAGS from the environment are
# respected, so CI can cache them. Tools go to a project-local .tools/bin.

SHELL       := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

GO          ?= go
# All collector modules are pinned to one release (see builder-config.yaml).
OCB_VERSION ?= v0.161.0

TOOLS_BIN      := $(abspath .tools/bin)
OCB            := $(TOOLS_BIN)/builder-$(OCB_VERSION)
BUILDER_CONFIG ?= builder-config.yaml
BUILD_DIR      := _build
BINARY         := $(BUILD_DIR)/otelcol-longspan
# The shard tool of a scaled-out deployment (docs/scale-out.md), built next to the binary.
CTL            := $(BUILD_DIR)/longspanctl
CONFIG         ?= config/otelcol-longspan.yaml

UNIT_TIMEOUT ?= 30m
E2E_TIMEOUT  ?= 10m
UNIT_FLAGS   ?= -race -count=1 -timeout $(UNIT_TIMEOUT)
E2E_FLAGS    ?= -count=1 -timeout $(E2E_TIMEOUT) -v

# Our components live in the root module; the binary depends on all non-test Go sources of it.
COMPONENT_DIRS := wal extension processor connector internal pkg
# (All non-test files, so //go:embed'ed assets count too.)
GO_SOURCES := $(shell find $(COMPONENT_DIRS) -type f -not -name '*_test.go' -not -path '*/testdata/*' 2>/dev/null)
# Records which manifest / ocb / Go built the binary; rewritten (forcing a rebuild) when that changes,
# e.g. after `make build BUILDER_CONFIG=other.yaml`.
BUILD_STAMP := $(BUILD_DIR)/.build-inputs
# Every Go file we own or format-check (skips generated build dir, tools, node_modules).
GOFMT_FILES = $(shell find . -type f -name '*.go' \
                 -not -path './_build/*' -not -path './.tools/*' -not -path '*/node_modules/*' \
                 -not -path './data/*' -not -path './.git/*')

MDATAGEN_DIRS := processor/longspan extension/spanjournal

FORCE:

.PHONY: all build run test lint golangci vet fmt-check fmt unit fuzz e2e browser hermes testbed testbed-quick validate generate tools clean distclean env help jaeger demo demo-shots

all: test

help:
	@sed -n '2,22p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

env:
	@echo "go:         $$($(GO) version)"
	@echo "GOMODCACHE: $$($(GO) env GOMODCACHE)"
	@echo "GOCACHE:    $$($(GO) env GOCACHE)"
	@echo "ocb:        $(OCB)"
	@echo "binary:     $(abspath $(BINARY))"

# ---------------------------------------------------------------------------- tools
tools: $(OCB)

# Versioned file name: bumping OCB_VERSION installs the new one, an existing one is reused.
$(OCB):
	@mkdir -p $(TOOLS_BIN)
	@echo ">> installing ocb $(OCB_VERSION) into $(TOOLS_BIN)"
	GOBIN=$(TOOLS_BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	@mv -f $(TOOLS_BIN)/builder $@

# ---------------------------------------------------------------------------- build
build: $(BINARY) $(CTL)
	@echo ">> $(BINARY) and $(CTL) ready"

$(CTL): go.mod go.sum $(GO_SOURCES) $(shell find cmd -name '*.go' -not -name '*_test.go' 2>/dev/null)
	$(GO) build -o $@ ./cmd/longspanctl

$(BUILD_STAMP): FORCE
	@mkdir -p $(BUILD_DIR)
	@new="$(BUILDER_CONFIG) $$(sha256sum < $(BUILDER_CONFIG) | cut -d' ' -f1) ocb=$(OCB_VERSION) $$($(GO) env GOVERSION)"; \
	 if [ ! -f $@ ] || [ "$$(cat $@)" != "$$new" ]; then echo "$$new" > $@; fi

$(BINARY): $(OCB) $(BUILD_STAMP) $(BUILDER_CONFIG) go.mod go.sum $(GO_SOURCES)
	@echo ">> building $(BINARY) with ocb $(OCB_VERSION) ($(BUILDER_CONFIG))"
	@rm -f $@   # a failed build must not leave a stale binary behind for run/e2e
	@start=$$(date +%s); \
	 $(OCB) --config $(BUILDER_CONFIG); \
	 test -x $@ || { echo "ocb finished but $@ is missing" >&2; exit 1; }; \
	 touch $@; \
	 echo ">> built $@ in $$(( $$(date +%s) - start ))s"

run: $(BINARY)
	@mkdir -p data
	./$(BINARY) --config $(CONFIG)

# Every shipped configuration, including the scale-out example (its deploy.yaml is
# longspanctl's input, not a collector configuration).
validate: $(BINARY)
	@failed=""; for c in config/*.yaml $$(ls config/scale-out/*.yaml config/scale-out/k8s/*.yaml | grep -Ev '/(deploy|services|workloads|kustomization).yaml$$'); do \
	   if ./$(BINARY) validate --config $$c; then echo ">> validate $$c: ok"; \
	   else echo ">> validate $$c: FAILED"; failed="$$failed $$c"; fi; \
	 done; [ -z "$$failed" ]

# ---------------------------------------------------------------------------- lint
lint: vet fmt-check golangci

# golangci-lint v2.15.0 lives in its own module (tools/go.mod), so it never enters the
# collector's go.mod; `go tool` builds it on first use.
golangci:
	$(GO) tool -modfile=tools/go.mod golangci-lint run ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/...

fmt-check:
	@out=$$(gofmt -l $(GOFMT_FILES) </dev/null); \
	 if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; echo "(run: make fmt)"; exit 1; fi; \
	 echo ">> gofmt: ok"

fmt:
	gofmt -w $(GOFMT_FILES)

# ---------------------------------------------------------------------------- tests
unit:
	$(GO) test $(UNIT_FLAGS) ./...

# Hostile OTLP (issue #12): the fuzz targets of processor/longspan (fuzz_test.go) feed
# arbitrary traces and heartbeat logs, JSON and protobuf (FuzzTraces, FuzzLogs), and
# programs of requests, ticks and restarts (FuzzScenario) through the processor, and
# check that a restart replays the journal to the same state. Go fuzzes one target per
# invocation; a failing input is written to processor/longspan/testdata/fuzz/<Target>/.
# (`make unit` runs the seed corpus of each as ordinary tests.)
# A new interesting input is minimized for at most 1s (Go's default is 60s, which a short
# run would spend minimizing instead of fuzzing). Each target runs a fixed number of
# executions (~15-20 s each here), not a time: a time-bounded run can end in a spurious
# "context deadline exceeded" failure when the deadline falls while a worker is busy
# (seen once in make test, no failing input). FUZZTIME=10m (or 1000000x) overrides the
# budget of every target for a long local run.
FUZZTIME     ?=
FUZZ_FLAGS   ?= -fuzzminimizetime 1s
FUZZ_PKG     := ./processor/longspan/
FUZZ_TARGETS := FuzzScenario:1500x FuzzTraces:10000x FuzzLogs:10000x
fuzz:
	@for tc in $(FUZZ_TARGETS); do \
	   f=$${tc%%:*}; budget=$${tc#*:}; [ -n "$(FUZZTIME)" ] && budget="$(FUZZTIME)"; \
	   echo ">> fuzz $$f for $$budget"; \
	   $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $$budget $(FUZZ_FLAGS) $(FUZZ_PKG) || exit 1; \
	 done

e2e: $(BINARY)
	LONGSPAN_BINARY=$(abspath $(BINARY)) $(GO) test $(E2E_FLAGS) -tags e2e ./test/e2e/...

# The web client's unit tests and the five scenarios in headless Chromium (installs Debian's
# chromium and the npm packages when missing).
browser: $(BINARY)
	LONGSPAN_BINARY=$(abspath $(BINARY)) test/browser/run.sh

# The React Native client on the real engine (test/hermes/run.sh: installs node and the npm
# packages from the lockfiles when missing; bundles the app as Metro resolves packages, checks
# it with hermesc, runs it on hermes-engine-cli's VM with a virtual clock, posts what it sent
# to the built collector and checks the collector's output).
hermes: $(BINARY)
	LONGSPAN_BINARY=$(abspath $(BINARY)) test/hermes/run.sh

# The testbed (testbed/README.md): the built distribution against the same distribution
# without longspan, as separate processes. testbed-quick asserts the zero-loss and
# completeness invariants only (never timings); testbed is the full measured run.
TESTBED_TIMEOUT ?= 15m
testbed: $(BINARY) $(CTL)
	LONGSPAN_BINARY=$(abspath $(BINARY)) LONGSPANCTL=$(abspath $(CTL)) $(GO) run ./testbed/cmd/testbed -full

testbed-quick: $(BINARY) $(CTL)
	LONGSPAN_BINARY=$(abspath $(BINARY)) LONGSPANCTL=$(abspath $(CTL)) LONGSPAN_TESTBED=1 $(GO) test -count=1 -timeout $(TESTBED_TIMEOUT) -v -run TestQuick ./testbed/

# Runs every step even after a failure, then prints one summary line and fails if any failed.
TEST_STEPS := lint unit fuzz build validate e2e browser hermes testbed-quick
test:
	@start=$$(date +%s); failed=""; summary=""; \
	 for step in $(TEST_STEPS); do \
	   s=$$(date +%s); \
	   if $(MAKE) --no-print-directory --keep-going $$step; then r=ok; else r=FAIL; failed="$$failed $$step"; fi; \
	   summary="$$summary $$step=$$r($$(( $$(date +%s) - s ))s)"; \
	 done; \
	 total=$$(( $$(date +%s) - start )); \
	 if [ -z "$$failed" ]; then \
	   echo "== make test: PASS in $${total}s:$$summary"; \
	 else \
	   echo "== make test: FAIL in $${total}s:$$summary"; exit 1; \
	 fi

# ---------------------------------------------------------------------------- generate
generate:
	@for d in $(MDATAGEN_DIRS); do \
	   if [ -f $$d/metadata.yaml ]; then \
	     echo ">> mdatagen $$d"; (cd $$d && $(GO) tool mdatagen metadata.yaml); \
	   else \
	     echo ">> mdatagen: skip $$d (no metadata.yaml)"; \
	   fi; \
	 done

# ---------------------------------------------------------------------------- clean
clean:
	rm -rf $(BUILD_DIR) data

distclean: clean
	rm -rf .tools

# ---------------------------------------------------------------------------- demo (issue #22)
# Jaeger v1.75.0 as a Go tool in its own module (tools/jaeger/go.mod), so the distribution's
# go.mod stays clean; built once into .tools/bin (versioned name, like ocb). Cold: ~10-16 min
# and ~1.6 GB of build cache on 2 cores. Not part of make test.
JAEGER_VERSION := v1.75.0
JAEGER         := $(TOOLS_BIN)/jaeger-$(JAEGER_VERSION)

jaeger: $(JAEGER)

$(JAEGER): tools/jaeger/go.mod tools/jaeger/go.sum
	@grep -q 'github.com/jaegertracing/jaeger $(JAEGER_VERSION) ' tools/jaeger/go.mod || \
	 { echo "tools/jaeger/go.mod does not pin github.com/jaegertracing/jaeger $(JAEGER_VERSION)" >&2; exit 1; }
	@mkdir -p $(TOOLS_BIN)
	@echo ">> building jaeger $(JAEGER_VERSION) into $(TOOLS_BIN) (first time: ~10-16 min on 2 cores)"
	@start=$$(date +%s); \
	 cd tools/jaeger && $(GO) build -o $@ github.com/jaegertracing/jaeger/cmd/jaeger; \
	 echo ">> built $@ in $$(( $$(date +%s) - start ))s"

# Jaeger (UI and /api/traces on 127.0.0.1:16686), the collector on demo/otelcol-demo.yaml
# (OTLP/HTTP on 127.0.0.1:4318, journal in data/demo/journal, idle_timeout 30s, everything
# exported to Jaeger) and the demo shop on 127.0.0.1:8080; runs until Ctrl-C. The jaeger-ui
# v1.75.0 assets come from JAEGER_UI_ASSETS (a directory or .tar.gz of jaeger-ui's build
# output), else from .tools/jaeger-ui-v1.75.0, else they are downloaded there.
demo: build $(JAEGER)
	MAKE_TARGET=demo demo/run.sh demo

# The same stack driven by headless Chromium (a live session, a tab closed mid-checkout, a
# browser killed); fails unless Jaeger's /api/traces returns the expected spans; writes the
# screenshots docs/demo-*.png.
demo-shots: build $(JAEGER)
	MAKE_TARGET=demo-shots demo/run.sh shots
