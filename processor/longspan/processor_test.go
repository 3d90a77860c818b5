package longspan

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadata"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

func openRoot(start time.Time) spanSpec {
	return spanSpec{trace: traceA, id: rootID, name: "page.session", start: start}
}

func endedKid(start time.Time) spanSpec {
	return spanSpec{trace: traceA, id: kidID, parent: rootID, name: "page.child", start: start, end: start.Add(time.Millisecond)}
}

func TestEndedSpansOfUnknownTracePassThroughUnchanged(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, nil)
	in := traces(spanSpec{trace: traceB, id: kidID, name: "fetch", start: t0.Add(-time.Second), end: t0})
	h.mustConsume(in)

	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 1)
	assert.Equal(t, 0, got[0][0].Attributes().Len(), "a passed-through span gets no attribute")
	assert.Equal(t, in, h.sink.AllTraces()[0], "the request is forwarded as it came")
}

func TestChildOfOpenSpanIsHeldUntilTheOpenSpanEnds(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	h.mustConsume(traces(openRoot(t0.Add(-time.Minute))))
	h.mustConsume(traces(endedKid(t0.Add(-30 * time.Second))))
	assert.Empty(t, h.sink.AllTraces(), "nothing leaves while the root is open")

	end := clk.Advance(10 * time.Second)
	root := openRoot(t0.Add(-time.Minute))
	root.end = end
	h.mustConsume(traces(root))

	got := allSpans(h.sink)
	require.Len(t, got, 1, "the whole trace leaves in one batch")
	require.Len(t, got[0], 2)
	r, ok := findSpan(got[0], rootID)
	require.True(t, ok)
	assert.Equal(t, end.UnixNano(), r.EndTimestamp().AsTime().UnixNano())
	assert.Empty(t, attr(r, attrState), "a span the client ended is released unchanged")
	assert.Equal(t, ptrace.StatusCodeUnset, r.Status().Code())
}

func TestIdleOpenSpanIsReconciledAtLastSeenWithItsChildren(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.IdleTimeout = 5 * time.Minute })
	h.mustConsume(traces(openRoot(t0.Add(-time.Minute))))
	lastSeen := clk.Advance(20 * time.Second)
	h.mustConsume(traces(openRoot(t0.Add(-time.Minute)))) // a later snapshot of the same span
	h.mustConsume(traces(endedKid(t0)))

	h.advance(5*time.Minute - time.Second)
	assert.Empty(t, h.sink.AllTraces(), "not idle yet: the clock runs from the last report")

	h.advance(time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 2, "the child leaves with its reconciled parent")
	r, _ := findSpan(got[0], rootID)
	assert.Equal(t, lastSeen.UnixNano(), int64(r.EndTimestamp()), "ends when the client was last seen, never now")
	assert.Equal(t, ptrace.StatusCodeError, r.Status().Code())
	assert.Contains(t, r.Status().Message(), "stopped reporting")
	assert.Equal(t, stateReconciled, attr(r, attrState))
	assert.Equal(t, engine.ReasonIdleTimeout, attr(r, attrCloseReason))
	assert.Equal(t, sourceOTLPOpenSpan, attr(r, attrSource))
	lastSeenAttr, _ := r.Attributes().Get(attrLastSeen)
	assert.Equal(t, lastSeen.UnixNano(), lastSeenAttr.Int())
	assert.Equal(t, "page.session", r.Name())
	k, _ := findSpan(got[0], kidID)
	assert.Empty(t, attr(k, attrState), "the ended child is unchanged")
}

