package longspan

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// A sharded gateway's logs instance sends heartbeats back through the front tier as
// spans; the shard that owns the trace reads them as heartbeats.
func TestReroutedHeartbeatsAreHeartbeatsAtTheOwningShard(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.IdleTimeout = time.Hour })

	// The logs instance that received the record (on whatever shard load_balancing
	// picked for it).
	cfg := *h.cfg
	cfg.RerouteHeartbeats = true
	logs, err := newProcessor(metadatatest.NewSettings(h.tel), &cfg, nil, clk)
	require.NoError(t, err)
	logsSink := new(consumertest.LogsSink)
	logs.nextLogs = logsSink
	require.NoError(t, logs.Start(context.Background(), h.host))
	t.Cleanup(func() { require.NoError(t, logs.Shutdown(context.Background())) })

	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(fixtureBytes(t, "partial-heartbeat-gresearch.json"))
	require.NoError(t, err)
	require.NoError(t, logs.ConsumeLogs(context.Background(), ld))
	assert.Empty(t, logsSink.AllLogs(), "the heartbeat record is consumed")
	assert.Equal(t, 0, h.openCount(), "nothing is held where the record landed")
	require.Len(t, h.probeSource.forwarded, 1, "it went back to the front tier as a span")

	// The front tier routes the span to the owning shard: here, the traces instance.
	h.mustConsume(h.probeSource.forwarded[0])
	view := h.openSpan(t)
	assert.Equal(t, sourceHeartbeatLog, view.Source)
	assert.Equal(t, 15*time.Second, view.IdleTimeout, "partial.frequency 5000ms × heartbeat_factor 3 travels with it")

	h.advance(15 * time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1, "reconciled on the heartbeat's own idle timeout")
	s := got[0][0]
	assert.Equal(t, engine.ReasonIdleTimeout, attr(s, attrCloseReason))
	assert.Equal(t, sourceHeartbeatLog, attr(s, attrSource))
	_, marked := s.Attributes().Get(attrReroutedHeartbeat)
	assert.False(t, marked, "the routing mark never leaves the collector")
}

// Heartbeats reach their shard through the front tier's logs queue and then its traces
// queue; with heartbeats rerouted, silence waits for the logs queue's watermark too.
func TestReroutedLogsProbesHoldTheWatermarkForTheLogsQueue(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) {
		c.IdleTimeout = 5 * time.Second
		c.Watermark.Enabled = true
		c.RerouteHeartbeats = true
	})
	cfg := *h.cfg
	logs, err := newProcessor(metadatatest.NewSettings(h.tel), &cfg, nil, clk)
	require.NoError(t, err)
	logs.nextLogs = new(consumertest.LogsSink)
	require.NoError(t, logs.Start(context.Background(), h.host))
	t.Cleanup(func() { require.NoError(t, logs.Shutdown(context.Background())) })

	h.mustConsume(traces(openRoot(t0.Add(-time.Minute))))
	h.mustConsume(h.probes(1, t0.Add(10*time.Second))) // the traces queue is far ahead
	h.advance(10 * time.Second)
	assert.Empty(t, h.sink.AllTraces(), "the logs queue has not shown it is past last seen + idle_timeout")

	// A logs-queue probe arrives at some shard's logs pipeline, which sends it on.
	require.NoError(t, logs.ConsumeLogs(context.Background(),
		watermarkprobe.LogProbes(1, t0.Add(6*time.Second), h.probeSource.id(0))))
	require.Len(t, h.probeSource.forwarded, 1)
	fwd := h.probeSource.forwarded[0]
	require.Equal(t, 1, fwd.SpanCount())
	path, _ := fwd.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get(watermarkprobe.AttrPath)
	assert.Equal(t, "logs", path.Str())

	h.mustConsume(fwd)
	h.advance(time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1, "both queues are past last seen + idle_timeout: silence")
	assert.Empty(t, logs.nextLogs.(*consumertest.LogsSink).AllLogs(), "probe records never go down the logs pipeline")
}

// A child can overtake its heartbeat parent, which takes the logs queue and a reroute:
// with heartbeats rerouted it waits until the logs queue's watermark passes its arrival.
func TestChildWaitsForTheLogsQueueBeforeItIsReleasedAlone(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) {
		c.Watermark.Enabled = true
		c.RerouteHeartbeats = true
	})
	arrived := clk.Advance(time.Second)
	h.mustConsume(traces(endedKid(t0)))
	h.mustConsume(h.probes(1, arrived.Add(time.Minute))) // the traces queue is far ahead
	h.advance(10 * time.Second)
	assert.Empty(t, h.sink.AllTraces(), "the logs queue has not caught up with the child")

	// The heartbeat that opened the parent arrives (rerouted), then the logs probe after it.
	h.mustConsume(traces(openRoot(t0.Add(-time.Minute))))
	fwdProbe := func(at time.Time) {
		rs := watermarkprobe.Probes(1, at, h.probeSource.id(0))
		rs.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr(watermarkprobe.AttrPath, "logs")
		h.mustConsume(rs)
	}
	fwdProbe(arrived)
	h.advance(time.Second)
	assert.Empty(t, h.sink.AllTraces(), "the child is held with its open parent now")

	root := openRoot(t0.Add(-time.Minute))
	root.end = clk.Now()
	h.mustConsume(traces(root))
	assert.Empty(t, h.sink.AllTraces(), "complete, but the logs queue has not passed the root's end yet")
	fwdProbe(root.end)
	h.advance(time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	assert.Len(t, got[0], 2, "parent and child leave together")
}
