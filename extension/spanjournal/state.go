package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// SpanState says what the journal holds a span as.
type SpanState uint8

const (
	// SpanOpen is a span the client reported without an end time: it is still running.
	SpanOpen SpanState = 1
	// SpanEnded is an ended span held back until nothing in its trace is open.
	SpanEnded SpanState = 2
	// SpanReconciled is an open span the collector closed because its client went away.
	SpanReconciled SpanState = 3
)

func (s SpanState) String() string {
	switch s {
	case SpanOpen:
		return "open"
	case SpanEnded:
		return "ended"
	case SpanReconciled:
		return "reconciled"
	}
	return "unknown"
}

// Span is one span the journal holds. Its payload is the span itself as an OTLP
// protobuf TracesData with exactly one resource, one scope and one span, so that
// releasing it restores the client's resource and scope unchanged; the other fields
// are what the rules need without decoding the payload.
//
// The payload lives in the journal, not in memory: once the record that holds it is
// durable, memory keeps only where it lies (a wal.Location), and Journal.Payloads or
// Tx.Payloads read it back when a trace is released or a snapshot is built. Until
// then (and after a failed write, until the next checkpoint) memory keeps the bytes.
//
// Every field is journaled (one recSpan record restates the whole span). A Span the
// journal returns is read-only: a processor changes a span by building a new one and
// passing it to Tx.Put, or through another Tx method, so that the indexes, the
// counters and the journal stay in step.
type Span struct {
	TraceID  pcommon.TraceID
	SpanID   pcommon.SpanID
	ParentID pcommon.SpanID
	State    SpanState

	Name      string
	Service   string
	SessionID string
	Source    string
	// Client is the address the span was last reported from (the processor's client
	// key for quotas and the session rule); empty when not known.
	Client string

	// Start is the client's start time of the span.
	Start time.Time
	// FirstSeen is when the collector first received the span.
	FirstSeen time.Time
	// LastSeen is when the client last reported the span: the end time of a
	// reconciliation.
	LastSeen time.Time
	// IdleTimeout overrides the processor's idle_timeout for this span (a heartbeat
	// frequency × factor); zero means the default.
	IdleTimeout time.Duration
	// SnapshotSeq is the number of the last snapshot emitted for the span. Journaled
	// with the span and by every snapshot round (Tx.NextSnapshotSeq).
	SnapshotSeq uint32

	// payload holds the bytes while no durable record is known to hold them, or while
	// the payload cache keeps them (cached); at is where they lie in the journal once
	// a durable record holds them. At least one is set. They change only under the
	// journal lock (SetPayload before the span is handed to the journal).
	payload []byte
	at      wal.Location
	cached  bool
}

// SetPayload sets the span's payload. Call it before the span is passed to Tx.Put;
// the journal owns b from then on and b must not be modified.
func (s *Span) SetPayload(b []byte) { s.payload, s.at, s.cached = b, wal.Location{}, false }

// PayloadSize is the length of the span's payload in bytes.
func (s *Span) PayloadSize() int {
	if s.payload != nil {
		return len(s.payload)
	}
	return int(s.at.Size)
}

// place records that the payload lies at loc, once the record holding it is durable.
// Locations only move forward: a checkpoint may already have restated the span in a
// later record, and the earlier one may be truncated away.
func (s *Span) place(loc wal.Location) {
	if s.at.IsZero() || s.at.Before(loc) {
		s.at = loc
	}
}

// Trace is the set of spans held for one trace id. Read-only outside the journal,
// like Span.
type Trace struct {
	ID pcommon.TraceID
	// Spans holds the trace's open, ended and reconciled spans; rebuilt from their
	// records on replay.
	Spans map[pcommon.SpanID]*Span
	// heldSince and graceUntil are memory only: see HeldSince and GraceUntil.
	heldSince  time.Time
	graceUntil time.Time
	// usage counts the spans in Spans.
	usage Usage
}

// OpenSpans returns how many spans of the trace are still open.
func (t *Trace) OpenSpans() int { return t.usage.Open }

