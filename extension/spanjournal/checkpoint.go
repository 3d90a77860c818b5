package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// checkpointChunkBytes bounds the payload bytes one checkpoint chunk reads and
// writes while it holds the journal lock.
const checkpointChunkBytes = 4 << 20

// checkpoint restates all live state after a checkpoint marker, waits until that is
// durable, and drops the segments before the marker: a span open for weeks is
// copied forward instead of pinning the oldest segment, so the journal stays
// proportional to what is live.
//
// It restates in chunks, taking the journal lock for one chunk at a time, so that
// ingestion goes on while millions of held payloads are read back and rewritten.
// Replay stays exact because every record is an upsert: each trace, then each
// released batch, is restated as it is when its chunk runs, and whatever changes it
// afterwards is journaled after that. What changed before its chunk ran was
// journaled after the marker too: a trace released before its chunk is restated with
// the released batches (after the traces, and a restated batch replaces what replay
// built of it), and a span or trace that went away needs nothing.
func (j *Journal) checkpoint(ctx context.Context) (removed int, err error) {
	j.mu.Lock()
	// This checkpoint restates everything memory holds, the changes of failed writes
	// included; a write that fails from here on sets behind again.
	wasBehind := j.behind.Swap(false)
	marker := j.log.Submit(checkpointRecord(j.now()))
	traces := make([]pcommon.TraceID, 0, len(j.st.traces))
	for id := range j.st.traces {
		traces = append(traces, id)
	}
	j.mu.Unlock()
	fail := func(err error) (int, error) {
		if wasBehind {
			j.behind.Store(true)
		}
		return 0, fmt.Errorf("writing checkpoint: %w", err)
	}
	first, err := marker.Wait(ctx)
	if err != nil {
		return fail(err)
	}
	for len(traces) > 0 {
		if traces, err = j.checkpointTraces(ctx, traces); err != nil {
			return fail(err)
		}
	}
	var released []releasedKey
	j.mu.Lock()
	for id, rs := range j.st.released {
		for _, r := range rs {
			released = append(released, releasedKey{id, r.Batch})
		}
	}
	j.mu.Unlock()
	for len(released) > 0 {
		if released, err = j.checkpointReleased(ctx, released); err != nil {
			return fail(err)
		}
	}
	j.mu.Lock()
	var recs []wal.Record
	for _, e := range j.st.closedOrder {
		if c, ok := j.st.closed[e.key]; ok && c.At.Equal(e.at) {
			recs = append(recs, closedRecord(e.key, c))
		}
	}
	pending := j.log.Submit(recs...)
	j.mu.Unlock()
	if _, err := pending.Wait(ctx); err != nil {
		return fail(err)
	}
	// Every live payload now lies at or after the marker. Readers outside the lock
	// hold truncating while they read locations copied before.
	j.truncating.Lock()
	defer j.truncating.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.log.TruncateBefore(first)
}

// releasedKey names a released batch.
type releasedKey struct {
	trace pcommon.TraceID
	batch uint64
}

// checkpointTraces restates the spans of the first traces (up to about
// Journal.chunkBytes of payloads) and returns the traces left. The payloads are read
// back outside the journal lock (only this checkpoint truncates, at its end, so the
// locations stay valid); the records are built and submitted under it, from the
// state as it is then. A span put in between is left out: its own record follows the
// marker.
func (j *Journal) checkpointTraces(ctx context.Context, traces []pcommon.TraceID) ([]pcommon.TraceID, error) {
	var chunk []pcommon.TraceID
	var spans []*Span
	bytes := 0
	j.mu.Lock()
	for len(traces) > 0 && bytes < j.chunkBytes {
		t := j.st.traces[traces[0]]
		traces = traces[1:]
		if t == nil {
			continue
		}
		chunk = append(chunk, t.ID)
		for _, s := range t.Spans {
			spans = append(spans, s)
			bytes += s.PayloadSize()
		}
	}
	payloads, locs := payloadRefs(spans)
	j.mu.Unlock()
	if err := j.readPayloads(spans, payloads, locs); err != nil {
		return nil, fmt.Errorf("reading back payloads: %w", err)
	}
	read := make(map[*Span][]byte, len(spans))
	for i, s := range spans {
		read[s] = payloads[i]
	}
	var w chunkWriter
	j.mu.Lock()
	for _, id := range chunk {
		t := j.st.traces[id]
		if t == nil {
			continue
		}
		for _, s := range t.Spans {
			if payload, ok := read[s]; ok {
				rec, off := spanRecord(s, payload)
				w.add(rec, placement{span: s, off: off, n: len(payload)})
			}
		}
	}
	pending := w.submit(j)
	j.mu.Unlock()
	return traces, w.wait(ctx, j, pending)
}

