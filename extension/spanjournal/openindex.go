package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
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
}

func (x *timedIndex) removeOpen(t *Trace, s *Span) {
	if t.open[s.SpanID] != s {
		return
	}
	delete(t.open, s.SpanID)
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
