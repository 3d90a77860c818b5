package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// Tx is the view of the state inside one Update. Its methods are the only way to
// change the state: each changes memory and, for journaled state, queues the records
// that restate the change. The delivery methods are in delivery.go.
type Tx struct {
	j    *Journal
	recs []wal.Record
	// placed are the payloads in recs: once recs are durable, their spans keep only
	// where the payloads lie.
	placed []placement
	// seqs are the snapshot numbers taken in this Update, journaled in one record.
	seqs []snapshotSeq
	// rides is set when the Update acknowledges (ForgetPassed), whose records ride:
	// nobody waits for them, or reports a delivery (Delivered, Failed: memory only).
	// Such an Update writes nothing unless it also queued records of its own; any
	// other Update takes the riders along. (A delivery report that took the riders
	// along would wait for an fsync, and a min_sync_interval, per released trace.)
	rides bool
}

// Trace returns the held trace with this id, or nil.
func (tx *Tx) Trace(id pcommon.TraceID) *Trace { return tx.j.st.traces[id] }

// Traces calls fn for every held trace, in no particular order.
func (tx *Tx) Traces(fn func(t *Trace)) {
	for _, t := range tx.j.st.traces {
		fn(t)
	}
}

// SessionSpans returns the open spans that carry this session id.
func (tx *Tx) SessionSpans(session string) []*Span {
	m := tx.j.st.sessions[session]
	out := make([]*Span, 0, len(m))
	for k := range m {
		if t := tx.j.st.traces[k.Trace]; t != nil {
			if s := t.Spans[k.Span]; s != nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// SessionUsage returns what the spans of a session hold; the session "" is every
// span without one.
func (tx *Tx) SessionUsage(session string) Usage { return usageOf(tx.j.st.sessionUsage, session) }

// ClientUsage returns what the spans last reported by a client hold.
func (tx *Tx) ClientUsage(client string) Usage { return usageOf(tx.j.st.clientUsage, client) }

func usageOf(m map[string]*Usage, key string) Usage {
	if u := m[key]; u != nil {
		return *u
	}
	return Usage{}
}

// Counts returns the open and held (ended or reconciled, not yet released) spans.
func (tx *Tx) Counts() (open, held int) { return tx.j.st.openSpans, tx.j.st.heldSpans }

// JournalFull reports whether the journal on disk passed its max_bytes limit.
func (tx *Tx) JournalFull() bool {
	return tx.j.maxBytes > 0 && tx.j.log.Size() >= tx.j.maxBytes
}

// Put stores a span (replacing an earlier copy) and journals it. now starts the
// trace's hold when s is the first ended span held in it.
// A span put again whose payload is already in the journal is restated with the
// payload read back; should that read fail, memory has the change and the next
// checkpoint (which then fails until the payload reads again) journals it.
func (tx *Tx) Put(s *Span, now time.Time) {
	tx.j.st.put(s, now)
	payload, err := tx.j.payloadLocked(s)
	if err != nil {
		tx.j.behind.Store(true)
		return
	}
	rec, off := spanRecord(s, payload)
	tx.placed = append(tx.placed, placement{span: s, rec: len(tx.recs), off: off, n: len(payload)})
	tx.recs = append(tx.recs, rec)
}

// Payloads returns the payloads of spans, in order, read back from the journal where
// they are not in memory. A payload that cannot be read is nil and named in err.
// Reading under the journal lock keeps every location valid (a checkpoint truncates
// only under the lock), at the cost of holding it for the reads: Journal.Payloads
// reads outside it.
func (tx *Tx) Payloads(spans []*Span) ([][]byte, error) {
	out, locs := payloadRefs(spans)
	return out, tx.j.readPayloads(spans, out, locs)
}

// SetGrace makes t wait until until for the parent of its ended spans (parent_grace);
// the zero time ends the wait. Memory only: see Trace.GraceUntil.
func (tx *Tx) SetGrace(t *Trace, until time.Time) {
	t.graceUntil = until
	tx.j.st.idx.changed(tx.j.st, t.ID)
}

// NextSnapshotSeq numbers the next snapshot of s. The numbers of one Update are
// journaled together, in one small record (no payloads), so numbering goes on across a
// restart or a shard move instead of repeating.
func (tx *Tx) NextSnapshotSeq(s *Span) uint32 {
	s.SnapshotSeq++
	tx.seqs = append(tx.seqs, snapshotSeq{key: SpanKey{Trace: s.TraceID, Span: s.SpanID}, seq: s.SnapshotSeq})
	return s.SnapshotSeq
}

// RememberClosed journals that a span open here was closed: reconciled, or ended by
// its client (c.Ended). A later open snapshot of it is older news, and a later real
// end of a reconciled one supersedes it.
func (tx *Tx) RememberClosed(k SpanKey, c Closed) {
	tx.j.st.rememberClosed(k, c)
	tx.recs = append(tx.recs, closedRecord(k, c))
}

// ClosedAt says whether, when and how a span was closed, if it is still remembered.
func (tx *Tx) ClosedAt(k SpanKey) (Closed, bool) {
	c, ok := tx.j.st.closed[k]
	return c, ok
}

// ForgetClosed drops remembered closed ids older than before, and the oldest beyond
// max entries; it returns how many went for each reason. Not journaled: replay
// restores them and the next call drops them again.
func (tx *Tx) ForgetClosed(before time.Time, maxEntries int) (expired, evicted int) {
	expired = tx.j.st.forgetClosed(func(at time.Time, _ int) bool { return !at.Before(before) })
	evicted = tx.j.st.forgetClosed(func(_ time.Time, n int) bool { return n <= maxEntries })
	return expired, evicted
}
