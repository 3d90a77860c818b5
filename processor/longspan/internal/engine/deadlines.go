package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// The deadline index makes the timed rules O(changes): instead of walking every held
// trace each tick, the tick pops the traces whose next deadline passed and runs the
// rules (reconcileExpired, releaseDue) on those only.
//
// A trace's deadlines are measured on three clocks, one min-heap each:
//
//   - the silence clock (Clocks.Silence: the wall clock, or the watermark): the idle
//     deadline of each open span (idleDeadline);
//   - the wall clock: max_duration of each open span (maxDurationDeadline), and
//     max_trace_hold of a trace holding ended spans next to open ones (holdDeadline);
//   - the grace clock (Clocks.Grace): a trace with nothing open is released once the
//     clock passes its release gate (releaseGate: parent_grace, or with the watermark
//     on, the arrival of what completed it; none: at once).
//
// Invalidation is lazy: the journal records every trace whose spans, hold or grace
// changed (Tx.TakeChanged, whoever changed it: a request, a logs-pipeline instance,
// the tick itself); the emitter recomputes those traces' deadlines and pushes the ones
// that moved, at the end of each of its requests' updates (Ingest) and at its ticks.
// A trace's deadlines depend on its state, the configuration and the processor's
// start only, not on when they are computed, so indexing a change in the request
// that made it gives the tick the same index it would have built, and the tick's
// time under the journal lock no longer grows with what requests changed since the
// last tick (a re-report of every root re-indexed every trace in one tick: 46–190 ms
// at 10 M held spans, which ingestion and the open-span view waited out). What the
// tick still indexes: its own changes, and those of another instance (a logs
// pipeline's) not followed by a request of the emitter. cur holds each trace's
// current deadline per clock; a popped entry that differs from it is stale and
// skipped. When stale entries outnumber live ones (plus a constant) the heaps are
// rebuilt from cur.

const (
	clockSilence = iota
	clockWall
	clockGrace
	numClocks
)

// noDeadline means a trace has nothing due on a clock.
const noDeadline = math.MaxInt64

// staleSlack is how many stale entries the heaps keep beyond the live ones before
// they are rebuilt.
const staleSlack = 1024

type deadlineEntry struct {
	at int64
	id pcommon.TraceID
}

// deadlineHeap is a min-heap of entries by at.
type deadlineHeap []deadlineEntry

func (h *deadlineHeap) push(e deadlineEntry) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if s[parent].at <= s[i].at {
			break
		}
		s[parent], s[i] = s[i], s[parent]
		i = parent
	}
}

func (h *deadlineHeap) pop() deadlineEntry {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	h.down(0)
	return top
}

