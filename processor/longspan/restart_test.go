package longspan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

func TestRestartRecoversOpenAndHeldSpans(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	idle := func(c *Config) { c.IdleTimeout = 5 * time.Minute }
	first := newHarness(t, dir, clk, idle)
	first.mustConsume(traces(openRoot(t0.Add(-time.Minute))))
	lastSeen := clk.Advance(30 * time.Second)
	first.mustConsume(traces(openRoot(t0.Add(-time.Minute)), endedKid(t0)))
	first.stop()

	// The collector stays down longer than idle_timeout.
	clk.Advance(time.Hour)
	second := newHarness(t, dir, clk, idle)
	assert.Equal(t, 1, second.openCount(), "the open span is back")
	second.advance(5*time.Minute - time.Second)
	assert.Empty(t, second.sink.AllTraces(), "downtime is not client silence: no reconciliation at recovery")

	second.advance(time.Second)
	got := allSpans(second.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 2, "the held child came back from the journal and leaves with its parent")
	r, _ := findSpan(got[0], rootID)
	assert.Equal(t, engine.ReasonIdleTimeout, attr(r, attrCloseReason))
	assert.Equal(t, lastSeen.UnixNano(), int64(r.EndTimestamp()), "end = last seen before the restart")
}

func TestReleasedTraceIsResentAfterRestartUntilRetentionPasses(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	retention := func(c *Config) { c.ReleaseRetention = time.Minute }
	first := newHarness(t, dir, clk, retention)
	first.mustConsume(traces(openRoot(t0), endedKid(t0)))
	root := openRoot(t0)
	root.end = t0.Add(time.Second)
	first.mustConsume(traces(root))
	require.Len(t, first.sink.AllTraces(), 1)
	first.stop() // as if tail_sampling had not decided yet when the collector died

	second := newHarness(t, dir, clk, retention)
	second.advance(time.Second)
	got := allSpans(second.sink)
	require.Len(t, got, 1, "released again: tail_sampling's buffer did not survive")
	assert.Len(t, got[0], 2)
	metadatatest.AssertEqualLongspanSpansResent(t, second.tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())

	second.advance(time.Minute) // retention over: forgotten, journaled
	second.stop()
	third := newHarness(t, dir, clk, retention)
	third.advance(time.Second)
	assert.Empty(t, third.sink.AllTraces(), "past retention a released trace is not sent again")
}

func TestRestartKeepsReconciledStateAndSnapshotNumbers(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	snap := func(c *Config) {
		c.Snapshot.Interval = time.Second
		c.Snapshot.MinAge = 0
	}
	first := newHarness(t, dir, clk, snap)
	first.mustConsume(traces(openRoot(t0)))
	first.advance(time.Second)
	first.advance(time.Second)
	require.Len(t, first.sink.AllTraces(), 2)
	first.mustConsume(traces(openRoot(t0))) // journals the span with its snapshot count
	first.stop()

	second := newHarness(t, dir, clk, snap)
	second.advance(time.Second)
	got := allSpans(second.sink)
	require.Len(t, got, 1)
	assert.Equal(t, "3", attr(got[0][0], attrSnapshotSeq), "numbering goes on across a restart")
}

func TestSnapshotNumbersNeverRepeatAfterACrash(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	snap := func(c *Config) {
		c.Snapshot.Interval = time.Second
		c.Snapshot.MinAge = 0
	}
	first := newHarness(t, dir, clk, snap)
	first.mustConsume(traces(openRoot(t0)))
	for range 3 {
		first.advance(time.Second)
	}
	require.Len(t, first.sink.AllTraces(), 3)
	first.stop() // no client update since the snapshots: only their own records hold the numbers

	second := newHarness(t, dir, clk, snap)
	second.advance(time.Second)
	got := allSpans(second.sink)
	require.Len(t, got, 1)
	assert.Equal(t, "4", attr(got[0][0], attrSnapshotSeq), "each round journals its numbers")
}
