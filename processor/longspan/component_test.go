package longspan

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// fixturesDir holds the wire samples: what real clients send, as OTLP/JSON.
const fixturesDir = "../../testdata/wire"

// fixtureBytes loads one wire sample as sent.
func fixtureBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, name))
	require.NoError(t, err, "the wire samples live in testdata/wire at the repository root")
	return b
}

// readFixture loads one OTLP/JSON wire sample of traces.
func readFixture(t *testing.T, name string) ptrace.Traces {
	t.Helper()
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(fixtureBytes(t, name))
	require.NoError(t, err)
	return td
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// newTailSampler builds the stock tail_sampling processor: always_sample, decision_wait.
func newTailSampler(t testing.TB, decisionWait time.Duration, next consumer.Traces) processor.Traces {
	t.Helper()
	f := tailsamplingprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"decision_wait": decisionWait.String(),
		"policies":      []any{map[string]any{"name": "keep-all", "type": "always_sample"}},
	}).Unmarshal(cfg))
	tsp, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(t, err)
	require.NoError(t, tsp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, tsp.Shutdown(context.Background())) })
	return tsp
}

// startOTLPHTTP runs the stock OTLP receiver on loopback HTTP, feeding next.
func startOTLPHTTP(t *testing.T, next *longspanProcessor) string {
	t.Helper()
	addr := freeAddr(t)
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"protocols": map[string]any{"http": map[string]any{"endpoint": addr}},
	}).Unmarshal(cfg))
	rcv, err := f.CreateTraces(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, rcv.Shutdown(context.Background())) })
	return "http://" + addr + "/v1/traces"
}

func postJSON(t *testing.T, url string, td ptrace.Traces) int {
	t.Helper()
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	return resp.StatusCode
}

// TestFixturesThroughReceiverAndTailSampling runs the browser's real wire samples
// through the stock OTLP receiver, longspan and the stock tail_sampling processor: the
// ended child and the reconciled page.session must leave tail sampling in one batch.
func TestFixturesThroughReceiverAndTailSampling(t *testing.T) {
	open := readFixture(t, "otel-js-open-span.json")
	child := readFixture(t, "otel-js-ended-child.json")
	openSpan := open.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	require.Zero(t, openSpan.EndTimestamp(), "the browser sends an open span with end time 0")

	clk := &manualClock{now: openSpan.StartTimestamp().AsTime().Add(time.Second)}
	sampled := new(consumertest.TracesSink)
	tsp := newTailSampler(t, 200*time.Millisecond, sampled)
	h := newHarnessWith(t, t.TempDir(), clk, func(c *Config) { c.IdleTimeout = time.Minute }, tsp)
	url := startOTLPHTTP(t, h.proc)

	require.Equal(t, http.StatusOK, postJSON(t, url, open))
	lastSeen := clk.Now()
	require.Equal(t, http.StatusOK, postJSON(t, url, child))
	assert.Equal(t, 1, h.openCount())

	h.advance(time.Minute)
	require.Eventually(t, func() bool { return sampled.SpanCount() == 2 }, 10*time.Second, 10*time.Millisecond,
		"tail_sampling releases the complete trace after decision_wait")
	got := allSpans(sampled)
	require.Len(t, got, 1, "the child and its reconciled parent leave tail sampling in one batch")
	parent, ok := findSpan(got[0], openSpan.SpanID())
	require.True(t, ok)
	assert.Equal(t, "page.session", parent.Name())
	assert.Equal(t, ptrace.StatusCodeError, parent.Status().Code())
	assert.Equal(t, engine.ReasonIdleTimeout, attr(parent, attrCloseReason))
	assert.Equal(t, lastSeen.UnixNano(), int64(parent.EndTimestamp()))
	assert.Equal(t, "http://127.0.0.1:39115/", attr(parent, "page.url"), "the client's attributes are kept")
	kid, ok := findSpan(got[0], child.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SpanID())
	require.True(t, ok)
	assert.Equal(t, "1", attr(kid, "child.n"))
}

// TestLimitBecomesRetryableHTTPStatus checks what an SDK sees past a limit: a status
// its OTLP exporter retries.
func TestLimitBecomesRetryableHTTPStatus(t *testing.T) {
	open := readFixture(t, "otel-js-open-span.json")
	start := open.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).StartTimestamp().AsTime()
	h := newHarness(t, t.TempDir(), &manualClock{now: start}, func(c *Config) { c.Limits.MaxOpenSpans = 1 })
	url := startOTLPHTTP(t, h.proc)
	require.Equal(t, http.StatusOK, postJSON(t, url, open))

	other := ptrace.NewTraces()
	open.CopyTo(other)
	s := other.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	s.SetSpanID([8]byte{9, 9, 9, 9, 9, 9, 9, 9})
	assert.Equal(t, http.StatusServiceUnavailable, postJSON(t, url, other))
}
