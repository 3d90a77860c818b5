package longspan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// The release gate (release.go): with the watermark on, a complete trace leaves only
// once a probe sent after what completed it has arrived, through every front-tier
// instance.

// A restarted front tier re-queues the requests it had in flight behind newer ones: a
// child acknowledged before its root's end arrives after it.
func TestCompleteTraceWaitsForTheWatermarkToPassItsEnd(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, withWatermark)
	h.mustConsume(traces(openRoot(t0)))
	root := openRoot(t0)
	root.end = clk.Advance(time.Second)
	h.mustConsume(traces(root))
	h.mustConsume(h.probes(1, root.end.Add(-time.Millisecond))) // sent before the end arrived
	h.advance(time.Second)
	assert.Empty(t, h.sink.AllTraces(), "a probe sent before the root's end arrived says nothing of what was sent before it")

	h.mustConsume(traces(endedKid(t0))) // the re-queued child
	h.mustConsume(h.probes(1, clk.Now()))
	assert.Empty(t, h.sink.AllTraces(), "the child moved the gate to its own arrival")
	h.advance(time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1, "one batch")
	assert.Len(t, got[0], 2, "root and the late child leave together")
}

func TestReleaseGateWaitsForEveryFrontTierInstance(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, withWatermark)
	h.withFronts(2)
	// A trace that is complete at once: a plain ended span (journal_pass_through is
	// not needed, the gate holds what the rules hold).
	h.mustConsume(traces(openRoot(t0)))
	root := openRoot(t0)
	root.end = clk.Advance(time.Second)
	h.mustConsume(traces(root))
	h.mustConsume(h.probesVia(0, 1, clk.Now()))
	h.advance(time.Second)
	assert.Empty(t, h.sink.AllTraces(), "the second instance may still hold a child acknowledged before the end")
	h.mustConsume(h.probesVia(1, 1, clk.Now()))
	h.advance(time.Second)
	assert.Len(t, h.sink.AllTraces(), 1)
}

func TestSilenceIsTheLowestFrontTierInstancesWatermark(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, withWatermark)
	h.withFronts(2)
	h.mustConsume(traces(openRoot(t0)))
	lastSeen := clk.Now()
	// The first instance runs on; the second is stalled (SIGSTOP) with no probe.
	for range 10 {
		h.mustConsume(h.probesVia(0, 1, clk.Advance(time.Second)))
		h.advance(0)
	}
	assert.Empty(t, h.sink.AllTraces(), "a stalled instance may hold the client's reports: not silence")
	h.mustConsume(h.probesVia(1, 1, clk.Now()))
	h.advance(time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	assert.Equal(t, engine.ReasonIdleTimeout, attr(got[0][0], attrCloseReason))
	assert.Equal(t, lastSeen.UnixNano(), int64(got[0][0].EndTimestamp()))
}

// After a restart or a shard move, what the front tier queued for the shard meanwhile
// arrives before any probe sent after the start.
func TestRecoveredCompleteTraceWaitsForAProbeAfterTheStart(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	first := newHarness(t, dir, clk, withWatermark)
	first.mustConsume(traces(openRoot(t0)))
	root := openRoot(t0)
	root.end = clk.Advance(time.Second)
	first.mustConsume(traces(root))
	first.stop() // the gate was not passed: held in the journal

	second := newHarness(t, dir, clk, withWatermark)
	second.advance(time.Second)
	assert.Empty(t, second.sink.AllTraces(), "no probe sent since the start yet")
	second.mustConsume(traces(endedKid(t0))) // queued for the shard while it was down
	second.mustConsume(second.probes(1, clk.Now()))
	second.advance(time.Second)
	got := allSpans(second.sink)
	require.Len(t, got, 1)
	assert.Len(t, got[0], 2)
}

// A snapshot re-delivered after its span ended and left (the front tier re-sends
// what it was sending when it restarted, after the batch was acknowledged past
// tail_sampling and forgotten) does not open the span again, and a repeat of the
// ended span is not released twice.
func TestEndedSpanIsRememberedPastItsRelease(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.ReleaseRetention = time.Second })
	h.mustConsume(traces(openRoot(t0)))
	root := openRoot(t0)
	root.end = clk.Advance(time.Second)
	h.mustConsume(traces(root))
	require.Len(t, h.sink.AllTraces(), 1)
	h.advance(2 * time.Second) // past release_retention: the journal forgets the batch
	h.advance(time.Second)

	h.mustConsume(traces(openRoot(t0)))
	assert.Equal(t, 0, h.openCount(), "the late snapshot is older news")
	h.mustConsume(traces(root))
	h.advance(time.Minute)
	assert.Len(t, h.sink.AllTraces(), 1, "neither the snapshot nor the repeat went on")
	metadatatest.AssertEqualLongspanSpansDropped(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.DropStaleSnapshot))},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualLongspanSpansReceived(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.OutcomeOpened))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.OutcomeEnded))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.OutcomeRepeat))},
	}, metricdatatest.IgnoreTimestamp())
}

