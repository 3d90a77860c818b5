package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// ErrJournalFull is returned (wrapped) by Tx.JournalFull users when the journal
// passed max_bytes: the request is refused with a retryable error.
var ErrJournalFull = errors.New("span journal is full")

// Journal is the durable span state the longspan processors share. All reads and
// changes go through Update, which runs under one lock and journals every change
// before it returns.
type Journal struct {
	mu     sync.Mutex
	st     *state
	log    *wal.Log
	logger *zap.Logger

	maxBytes int64
	now      func() time.Time

	// recoveredAt is when the state was last rebuilt from disk; idle clocks of
	// recovered spans restart from it.
	recoveredAt time.Time

	emitterMu sync.Mutex
	emitter   any
}

// Recovery reports what the last start-up replayed.
type Recovery struct {
	Records  int
	Duration time.Duration
	At       time.Time
	Open     int
	Held     int
	Released int
}

func newJournal(log *wal.Log, maxBytes int64, now func() time.Time, logger *zap.Logger) *Journal {
	return &Journal{st: newState(), log: log, maxBytes: maxBytes, now: now, logger: logger}
}

// Tx is the view of the state inside one Update. Its methods change the in-memory
// state and queue the journal records that restate the change.
type Tx struct {
	j    *Journal
	recs []wal.Record
}

// Update runs fn under the journal lock, then waits until every record fn queued is
// durable (under the extension's sync policy). Records queued by concurrent Updates
// share one write and one fsync. fn must check limits before it changes anything: the
// changes it made stay in memory even when it returns an error.
func (j *Journal) Update(ctx context.Context, fn func(tx *Tx) error) error {
	j.mu.Lock()
	tx := &Tx{j: j}
	err := fn(tx)
	var pending *wal.Pending
	if len(tx.recs) > 0 {
		pending = j.log.Submit(tx.recs...)
	}
	j.mu.Unlock()
	if pending != nil {
		if _, werr := pending.Wait(ctx); werr != nil {
			return errors.Join(err, fmt.Errorf("span journal write failed: %w", werr))
		}
	}
	return err
}

// Trace returns the held trace with this id, or nil.
func (tx *Tx) Trace(id pcommon.TraceID) *Trace { return tx.j.st.traces[id] }

// Traces calls fn for every held trace, in no particular order.
func (tx *Tx) Traces(fn func(t *Trace)) {
	for _, t := range tx.j.st.traces {
		fn(t)
	}
}

// Released returns the batches of this trace that are released but still journaled.
func (tx *Tx) Released(id pcommon.TraceID) []*Released { return tx.j.st.released[id] }

