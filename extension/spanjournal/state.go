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
//
// The layout is kept small on purpose (120 bytes, TestSpanLayoutIsWhatTheDocsSay): a gateway holds millions of spans
// (every span of a page session's trace until the page ends). Times are Unix
// nanoseconds behind accessors, and the strings a session's spans repeat are one
// shared Origin.
type Span struct {
	TraceID  pcommon.TraceID
	SpanID   pcommon.SpanID
	ParentID pcommon.SpanID
	State    SpanState
	cached   bool // the payload cache holds payload
	// SnapshotSeq is the number of the last snapshot emitted for the span. Journaled
	// with the span and by every snapshot round (Tx.NextSnapshotSeq).
	SnapshotSeq uint32

	Name string
	// origin is shared by the spans of a session once they are put; it is replaced,
	// never changed (SetOrigin, SetSource).
	origin *Origin

	// start, firstSeen, lastSeen: see Start, FirstSeen, LastSeen; 0 is the zero time.
	start, firstSeen, lastSeen int64
	// IdleTimeout overrides the processor's idle_timeout for this span (a heartbeat
	// frequency × factor); zero means the default.
	IdleTimeout time.Duration

	// payload holds the bytes while no durable record is known to hold them, or while
	// the payload cache keeps them (cached); at is where they lie in the journal once
	// a durable record holds them. At least one is set. They change only under the
	// journal lock (SetPayload before the span is handed to the journal).
	// payload points to the bytes (8 bytes here instead of a 24-byte slice header,
	// for the millions of spans whose payload is only on disk).
	payload *[]byte
	at      wal.Location
}

// Origin is where a span comes from: what the spans of one page or app session
// share.
type Origin struct {
	Service   string
	SessionID string
	Source    string
	// Client is the address the span was last reported from (the processor's client
	// key for quotas and the session rule); empty when not known.
	Client string
	// ClockOffset is how far the client's clock is ahead of the collector's (behind
	// when negative), as the processor estimated it; zero when not known. The span's
	// own times (its start) are in the client's clock; FirstSeen and LastSeen are in
	// the collector's. Kept here, with what a session's spans share, and not on the
	// span: it moves rarely (the processor changes it only past a tolerance), so a
	// session keeps one Origin, and Span keeps its size.
	ClockOffset time.Duration
}

// SetOrigin sets the span's service, session, source and client.
func (s *Span) SetOrigin(o Origin) { s.origin = &o }

// SetSource changes the span's source (a copy of its origin with another source).
func (s *Span) SetSource(source string) {
	o := s.origin0()
	o.Source = source
	s.origin = &o
}

func (s *Span) origin0() Origin {
	if s.origin == nil {
		return Origin{}
	}
	return *s.origin
}

// Service is the service.name of the span's resource.
func (s *Span) Service() string { return s.origin0().Service }

// SessionID is the span's session id; empty when it has none.
func (s *Span) SessionID() string { return s.origin0().SessionID }

// Source is the input that reported the span (otlp_open_span, heartbeat_log, ...).
func (s *Span) Source() string { return s.origin0().Source }

// Client is the address the span was last reported from; empty when not known.
func (s *Span) Client() string { return s.origin0().Client }

// ClockOffset returns how far the span's client clock is ahead of the collector's
// (Origin.ClockOffset).
func (s *Span) ClockOffset() time.Duration { return s.origin0().ClockOffset }

// Start is the client's start time of the span.
func (s *Span) Start() time.Time { return fromNanos(s.start) }

// FirstSeen is when the collector first received the span.
func (s *Span) FirstSeen() time.Time { return fromNanos(s.firstSeen) }

// LastSeen is when the client last reported the span: the end time of a
// reconciliation.
func (s *Span) LastSeen() time.Time { return fromNanos(s.lastSeen) }

// SetTimes sets Start, FirstSeen and LastSeen.
func (s *Span) SetTimes(start, firstSeen, lastSeen time.Time) {
	s.start, s.firstSeen, s.lastSeen = toNanos(start), toNanos(firstSeen), toNanos(lastSeen)
}

// SetFirstSeen sets FirstSeen.
func (s *Span) SetFirstSeen(t time.Time) { s.firstSeen = toNanos(t) }

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// SetPayload sets the span's payload. Call it before the span is passed to Tx.Put;
// the journal owns b from then on and b must not be modified.
func (s *Span) SetPayload(b []byte) {
	s.payload, s.at, s.cached = nil, wal.Location{}, false
	if b != nil {
		s.payload = &b
	}
}

