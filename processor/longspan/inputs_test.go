package longspan

import (
	"bytes"
	"context"
	"encoding/base64"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	procharness "github.com/otelcol-longspan/otelcol-longspan/internal/harness"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// otlpEndpoints runs the stock OTLP receiver on loopback (HTTP and gRPC) feeding the
// harness: traces into the traces instance, logs into the logs instance.
type otlpEndpoints struct {
	httpBase string
	grpcAddr string
}

func startOTLP(t *testing.T, h *harness) otlpEndpoints {
	t.Helper()
	return startOTLPWith(t, h, nil, nil)
}

// startOTLPWith is startOTLP with more settings for the receiver's HTTP and gRPC
// protocols (size limits, include_metadata).
func startOTLPWith(t *testing.T, h *harness, httpCfg, grpcCfg map[string]any) otlpEndpoints {
	t.Helper()
	// Both picked at once: two picks one after the other may get the same port.
	addrs, err := procharness.FreeAddrs(2)
	require.NoError(t, err)
	ep := otlpEndpoints{grpcAddr: addrs[0]}
	httpAddr := addrs[1]
	ep.httpBase = "http://" + httpAddr
	httpCfg, grpcCfg = maps.Clone(httpCfg), maps.Clone(grpcCfg)
	if httpCfg == nil {
		httpCfg = map[string]any{}
	}
	if grpcCfg == nil {
		grpcCfg = map[string]any{}
	}
	httpCfg["endpoint"], grpcCfg["endpoint"] = httpAddr, ep.grpcAddr
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"protocols": map[string]any{
		"http": httpCfg,
		"grpc": grpcCfg,
	}}).Unmarshal(cfg))
	set := receivertest.NewNopSettings(f.Type())
	tr, err := f.CreateTraces(context.Background(), set, cfg, h.proc)
	require.NoError(t, err)
	lr, err := f.CreateLogs(context.Background(), set, cfg, h.logs)
	require.NoError(t, err)
	// The factory shares one receiver between signals: start it once.
	require.NoError(t, tr.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, lr.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		require.NoError(t, tr.Shutdown(context.Background()))
		require.NoError(t, lr.Shutdown(context.Background()))
	})
	return ep
}

func (ep otlpEndpoints) post(t *testing.T, path string, body []byte) {
	t.Helper()
	resp, err := http.Post(ep.httpBase+path, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func (ep otlpEndpoints) postFixture(t *testing.T, name string) {
	t.Helper()
	b := fixtureBytes(t, name)
	path := "/v1/traces"
	if bytes.Contains(b, []byte(`"resourceLogs"`)) {
		path = "/v1/logs"
	}
	ep.post(t, path, b)
}

func (ep otlpEndpoints) sendGRPC(t *testing.T, td ptrace.Traces) {
	t.Helper()
	conn, err := grpc.NewClient(ep.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	_, err = ptraceotlp.NewGRPCClient(conn).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(td))
	require.NoError(t, err)
}

func newInputsHarness(t *testing.T, dir string, clk *manualClock, mutate func(*Config)) (*harness, otlpEndpoints) {
	h := newHarness(t, dir, clk, mutate)
	h.startLogs()
	return h, startOTLP(t, h)
}

func TestEmbraceInterruptedSpanKeepsClientEndAndIsMarked(t *testing.T) {
	fixture := readFixture(t, "embrace-user-abandon.json")
	want := fixture.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	for _, transport := range []string{"http", "grpc"} {
		t.Run(transport, func(t *testing.T) {
			h, ep := newInputsHarness(t, t.TempDir(), &manualClock{now: t0}, nil)
			if transport == "http" {
				ep.postFixture(t, "embrace-user-abandon.json")
			} else {
				ep.sendGRPC(t, fixture)
			}
			got := allSpans(h.sink)
			require.Len(t, got, 1)
			s := got[0][0]
			assert.Equal(t, "checkout-flow", s.Name())
			assert.Equal(t, want.EndTimestamp(), s.EndTimestamp(), "the client's end time is kept")
			assert.Equal(t, ptrace.StatusCodeError, s.Status().Code())
			assert.Equal(t, engine.ReasonClientInterrupted, attr(s, attrCloseReason))
			assert.Equal(t, sourceEmbrace, attr(s, attrSource))
			assert.Equal(t, "user_abandon", attr(s, "emb.error_code"))
		})
	}
}

func TestEmbraceInterruptionReconcilesOpenChildren(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	h.mustConsume(traces(spanSpec{trace: traceA, id: kidID, parent: rootID, name: "upload", start: t0}))
	seen := clk.Advance(time.Second)
	h.mustConsume(traces(spanSpec{trace: traceA, id: kidID, parent: rootID, name: "upload", start: t0}))
	clk.Advance(time.Second)
	h.mustConsume(traces(spanSpec{trace: traceA, id: rootID, name: "checkout-flow", start: t0, end: clk.Now(),
		attrs: map[string]string{"emb.error_code": "FAILURE"}}))
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 2)
	root, _ := findSpan(got[0], rootID)
	kid, _ := findSpan(got[0], kidID)
	assert.Equal(t, engine.ReasonClientInterrupted, attr(root, attrCloseReason), "codes match in any case")
	assert.Equal(t, engine.ReasonParentReconciled, attr(kid, attrCloseReason))
	assert.Equal(t, seen.UnixNano(), int64(kid.EndTimestamp()))
}

func TestHeartbeatLogsOpenAndEndTheSpan(t *testing.T) {
	cases := []struct {
		name, heartbeat, end string
		idle                 time.Duration
	}{
		{"gresearch", "partial-heartbeat-gresearch.json", "partial-stop-gresearch.json", 15 * time.Second},
		{"python-contrib", "partial-heartbeat-python-contrib.json", "partial-ended-python-contrib.json", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &manualClock{now: t0}
			h, ep := newInputsHarness(t, t.TempDir(), clk, nil)
			ep.postFixture(t, tc.heartbeat)
			assert.Equal(t, 1, h.openCount())
			assert.Empty(t, h.logsSink.AllLogs(), "heartbeat records are consumed")
			view := h.openSpan(t)
			assert.Equal(t, sourceHeartbeatLog, view.Source)
			assert.Equal(t, tc.idle, view.IdleTimeout, "partial.frequency 5000ms × heartbeat_factor 3; 0 = idle_timeout")

			clk.Advance(time.Second)
			ep.postFixture(t, tc.end)
			assert.Equal(t, 0, h.openCount())
			h.advance(time.Second) // the logs instance completed the trace; the emitter delivers it
			got := allSpans(h.sink)
			require.Len(t, got, 1)
			s := got[0][0]
			assert.Equal(t, "nightly-batch", s.Name())
			assert.Equal(t, ptrace.SpanKindInternal, s.Kind(), "protobuf enum names are read")
			assert.Equal(t, ptrace.StatusCodeOk, s.Status().Code())
			assert.Equal(t, int64(1795826600000000000), int64(s.EndTimestamp()))
			assert.Equal(t, "42", attr(s, "job.id"))
		})
	}
}