// Usage returns what the trace holds.
func (t *Trace) Usage() Usage { return t.usage }

// Usage is what one trace, session or client holds: its open spans, its held spans
// (ended or reconciled, not yet released) and their payload bytes. The processor's
// quotas are measured in it.
type Usage struct {
	Open  int
	Held  int
	Bytes int64
}

func (u *Usage) add(s *Span, sign int) {
	if s.State == SpanOpen {
		u.Open += sign
	} else {
		u.Held += sign
	}
	u.Bytes += int64(sign * s.PayloadSize())
}

func (u Usage) zero() bool { return u == Usage{} }

// HeldSince is when the oldest ended span still held in this trace arrived. It is not
// journaled: after a restart it is zero for recovered traces, and the processor counts
// their hold from its own start.
func (t *Trace) HeldSince() time.Time { return t.heldSince }

// GraceUntil is when a trace holding only ended spans stops waiting for their parent
// (the processor's parent_grace); set with Tx.SetGrace. It is not journaled: a trace
// recovered after a restart has no grace left.
func (t *Trace) GraceUntil() time.Time { return t.graceUntil }

// SpanKey names one span.
type SpanKey struct {
	Trace pcommon.TraceID
	Span  pcommon.SpanID
}

// reconciledID is one entry of the bounded memory of reconciled spans.
type reconciledID struct {
	key SpanKey
	at  time.Time
}

// state is the in-memory model the journal records rebuild. Every method assumes the
// journal's lock is held.
type state struct {
	// traces is rebuilt from recSpan and recRelease records.
	traces map[pcommon.TraceID]*Trace
	// released is rebuilt from recRelease, recReleasedBatch and recForget records.
	released map[pcommon.TraceID][]*Released
	// sessions indexes open spans by session id, for the session_ended rule; derived
	// from traces.
	sessions map[string]map[SpanKey]struct{}
	// sessionUsage and clientUsage add up Usage by session id (the key "" holds the
	// spans without a session) and by client; derived from traces.
	sessionUsage map[string]*Usage
	clientUsage  map[string]*Usage

	// undelivered holds released batches not yet accepted downstream, oldest first;
	// delivered holds the accepted ones in the order they may be forgotten. Memory
	// only (delivery.go): replay queues every journaled batch again.
	undelivered []*Released
	delivered   []*Released

	// reconciled remembers reconciled spans, oldest first in reconciledOrder; rebuilt
	// from recReconciled records (forgetting them is not journaled).
	reconciled      map[SpanKey]time.Time
	reconciledOrder []reconciledID

	// Derived from the above.
	openSpans     int
	heldSpans     int
	releasedSpans int
	nextBatch     uint64
	// liveBytes is the payload bytes of every span in traces and released.
	liveBytes int64

	// strings shares the strings spans repeat (names, services, sessions, clients):
	// millions of held spans would otherwise each keep a copy.
	strings internTable
}

func newState() *state {
	return &state{
		traces:       map[pcommon.TraceID]*Trace{},
		released:     map[pcommon.TraceID][]*Released{},
		sessions:     map[string]map[SpanKey]struct{}{},
		sessionUsage: map[string]*Usage{},
		clientUsage:  map[string]*Usage{},
		reconciled:   map[SpanKey]time.Time{},
	}
}

func (st *state) trace(id pcommon.TraceID, create bool) *Trace {
	t := st.traces[id]
	if t == nil && create {
		t = &Trace{ID: id, Spans: map[pcommon.SpanID]*Span{}}
		st.traces[id] = t
	}
	return t
}

// put inserts or replaces a span and keeps every counter and index in step. now
// starts the trace's hold; replay passes the zero time.
func (st *state) put(s *Span, now time.Time) {
	st.strings.share(&s.Name, &s.Service, &s.SessionID, &s.Source, &s.Client)
	t := st.trace(s.TraceID, true)
	if old := t.Spans[s.SpanID]; old != nil {
		st.unindex(t, old)
	}
	t.Spans[s.SpanID] = s
	st.account(t, s, 1)
	if s.State == SpanOpen {
		st.openSpans++
		if s.SessionID != "" {
			m := st.sessions[s.SessionID]
			if m == nil {
				m = map[SpanKey]struct{}{}
				st.sessions[s.SessionID] = m
			}
			m[SpanKey{s.TraceID, s.SpanID}] = struct{}{}
		}
	} else {
		st.heldSpans++
		if t.heldSince.IsZero() && !now.IsZero() {
			t.heldSince = now
		}
	}
}

