package watermarkprobe

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"google.golang.org/grpc"

	"github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe/internal/metadatatest"
)

// frontTier is a stand-in for the front tier's OTLP receiver: it hands every traces
// and logs request to the test, and answers with fail when it is set.
type frontTier struct {
	ptraceotlp.UnimplementedGRPCServer
	got     chan ptrace.Traces
	gotLogs chan plog.Logs
	fail    error
}

type frontTierLogs struct {
	plogotlp.UnimplementedGRPCServer
	f *frontTier
}

func (l *frontTierLogs) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	l.f.gotLogs <- req.Logs()
	return plogotlp.NewExportResponse(), l.f.fail
}

func (f *frontTier) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	f.got <- req.Traces()
	return ptraceotlp.NewExportResponse(), f.fail
}

func startFront(t *testing.T, fail error) (*frontTier, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &frontTier{got: make(chan ptrace.Traces, 4), gotLogs: make(chan plog.Logs, 4), fail: fail}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, f)
	plogotlp.RegisterGRPCServer(srv, &frontTierLogs{f: f})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return f, ln.Addr().String()
}

// manualTicker lets the test decide when a probe is due.
func manualTicker() (tickerFunc, chan time.Time) {
	ch := make(chan time.Time)
	return func(time.Duration) (<-chan time.Time, func()) { return ch, func() {} }, ch
}

func TestProbeReachesTheFrontTier(t *testing.T) {
	front, addr := startFront(t, nil)
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	tick, ticks := manualTicker()
	p, err := newProber(metadatatest.NewSettings(tt), &Config{Endpoint: addr, Interval: time.Second, Spans: 32}, tick)
	require.NoError(t, err)
	sentAt := time.Unix(1_800_000_000, 5)
	p.now = func() time.Time { return sentAt }
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	ticks <- time.Now()
	td := <-front.got
	ld := <-front.gotLogs
	require.NoError(t, p.Shutdown(context.Background()))

	require.Equal(t, 32, ld.LogRecordCount(), "the logs queue is probed too")
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	sent, ok := lr.Attributes().Get(AttrSentAt)
	require.True(t, ok)
	assert.Equal(t, sentAt.UnixNano(), sent.Int())
	assert.False(t, lr.TraceID().IsEmpty(), "load_balancing routes a record by its trace id")

	require.Equal(t, 32, td.SpanCount())
	traces := map[pcommon.TraceID]bool{}
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		sp := spans.At(i)
		assert.Equal(t, SpanName, sp.Name())
		v, ok := sp.Attributes().Get(AttrSentAt)
		require.True(t, ok)
		assert.Equal(t, sentAt.UnixNano(), v.Int())
		assert.False(t, sp.TraceID().IsEmpty())
		traces[sp.TraceID()] = true
	}
	assert.Len(t, traces, 32, "every probe span has its own trace id, so the front spreads them over the shards")
	metadatatest.AssertEqualWatermarkprobeProbesSent(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
}

func TestRefusedProbeIsCountedAndNotRetried(t *testing.T) {
	front, addr := startFront(t, errors.New("front tier is full"))
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	tick, ticks := manualTicker()
	p, err := newProber(metadatatest.NewSettings(tt), &Config{Endpoint: addr, Interval: time.Second, Spans: 1}, tick)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	ticks <- time.Now()
	<-front.got
	ticks <- time.Now() // the loop has finished the first probe once it takes this tick
	<-front.got
	require.NoError(t, p.Shutdown(context.Background()))

	assert.Empty(t, front.got, "a refused probe is not retried")
	metadatatest.AssertEqualWatermarkprobeProbeFailures(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
}

func TestLosingTheFrontTierStartsANewEpoch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &frontTier{got: make(chan ptrace.Traces, 4), gotLogs: make(chan plog.Logs, 4)}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, f)
	plogotlp.RegisterGRPCServer(srv, &frontTierLogs{f: f})
	go func() { _ = srv.Serve(ln) }()

	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	tick, ticks := manualTicker()
	p, err := newProber(metadatatest.NewSettings(tt), &Config{Endpoint: ln.Addr().String(), Interval: time.Second, Spans: 1}, tick)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	ticks <- time.Now()
	first := <-f.got
	<-f.gotLogs
	assert.Equal(t, int64(0), epochOf(t, first))
	assert.Equal(t, p.Sender(), senderOf(t, first))

	srv.Stop() // the front tier goes away: whatever it had in flight may come back late
	require.Eventually(t, func() bool { return p.Epoch(0) == 1 }, 10*time.Second, 10*time.Millisecond)
}

func epochOf(t *testing.T, td ptrace.Traces) int64 {
	v, ok := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get(AttrEpoch)
	require.True(t, ok)
	return v.Int()
}

func senderOf(t *testing.T, td ptrace.Traces) string {
	v, ok := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get(AttrSender)
	require.True(t, ok)
	return v.Str()
}

func TestEveryFrontTierInstanceIsProbedWithItsIndex(t *testing.T) {
	first, addr0 := startFront(t, nil)
	second, addr1 := startFront(t, nil)
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	var chans []chan time.Time // one ticker per instance, in the order of Endpoints
	tick := func(time.Duration) (<-chan time.Time, func()) {
		ch := make(chan time.Time)
		chans = append(chans, ch)
		return ch, func() {}
	}
	p, err := newProber(metadatatest.NewSettings(tt), &Config{Endpoints: []string{addr0, addr1}, Interval: time.Second, Spans: 1}, tick)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	assert.Equal(t, 2, p.Fronts())

	require.Len(t, chans, 2)
	for _, ch := range chans {
		ch <- time.Now()
	}
	fronts := map[int64]bool{}
	for _, f := range []*frontTier{first, second} {
		td := <-f.got
		<-f.gotLogs
		v, ok := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get(AttrFront)
		require.True(t, ok)
		fronts[v.Int()] = true
	}
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, map[int64]bool{0: true, 1: true}, fronts, "each probe names the instance it went to")
}

func TestEndpointAndEndpointsAreExclusive(t *testing.T) {
	cfg := &Config{Endpoint: "a:4317", Endpoints: []string{"b:4317"}, Interval: time.Second, Spans: 1}
	assert.ErrorContains(t, cfg.Validate(), "set one of them")
	cfg = &Config{Interval: time.Second, Spans: 1}
	assert.ErrorContains(t, cfg.Validate(), "endpoint: required")
}