func TestHeartbeatsThatStopAreReconciledAtTheLastHeartbeat(t *testing.T) {
	clk := &manualClock{now: t0}
	h, ep := newInputsHarness(t, t.TempDir(), clk, nil)
	hb := fixtureBytes(t, "partial-heartbeat-gresearch.json")
	ep.post(t, "/v1/logs", hb)
	last := clk.Advance(5 * time.Second)
	ep.post(t, "/v1/logs", hb)

	h.advance(15*time.Second - time.Millisecond)
	assert.Empty(t, h.sink.AllTraces(), "not before frequency × factor")
	h.advance(time.Millisecond)
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	s := got[0][0]
	assert.Equal(t, engine.ReasonIdleTimeout, attr(s, attrCloseReason))
	assert.Equal(t, sourceHeartbeatLog, attr(s, attrSource))
	assert.Equal(t, last.UnixNano(), int64(s.EndTimestamp()), "end = the last heartbeat")
}

func TestProtobufHeartbeatBodyIsRead(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	h.startLogs()
	body, err := protoMarshaler.MarshalTraces(traces(openRoot(t0.Add(-time.Hour))))
	require.NoError(t, err)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	b64 := lrs.AppendEmpty()
	b64.Body().SetStr(base64.StdEncoding.EncodeToString(body))
	b64.Attributes().PutStr(attrPartialEvent, "heartbeat")
	b64.Attributes().PutStr(attrPartialBodyType, "protobuf/v1")
	b64.Attributes().PutStr(attrPartialFrequency, "2s")
	raw := lrs.AppendEmpty()
	raw.Body().SetEmptyBytes().FromRaw(body)
	raw.Attributes().PutStr(attrPartialEvent, "heartbeat")
	garbage := lrs.AppendEmpty()
	garbage.Body().SetStr("not base64 !!")
	garbage.Attributes().PutStr(attrPartialEvent, "heartbeat")
	two := lrs.AppendEmpty()
	two.Body().SetStr(mustJSON(t, traces(openRoot(t0), endedKid(t0))))
	two.Attributes().PutStr(attrSpanState, "heartbeat")
	two.Attributes().PutStr(attrLogBodyType, bodyTypeJSON)
	plain := lrs.AppendEmpty()
	plain.Body().SetStr("an ordinary log line")

	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 1, h.openCount(), "both protobuf forms are read as the same span")
	assert.Equal(t, 6*time.Second, h.openSpan(t).IdleTimeout)
	metadatatest.AssertEqualLongspanLogRecordsDropped(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", dropBadBody))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", dropNotOneSpan))},
	}, metricdatatest.IgnoreTimestamp())
	require.Len(t, h.logsSink.AllLogs(), 1)
	assert.Equal(t, 1, h.logsSink.AllLogs()[0].LogRecordCount(), "the ordinary record goes on, the heartbeats do not")
}

