package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// checkpoint restates all live state after a checkpoint marker, waits until that is
// durable, and drops the segments before the marker: a span open for weeks is
// rewritten forward instead of pinning the oldest segment.
func (j *Journal) checkpoint(ctx context.Context) (removed int, err error) {
	j.mu.Lock()
	// This checkpoint restates everything memory holds, the changes of failed writes
	// included; a write that fails from here on sets behind again.
	wasBehind := j.behind.Swap(false)
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
		if wasBehind {
			j.behind.Store(true)
		}
		return 0, fmt.Errorf("writing checkpoint: %w", err)
	}
	marker := last - uint64(len(recs)) + 1
	return j.log.TruncateBefore(marker)
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
