package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// Tx is what the rules read and change of the journal inside one update: the subset
// of spanjournal.Tx they need, with traces named by id. Journal wraps the real one;
// the engine's tests use an in-memory one.
type Tx interface {
	// Trace says what the held trace id holds; false when none.
	Trace(id pcommon.TraceID) (TraceState, bool)
	// Span returns the held span, or nil.
	Span(trace pcommon.TraceID, span pcommon.SpanID) *spanjournal.Span
	// Spans calls fn for every span of a held trace; OpenSpansOf for its open ones.
	Spans(trace pcommon.TraceID, fn func(s *spanjournal.Span))
	OpenSpansOf(trace pcommon.TraceID, fn func(s *spanjournal.Span))
	// TraceIDs calls fn for every held trace.
	TraceIDs(fn func(id pcommon.TraceID))
	// TakeChanged calls fn for every trace changed since the last call; all is set
	// when the journal lost track (then every trace may have changed).
	TakeChanged(fn func(id pcommon.TraceID)) (all bool)
	// SessionSpans returns the open spans of a session.
	SessionSpans(session string) []*spanjournal.Span
	// OpenCount is how many spans are open.
	OpenCount() int
	// OpenSpansInShard calls fn for the open spans of one of spanjournal.OpenShards
	// shards.
	OpenSpansInShard(shard int, fn func(s *spanjournal.Span))

	// Put stores a span, replacing an earlier copy; now starts the trace's hold when
	// s is its first ended span.
	Put(s *spanjournal.Span, now time.Time)
	// SetGrace sets the trace's GraceUntil (the zero time: none).
	SetGrace(trace pcommon.TraceID, until time.Time)
	// Release moves spans of a trace into a released batch.
	Release(trace pcommon.TraceID, spans []*spanjournal.Span, now time.Time, early bool) *spanjournal.Released
	// Released returns the trace's released batches still journaled.
	Released(trace pcommon.TraceID) []*spanjournal.Released
	// RememberClosed and ClosedAt: the memory of closed spans.
	RememberClosed(k spanjournal.SpanKey, c spanjournal.Closed)
	ClosedAt(k spanjournal.SpanKey) (spanjournal.Closed, bool)
	// Payloads reads back the stored payloads of spans.
	Payloads(spans []*spanjournal.Span) ([][]byte, error)
	// NextSnapshotSeq numbers the next snapshot of s.
	NextSnapshotSeq(s *spanjournal.Span) uint32
}

// TraceState is what the rules read of one held trace.
type TraceState struct {
	// Spans and Open count the trace's spans and its open ones.
	Spans, Open int
	// HeldSince and GraceUntil are spanjournal.Trace's (memory only: zero after a
	// restart).
	HeldSince, GraceUntil time.Time
}

// Journal is the engine's view of a spanjournal transaction.
func Journal(tx *spanjournal.Tx) Tx { return journalTx{tx} }

type journalTx struct{ tx *spanjournal.Tx }

func (j journalTx) Trace(id pcommon.TraceID) (TraceState, bool) {
	t := j.tx.Trace(id)
	if t == nil {
		return TraceState{}, false
	}
	return TraceState{Spans: len(t.Spans), Open: t.OpenSpans(), HeldSince: t.HeldSince(), GraceUntil: t.GraceUntil()}, true
}

func (j journalTx) Span(trace pcommon.TraceID, span pcommon.SpanID) *spanjournal.Span {
	if t := j.tx.Trace(trace); t != nil {
		return t.Spans[span]
	}
	return nil
}

func (j journalTx) Spans(trace pcommon.TraceID, fn func(s *spanjournal.Span)) {
	if t := j.tx.Trace(trace); t != nil {
		for _, s := range t.Spans {
			fn(s)
		}
	}
}

func (j journalTx) OpenSpansOf(trace pcommon.TraceID, fn func(s *spanjournal.Span)) {
	if t := j.tx.Trace(trace); t != nil {
		j.tx.OpenSpansOf(t, fn)
	}
}

func (j journalTx) TraceIDs(fn func(id pcommon.TraceID)) {
	j.tx.Traces(func(t *spanjournal.Trace) { fn(t.ID) })
}

func (j journalTx) TakeChanged(fn func(id pcommon.TraceID)) bool { return j.tx.TakeChanged(fn) }

func (j journalTx) SessionSpans(session string) []*spanjournal.Span {
	return j.tx.SessionSpans(session)
}

func (j journalTx) OpenCount() int {
	open, _ := j.tx.Counts()
	return open
}

func (j journalTx) OpenSpansInShard(shard int, fn func(s *spanjournal.Span)) {
	j.tx.OpenSpansInShard(shard, fn)
}

func (j journalTx) Put(s *spanjournal.Span, now time.Time) { j.tx.Put(s, now) }

func (j journalTx) SetGrace(trace pcommon.TraceID, until time.Time) {
	if t := j.tx.Trace(trace); t != nil {
		j.tx.SetGrace(t, until)
	}
}

func (j journalTx) Release(trace pcommon.TraceID, spans []*spanjournal.Span, now time.Time, early bool) *spanjournal.Released {
	return j.tx.Release(j.tx.Trace(trace), spans, now, early)
}

func (j journalTx) Released(trace pcommon.TraceID) []*spanjournal.Released {
	return j.tx.Released(trace)
}

func (j journalTx) RememberClosed(k spanjournal.SpanKey, c spanjournal.Closed) {
	j.tx.RememberClosed(k, c)
}

func (j journalTx) ClosedAt(k spanjournal.SpanKey) (spanjournal.Closed, bool) {
	return j.tx.ClosedAt(k)
}

func (j journalTx) Payloads(spans []*spanjournal.Span) ([][]byte, error) {
	return j.tx.Payloads(spans)
}

func (j journalTx) NextSnapshotSeq(s *spanjournal.Span) uint32 { return j.tx.NextSnapshotSeq(s) }
