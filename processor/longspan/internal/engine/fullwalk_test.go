package engine

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// fullWalkTick is the timed-rules pass as it was before the deadline index: every
// tick walks every trace and every span (snapshots aside). The index must act at
// exactly the same ticks.
func fullWalkTick(e *Engine, tx Tx, now time.Time) Result {
	var res Result
	var ids []pcommon.TraceID
	tx.TraceIDs(func(id pcommon.TraceID) { ids = append(ids, id) })
	for _, id := range ids {
		silence := e.clocks.Silence(now)
		var open []*spanjournal.Span
		tx.OpenSpansOf(id, func(s *spanjournal.Span) { open = append(open, s) })
		for _, s := range open {
			if tx.Span(id, s.SpanID) != s {
				continue
			}
			switch {
			case !silence.Before(e.idleDeadline(s)):
				e.reconcile(tx, s, ReasonIdleTimeout, now, &res)
			case !now.Before(e.maxDurationDeadline(s)):
				e.reconcile(tx, s, ReasonMaxDuration, now, &res)
			}
		}
		e.releaseDue(tx, id, now, &res)
	}
	e.releaseComplete(tx, &res, now)
	return res
}

// lagClocks is a watermark the test moves: silence and grace lag the wall clock.
type lagClocks struct{ lag time.Duration }

func (c *lagClocks) Silence(now time.Time) time.Time { return now.Add(-c.lag) }

func (c *lagClocks) Grace(now time.Time) time.Time { return now.Add(-c.lag) }

// outputKeys names what a run released, one line per span: enough to tell whether the
// same spans left at the same tick in the same state, reconciled with the same end
// (the close reason of a descendant depends on map order, before as now, and is left
// out).
func outputKeys(res Result, codec memCodec) []string {
	var out []string
	for _, r := range res.Released {
		for _, s := range r.Spans {
			end := ""
			if rc, ok := codec[string(payloadOf(s.TraceID, s.SpanID))]; ok && s.State == spanjournal.SpanReconciled {
				end = rc.End.String()
			}
			out = append(out, fmt.Sprintf("%s/%s state=%s early=%v end=%s", s.TraceID, s.SpanID, s.State, r.Early, end))
		}
	}
	slices.Sort(out)
	return out
}

// TestDeadlineIndexActsLikeTheFullWalk runs random request sequences through two
// engines, one ticking with the deadline index and one with the full walk, and
// requires the same spans to leave at every tick, before and after a restart.
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
	cfg := Config{IdleTimeout: 5 * time.Second, MaxDuration: 30 * time.Second, MaxTraceHold: 10 * time.Second,
		ParentGrace: 2 * time.Second, TickInterval: time.Second, SupersedeWindow: time.Minute, Watermark: watermark,
		PassOn: true, MaxSpanBytes: 1 << 20}
	var clocks Clocks = WallClocks{}
	lag := &lagClocks{}
	if watermark {
		clocks = lag
	}
	now := t0
	txA, txB := newMemTx(), newMemTx()
	codecA, codecB := memCodec{}, memCodec{}
	indexed := New(cfg, now, clocks, codecA, zapNop)
	walked := New(cfg, now, clocks, codecB, zapNop)
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
	send := func(it Item) {
		a, b := []Item{it}, []Item{it}
		resA := indexed.Ingest(txA, a, nil, memRequest(a), now)
		resB := walked.Ingest(txB, b, nil, memRequest(b), now)
		require.Equal(t, outputKeys(resB, codecB), outputKeys(resA, codecA))
		require.Equal(t, b, a)
	}
	acted := 0
	step := func(i int, d time.Duration) {
		now = now.Add(d)
		gotA := outputKeys(indexed.Tick(txA, now), codecA)
		gotB := outputKeys(fullWalkTick(walked, txB, now), codecB)
		require.Equal(t, gotB, gotA, "step %d", i)
		if len(gotA) > 0 {
			acted++
		}
		require.Equal(t, txB.OpenCount(), txA.OpenCount(), "step %d", i)
	}
	for i := range 400 {
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
				send(Item{TraceID: tid, SpanID: rid, Name: "page.session", Start: start, Open: true})
			case op < 5: // an ended child of some trace (held, passed, or waiting for its parent)
				k := rng.IntN(len(traceIDs))
				var kid pcommon.SpanID
				binary.BigEndian.PutUint64(kid[:], newID())
				send(Item{TraceID: traceIDs[k], SpanID: kid, ParentID: roots[k], Name: "fetch", Start: now.Add(-time.Second), End: now})
			case op < 6: // an open child
				k := rng.IntN(len(traceIDs))
				var kid pcommon.SpanID
				binary.BigEndian.PutUint64(kid[:], newID())
				open = append(open, span{traceIDs[k], kid, roots[k], now})
				send(Item{TraceID: traceIDs[k], SpanID: kid, ParentID: roots[k], Name: "work", Start: now, Open: true})
			case op < 8 && len(open) > 0: // an open span reported again
				s := open[rng.IntN(len(open))]
				send(Item{TraceID: s.trace, SpanID: s.id, ParentID: s.root, Name: "again", Start: s.start, Open: true})
			case op < 9 && len(open) > 0: // an open span ends
				k := rng.IntN(len(open))
				s := open[k]
				open = slices.Delete(open, k, k+1)
				send(Item{TraceID: s.trace, SpanID: s.id, ParentID: s.root, Name: "done", Start: s.start, End: now})
			case watermark: // the front tier's watermark moves, lagging
				lag.lag = time.Duration(rng.IntN(4000)) * time.Millisecond
			}
		}
		step(i, time.Duration(rng.IntN(2500))*time.Millisecond)
	}
	assert.Positive(t, acted, "the scenario exercised the rules")
	// And across a restart: every recovered trace is indexed once.
	txA.restart()
	txB.restart()
	indexed = New(cfg, now, clocks, codecA, zapNop)
	walked = New(cfg, now, clocks, codecB, zapNop)
	for i := range 20 {
		step(400+i, time.Second)
	}
}