func (h deadlineHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].at < h[l].at {
			m = r
		}
		if h[i].at <= h[m].at {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// deadlines is the index; touched under the journal lock by the emitter's tick only.
type deadlines struct {
	heaps [numClocks]deadlineHeap
	cur   map[pcommon.TraceID][numClocks]int64
	// live counts the entries of cur that are not noDeadline: the heaps hold each of
	// them once, and stale entries besides.
	live int
	// backgrounded counts, per trace and in all (total), the open spans whose app is in
	// the background (background.go), as of their trace's last indexing.
	backgrounded map[pcommon.TraceID]int
	total        int
}

func newDeadlines() *deadlines {
	return &deadlines{cur: map[pcommon.TraceID][numClocks]int64{}, backgrounded: map[pcommon.TraceID]int{}}
}

// setBackgrounded makes n the number of backgrounded open spans of trace id.
func (d *deadlines) setBackgrounded(id pcommon.TraceID, n int) {
	old := d.backgrounded[id]
	if n == old {
		return
	}
	d.total += n - old
	if n == 0 {
		delete(d.backgrounded, id)
	} else {
		d.backgrounded[id] = n
	}
}

// entries is how many entries the heaps hold, live and stale.
func (d *deadlines) entries() int {
	n := 0
	for c := range d.heaps {
		n += len(d.heaps[c])
	}
	return n
}

// set makes next the deadlines of trace id, pushing those that moved.
func (d *deadlines) set(id pcommon.TraceID, next [numClocks]int64) {
	old, ok := d.cur[id]
	if !ok {
		old = [numClocks]int64{noDeadline, noDeadline, noDeadline}
	}
	none := true
	for c := range next {
		if next[c] != noDeadline {
			none = false
		}
		if next[c] == old[c] {
			continue
		}
		if old[c] != noDeadline {
			d.live--
		}
		if next[c] != noDeadline {
			d.live++
			d.heaps[c].push(deadlineEntry{at: next[c], id: id})
		}
	}
	if none {
		delete(d.cur, id)
	} else {
		d.cur[id] = next
	}
	d.compact()
}

// popDue calls fn for every trace whose deadline on clock c is at or before now,
// and clears that deadline (the caller computes the trace's next one).
func (d *deadlines) popDue(c int, now int64, fn func(id pcommon.TraceID)) {
	h := &d.heaps[c]
	for len(*h) > 0 && (*h)[0].at <= now {
		e := h.pop()
		cur, ok := d.cur[e.id]
		if !ok || cur[c] != e.at {
			continue // stale
		}
		cur[c] = noDeadline
		d.live--
		d.cur[e.id] = cur
		fn(e.id)
	}
}

// compact rebuilds the heaps from cur when stale entries outnumber live ones by more
// than staleSlack: the heaps stay within 2 × live + staleSlack entries, amortized
// O(1) per push.
func (d *deadlines) compact() {
	if d.entries() <= 2*d.live+staleSlack {
		return
	}
	for c := range d.heaps {
		d.heaps[c] = d.heaps[c][:0]
	}
	for id, cur := range d.cur {
		for c, at := range cur {
			if at != noDeadline {
				d.heaps[c] = append(d.heaps[c], deadlineEntry{at: at, id: id})
			}
		}
	}
	for c := range d.heaps {
		h := d.heaps[c]
		for i := len(h)/2 - 1; i >= 0; i-- {
			h.down(i)
		}
	}
}

// The instants an int64 of Unix nanoseconds holds (a little less, to stay clear of
// noDeadline).
var (
	minDeadlineTime = time.Unix(0, math.MinInt64+1)
	maxDeadlineTime = time.Unix(0, noDeadline-1)
)

// deadlineNanos is t in Unix nanoseconds, clamped to what an int64 holds (the far
// future stays before noDeadline).
func deadlineNanos(t time.Time) int64 {
	switch {
	case t.Before(minDeadlineTime):
		return math.MinInt64
	case t.After(maxDeadlineTime):
		return noDeadline - 1
	}
	return t.UnixNano()
}

// traceDeadlines is when the timed rules next have something to do for a trace, on
// each clock: exactly the instants at which reconcileExpired or releaseDue would act
// (a trace not held: nothing); and how many of its open spans are backgrounded, which
// the same walk of its open spans counts.
func (e *Engine) traceDeadlines(tx Tx, trace pcommon.TraceID) (next [numClocks]int64, backgrounded int) {
	next = [numClocks]int64{noDeadline, noDeadline, noDeadline}
	t, ok := tx.Trace(trace)
	if !ok || t.Spans == 0 {
		return next, 0
	}
	if t.Open == 0 {
		// releaseDue: complete once the grace clock reaches the release gate.
		next[clockGrace] = math.MinInt64
		if g := e.releaseGate(t); !g.IsZero() {
			next[clockGrace] = deadlineNanos(g)
		}
		return next, 0
	}
	tx.OpenSpansOf(trace, func(s *spanjournal.Span) {
		next[clockSilence] = min(next[clockSilence], deadlineNanos(e.idleDeadline(s)))
		next[clockWall] = min(next[clockWall], deadlineNanos(e.maxDurationDeadline(s)))
		if isBackgrounded(s) {
			backgrounded++
		}
	})
	if t.Spans > t.Open {
		next[clockWall] = min(next[clockWall], deadlineNanos(e.holdDeadline(t)))
	}
	return next, backgrounded
}

// index brings the index up to date for trace id: its deadlines and its count of
// backgrounded open spans.
func (e *Engine) index(tx Tx, id pcommon.TraceID) {
	next, backgrounded := e.traceDeadlines(tx, id)
	e.deadlines.set(id, next)
	e.deadlines.setBackgrounded(id, backgrounded)
}

// indexChanged brings the index up to date with the traces changed since the last
// call: all of them on the engine's first tick (what was recovered, or held while
// another processor was the emitter) and when the journal lost track.
func (e *Engine) indexChanged(tx Tx) {
	first := e.deadlines == nil // the first tick: index everything once
	if first {
		e.deadlines = newDeadlines()
	}
	all := tx.TakeChanged(func(id pcommon.TraceID) { e.index(tx, id) })
	if all || first {
		tx.TraceIDs(func(id pcommon.TraceID) { e.index(tx, id) })
	}
}

// dueTraces returns the traces for which a timed rule may act now, each once.
func (e *Engine) dueTraces(now time.Time) []pcommon.TraceID {
	var due []pcommon.TraceID
	seen := map[pcommon.TraceID]struct{}{}
	add := func(id pcommon.TraceID) {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			due = append(due, id)
		}
	}
	e.deadlines.popDue(clockSilence, deadlineNanos(e.clocks.Silence(now)), add)
	e.deadlines.popDue(clockWall, deadlineNanos(now), add)
	e.deadlines.popDue(clockGrace, deadlineNanos(e.clocks.Grace(now)), add)
	return due
}