// checkpointReleased restates the first released batches (up to about
// Journal.chunkBytes of payloads) and returns the batches left. A released batch
// never changes, so its payloads are read outside the lock like checkpointTraces'.
func (j *Journal) checkpointReleased(ctx context.Context, keys []releasedKey) ([]releasedKey, error) {
	var batches []*Released
	var spans []*Span
	bytes := 0
	j.mu.Lock()
	for len(keys) > 0 && bytes < j.chunkBytes {
		k := keys[0]
		keys = keys[1:]
		if r := j.st.releasedBatch(k.trace, k.batch); r != nil {
			batches = append(batches, r)
			spans = append(spans, r.Spans...)
			bytes += int(r.bytes())
		}
	}
	payloads, locs := payloadRefs(spans)
	j.mu.Unlock()
	if err := j.readPayloads(spans, payloads, locs); err != nil {
		return nil, fmt.Errorf("reading back payloads: %w", err)
	}
	var w chunkWriter
	j.mu.Lock()
	for _, r := range batches {
		n := len(r.Spans)
		if j.st.releasedBatch(r.TraceID, r.Batch) == r {
			rec, offs := releasedBatchRecord(r, payloads[:n])
			ps := make([]placement, n)
			for i, s := range r.Spans {
				ps[i] = placement{span: s, off: offs[i], n: len(payloads[i])}
			}
			w.add(rec, ps...)
		}
		payloads = payloads[n:]
	}
	pending := w.submit(j)
	j.mu.Unlock()
	return keys, w.wait(ctx, j, pending)
}

// payloadRefs copies, under the journal lock, what reading the payloads of spans
// needs: the bytes memory holds, else the location.
func payloadRefs(spans []*Span) ([][]byte, []wal.Location) {
	out := make([][]byte, len(spans))
	locs := make([]wal.Location, len(spans))
	for i, s := range spans {
		out[i], locs[i] = s.inMemory(), s.at
	}
	return out, locs
}

// payloadLocked returns a span's payload, reading it back from the journal if it is
// not in memory. The journal lock must be held.
func (j *Journal) payloadLocked(s *Span) ([]byte, error) {
	if s.payload != nil || s.at.IsZero() {
		return s.inMemory(), nil
	}
	b, err := j.log.ReadAt(s.at)
	if err != nil {
		return nil, fmt.Errorf("reading back span %s/%s: %w", s.TraceID, s.SpanID, err)
	}
	return b, nil
}

// chunkWriter gathers the records of one checkpoint chunk.
type chunkWriter struct {
	recs   []wal.Record
	placed []placement
	bytes  int
}

func (w *chunkWriter) add(rec wal.Record, ps ...placement) {
	for _, p := range ps {
		p.rec = len(w.recs)
		w.placed = append(w.placed, p)
	}
	w.recs = append(w.recs, rec)
	w.bytes += len(rec.Data)
}

// submit queues the chunk's records. It runs under the journal lock, like every
// Update, so that a later change of what the chunk restates gets a later record.
func (w *chunkWriter) submit(j *Journal) *wal.Pending {
	if len(w.recs) == 0 {
		return nil
	}
	return j.log.Submit(w.recs...)
}

// wait waits until the chunk is durable and moves its spans' payloads onto it.
func (w *chunkWriter) wait(ctx context.Context, j *Journal, p *wal.Pending) error {
	if p == nil {
		return nil
	}
	if _, err := p.Wait(ctx); err != nil {
		return err
	}
	j.place(w.placed, p.Locations())
	return nil
}

func (e *journalExtension) checkpointLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.runCheckpoint()
		}
	}
}

// checkpointDue says whether a checkpoint is worth its cost: it rewrites all live state
// (a million open spans are hundreds of MiB), so it runs once the journal doubled since
// the last one, or nears max_bytes, and never for less than two segments; but always
// when a failed write left the journal behind memory (see Journal.Update).
func (e *journalExtension) checkpointDue() bool {
	if e.journal.behind.Load() {
		return true
	}
	size := e.log.Size()
	if size < 2*int64(e.cfg.SegmentBytes) {
		return false
	}
	return size >= 2*e.lastCheckpointBytes || (e.cfg.MaxBytes > 0 && size >= e.cfg.MaxBytes/4*3)
}

func (e *journalExtension) runCheckpoint() {
	if !e.checkpointDue() {
		return
	}
	start := time.Now()
	removed, err := e.journal.checkpoint(context.Background())
	if err != nil {
		e.set.Logger.Error("Span journal checkpoint failed; the journal keeps growing until one succeeds", zap.Error(err))
		return
	}
	e.lastCheckpointBytes = e.log.Size()
	e.telemetry.SpanjournalCheckpoints.Add(context.Background(), 1)
	e.set.Logger.Debug("Span journal checkpoint written",
		zap.Int("segments_dropped", removed), zap.Duration("took", time.Since(start)), zap.Int64("journal_bytes", e.log.Size()))
}