func TestOpenChildrenOfAReconciledSpanAreReconciledWithIt(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.IdleTimeout = time.Minute })
	h.mustConsume(traces(openRoot(t0)))
	clk.Advance(50 * time.Second)
	kid := spanSpec{trace: traceA, id: kidID, parent: rootID, name: "upload", start: t0.Add(time.Second)}
	grandkid := spanSpec{trace: traceA, id: kid2ID, parent: kidID, name: "chunk", start: t0.Add(2 * time.Second)}
	h.mustConsume(traces(kid, grandkid))

	h.advance(10 * time.Second) // root idle for 60s; its descendants only 10s
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 3)
	r, _ := findSpan(got[0], rootID)
	k, _ := findSpan(got[0], kidID)
	g, _ := findSpan(got[0], kid2ID)
	assert.Equal(t, engine.ReasonIdleTimeout, attr(r, attrCloseReason))
	assert.Equal(t, engine.ReasonParentReconciled, attr(k, attrCloseReason))
	assert.Equal(t, engine.ReasonParentReconciled, attr(g, attrCloseReason))
	assert.Equal(t, ptrace.StatusCodeError, g.Status().Code())
}

func TestSpanOpenPastMaxDurationIsReconciled(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) {
		c.MaxDuration = time.Hour
		c.IdleTimeout = time.Hour
		c.MaxTraceHold = 2 * time.Hour
	})
	start := t0.Add(-50 * time.Minute)
	h.mustConsume(traces(openRoot(start)))
	for i := 0; i < 9; i++ { // the client keeps reporting: never idle
		clk.Advance(time.Minute)
		h.mustConsume(traces(openRoot(start)))
		h.proc.tick(context.Background())
	}
	assert.Empty(t, h.sink.AllTraces())
	h.advance(time.Minute)
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	assert.Equal(t, engine.ReasonMaxDuration, attr(got[0][0], attrCloseReason))
	assert.Equal(t, t0.Add(9*time.Minute).UnixNano(), int64(got[0][0].EndTimestamp()))
}

func TestNewSessionSpanEndsTheOldOneOfTheSameSession(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	first := spanSpec{trace: traceA, id: rootID, name: "page.session", start: t0, session: "s-1"}
	h.mustConsume(traces(first))
	seen := clk.Advance(time.Minute)
	h.mustConsume(traces(first))
	clk.Advance(time.Minute)
	second := spanSpec{trace: traceB, id: kidID, name: "page.session", start: clk.Now(), session: "s-1"}
	h.mustConsume(traces(second))

	got := allSpans(h.sink)
	require.Len(t, got, 1, "the old page session leaves at once")
	r := got[0][0]
	assert.Equal(t, rootID, r.SpanID())
	assert.Equal(t, engine.ReasonSessionEnded, attr(r, attrCloseReason))
	assert.Equal(t, seen.UnixNano(), int64(r.EndTimestamp()))

	other := spanSpec{trace: traceA, id: kid2ID, name: "page.session", start: clk.Now(), session: "s-2"}
	h.mustConsume(traces(other))
	assert.Len(t, h.sink.AllTraces(), 1, "another session is not affected")
}

func TestEndedSessionSpanEndsOtherOpenSpansOfItsSession(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	work := spanSpec{trace: traceA, id: rootID, name: "checkout", start: t0, session: "s-1"}
	h.mustConsume(traces(work))
	clk.Advance(time.Minute)
	session := spanSpec{trace: traceB, id: kidID, name: "emb-session", start: t0.Add(-time.Minute), end: clk.Now(), session: "s-1"}
	h.mustConsume(traces(session))

	got := allSpans(h.sink)
	require.Len(t, got, 2)
	var reconciled []string
	for _, b := range got {
		for _, s := range b {
			reconciled = append(reconciled, s.Name()+"="+attr(s, attrCloseReason))
		}
	}
	assert.ElementsMatch(t, []string{"emb-session=", "checkout=" + engine.ReasonSessionEnded}, reconciled)
}