// remove takes a span out of its trace, dropping the trace when it empties.
func (st *state) remove(t *Trace, s *Span) {
	if t.Spans[s.SpanID] != s {
		return
	}
	st.unindex(t, s)
	delete(t.Spans, s.SpanID)
	if len(t.Spans) == 0 {
		delete(st.traces, t.ID)
	}
}

func (st *state) unindex(t *Trace, s *Span) {
	st.account(t, s, -1)
	if s.State == SpanOpen {
		st.openSpans--
		if m := st.sessions[s.SessionID]; m != nil {
			delete(m, SpanKey{s.TraceID, s.SpanID})
			if len(m) == 0 {
				delete(st.sessions, s.SessionID)
			}
		}
		return
	}
	st.heldSpans--
}

// account adds (sign 1) or removes (sign -1) a span in the usage of its trace,
// session and client.
func (st *state) account(t *Trace, s *Span, sign int) {
	st.liveBytes += int64(sign * s.PayloadSize())
	t.usage.add(s, sign)
	addUsage(st.sessionUsage, s.SessionID, s, sign)
	if s.Client != "" {
		addUsage(st.clientUsage, s.Client, s, sign)
	}
}

func addUsage(m map[string]*Usage, key string, s *Span, sign int) {
	u := m[key]
	if u == nil {
		u = &Usage{}
		m[key] = u
	}
	u.add(s, sign)
	if u.zero() {
		delete(m, key)
	}
}

// release moves the named spans of a trace into a released batch.
func (st *state) release(t *Trace, ids []pcommon.SpanID, batch uint64, at time.Time, early bool) *Released {
	r := &Released{TraceID: t.ID, Batch: batch, At: at, Early: early}
	for _, id := range ids {
		s := t.Spans[id]
		if s == nil {
			continue
		}
		st.remove(t, s)
		r.Spans = append(r.Spans, s)
	}
	// Every release takes all ended spans of the trace, so nothing is held after it.
	t.heldSince = time.Time{}
	st.addReleased(r)
	return r
}

func (st *state) addReleased(r *Released) {
	st.released[r.TraceID] = append(st.released[r.TraceID], r)
	st.releasedSpans += len(r.Spans)
	st.liveBytes += r.bytes()
	if r.Batch >= st.nextBatch {
		st.nextBatch = r.Batch + 1
	}
}

func (st *state) forget(id pcommon.TraceID, batch uint64) {
	rs := st.released[id]
	for i, r := range rs {
		if r.Batch == batch {
			st.releasedSpans -= len(r.Spans)
			st.liveBytes -= r.bytes()
			rs = append(rs[:i], rs[i+1:]...)
			break
		}
	}
	if len(rs) == 0 {
		delete(st.released, id)
	} else {
		st.released[id] = rs
	}
}

func (st *state) rememberReconciled(k SpanKey, at time.Time) {
	// A key remembered again gets a second entry; only the entry with the key's
	// current time removes it (forgetReconciled).
	st.reconciledOrder = append(st.reconciledOrder, reconciledID{key: k, at: at})
	st.reconciled[k] = at
}

// forgetReconciled drops the oldest remembered ids while keep says so.
func (st *state) forgetReconciled(keep func(at time.Time, n int) bool) int {
	n := 0
	for n < len(st.reconciledOrder) {
		e := st.reconciledOrder[n]
		if keep(e.at, len(st.reconciledOrder)-n) {
			break
		}
		if st.reconciled[e.key].Equal(e.at) {
			delete(st.reconciled, e.key)
		}
		n++
	}
	clear(st.reconciledOrder[:n])
	st.reconciledOrder = st.reconciledOrder[n:]
	return n
}
