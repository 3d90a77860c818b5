package longspan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// stamped is td as our clients send it: every span carries the client's clock when
// sent (longspan.client.now_unix_nano).
func stamped(td ptrace.Traces, clientNow time.Time) ptrace.Traces {
	rs := td.ResourceSpans().At(0)
	spans := rs.ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		spans.At(i).Attributes().PutInt(attrClientNow, clientNow.UnixNano())
	}
	return td
}

// The measured cases, through the processor: a device clock 2 h fast no longer
// loses its open span nor an ended span of a trace with nothing held.
func TestDeviceClockTwoHoursFast(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	device := func() time.Time { return clk.Now().Add(2 * time.Hour) }
	started := device().Add(-time.Minute)
	h.mustConsume(stamped(traces(spanSpec{trace: traceA, id: rootID, name: "page.session", start: started}), device()))
	assert.Equal(t, 1, h.openCount(), "the open span is held")
	// An ended span of a trace with nothing held, from an SDK that does not stamp.
	h.mustConsume(traces(spanSpec{trace: traceB, id: kidID, parent: rootID, name: "fetch", start: device().Add(-time.Second), end: device()}))
	got := allSpans(h.sink)
	require.Len(t, got, 1, "passed on, as a stock collector would")
	metadatatest.AssertEqualLongspanSpansClockSuspect(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.SuspectStartInFuture))},
	}, metricdatatest.IgnoreTimestamp())

	// Silent past idle_timeout: reconciled at its last report in the client's clock.
	lastReport := device()
	h.advance(h.cfg.IdleTimeout)
	got = allSpans(h.sink)
	require.Len(t, got, 2)
	r, ok := findSpan(got[1], rootID)
	require.True(t, ok)
	assert.Equal(t, engine.ReasonIdleTimeout, attr(r, attrCloseReason))
	assert.Equal(t, lastReport.UnixNano(), int64(r.EndTimestamp()), "ends at the last report, as the client's clock had it")
	assert.Equal(t, time.Minute, r.EndTimestamp().AsTime().Sub(r.StartTimestamp().AsTime()), "the duration the client lived")
}

// A device clock 8 days slow: a span that just started is not reconciled as
// max_duration, and its offset survives a restart (it decides the end).
func TestDeviceClockEightDaysSlowSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	first := newHarness(t, dir, clk, nil)
	device := func() time.Time { return clk.Now().Add(-8 * 24 * time.Hour) }
	started := device().Add(-10 * time.Second)
	first.mustConsume(stamped(traces(spanSpec{trace: traceA, id: rootID, name: "page.session", start: started}), device()))
	first.advance(time.Second)
	assert.Empty(t, first.sink.AllTraces(), "not reconciled as max_duration")
	assert.Equal(t, 1, first.openCount())
	clk.Advance(time.Minute)
	lastReport := device()
	first.mustConsume(stamped(traces(spanSpec{trace: traceA, id: rootID, name: "page.session", start: started}), device()))
	first.stop()

	second := newHarness(t, dir, clk, nil)
	second.advance(second.cfg.IdleTimeout)
	got := allSpans(second.sink)
	require.Len(t, got, 1)
	r, _ := findSpan(got[0], rootID)
	assert.Equal(t, engine.ReasonIdleTimeout, attr(r, attrCloseReason))
	assert.Equal(t, lastReport.UnixNano(), int64(r.EndTimestamp()), "the journaled offset puts the end in the client's clock")
	assert.Equal(t, 71*time.Second, r.EndTimestamp().AsTime().Sub(r.StartTimestamp().AsTime()), "10 s before the first report, 61 s to the last")
}

// An Embrace Apple copy's end is its export time, the device's clock: with
// embrace_apple_snapshots, a device 8 days slow keeps its running span (not
// reconciled as max_duration, 168 h).
func TestEmbraceAppleCopyTellsTheDeviceClock(t *testing.T) {
	clk := &manualClock{now: fixtureT.Add(3*time.Second + 8*24*time.Hour)}
	h, ep := embraceCopiesHarness(t, clk, nil)
	ep.postFixture(t, "embrace-apple-span-start-copy.json")
	h.advance(time.Second)
	assert.Empty(t, h.sink.AllTraces())
	require.Equal(t, 1, h.openCount())
	assert.Equal(t, sourceEmbrace, h.openSpan(t).Source)
}