// ReconciledCopy returns a new span that is s reconciled: the same identity, name,
// origin, times, idle timeout and snapshot number, State SpanReconciled, and payload
// as its payload (owned by the journal once the copy is put, like SetPayload's).
// With payload nil the copy's payload is s's as the journal holds it on disk (its
// location; never s's in-memory bytes or place in the payload cache), for a caller
// that could not rewrite it. The copy is not in the journal until Tx.Put.
func (s *Span) ReconciledCopy(payload []byte) *Span {
	c := &Span{
		TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentID, State: SpanReconciled,
		SnapshotSeq: s.SnapshotSeq, Name: s.Name, origin: s.origin,
		start: s.start, firstSeen: s.firstSeen, lastSeen: s.lastSeen, IdleTimeout: s.IdleTimeout,
	}
	if payload != nil {
		c.SetPayload(payload)
	} else {
		c.at = s.at
	}
	return c
}

// inMemory returns the payload if memory holds it, else nil.
func (s *Span) inMemory() []byte {
	if s.payload == nil {
		return nil
	}
	return *s.payload
}

// PayloadSize is the length of the span's payload in bytes.
func (s *Span) PayloadSize() int {
	if s.payload != nil {
		return len(*s.payload)
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
	// open indexes the open spans of Spans (openindex.go); nil when none.
	open map[pcommon.SpanID]*Span
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

// Closed is what the journal remembers of a span that was open here and is closed
// now: when, and whether its client ended it (else the collector reconciled it).
type Closed struct {
	At    time.Time
	Ended bool
}

// closedID is one entry of the bounded memory of closed spans.
type closedID struct {
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

	// closed remembers spans that were open here and were reconciled or ended by their
	// client, oldest first in closedOrder; rebuilt from recReconciled records
	// (forgetting them is not journaled).
	closed      map[SpanKey]Closed
	closedOrder []closedID

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
	origins map[Origin]*Origin

	// idx indexes open spans and changed traces for the timed rules (openindex.go).
	idx timedIndex
}

func newState() *state {
	return &state{
		traces:       map[pcommon.TraceID]*Trace{},
		released:     map[pcommon.TraceID][]*Released{},
		sessions:     map[string]map[SpanKey]struct{}{},
		sessionUsage: map[string]*Usage{},
		clientUsage:  map[string]*Usage{},
		closed:       map[SpanKey]Closed{},
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
	st.share(s)
	t := st.trace(s.TraceID, true)
	if old := t.Spans[s.SpanID]; old != nil {
		st.unindex(t, old)
	}
	t.Spans[s.SpanID] = s
	st.account(t, s, 1)
	st.idx.changed(st, t.ID)
	if s.State == SpanOpen {
		st.idx.addOpen(t, s)
		st.openSpans++
		if s.SessionID() != "" {
			m := st.sessions[s.SessionID()]
			if m == nil {
				m = map[SpanKey]struct{}{}
				st.sessions[s.SessionID()] = m
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
	st.idx.changed(st, t.ID)
	if s.State == SpanOpen {
		st.idx.removeOpen(t, s)
		st.openSpans--
		if m := st.sessions[s.SessionID()]; m != nil {
			delete(m, SpanKey{s.TraceID, s.SpanID})
			if len(m) == 0 {
				delete(st.sessions, s.SessionID())
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
	addUsage(st.sessionUsage, s.SessionID(), s, sign)
	if s.Client() != "" {
		addUsage(st.clientUsage, s.Client(), s, sign)
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

// releasedBatch returns the released batch of a trace with this number, or nil.
func (st *state) releasedBatch(id pcommon.TraceID, batch uint64) *Released {
	for _, r := range st.released[id] {
		if r.Batch == batch {
			return r
		}
	}
	return nil
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

func (st *state) rememberClosed(k SpanKey, c Closed) {
	// A key remembered again gets a second entry; only the entry with the key's
	// current time removes it (forgetClosed).
	st.closedOrder = append(st.closedOrder, closedID{key: k, at: c.At})
	st.closed[k] = c
}

// forgetClosed drops the oldest remembered ids while keep says so.
func (st *state) forgetClosed(keep func(at time.Time, n int) bool) int {
	n := 0
	for n < len(st.closedOrder) {
		e := st.closedOrder[n]
		if keep(e.at, len(st.closedOrder)-n) {
			break
		}
		if st.closed[e.key].At.Equal(e.at) {
			delete(st.closed, e.key)
		}
		n++
	}
	clear(st.closedOrder[:n])
	st.closedOrder = st.closedOrder[n:]
	return n
}
