package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"bytes"
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// OpenShards is how many shards the open spans are spread over (by trace id), so
// that a processor can visit them a slice at a time (Tx.OpenSpansInShard).
const OpenShards = 1024

// timedIndex is what the timed rules need to run in O(changes) instead of walking
// every held span: the open spans, by trace and in shards of traces, and the traces
// changed since the rules last looked (Tx.TakeChanged). Derived from state.traces,
// kept in step by state.put and state.unindex; memory only.
type timedIndex struct {
	// openTraces holds the traces with at least one open span, by shard.
	openTraces [OpenShards]map[pcommon.TraceID]*Trace
	// oldest orders every open span by start, for the open-span view.
	oldest openHeap
	// changedIDs are the traces put, unindexed or given a grace since the last
	// TakeChanged. Recorded only once someone takes them (tracking); past a bound
	// (nobody took them for long) they are dropped and all is set instead.
	changedIDs map[pcommon.TraceID]struct{}
	tracking   bool
	all        bool
}

func openShard(id pcommon.TraceID) int {
	h := binary.LittleEndian.Uint64(id[8:]) ^ binary.LittleEndian.Uint64(id[:8])
	return int((h * 0x9E3779B97F4A7C15) >> 54) // 10 bits: OpenShards
}

func (x *timedIndex) addOpen(t *Trace, s *Span) {
	if t.open == nil {
		t.open = map[pcommon.SpanID]*Span{}
		sh := &x.openTraces[openShard(t.ID)]
		if *sh == nil {
			*sh = map[pcommon.TraceID]*Trace{}
		}
		(*sh)[t.ID] = t
	}
	t.open[s.SpanID] = s
	x.oldest.add(s)
}

func (x *timedIndex) removeOpen(t *Trace, s *Span) {
	if t.open[s.SpanID] != s {
		return
	}
	delete(t.open, s.SpanID)
	x.oldest.remove(s)
	if len(t.open) == 0 {
		t.open = nil
		delete(x.openTraces[openShard(t.ID)], t.ID)
	}
}

func (x *timedIndex) changed(st *state, id pcommon.TraceID) {
	if !x.tracking || x.all {
		return
	}
	if x.changedIDs == nil {
		x.changedIDs = map[pcommon.TraceID]struct{}{}
	}
	x.changedIDs[id] = struct{}{}
	if len(x.changedIDs) > 2*len(st.traces)+4096 {
		x.changedIDs, x.all = nil, true
	}
}

// OpenSpansInShard calls fn for every open span of the traces in one shard (0 ≤
// shard < OpenShards; a trace's shard never changes). fn must not change the journal.
func (tx *Tx) OpenSpansInShard(shard int, fn func(s *Span)) {
	for _, t := range tx.j.st.idx.openTraces[shard] {
		for _, s := range t.open {
			fn(s)
		}
	}
}

// OpenSpansOf calls fn for every open span of t, in no particular order. fn must not
// change the journal.
func (tx *Tx) OpenSpansOf(t *Trace, fn func(s *Span)) {
	for _, s := range t.open {
		fn(s)
	}
}

// TakeChanged calls fn for every trace id whose spans, hold or grace changed since
// the previous call (the trace may be gone), and forgets them. all reports that the
// changes are not known (the first call, or nobody called for so long that they were
// dropped): the caller must look at every trace. From the first call on, the journal
// records the changes; only one caller (the journal's emitter) should take them.
func (tx *Tx) TakeChanged(fn func(id pcommon.TraceID)) (all bool) {
	x := &tx.j.st.idx
	all = !x.tracking || x.all
	x.tracking, x.all = true, false
	for id := range x.changedIDs {
		fn(id)
	}
	clear(x.changedIDs)
	return all
}

// openHeap is a min-heap of every open span, oldest first (openOlder), with each span's
// position in it: the open-span view lists the oldest k in O(k log k) (oldestK)
// without visiting the others, and opening or closing a span costs O(log open). Memory
// only, about 60 bytes per open span (not per held span).
type openHeap struct {
	spans []*Span
	pos   map[*Span]int
}

// openOlder orders open spans by start, then trace id, then span id (the view's order).
func openOlder(a, b *Span) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	if a.TraceID != b.TraceID {
		return bytes.Compare(a.TraceID[:], b.TraceID[:]) < 0
	}
	return bytes.Compare(a.SpanID[:], b.SpanID[:]) < 0
}

func (h *openHeap) add(s *Span) {
	if h.pos == nil {
		h.pos = map[*Span]int{}
	}
	if _, ok := h.pos[s]; ok {
		return
	}
	h.spans = append(h.spans, s)
	h.pos[s] = len(h.spans) - 1
	h.up(len(h.spans) - 1)
}

func (h *openHeap) remove(s *Span) {
	i, ok := h.pos[s]
	if !ok {
		return
	}
	last := len(h.spans) - 1
	h.swap(i, last)
	h.spans[last] = nil
	h.spans = h.spans[:last]
	delete(h.pos, s)
	if i < last {
		h.down(i)
		h.up(i)
	}
}

func (h *openHeap) swap(i, j int) {
	h.spans[i], h.spans[j] = h.spans[j], h.spans[i]
	h.pos[h.spans[i]], h.pos[h.spans[j]] = i, j
}

func (h *openHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !openOlder(h.spans[i], h.spans[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *openHeap) down(i int) {
	n := len(h.spans)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && openOlder(h.spans[c+1], h.spans[c]) {
			c++
		}
		if !openOlder(h.spans[c], h.spans[i]) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

// oldestK calls fn for the k oldest open spans, oldest first, without changing the
// heap: a frontier of heap positions (a heap of its own, in the room of frontier)
// starts at the root, and each position taken adds its two children, so only O(k)
// positions are visited.
func (h *openHeap) oldestK(k int, frontier []int, fn func(s *Span)) {
	if k <= 0 || len(h.spans) == 0 {
		return
	}
	less := func(a, b int) bool { return openOlder(h.spans[a], h.spans[b]) }
	frontier = append(frontier[:0], 0)
	for ; k > 0 && len(frontier) > 0; k-- {
		i := frontier[0]
		fn(h.spans[i])
		// pop the frontier's top
		last := len(frontier) - 1
		frontier[0] = frontier[last]
		frontier = frontier[:last]
		for j := 0; ; {
			c := 2*j + 1
			if c >= len(frontier) {
				break
			}
			if c+1 < len(frontier) && less(frontier[c+1], frontier[c]) {
				c++
			}
			if !less(frontier[c], frontier[j]) {
				break
			}
			frontier[j], frontier[c] = frontier[c], frontier[j]
			j = c
		}
		// push i's children
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c >= len(h.spans) {
				continue
			}
			frontier = append(frontier, c)
			for j := len(frontier) - 1; j > 0; {
				p := (j - 1) / 2
				if !less(frontier[j], frontier[p]) {
					break
				}
				frontier[j], frontier[p] = frontier[p], frontier[j]
				j = p
			}
		}
	}
}
