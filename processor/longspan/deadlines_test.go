package longspan

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// fullWalkTick is the timed-rules pass as it was before the deadline index: every
// tick walks every trace and every span (snapshots aside). The index must act at
// exactly the same ticks.
func fullWalkTick(p *longspanProcessor) {
	ctx := context.Background()
	now := p.clock.Now()
	var res ruleResult
	var due []*spanjournal.Released
	_ = p.journal.Update(ctx, func(tx *spanjournal.Tx) error {
		tx.Traces(func(t *spanjournal.Trace) {
			fullWalkReconcileExpired(p, tx, t, now, &res)
			p.releaseDue(tx, t, now, &res)
		})
		p.releaseComplete(tx, &res, now)
		due = tx.TakeDue(now)
		tx.ForgetExpired(now)
		return nil
	})
	p.deliver(ctx, due, now)
}

// fullWalkReconcileExpired is reconcileExpired as it was: over every span of t.
func fullWalkReconcileExpired(p *longspanProcessor, tx *spanjournal.Tx, t *spanjournal.Trace, now time.Time, res *ruleResult) {
	silence := p.silenceClock(now)
	for _, s := range t.Spans {
		if s.State != spanjournal.SpanOpen {
			continue
		}
		switch {
		case !silence.Before(p.rules.idleDeadline(s)):
			p.reconcile(tx, t, s, reasonIdleTimeout, now, res)
		case !now.Before(p.rules.maxDurationDeadline(s)):
			p.reconcile(tx, t, s, reasonMaxDuration, now, res)
		}
	}
}

// outputKeys names what a sink received since from, one line per span: enough to tell
// whether the same spans left at the same tick in the same state (the close reason of
// a descendant depends on map order, before as now, and is left out).
func outputKeys(sink *consumertest.TracesSink, from int) ([]string, int) {
	all := allSpans(sink)
	var out []string
	for _, batch := range all[from:] {
		for _, s := range batch {
			out = append(out, fmt.Sprintf("%s/%s state=%s end=%d", s.TraceID(), s.SpanID(), attr(s, attrState), s.EndTimestamp()))
		}
	}
	slices.Sort(out)
	return out, len(all)
}

// TestDeadlineIndexActsLikeTheFullWalk runs random request sequences through two
// collectors, one ticking with the deadline index and one with the full walk, and
// requires the same spans to leave at every tick.
func TestDeadlineIndexActsLikeTheFullWalk(t *testing.T) {
	for _, watermark := range []bool{false, true} {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("watermark=%v/seed=%d", watermark, seed), func(t *testing.T) {
				compareWithFullWalk(t, seed, watermark)
			})
		}
	}
}

