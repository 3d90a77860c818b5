package wal

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// batch is the unit of group commit: every record queued while the previous
// batch was being written, written with one WriteBatch and one fsync. All its
// callers wait on the one done channel.
type batch struct {
	recs    []Record
	callers int // Submit calls in this batch
	// held is how long the committer held the batch back for
	// Options.MinSyncInterval before writing it.
	held time.Duration

	// Set by the committer before done is closed.
	first uint64
	locs  []Location // where each record's Data landed
	err   error
	done  chan struct{}
}

// wait blocks until b is durable and returns the index of the end-th record.
func (b *batch) wait(ctx context.Context, end int) (uint64, error) {
	select {
	case <-b.done:
	default:
		select {
		case <-b.done:
		case <-ctx.Done():
			return 0, fmt.Errorf("wal: stopped waiting for the batch to be written; its records may still become durable: %w", ctx.Err())
		}
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.first + uint64(end) - 1, nil
}

// Pending is the handle Submit returns.
type Pending struct {
	b    *batch
	end  int
	n    int    // records of this Submit
	last uint64 // for a Submit of no records
	err  error
}

// Wait blocks until the records are durable per the sync policy and returns
// the index of the last of them. If ctx ends first it returns ctx's error,
// but the records may still be written.
func (p *Pending) Wait(ctx context.Context) (last uint64, err error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.b == nil {
		return p.last, nil
	}
	return p.b.wait(ctx, p.end)
}

// Locations returns where the Data of each submitted record lies on disk, in
// submit order. Call it only after Wait returned without error.
func (p *Pending) Locations() []Location {
	if p.b == nil || p.b.locs == nil {
		return nil
	}
	return p.b.locs[p.end-p.n : p.end]
}

// Submit queues recs and returns at once. Records submitted earlier always
// get lower indexes than records submitted later, and all of recs land in the
// same batch with consecutive indexes. The Data slices must not be modified
// until Wait returns.
func (l *Log) Submit(recs ...Record) *Pending {
	if len(recs) == 0 {
		if l.isClosed() {
			return &Pending{err: ErrClosed}
		}
		return &Pending{last: l.last.Load()}
	}
	b, end, err := l.enqueue(recs)
	if err != nil {
		return &Pending{err: err}
	}
	return &Pending{b: b, end: end, n: len(recs)}
}

// enqueue adds recs to the batch being formed. Only the first caller of a
// batch wakes the committer; the others ride along.
func (l *Log) enqueue(recs []Record) (*batch, int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, 0, ErrClosed
	}
	b := l.cur
	b.recs = append(b.recs, recs...)
	b.callers++
	end := len(b.recs)
	gathered := l.gatherTarget > 0 && b.callers >= l.gatherTarget
	if gathered {
		l.gatherTarget = 0
	}
	l.mu.Unlock()
	if end == len(recs) {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	if gathered {
		select {
		case l.gathered <- struct{}{}:
		default:
		}
	}
	return b, end, nil
}

// maxGather bounds how long the committer waits for the callers released by
// the previous batch to queue again. It is small next to an fsync; under
// SyncNever a batch costs only a write(2), so the committer does not wait.
const maxGather = 100 * time.Microsecond

// run is the committer goroutine.
func (l *Log) run() {
	defer close(l.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-l.kick:
		}
		b := l.take(timer)
		if b == nil {
			continue
		}
		l.commit(b)
		clear(b.recs) // drop references to the callers' payloads
		l.spare = b.recs[:0]
		b.recs = nil
	}
}

// take cuts the batch being formed. Under SyncAlways with a MinSyncInterval
// it first holds the batch until that long after the previous fsync began
// (spaceSyncs), so the records submitted meanwhile share the next fsync. If
// it did not hold the batch and fewer callers are queued than were in the
// previous batch, it waits (at most maxGather, SyncAlways only) for the
// rest: with N goroutines each waiting for its own record, cutting at the
// first arrival would alternate batches of 1 and N-1 records and halve the
// records per fsync. The caller that completes the count signals gathered,
// so the committer sleeps instead of spinning and leaves the CPUs to the
// callers.
func (l *Log) take(timer *time.Timer) *batch {
	held, ok := l.spaceSyncs()
	if !ok {
		return nil
	}
	l.mu.Lock()
	b := l.cur
	if b == nil || len(b.recs) == 0 || l.closed {
		// After Close only the batch already being written completes;
		// Close fails the queued one with ErrClosed.
		l.mu.Unlock()
		return nil
	}
	if held == 0 && b.callers < l.prevCallers && l.opts.Sync == SyncAlways {
		l.gatherTarget = l.prevCallers
		select { // drop a stale signal
		case <-l.gathered:
		default:
		}
		l.mu.Unlock()
		timer.Reset(maxGather)
		select {
		case <-l.gathered:
			timer.Stop()
		case <-timer.C:
		case <-l.quit:
			timer.Stop()
		}
		l.mu.Lock()
		l.gatherTarget = 0
		if l.closed {
			l.mu.Unlock()
			return nil
		}
	}
	b = l.cur
	l.cur = &batch{recs: l.spare, done: make(chan struct{})}
	l.spare = nil
	l.mu.Unlock()
	l.prevCallers = b.callers
	b.held = held
	return b
}