// TestTickVisitsOnlyDueTraces: with many held traces and nothing due, a tick pops
// nothing; the index holds one entry per trace and clock with a deadline.
func TestTickVisitsOnlyDueTraces(t *testing.T) {
	tx := newMemTx()
	e := New(Config{IdleTimeout: 5 * time.Minute, MaxDuration: time.Hour, MaxTraceHold: 10 * time.Minute, PassOn: true, MaxSpanBytes: 1 << 20},
		t0, WallClocks{}, memCodec{}, zapNop)
	for n := range uint64(200) {
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:8], n+1)
		items := []Item{
			{TraceID: tid, SpanID: pcommon.SpanID{1}, Name: "page", Start: t0, Open: true},
			{TraceID: tid, SpanID: pcommon.SpanID{2}, ParentID: pcommon.SpanID{1}, Name: "fetch", Start: t0, End: t0},
		}
		e.Ingest(tx, items, nil, memRequest(items), t0)
	}
	res := e.Tick(tx, t0.Add(time.Second))
	assert.Empty(t, res.Released)
	d := e.deadlines
	assert.Len(t, d.cur, 200)
	assert.Equal(t, 400, d.live, "idle and max_duration/max_trace_hold per trace")
	e.indexChanged(tx)
	assert.Empty(t, e.dueTraces(t0.Add(2*time.Second)))
}

// The emitter indexes what a request changed in the request's own update: once it
// has ticked, an Ingest leaves the tick no change to index, and the index already
// holds the moved deadline. Before its first tick (and on any other instance) the
// changes wait for the tick.
func TestIngestIndexesItsOwnChanges(t *testing.T) {
	w := newWorld(t, nil)
	w.ingest(openSpan(traceA, root, pcommon.SpanID{}, t0))
	assert.Nil(t, w.e.deadlines, "not indexed before the first tick")
	assert.Len(t, w.tx.changed, 0, "the journal starts tracking at the first tick")
	w.tick(time.Second)
	assert.Equal(t, t0.Add(w.e.cfg.IdleTimeout).UnixNano(), w.e.deadlines.cur[traceA][clockSilence])
	w.now = w.now.Add(time.Minute)
	w.ingest(openSpan(traceA, root, pcommon.SpanID{}, t0))
	assert.Empty(t, w.tx.changed, "nothing left for the tick")
	assert.Equal(t, w.now.Add(w.e.cfg.IdleTimeout).UnixNano(), w.e.deadlines.cur[traceA][clockSilence], "the idle deadline moved with the report")
}