func compareWithFullWalk(t *testing.T, seed uint64, watermark bool) {
	mutate := func(c *Config) {
		c.IdleTimeout = 5 * time.Second
		c.MaxDuration = 30 * time.Second
		c.MaxTraceHold = 10 * time.Second
		c.ParentGrace = 2 * time.Second
		c.TickInterval = time.Second
		c.ReleaseRetention = time.Second
		c.SupersedeWindow = time.Minute
		c.Watermark.Enabled = watermark
	}
	clkA, clkB := &manualClock{now: t0}, &manualClock{now: t0}
	indexed := newHarness(t, t.TempDir(), clkA, mutate)
	walked := newHarness(t, t.TempDir(), clkB, mutate)
	rng := rand.New(rand.NewPCG(seed, 42))

	type span struct {
		trace pcommon.TraceID
		id    pcommon.SpanID
		root  pcommon.SpanID
		start time.Time
	}
	var open []span
	var traceIDs []pcommon.TraceID
	var roots []pcommon.SpanID
	next := uint64(0)
	newID := func() uint64 { next++; return next }
	send := func(td ptrace.Traces) {
		errA := indexed.consume(td)
		errB := walked.consume(td)
		require.Equal(t, errA, errB)
	}
	fromA, fromB := 0, 0
	acted := 0
	for step := range 400 {
		now := clkA.Now()
		for range rng.IntN(4) {
			switch op := rng.IntN(10); {
			case op < 2 || len(traceIDs) == 0: // a new page: open root
				var tid pcommon.TraceID
				binary.BigEndian.PutUint64(tid[:8], newID())
				binary.BigEndian.PutUint64(tid[8:], seed)
				var rid pcommon.SpanID
				binary.BigEndian.PutUint64(rid[:], newID())
				start := now.Add(-time.Duration(rng.IntN(25)) * time.Second)
				traceIDs, roots = append(traceIDs, tid), append(roots, rid)
				open = append(open, span{tid, rid, pcommon.SpanID{}, start})
				send(traces(spanSpec{trace: tid, id: rid, name: "page.session", start: start}))
			case op < 5: // an ended child of some trace (held, passed, or waiting for its parent)
				i := rng.IntN(len(traceIDs))
				var kid pcommon.SpanID
				binary.BigEndian.PutUint64(kid[:], newID())
				send(traces(spanSpec{trace: traceIDs[i], id: kid, parent: roots[i], name: "fetch", start: now.Add(-time.Second), end: now}))
			case op < 6: // an open child
				i := rng.IntN(len(traceIDs))
				var kid pcommon.SpanID
				binary.BigEndian.PutUint64(kid[:], newID())
				open = append(open, span{traceIDs[i], kid, roots[i], now})
				send(traces(spanSpec{trace: traceIDs[i], id: kid, parent: roots[i], name: "work", start: now}))
			case op < 8 && len(open) > 0: // an open span reported again
				s := open[rng.IntN(len(open))]
				send(traces(spanSpec{trace: s.trace, id: s.id, parent: s.root, name: "again", start: s.start}))
			case op < 9 && len(open) > 0: // an open span ends
				i := rng.IntN(len(open))
				s := open[i]
				open = slices.Delete(open, i, i+1)
				send(traces(spanSpec{trace: s.trace, id: s.id, parent: s.root, name: "done", start: s.start, end: now}))
			case watermark: // the front tier's watermark moves, lagging
				send(indexed.probes(1, now.Add(-time.Duration(rng.IntN(4000))*time.Millisecond)))
			}
		}
		d := time.Duration(rng.IntN(2500)) * time.Millisecond
		clkA.Advance(d)
		clkB.Advance(d)
		indexed.proc.tick(context.Background())
		fullWalkTick(walked.proc)
		var gotA, gotB []string
		gotA, fromA = outputKeys(indexed.sink, fromA)
		gotB, fromB = outputKeys(walked.sink, fromB)
		require.Equal(t, gotB, gotA, "step %d", step)
		if len(gotA) > 0 {
			acted++
		}
		require.Equal(t, walked.openCount(), indexed.openCount(), "step %d", step)
	}
	assert.Positive(t, acted, "the scenario exercised the rules")
	// And across a restart: every recovered trace is indexed once.
	indexed.stop()
	walked.stop()
	indexed = newHarness(t, indexed.dir, clkA, mutate)
	walked = newHarness(t, walked.dir, clkB, mutate)
	for step := range 20 {
		clkA.Advance(time.Second)
		clkB.Advance(time.Second)
		indexed.proc.tick(context.Background())
		fullWalkTick(walked.proc)
		gotA, _ := outputKeys(indexed.sink, 0)
		gotB, _ := outputKeys(walked.sink, 0)
		require.Equal(t, gotB, gotA, "after the restart, step %d", step)
	}
}

func TestDeadlineIndexBoundsStaleEntries(t *testing.T) {
	d := newDeadlines()
	var ids []pcommon.TraceID
	for i := range 100 {
		var id pcommon.TraceID
		binary.BigEndian.PutUint64(id[:8], uint64(i+1))
		ids = append(ids, id)
	}
	// Every trace's deadline moves 1000 times (an open span reported again and again):
	// each move leaves a stale entry behind.
	for round := range 1000 {
		for i, id := range ids {
			d.set(id, [numClocks]int64{int64(1000 + round + i), noDeadline, noDeadline})
			require.LessOrEqual(t, d.entries(), 2*d.live+staleSlack)
		}
	}
	assert.Equal(t, 100, d.live)
	// Only the current deadlines fire, each once.
	var fired []pcommon.TraceID
	d.popDue(clockSilence, 1000+999+49, func(id pcommon.TraceID) { fired = append(fired, id) })
	assert.ElementsMatch(t, ids[:50], fired)
	d.popDue(clockSilence, 1000+999+49, func(pcommon.TraceID) { t.Fatal("fired twice") })
	// A trace with nothing due leaves the index.
	for _, id := range ids {
		d.set(id, [numClocks]int64{noDeadline, noDeadline, noDeadline})
	}
	assert.Zero(t, d.live)
	assert.Empty(t, d.cur)
	d.popDue(clockSilence, noDeadline-1, func(pcommon.TraceID) { t.Fatal("a stale entry fired") })
}

