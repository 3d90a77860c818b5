package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// Journal is the durable span state the longspan processors share. All reads and
// changes go through Update, which runs under one lock and journals every change
// before it returns.
type Journal struct {
	mu  sync.Mutex
	st  *state
	log *wal.Log

	// truncating is held for writing while a checkpoint drops segments, and for
	// reading by Journal.Payloads from copying locations until the reads are done:
	// a location copied under mu stays readable. Lock order: truncating, then mu.
	truncating sync.RWMutex

	maxBytes int64
	now      func() time.Time
	// chunkBytes bounds the payload bytes one checkpoint chunk restates while it
	// holds the lock (checkpointChunkBytes; tests make it small).
	chunkBytes int
	// cache keeps the payloads written last in memory (payload_cache_bytes).
	cache payloadCache

	// behind is set when the records of an Update failed to write: memory holds
	// changes the journal may lack until the next checkpoint restates all live state.
	behind atomic.Bool

	emitterMu sync.Mutex
	emitter   any

	// riders are records nobody waits for (Tx.ForgetPassed's drops), under mu: they go
	// out with the next Update's write (a tick's at the latest), not in writes of their
	// own, which would cost an fsync each; a shutdown writes what is left.
	riders []wal.Record
}

func newJournal(log *wal.Log, maxBytes, payloadCacheBytes int64, now func() time.Time) *Journal {
	return &Journal{st: newState(), log: log, maxBytes: maxBytes, now: now, chunkBytes: checkpointChunkBytes,
		cache: payloadCache{budget: payloadCacheBytes}}
}

// Update runs fn under the journal lock, then waits until every record fn queued is
// durable (under the extension's sync policy). Records queued by concurrent Updates
// share one write and one fsync.
//
// The changes fn makes take effect in memory at once and are never undone: fn must
// check limits before it changes anything, because its changes stay even when it
// returns an error. Nor are they undone when the write fails (other Updates may
// already have built on them): Update returns the write error, and the journal
// checkpoints at the next checkpoint_interval whatever its size, restating all live
// state. A crash can then repeat what the failed write held (a span reconciled again,
// a trace released again after the restart) but loses no acknowledged span. An
// Update that ingests a request returns the error to the client, whose retry brings
// the request again.
func (j *Journal) Update(ctx context.Context, fn func(tx *Tx) error) error {
	return j.UpdateAsync(ctx, fn)()
}

// UpdateAsync is Update without the wait: it runs fn under the journal lock and
// queues its records, and the returned wait blocks until they are durable and returns
// what Update would. Call wait once. Several UpdateAsync in a row, each a short hold
// of the lock, share the journal's group commit instead of paying a write, an fsync
// and min_sync_interval each: the processor's tick takes its snapshot slices so.
func (j *Journal) UpdateAsync(ctx context.Context, fn func(tx *Tx) error) (wait func() error) {
	j.mu.Lock()
	tx := &Tx{j: j}
	err := fn(tx)
	if len(tx.seqs) > 0 {
		tx.recs = append(tx.recs, snapshotSeqsRecord(tx.seqs))
	}
	if len(j.riders) > 0 && (len(tx.recs) > 0 || !tx.rides) {
		tx.recs = append(tx.recs, j.riders...)
		j.riders = j.riders[:0]
	}
	var pending *wal.Pending
	if len(tx.recs) > 0 {
		pending = j.log.Submit(tx.recs...)
	}
	j.mu.Unlock()
	return func() error {
		if pending != nil {
			if _, werr := pending.Wait(ctx); werr != nil {
				// The payloads stay in memory; the next checkpoint writes them.
				j.behind.Store(true)
				return errors.Join(err, fmt.Errorf("span journal write failed: %w", werr))
			}
			j.place(tx.placed, pending.Locations())
		}
		return err
	}
}

// flushRiders writes the records waiting for a ride, and waits until they are durable.
func (j *Journal) flushRiders(ctx context.Context) error {
	j.mu.Lock()
	var p *wal.Pending
	if len(j.riders) > 0 {
		p = j.log.Submit(j.riders...)
		j.riders = nil
	}
	j.mu.Unlock()
	if p == nil {
		return nil
	}
	_, err := p.Wait(ctx)
	return err
}

// placement is a payload inside a queued record: once the record is durable the span
// keeps only where the payload lies.
type placement struct {
	span   *Span
	rec    int // index of the record among those submitted together
	off, n int // the payload's offset in the record's data, and length
}

// place lets go of the in-memory payloads of durable records.
func (j *Journal) place(placed []placement, locs []wal.Location) {
	if len(placed) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, p := range placed {
		p.span.place(locs[p.rec].Slice(p.off, p.n))
		j.cache.add(p.span)
	}
}

// Payloads returns the payloads of spans, in order, reading from the journal those
// not in memory, outside the journal lock (the reads of a release or a snapshot do
// not stall ingestion). A payload that cannot be read is nil and named in err.
func (j *Journal) Payloads(spans []*Span) ([][]byte, error) {
	j.truncating.RLock()
	defer j.truncating.RUnlock()
	j.mu.Lock()
	out, locs := payloadRefs(spans)
	j.mu.Unlock()
	return out, j.readPayloads(spans, out, locs)
}

// readPayloads fills the nil entries of out from locs. Payloads that lie close
// together in one segment (a trace's spans written in the same batches) are read
// with one pread (readRuns).
func (j *Journal) readPayloads(spans []*Span, out [][]byte, locs []wal.Location) error {
	var want []int
	for i := range out {
		if out[i] == nil && !locs[i].IsZero() {
			want = append(want, i)
		}
	}
	var errs []error
	for _, run := range readRuns(want, locs) {
		b, err := j.log.ReadAt(run.loc)
		for _, i := range run.members {
			if err != nil {
				errs = append(errs, fmt.Errorf("span %s/%s: %w", spans[i].TraceID, spans[i].SpanID, err))
				continue
			}
			off := int(locs[i].Offset - run.loc.Offset)
			out[i] = b[off : off+int(locs[i].Size) : off+int(locs[i].Size)]
		}
	}
	return errors.Join(errs...)
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

// cachedBytes is the payload bytes the payload cache keeps in memory.
func (j *Journal) cachedBytes() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cache.bytes
}

// liveBytes is the payload bytes of every span the journal holds.
func (j *Journal) liveBytes() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st.liveBytes
}

func (j *Journal) counts() (open, held, released, traces int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st.openSpans, j.st.heldSpans, j.st.releasedSpans, len(j.st.traces)
}