// A copy of a released span that arrives while its batch is still journaled (it may be
// in tail_sampling, waiting for the decision) is not released again: tail_sampling
// would put both copies in one export.
func TestRepeatWhileTheReleasedBatchIsJournaledIsNotReleasedAgain(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.JournalPassThrough = true; c.ReleaseRetention = time.Minute })
	kid := endedKid(t0)
	h.mustConsume(traces(kid))
	require.Len(t, h.sink.AllTraces(), 1)
	h.mustConsume(traces(kid)) // the front tier re-sends it
	h.advance(time.Second)
	assert.Len(t, h.sink.AllTraces(), 1, "the copy is a repeat")
	metadatatest.AssertEqualLongspanSpansReceived(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.OutcomePassed))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.OutcomeRepeat))},
	}, metricdatatest.IgnoreTimestamp())
}

// Mobile life cycle (the React Native client's hints).

func mobileSnapshot(start time.Time, attrs map[string]string) spanSpec {
	s := openRoot(start)
	s.name, s.attrs = "app.session", attrs
	return s
}

func TestAppInBackgroundIsSilentForBackgroundTimeout(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.IdleTimeout = 5 * time.Second; c.BackgroundTimeout = time.Minute })
	h.mustConsume(traces(mobileSnapshot(t0, map[string]string{attrClientHint: engine.HintAppBackground})))
	h.advance(30 * time.Second)
	assert.Empty(t, h.sink.AllTraces(), "backgrounded: idle_timeout does not apply")
	// Back in the foreground: a report without the hint restores idle_timeout.
	h.mustConsume(traces(mobileSnapshot(t0, nil)))
	h.advance(4 * time.Second)
	assert.Empty(t, h.sink.AllTraces())
	h.advance(2 * time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1, "idle_timeout again once the app is active")
	assert.Equal(t, engine.ReasonIdleTimeout, attr(got[0][0], attrCloseReason))

	// Backgrounded and never back: reconciled after background_timeout.
	h2 := newHarness(t, t.TempDir(), clk, func(c *Config) { c.IdleTimeout = 5 * time.Second; c.BackgroundTimeout = time.Minute })
	h2.mustConsume(traces(mobileSnapshot(t0, map[string]string{attrClientHint: engine.HintAppBackground})))
	seen := clk.Now()
	h2.advance(59 * time.Second)
	assert.Empty(t, h2.sink.AllTraces())
	h2.advance(time.Second)
	got = allSpans(h2.sink)
	require.Len(t, got, 1)
	assert.Equal(t, engine.ReasonIdleTimeout, attr(got[0][0], attrCloseReason))
	assert.Equal(t, seen.UnixNano(), int64(got[0][0].EndTimestamp()))
}

// The next launch after a kill reports the dead run's open span with the last time it
// knew it open: closed at once, ending then (the client's clock, as its start).
func TestAppTerminatedIsClosedAtOnceAtTheClientsLastSeen(t *testing.T) {
	clk := &manualClock{now: t0.Add(time.Hour)}
	h := newHarness(t, t.TempDir(), clk, nil)
	lastSeen := t0.Add(10 * time.Minute)
	td := traces(mobileSnapshot(t0, map[string]string{attrClientHint: engine.HintAppTerminated}), endedKid(t0.Add(time.Minute)))
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutInt(attrClientLastSeen, lastSeen.UnixNano())
	h.mustConsume(td)
	got := allSpans(h.sink)
	require.Len(t, got, 1, "closed at once, released with its child")
	require.Len(t, got[0], 2)
	root, ok := findSpan(got[0], rootID)
	require.True(t, ok)
	assert.Equal(t, engine.ReasonClientInterrupted, attr(root, attrCloseReason))
	assert.Equal(t, lastSeen.UnixNano(), int64(root.EndTimestamp()), "ends when the dead run last knew it open, not at the next launch")

	// A last-seen before the start (a clock that jumped) ends it at its start.
	h2 := newHarness(t, t.TempDir(), clk, nil)
	td = traces(mobileSnapshot(t0, map[string]string{attrClientHint: engine.HintAppTerminated}))
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutInt(attrClientLastSeen, t0.Add(-time.Hour).UnixNano())
	h2.mustConsume(td)
	got = allSpans(h2.sink)
	require.Len(t, got, 1)
	assert.Equal(t, t0.UnixNano(), int64(got[0][0].EndTimestamp()))
}