// TestTickVisitsOnlyDueTraces: with many held traces and nothing due, a tick pops
// nothing; the index holds one entry per trace and clock with a deadline.
func TestTickVisitsOnlyDueTraces(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	for n := range uint64(200) {
		h.mustConsume(benchRequest(n, true))
	}
	h.advance(time.Second)
	d := h.proc.deadlines
	require.NotNil(t, d)
	assert.Len(t, d.cur, 200)
	assert.Equal(t, 400, d.live, "idle and max_duration/max_trace_hold per trace")
	var due []pcommon.TraceID
	_ = h.proc.journal.Update(context.Background(), func(tx *spanjournal.Tx) error {
		h.proc.indexChanged(tx)
		due = h.proc.dueTraces(clk.Now())
		return nil
	})
	assert.Empty(t, due)
}

// TestSnapshotRoundIsPacedOverTheInterval: a round with more open spans than a tick's
// slice is spread over the ticks of snapshot.interval, every span once.
func TestSnapshotRoundIsPacedOverTheInterval(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) {
		c.Snapshot.Interval = 10 * time.Second
		c.Snapshot.MinAge = 0
		c.TickInterval = time.Second
		c.IdleTimeout = time.Hour
	})
	const n = 3 * snapshotMinSlice / 100 * 100
	for i := range uint64(n / 100) {
		specs := make([]spanSpec, 0, 100)
		for k := range uint64(100) {
			var tid pcommon.TraceID
			binary.BigEndian.PutUint64(tid[:8], i*100+k+1)
			binary.BigEndian.PutUint64(tid[8:], (i*100+k+1)*0x9E3779B97F4A7C15)
			specs = append(specs, spanSpec{trace: tid, id: rootID, name: "page.session", start: t0})
		}
		h.mustConsume(traces(specs...))
	}
	perTick := []int{}
	seen := map[pcommon.TraceID]int{}
	from := 0
	for range 10 {
		h.advance(time.Second)
		got := allSpans(h.sink)
		count := 0
		for _, batch := range got[from:] {
			for _, s := range batch {
				seen[s.TraceID()]++
				assert.Equal(t, "1", attr(s, attrSnapshotSeq))
				count++
			}
		}
		from = len(got)
		perTick = append(perTick, count)
	}
	assert.Equal(t, n, len(seen), "every open span got its snapshot within the interval")
	for id, k := range seen {
		require.Equal(t, 1, k, "trace %s snapshotted once per round", id)
	}
	assert.Greater(t, len(slices.DeleteFunc(slices.Clone(perTick), func(c int) bool { return c == 0 })), 1, "spread over several ticks: %v", perTick)
	for _, c := range perTick {
		assert.Less(t, c, n, "no tick takes the whole round: %v", perTick)
	}
}

// TestTickRecordsItsDuration: every tick records one longspan_tick_duration point and
// one longspan_tick_rules_duration point, the part under the lock, never the longer.
func TestTickRecordsItsDuration(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	h.mustConsume(benchRequest(1, true))
	for range 3 {
		h.advance(time.Second)
	}
	m, err := h.tel.GetMetric("otelcol_longspan_tick_duration")
	require.NoError(t, err)
	hist, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "a histogram: %T", m.Data)
	require.Len(t, hist.DataPoints, 1)
	assert.Equal(t, uint64(3), hist.DataPoints[0].Count)
	assert.Equal(t, "ms", m.Unit)
	assert.Equal(t, []float64{0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000}, hist.DataPoints[0].Bounds)

	m, err = h.tel.GetMetric("otelcol_longspan_tick_rules_duration")
	require.NoError(t, err)
	rules, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "a histogram: %T", m.Data)
	require.Len(t, rules.DataPoints, 1)
	assert.Equal(t, uint64(3), rules.DataPoints[0].Count)
	assert.LessOrEqual(t, rules.DataPoints[0].Sum, hist.DataPoints[0].Sum)
}

func TestDeadlineNanosClamps(t *testing.T) {
	assert.Equal(t, t0.UnixNano(), deadlineNanos(t0))
	assert.Equal(t, int64(noDeadline-1), deadlineNanos(t0.AddDate(300, 0, 0)))
	assert.Equal(t, int64(math.MinInt64), deadlineNanos(time.Time{}))
	assert.Less(t, deadlineNanos(t0.Add(-time.Nanosecond)), deadlineNanos(t0))
}