// spaceSyncs holds the batch being formed, under SyncAlways with a
// MinSyncInterval, until that long after the previous fsync began, and
// returns how long it held it: fsyncs start at least MinSyncInterval apart,
// and a batch whose first record comes later than that is written at once.
// ok is false when the log is closing: the batch is then left for Close to
// fail. lastSync is the committer's own (set by commit): no lock guards it.
func (l *Log) spaceSyncs() (held time.Duration, ok bool) {
	if l.opts.MinSyncInterval <= 0 || l.opts.Sync != SyncAlways {
		return 0, true
	}
	start := l.opts.now()
	wait := l.lastSync.Add(l.opts.MinSyncInterval).Sub(start)
	if wait <= 0 {
		return 0, true
	}
	select {
	case <-l.opts.after(wait):
		return l.opts.now().Sub(start), true
	case <-l.quit:
		return 0, false
	}
}

// commit writes b with one Write and, under SyncAlways, one fsync, then
// releases every caller of b. On error every caller gets the error and the
// log is closed and reopened from disk.
func (l *Log) commit(b *batch) {
	if l.broken != nil {
		if err := l.reopen(); err != nil {
			l.finish(b, fmt.Errorf("%w (%s): %w", ErrUnavailable, l.dir, err))
			return
		}
	}
	first := l.next
	l.entries, l.sizes = l.entries[:0], l.sizes[:0]
	for i, r := range b.recs {
		var end uint64
		if i == len(b.recs)-1 {
			end = first // the batch-end record names the batch's first index
		}
		before := len(l.entries)
		l.entries = appendEntry(l.entries, r, end)
		l.sizes = append(l.sizes, len(l.entries)-before)
	}
	bytes := len(l.entries) // on disk, framing included
	var cycled bool
	var err error
	l.starts, cycled, err = l.st.Write(first, l.entries, l.sizes, l.starts[:0])
	var took time.Duration
	if err == nil && l.opts.Sync == SyncAlways {
		start := time.Now()
		l.lastSync = l.opts.now()
		err = l.st.Sync()
		if err == nil && cycled {
			// The writer does not fsync the directory when it creates a
			// segment; without this a power loss could lose the new file.
			err = syncDir(l.dir)
		}
		took = time.Since(start)
	}
	if err != nil {
		last := first + uint64(len(b.recs)) - 1
		l.finish(b, fmt.Errorf("wal: writing records %d..%d to %s failed; they may or may not be in the journal, the log was reopened: %w",
			first, last, l.dir, err))
		l.fail(err, first, last)
		return
	}
	if cap(l.entries) > maxKeptBatchBytes {
		l.entries = nil // a rare huge batch (a checkpoint chunk) does not stay pinned
	}
	locs := make([]Location, len(b.recs))
	for i, r := range b.recs {
		// The record's data ends its entry.
		off := l.starts[i].offset + int64(l.sizes[i]-len(r.Data))
		locs[i] = Location{Segment: l.starts[i].segment, Offset: uint32(off), Size: uint32(len(r.Data))}
	}
	l.next = first + uint64(len(b.recs))
	l.size.Add(int64(bytes))
	l.last.Store(l.next - 1)
	b.first = first
	b.locs = locs
	close(b.done)
	if h := l.opts.Hooks.OnCommit; h != nil {
		h(Commit{Records: len(b.recs), Submits: b.callers, Bytes: bytes, Fsync: took, Held: b.held})
	}
}

// maxKeptBatchBytes bounds the batch buffer the committer keeps for the next batch.
const maxKeptBatchBytes = 8 << 20

func (l *Log) finish(b *batch, err error) {
	b.err = err
	close(b.done)
}

// fail closes the segment writer after a write or fsync error and reopens it.
// Its state has already advanced past what may be on disk,
// so only a reopen tells which records survived; the next index comes from
// the reopened LastIndex, so an index that is on disk is never handed out
// twice.
func (l *Log) fail(err error, first, last uint64) {
	l.logger.Error("wal: write failed; reopening the journal",
		zap.String("dir", l.dir), zap.Uint64("first_index", first), zap.Uint64("last_index", last), zap.Error(err))
	_ = l.st.Close() // best effort: the handle is suspect
	l.st = nil
	l.broken = err
	if rerr := l.reopen(); rerr != nil {
		l.logger.Error("wal: reopening the journal failed; the next batch retries", zap.String("dir", l.dir), zap.Error(rerr))
	}
}

func (l *Log) reopen() error {
	if l.st != nil {
		_ = l.st.Close()
		l.st = nil
	}
	if err := l.openStore(false); err != nil {
		return err
	}
	l.broken = nil
	l.logger.Info("wal: journal reopened", zap.String("dir", l.dir), zap.Uint64("last_index", l.last.Load()))
	return nil
}