func TestSnapshotsShowLiveSpansOlderThanMinAge(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) {
		c.Snapshot.Interval = 30 * time.Second
		c.Snapshot.MinAge = 40 * time.Second
	})
	h.mustConsume(traces(openRoot(t0.Add(-time.Minute))))
	young := spanSpec{trace: traceB, id: kidID, name: "young", start: t0}
	h.mustConsume(traces(young))

	h.advance(time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 1, "the young span gets no snapshot")
	s := got[0][0]
	assert.Equal(t, rootID, s.SpanID())
	assert.Equal(t, stateSnapshot, attr(s, attrState))
	assert.Equal(t, "1", attr(s, attrSnapshotSeq))
	assert.Equal(t, t0.Add(time.Second).UnixNano(), int64(s.EndTimestamp()), "a snapshot ends now")

	h.advance(29 * time.Second)
	assert.Len(t, h.sink.AllTraces(), 1, "not before snapshot.interval")
	h.advance(time.Second)
	got = allSpans(h.sink)
	require.Len(t, got, 2)
	require.Len(t, got[1], 1, "the young span is still younger than min_age")
	assert.Equal(t, "2", attr(got[1][0], attrSnapshotSeq))

	h.advance(30 * time.Second)
	got = allSpans(h.sink)
	require.Len(t, got, 3)
	assert.Len(t, got[2], 2, "now both are old enough")
}

func TestMaxTraceHoldReleasesHeldSpansEarlyMarked(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) {
		c.MaxTraceHold = 10 * time.Minute
		c.IdleTimeout = time.Hour
		c.Snapshot.Interval = 0
	})
	h.mustConsume(traces(openRoot(t0)))
	h.mustConsume(traces(endedKid(t0)))
	h.advance(10 * time.Minute)
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 1)
	assert.Equal(t, kidID, got[0][0].SpanID())
	assert.Equal(t, stateReleasedEarly, attr(got[0][0], attrState))

	// The root is still open and still held; a later child starts a new hold.
	h.mustConsume(traces(openRoot(t0)))
	root := openRoot(t0)
	root.end = clk.Now()
	h.mustConsume(traces(root))
	got = allSpans(h.sink)
	require.Len(t, got, 2)
	require.Len(t, got[1], 1)
	assert.Equal(t, rootID, got[1][0].SpanID())
}

func TestLimitRefusesWholeRequestWithRetryableError(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.Limits.MaxOpenSpans = 1 })

	h.mustConsume(traces(openRoot(t0)))
	h.mustConsume(traces(openRoot(t0))) // an update of a tracked span needs no room
	passing := spanSpec{trace: traceB, id: kid2ID, name: "fetch", start: t0, end: t0.Add(time.Second)}
	extra := spanSpec{trace: traceB, id: kidID, name: "second", start: t0}
	err := h.consume(traces(passing, extra))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "the client must retry")
	assert.Contains(t, err.Error(), "max_open_spans")
	assert.Empty(t, h.sink.AllTraces(), "nothing of a refused request goes on")

	metadatatest.AssertEqualLongspanRequestsRefused(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("limit", "max_open_spans"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestHeldSpansLimitRefusesRetryably(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, func(c *Config) { c.Limits.MaxHeldSpans = 1 })
	h.mustConsume(traces(openRoot(t0), endedKid(t0)))
	second := spanSpec{trace: traceA, id: kid2ID, parent: rootID, name: "another", start: t0, end: t0.Add(time.Second)}
	err := h.consume(traces(second))
	require.ErrorContains(t, err, "max_held_spans")
	assert.False(t, consumererror.IsPermanent(err))
	unrelated := spanSpec{trace: traceB, id: kidID, name: "fetch", start: t0, end: t0.Add(time.Second)}
	h.mustConsume(traces(unrelated)) // pass-through needs no room
	require.Len(t, h.sink.AllTraces(), 1)
	metadatatest.AssertEqualLongspanRequestsRefused(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("limit", "max_held_spans"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestBadSpansAreDroppedAloneAndCounted(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.Limits.MaxSpanBytes = 2048 })
	good := spanSpec{trace: traceB, id: kidID, name: "ok", start: t0, end: t0.Add(time.Second)}
	backwards := spanSpec{trace: traceB, id: kid2ID, name: "backwards", start: t0, end: t0.Add(-time.Second)}
	future := spanSpec{trace: traceA, id: rootID, name: "future", start: t0.Add(2 * time.Hour)}
	noID := spanSpec{trace: traceA, name: "no-id", start: t0, end: t0.Add(time.Second)}
	huge := spanSpec{trace: traceA, id: kid2ID, name: "huge", start: t0, attrs: map[string]string{"blob": strings.Repeat("x", 4096)}}
	h.mustConsume(traces(good, backwards, future, noID, huge))

	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 1)
	assert.Equal(t, "ok", got[0][0].Name())
	// A start 2 h ahead of the collector's clock is not bad input (a device clock may
	// be that fast): the open span is held as if it had just started, and counted.
	assert.Equal(t, 1, h.openCount(), "the future open span was tracked, the huge one not")
	metadatatest.AssertEqualLongspanSpansClockSuspect(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.SuspectStartInFuture))},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualLongspanSpansDropped(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", dropEndBeforeStart))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", dropInvalidID))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.DropTooLarge))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestStaleSnapshotAfterEndIsDropped(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	h.mustConsume(traces(openRoot(t0), endedKid(t0)))
	root := openRoot(t0)
	root.end = t0.Add(time.Second)
	h.mustConsume(traces(root))
	require.Len(t, h.sink.AllTraces(), 1)
	h.mustConsume(traces(openRoot(t0)))
	assert.Equal(t, 0, h.openCount(), "a snapshot of a released span does not reopen it")
	assert.Len(t, h.sink.AllTraces(), 1)
}

