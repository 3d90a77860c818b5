package engine

import (
	"encoding/binary"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// memTx is an in-memory Tx: the journal's state as the rules see it, without a
// journal. Its payloads are the span's key: the rules only carry them.
type memTx struct {
	traces   map[pcommon.TraceID]*memTrace
	released map[pcommon.TraceID][]*spanjournal.Released
	closed   map[spanjournal.SpanKey]spanjournal.Closed
	// changed is nil until the first TakeChanged (the journal starts not tracking).
	changed  map[pcommon.TraceID]struct{}
	tracking bool
	batch    uint64
}

type memTrace struct {
	spans                 map[pcommon.SpanID]*spanjournal.Span
	heldSince, graceUntil time.Time
}

func newMemTx() *memTx {
	return &memTx{traces: map[pcommon.TraceID]*memTrace{}, released: map[pcommon.TraceID][]*spanjournal.Released{},
		closed: map[spanjournal.SpanKey]spanjournal.Closed{}}
}

// restart is what a journal replay leaves: the memory-only hold and grace are gone,
// and the changes are not known.
func (m *memTx) restart() {
	for _, t := range m.traces {
		t.heldSince, t.graceUntil = time.Time{}, time.Time{}
	}
	m.tracking, m.changed = false, nil
}

func (m *memTx) change(id pcommon.TraceID) {
	if m.tracking {
		m.changed[id] = struct{}{}
	}
}

func (m *memTx) Trace(id pcommon.TraceID) (TraceState, bool) {
	t := m.traces[id]
	if t == nil {
		return TraceState{}, false
	}
	st := TraceState{Spans: len(t.spans), HeldSince: t.heldSince, GraceUntil: t.graceUntil}
	for _, s := range t.spans {
		if s.State == spanjournal.SpanOpen {
			st.Open++
		}
	}
	return st, true
}

func (m *memTx) Span(trace pcommon.TraceID, span pcommon.SpanID) *spanjournal.Span {
	if t := m.traces[trace]; t != nil {
		return t.spans[span]
	}
	return nil
}

func (m *memTx) Spans(trace pcommon.TraceID, fn func(s *spanjournal.Span)) {
	if t := m.traces[trace]; t != nil {
		for _, s := range t.spans {
			fn(s)
		}
	}
}

func (m *memTx) OpenSpansOf(trace pcommon.TraceID, fn func(s *spanjournal.Span)) {
	m.Spans(trace, func(s *spanjournal.Span) {
		if s.State == spanjournal.SpanOpen {
			fn(s)
		}
	})
}

func (m *memTx) TraceIDs(fn func(id pcommon.TraceID)) {
	for id := range m.traces {
		fn(id)
	}
}

func (m *memTx) TakeChanged(fn func(id pcommon.TraceID)) bool {
	all := !m.tracking
	m.tracking = true
	for id := range m.changed {
		fn(id)
	}
	m.changed = map[pcommon.TraceID]struct{}{}
	return all
}

func (m *memTx) SessionSpans(session string) []*spanjournal.Span {
	var out []*spanjournal.Span
	for id := range m.traces {
		m.OpenSpansOf(id, func(s *spanjournal.Span) {
			if s.SessionID() == session {
				out = append(out, s)
			}
		})
	}
	return out
}

func (m *memTx) OpenCount() int {
	n := 0
	for _, t := range m.traces {
		for _, s := range t.spans {
			if s.State == spanjournal.SpanOpen {
				n++
			}
		}
	}
	return n
}

func (m *memTx) OpenSpansInShard(shard int, fn func(s *spanjournal.Span)) {
	for id := range m.traces {
		if int(binary.BigEndian.Uint64(id[:8])%spanjournal.OpenShards) == shard {
			m.OpenSpansOf(id, fn)
		}
	}
}

func (m *memTx) Put(s *spanjournal.Span, now time.Time) {
	t := m.traces[s.TraceID]
	if t == nil {
		t = &memTrace{spans: map[pcommon.SpanID]*spanjournal.Span{}}
		m.traces[s.TraceID] = t
	}
	t.spans[s.SpanID] = s
	if s.State != spanjournal.SpanOpen && t.heldSince.IsZero() {
		t.heldSince = now
	}
	m.change(s.TraceID)
}

func (m *memTx) SetGrace(trace pcommon.TraceID, until time.Time) {
	if t := m.traces[trace]; t != nil {
		t.graceUntil = until
		m.change(trace)
	}
}

func (m *memTx) Release(trace pcommon.TraceID, spans []*spanjournal.Span, now time.Time, early bool) *spanjournal.Released {
	t := m.traces[trace]
	m.batch++
	r := &spanjournal.Released{TraceID: trace, Batch: m.batch, At: now, Early: early}
	for _, s := range spans {
		if t.spans[s.SpanID] == s {
			delete(t.spans, s.SpanID)
			r.Spans = append(r.Spans, s)
		}
	}
	t.heldSince = time.Time{}
	if len(t.spans) == 0 {
		delete(m.traces, trace)
	}
	m.released[trace] = append(m.released[trace], r)
	m.change(trace)
	return r
}

func (m *memTx) Released(trace pcommon.TraceID) []*spanjournal.Released { return m.released[trace] }

func (m *memTx) RememberClosed(k spanjournal.SpanKey, c spanjournal.Closed) { m.closed[k] = c }

func (m *memTx) ClosedAt(k spanjournal.SpanKey) (spanjournal.Closed, bool) {
	c, ok := m.closed[k]
	return c, ok
}

func (m *memTx) Payloads(spans []*spanjournal.Span) ([][]byte, error) {
	out := make([][]byte, len(spans))
	for i, s := range spans {
		out[i] = payloadOf(s.TraceID, s.SpanID)
	}
	return out, nil
}

func (m *memTx) NextSnapshotSeq(s *spanjournal.Span) uint32 {
	s.SnapshotSeq++
	return s.SnapshotSeq
}

func payloadOf(trace pcommon.TraceID, span pcommon.SpanID) []byte {
	return append(trace[:], span[:]...)
}

// memRequest gives each item's key as its payload.
type memRequest []Item

func (r memRequest) Payload(i int, _ Mark) ([]byte, error) {
	return payloadOf(r[i].TraceID, r[i].SpanID), nil
}

// memCodec records every reconciliation by the span it rewrote.
type memCodec map[string]Reconciliation

func (c memCodec) Reconciled(stored []byte, r Reconciliation) ([]byte, error) {
	c[string(stored)] = r
	return stored, nil
}

var zapNop = zap.NewNop()