// AllReleased calls fn for every released batch still journaled.
func (tx *Tx) AllReleased(fn func(r *Released)) {
	for _, rs := range tx.j.st.released {
		for _, r := range rs {
			fn(r)
		}
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

// Counts returns the open and held (ended or reconciled, not yet released) spans.
func (tx *Tx) Counts() (open, held int) { return tx.j.st.openSpans, tx.j.st.heldSpans }

// JournalFull reports whether the journal on disk passed its max_bytes limit.
func (tx *Tx) JournalFull() bool {
	return tx.j.maxBytes > 0 && tx.j.log.Size() >= tx.j.maxBytes
}

// Put stores a span (replacing an earlier copy) and journals it.
func (tx *Tx) Put(s *Span, now time.Time) {
	tx.j.st.put(s, now)
	tx.recs = append(tx.recs, spanRecord(s))
}

// Release moves the given spans of t into a released batch and queues it for delivery.
func (tx *Tx) Release(t *Trace, spans []*Span, at time.Time, early bool) *Released {
	ids := make([]pcommon.SpanID, len(spans))
	for i, s := range spans {
		ids[i] = s.SpanID
	}
	r := tx.j.st.release(t, ids, tx.j.st.nextBatch, at, early)
	tx.recs = append(tx.recs, releaseRecord(r))
	return r
}

// RememberReconciled journals that a span was reconciled at at.
func (tx *Tx) RememberReconciled(k SpanKey, at time.Time) {
	tx.j.st.rememberReconciled(k, at)
	tx.recs = append(tx.recs, reconciledRecord(k, at))
}

// ReconciledAt says when a span was reconciled, if it is still remembered.
func (tx *Tx) ReconciledAt(k SpanKey) (time.Time, bool) {
	at, ok := tx.j.st.reconciled[k]
	return at, ok
}

// ForgetReconciled drops remembered reconciled ids older than before, and the oldest
// beyond max entries; it returns how many went for each reason. Not journaled: replay
// restores them and the next call drops them again.
func (tx *Tx) ForgetReconciled(before time.Time, maxEntries int) (expired, evicted int) {
	expired = tx.j.st.forgetReconciled(func(at time.Time, _ int) bool { return !at.Before(before) })
	evicted = tx.j.st.forgetReconciled(func(_ time.Time, n int) bool { return n <= maxEntries })
	return expired, evicted
}

// TakeDue returns the released batches not yet accepted downstream whose next
// attempt is due, and marks them in flight: no other caller takes them until they are
// handed back to Delivered or Failed.
func (tx *Tx) TakeDue(now time.Time) []*Released {
	st := tx.j.st
	var due []*Released
	keep := st.undelivered[:0]
	for _, r := range st.undelivered {
		switch {
		case r.delivered || r.inFlight:
		case r.nextAttempt.After(now):
			keep = append(keep, r)
		default:
			r.inFlight = true
			due = append(due, r)
		}
	}
	clear(st.undelivered[len(keep):])
	st.undelivered = keep
	return due
}

// Take marks one batch in flight, as TakeDue does; false if someone else has it.
func (tx *Tx) Take(r *Released) bool {
	if r.delivered || r.inFlight {
		return false
	}
	r.inFlight = true
	return true
}

// Delivered records that the next consumer accepted r; the journal keeps it until
// until, when ForgetExpired drops it.
func (tx *Tx) Delivered(r *Released, until time.Time) {
	r.inFlight = false
	if r.delivered {
		return
	}
	r.delivered, r.until = true, until
	tx.j.st.delivered = append(tx.j.st.delivered, r)
}

// Failed puts r back in the delivery queue, to be tried again at next.
func (tx *Tx) Failed(r *Released, next time.Time) {
	r.inFlight = false
	r.attempts++
	r.nextAttempt = next
	tx.j.st.undelivered = append(tx.j.st.undelivered, r)
}

// ForgetExpired drops, and journals the drop of, every delivered batch whose
// retention ended by now; it returns how many it dropped.
func (tx *Tx) ForgetExpired(now time.Time) int {
	st := tx.j.st
	n := 0
	for n < len(st.delivered) && !st.delivered[n].until.After(now) {
		r := st.delivered[n]
		st.forget(r.TraceID, r.Batch)
		tx.recs = append(tx.recs, forgetRecord(r.TraceID, r.Batch))
		n++
	}
	clear(st.delivered[:n])
	st.delivered = st.delivered[n:]
	return n
}

// Claim makes owner the one processor instance that emits snapshots, reconciliations
// and releases for this journal; it returns false when another owner has it. Every
// longspan instance ingests into the journal, but only one may act on timers, or
// each span would be snapshotted and released once per instance.
func (j *Journal) Claim(owner any) bool {
	j.emitterMu.Lock()
	defer j.emitterMu.Unlock()
	if j.emitter == nil {
		j.emitter = owner
	}
	return j.emitter == owner
}

// Unclaim gives the emitter role back (at processor shutdown).
func (j *Journal) Unclaim(owner any) {
	j.emitterMu.Lock()
	defer j.emitterMu.Unlock()
	if j.emitter == owner {
		j.emitter = nil
	}
}

func (j *Journal) counts() (open, held, released, traces int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st.openSpans, j.st.heldSpans, j.st.releasedSpans, len(j.st.traces)
}

// RecoveredAt returns when the state was last rebuilt from the journal.
func (j *Journal) RecoveredAt() time.Time { return j.recoveredAt }

// replay rebuilds the state from every record on disk.
func (j *Journal) replay() (Recovery, error) {
	start := time.Now()
	now := j.now()
	var rec Recovery
	err := j.log.Replay(func(index uint64, r wal.Record) error {
		rec.Records++
		if err := j.apply(r); err != nil {
			return fmt.Errorf("journal record %d (type %d): %w", index, r.Type, err)
		}
		return nil
	})
	if err != nil {
		return rec, err
	}
	j.recoveredAt = now
	// Every batch still journaled may not have passed tail sampling: deliver it again.
	j.st.undelivered = j.st.undelivered[:0]
	for _, rs := range j.st.released {
		for _, r := range rs {
			r.Replayed = true
			j.st.undelivered = append(j.st.undelivered, r)
		}
	}
	sort.Slice(j.st.undelivered, func(a, b int) bool { return j.st.undelivered[a].Batch < j.st.undelivered[b].Batch })
	rec.Duration = time.Since(start)
	rec.At = now
	rec.Open, rec.Held, rec.Released = j.st.openSpans, j.st.heldSpans, j.st.releasedSpans
	return rec, nil
}

func (j *Journal) apply(r wal.Record) error {
	d := &decoder{b: r.Data}
	switch r.Type {
	case recSpan:
		s, err := decodeSpan(d)
		if err != nil {
			return err
		}
		j.st.put(s, time.Time{})
	case recRelease:
		op, err := decodeRelease(d)
		if err != nil {
			return err
		}
		t := j.st.traces[op.TraceID]
		if t == nil {
			// Released twice (a checkpoint restated the batch): nothing held is left.
			if op.Batch >= j.st.nextBatch {
				j.st.nextBatch = op.Batch + 1
			}
			return nil
		}
		j.st.release(t, op.spans, op.Batch, op.At, op.Early)
	case recForget:
		id, batch, err := decodeForget(d)
		if err != nil {
			return err
		}
		j.st.forget(id, batch)
	case recCheckpoint:
		if _, err := decodeCheckpoint(d); err != nil {
			return err
		}
	case recReconciled:
		k, at, err := decodeReconciled(d)
		if err != nil {
			return err
		}
		j.st.rememberReconciled(k, at)
	case recReleasedBatch:
		r, err := decodeReleasedBatch(d)
		if err != nil {
			return err
		}
		for _, old := range j.st.released[r.TraceID] {
			if old.Batch == r.Batch {
				return nil
			}
		}
		j.st.addReleased(r)
	default:
		return fmt.Errorf("unknown record type %d", r.Type)
	}
	return nil
}

func decodeCheckpoint(d *decoder) (time.Time, error) {
	at := d.time()
	return at, d.err
}

// checkpoint restates all live state after a checkpoint marker, waits until that is
// durable, and drops the segments before the marker: a span open for weeks is
// rewritten forward instead of pinning the oldest segment.
func (j *Journal) checkpoint(ctx context.Context) (removed int, err error) {
	j.mu.Lock()
	recs := []wal.Record{checkpointRecord(j.now())}
	for _, t := range j.st.traces {
		for _, s := range t.Spans {
			recs = append(recs, spanRecord(s))
		}
	}
	for _, rs := range j.st.released {
		for _, r := range rs {
			recs = append(recs, releasedBatchRecord(r))
		}
	}
	for _, e := range j.st.reconciledOrder {
		if at, ok := j.st.reconciled[e.key]; ok && at.Equal(e.at) {
			recs = append(recs, reconciledRecord(e.key, at))
		}
	}
	pending := j.log.Submit(recs...)
	j.mu.Unlock()
	last, err := pending.Wait(ctx)
	if err != nil {
		return 0, fmt.Errorf("writing checkpoint: %w", err)
	}
	marker := last - uint64(len(recs)) + 1
	return j.log.TruncateBefore(marker)
}

// OpenSpanView is one row of the read-only view of open spans.
type OpenSpanView struct {
	TraceID   string    `json:"trace_id"`
	SpanID    string    `json:"span_id"`
	Name      string    `json:"name"`
	Service   string    `json:"service"`
	SessionID string    `json:"session_id"`
	OpenSince time.Time `json:"open_since"`
	LastSeen  time.Time `json:"last_seen"`
	Source    string    `json:"source"`
	Snapshots uint32    `json:"snapshots"`
}

// View is the answer of GET /v1/open-spans.
type View struct {
	OpenSpans   []OpenSpanView `json:"open_spans"`
	HeldSpans   int            `json:"held_spans"`
	HeldTraces  int            `json:"held_traces"`
	Truncated   bool           `json:"truncated,omitempty"`
	TotalOpen   int            `json:"total_open"`
	Released    int            `json:"released_spans"`
	RecoveredAt time.Time      `json:"recovered_at"`
}

// view lists up to limit open spans, oldest first.
func (j *Journal) view(limit int) View {
	j.mu.Lock()
	v := View{
		HeldSpans:   j.st.heldSpans,
		HeldTraces:  len(j.st.traces),
		TotalOpen:   j.st.openSpans,
		Released:    j.st.releasedSpans,
		RecoveredAt: j.recoveredAt.UTC(),
		OpenSpans:   make([]OpenSpanView, 0, j.st.openSpans),
	}
	for _, t := range j.st.traces {
		for _, s := range t.Spans {
			if s.State == SpanOpen {
				v.OpenSpans = append(v.OpenSpans, OpenSpanView{
					TraceID: s.TraceID.String(), SpanID: s.SpanID.String(), Name: s.Name,
					Service: s.Service, SessionID: s.SessionID, OpenSince: s.Start.UTC(),
					LastSeen: s.LastSeen.UTC(), Source: s.Source, Snapshots: s.SnapshotSeq,
				})
			}
		}
	}
	j.mu.Unlock()
	sort.Slice(v.OpenSpans, func(a, b int) bool { return v.OpenSpans[a].OpenSince.Before(v.OpenSpans[b].OpenSince) })
	if len(v.OpenSpans) > limit {
		v.OpenSpans, v.Truncated = v.OpenSpans[:limit], true
	}
	return v
}