// flakySink refuses until told otherwise.
type flakySink struct {
	consumertest.TracesSink
	fail bool
}

func (f *flakySink) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if f.fail {
		return errors.New("downstream unavailable")
	}
	return f.TracesSink.ConsumeTraces(ctx, td)
}

func TestRefusedReleaseStaysHeldAndIsRetried(t *testing.T) {
	clk := &manualClock{now: t0}
	sink := &flakySink{fail: true}
	h := newHarnessWith(t, t.TempDir(), clk, func(c *Config) { c.Snapshot.Interval = 0 }, sink)
	h.mustConsume(traces(openRoot(t0), endedKid(t0)))
	root := openRoot(t0)
	root.end = t0.Add(time.Second)
	require.NoError(t, h.consume(traces(root)), "the end is journaled: acknowledged even though delivery failed")
	assert.Empty(t, sink.AllTraces())

	h.advance(time.Second) // retry due after one tick_interval: still failing
	h.advance(time.Second) // backoff doubled: not yet due
	sink.fail = false
	h.advance(time.Second)
	h.advance(time.Second)
	got := allSpans(&sink.TracesSink)
	require.Len(t, got, 1, "delivered once, whole, when downstream recovers")
	assert.Len(t, got[0], 2)
}

func TestSecondProcessorOnOneJournalOnlyIngests(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	second, err := newProcessor(processortest.NewNopSettings(metadata.Type), h.cfg, new(consumertest.TracesSink), clk)
	require.NoError(t, err)
	host := &testHost{exts: map[component.ID]component.Component{component.MustNewID("spanjournal"): h.ext}}
	require.NoError(t, second.Start(context.Background(), host))
	defer func() { require.NoError(t, second.Shutdown(context.Background())) }()
	assert.True(t, h.proc.emitter)
	assert.False(t, second.emitter)

	require.NoError(t, second.ConsumeTraces(context.Background(), traces(openRoot(t0), endedKid(t0))))
	assert.Equal(t, 1, h.openCount(), "both instances see one state")
}

func TestStartFailsClearlyWithoutTheJournal(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, new(consumertest.TracesSink), &manualClock{now: t0})
	require.NoError(t, err)
	err = p.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, `extension "spanjournal" is not configured`)
}