func mustJSON(t *testing.T, td ptrace.Traces) string {
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return string(b)
}

func TestLateRealEndSupersedesTheReconciliation(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) {
		c.IdleTimeout = time.Minute
		c.SupersedeWindow = time.Hour
		c.ReleaseRetention = time.Minute
	})
	h.mustConsume(traces(openRoot(t0)))
	h.advance(time.Minute)
	require.Len(t, h.sink.AllTraces(), 1, "reconciled")
	h.advance(2 * time.Minute) // released and forgotten by the journal's release retention

	h.mustConsume(traces(openRoot(t0)))
	assert.Equal(t, 0, h.openCount(), "a late snapshot does not reopen a reconciled span")

	real := openRoot(t0)
	real.end = t0.Add(90 * time.Second)
	h.mustConsume(traces(real))
	got := allSpans(h.sink)
	require.Len(t, got, 2)
	s := got[1][0]
	assert.Equal(t, stateSuperseding, attr(s, attrState))
	assert.Equal(t, real.end.UnixNano(), int64(s.EndTimestamp()), "the client's end is the authoritative one")
	metadatatest.AssertEqualLongspanSpansSuperseding(t, h.tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualLongspanSpansReconciled(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.ReasonIdleTimeout))},
	}, metricdatatest.IgnoreTimestamp())

	h.advance(time.Hour) // past supersede_window
	h.mustConsume(traces(real))
	got = allSpans(h.sink)
	require.Len(t, got, 3)
	assert.Empty(t, attr(got[2][0], attrState), "after the window it is a plain ended span")
}

func TestUnloadHintReconcilesAtOnce(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	h.mustConsume(traces(openRoot(t0), endedKid(t0)))
	unload := clk.Advance(10 * time.Second)
	hinted := openRoot(t0)
	hinted.attrs = map[string]string{attrClientHint: engine.HintPageUnload}
	h.mustConsume(traces(hinted))
	got := allSpans(h.sink)
	require.Len(t, got, 1, "no idle wait: the page is gone")
	require.Len(t, got[0], 2, "the children leave with it")
	r, _ := findSpan(got[0], rootID)
	assert.Equal(t, engine.ReasonClientInterrupted, attr(r, attrCloseReason))
	assert.Equal(t, unload.UnixNano(), int64(r.EndTimestamp()), "end = the unload snapshot's time")
	assert.Equal(t, ptrace.StatusCodeError, r.Status().Code())
}

func TestRestartInTheMiddleOfEachInput(t *testing.T) {
	t.Run("heartbeat", func(t *testing.T) {
		dir := t.TempDir()
		clk := &manualClock{now: t0}
		first, ep := newInputsHarness(t, dir, clk, nil)
		ep.postFixture(t, "partial-heartbeat-gresearch.json")
		last := clk.Now()
		first.stop()
		clk.Advance(time.Hour)
		second := newHarness(t, dir, clk, nil)
		assert.Equal(t, 15*time.Second, second.openSpan(t).IdleTimeout, "the heartbeat deadline is journaled")
		second.advance(15 * time.Second)
		got := allSpans(second.sink)
		require.Len(t, got, 1)
		assert.Equal(t, last.UnixNano(), int64(got[0][0].EndTimestamp()))
	})
	t.Run("superseding", func(t *testing.T) {
		dir := t.TempDir()
		clk := &manualClock{now: t0}
		first := newHarness(t, dir, clk, func(c *Config) { c.IdleTimeout = time.Minute })
		first.mustConsume(traces(openRoot(t0)))
		first.advance(time.Minute)
		first.advance(2 * time.Minute)
		first.stop()
		second := newHarness(t, dir, clk, nil)
		real := openRoot(t0)
		real.end = t0.Add(time.Second)
		second.mustConsume(traces(real))
		got := allSpans(second.sink)
		require.Len(t, got, 1)
		assert.Equal(t, stateSuperseding, attr(got[0][0], attrState), "the reconciled ids survive a restart")
	})
}

// openSpan returns the one open span the journal holds.
func (h *harness) openSpan(t *testing.T) struct {
	Source      string
	IdleTimeout time.Duration
} {
	t.Helper()
	var out struct {
		Source      string
		IdleTimeout time.Duration
	}
	n := 0
	require.NoError(t, h.proc.journal.Update(context.Background(), func(tx *spanjournal.Tx) error {
		tx.Traces(func(tr *spanjournal.Trace) {
			for _, s := range tr.Spans {
				if s.State == spanjournal.SpanOpen {
					n++
					out.Source, out.IdleTimeout = s.Source(), s.IdleTimeout
				}
			}
		})
		return nil
	}))
	require.Equal(t, 1, n)
	return out
}
