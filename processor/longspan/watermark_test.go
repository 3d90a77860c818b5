package longspan

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

func withWatermark(c *Config) {
	c.IdleTimeout = 5 * time.Second
	c.Watermark.Enabled = true
}

func TestProbesAreConsumedAndNeverPassedOn(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, withWatermark)
	in := h.probes(3, t0)
	plain := traces(spanSpec{trace: traceB, id: kidID, name: "fetch", start: t0.Add(-time.Second), end: t0})
	plain.ResourceSpans().At(0).CopyTo(in.ResourceSpans().AppendEmpty())
	h.mustConsume(in)

	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 1, "only the client's span goes on")
	assert.Equal(t, "fetch", got[0][0].Name())
	metadatatest.AssertEqualLongspanProbesReceived(t, h.tel, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	assert.Equal(t, t0.UnixNano(), h.proc.watermark.lowest(false))
}

func TestStalledInputIsNotSilence(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, withWatermark)
	h.mustConsume(traces(openRoot(t0.Add(-time.Minute))))

	// The front tier stalls: no probe, no snapshot, for four idle timeouts.
	for range 20 {
		h.advance(time.Second)
	}
	assert.Empty(t, h.sink.AllTraces(), "without probes the watermark stands still: nothing is silent")

	// It drains: the snapshot the client sent during the stall arrives first, then the
	// probes sent after it.
	h.mustConsume(traces(openRoot(t0.Add(-time.Minute))))
	lastSeen := clk.Now()
	h.mustConsume(h.probes(1, lastSeen.Add(4*time.Second)))
	h.advance(time.Second)
	assert.Empty(t, h.sink.AllTraces(), "the watermark is 4s past the last report, less than idle_timeout")

	h.mustConsume(h.probes(1, lastSeen.Add(5*time.Second)))
	h.advance(4 * time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1, "the watermark passed last seen + idle_timeout: now it is silence")
	assert.Equal(t, engine.ReasonIdleTimeout, attr(got[0][0], attrCloseReason))
	assert.Equal(t, lastSeen.UnixNano(), int64(got[0][0].EndTimestamp()), "still ends at the last report")
}

func TestWatermarkNeverRunsAheadOfTheClock(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, withWatermark)
	h.mustConsume(traces(openRoot(t0.Add(-time.Minute))))
	h.mustConsume(h.probes(1, t0.Add(time.Hour))) // a sender whose clock runs ahead
	h.advance(4 * time.Second)
	assert.Empty(t, h.sink.AllTraces(), "silence is never measured past the wall clock")
	h.advance(time.Second)
	assert.Len(t, h.sink.AllTraces(), 1)
}

func TestWithoutWatermarkSilenceRunsOnTheWallClock(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.IdleTimeout = 5 * time.Second })
	h.mustConsume(traces(openRoot(t0.Add(-time.Minute))))
	h.mustConsume(h.probes(1, t0)) // probes are consumed either way
	h.advance(5 * time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 1)
	assert.Equal(t, engine.ReasonIdleTimeout, attr(got[0][0], attrCloseReason))
}

func TestJournalPassThroughKeepsPlainTracesAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	mutate := func(c *Config) { c.JournalPassThrough = true; c.ReleaseRetention = time.Minute }
	first := newHarness(t, dir, clk, mutate)
	first.mustConsume(traces(
		spanSpec{trace: traceB, id: rootID, name: "GET /", start: t0.Add(-time.Second), end: t0},
		spanSpec{trace: traceB, id: kidID, parent: rootID, name: "fetch", start: t0.Add(-time.Second), end: t0},
	))
	got := allSpans(first.sink)
	require.Len(t, got, 1, "released at once, as one batch")
	require.Len(t, got[0], 2)
	first.stop() // as if the collector died while tail_sampling held the trace

	second := newHarness(t, dir, clk, mutate)
	second.advance(time.Second)
	got = allSpans(second.sink)
	require.Len(t, got, 1, "journaled, so released again after the restart")
	assert.Len(t, got[0], 2)
}

func TestPlainTracesAreNotJournaledByDefault(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	first := newHarness(t, dir, clk, nil)
	first.mustConsume(traces(spanSpec{trace: traceB, id: rootID, name: "GET /", start: t0.Add(-time.Second), end: t0}))
	require.Len(t, first.sink.AllTraces(), 1)
	first.stop()

	second := newHarness(t, dir, clk, nil)
	second.advance(time.Second)
	assert.Empty(t, second.sink.AllTraces(), "passed straight through: nothing to release again")
}

func TestOnlyThisGatewaysProbesOfItsCurrentEpochMoveTheWatermark(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, withWatermark)
	h.mustConsume(watermarkprobe.Probes(1, t0.Add(time.Second), watermarkprobe.ProbeID{Sender: "another-gateway"}))
	assert.Equal(t, t0.UnixNano()-1, h.proc.watermark.lowest(false), "another sender's probe is consumed but not trusted")

	// The connection to the front tier was lost: the front may have restarted and put
	// the requests it had in flight behind newer ones. Probes sent before are not
	// trusted any more; the next epoch's are.
	old := h.probes(1, t0.Add(2*time.Second))
	h.probeSource.epoch++
	h.mustConsume(old)
	assert.Equal(t, t0.UnixNano()-1, h.proc.watermark.lowest(false), "a probe of an earlier epoch may have overtaken client data")
	h.mustConsume(h.probes(1, t0.Add(3*time.Second)))
	assert.Equal(t, t0.Add(3*time.Second).UnixNano(), h.proc.watermark.lowest(false))
	assert.Empty(t, h.sink.AllTraces(), "probes never go on, trusted or not")
}

func TestWatermarkWithoutTheProbeExtensionIsAStartupError(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	cfg := *h.cfg
	cfg.Watermark.Enabled = true
	p, err := newProcessor(metadatatest.NewSettings(h.tel), &cfg, h.sink, clk)
	require.NoError(t, err)
	host := &testHost{exts: map[component.ID]component.Component{component.MustNewID("spanjournal"): h.ext}}
	assert.ErrorContains(t, p.Start(context.Background(), host), "watermark.enabled and reroute_heartbeats need the watermarkprobe extension")
}
