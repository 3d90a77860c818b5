package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"fmt"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// Recovery reports what the last start-up replayed.
type Recovery struct {
	Records  int
	Duration time.Duration
	At       time.Time
	Open     int
	Held     int
	Released int
}

// replay rebuilds the state from every record on disk.
func (j *Journal) replay() (Recovery, error) {
	start := time.Now()
	now := j.now()
	var rec Recovery
	err := j.log.Replay(func(index uint64, r wal.Record, at wal.Location) error {
		rec.Records++
		if err := j.apply(r, at); err != nil {
			return fmt.Errorf("journal record %d (type %d): %w", index, r.Type, err)
		}
		return nil
	})
	if err != nil {
		return rec, err
	}
	j.st.redeliverAll()
	rec.Duration = time.Since(start)
	rec.At = now
	rec.Open, rec.Held, rec.Released = j.st.openSpans, j.st.heldSpans, j.st.releasedSpans
	return rec, nil
}

// apply replays one record; at is where its data lies, so that spans keep the
// location of their payloads rather than a copy (zero: keep copies).
func (j *Journal) apply(r wal.Record, at wal.Location) error {
	d := newDecoder(r.Data, at)
	d.strings = &j.st.strings
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
	case recSnapshotSeqs:
		seqs, err := decodeSnapshotSeqs(d)
		if err != nil {
			return err
		}
		for _, s := range seqs {
			if t := j.st.traces[s.key.Trace]; t != nil {
				if sp := t.Spans[s.key.Span]; sp != nil && sp.SnapshotSeq < s.seq {
					sp.SnapshotSeq = s.seq
				}
			}
		}
	case recReconciled:
		k, c, err := decodeClosed(d)
		if err != nil {
			return err
		}
		j.st.rememberClosed(k, c)
	case recReleasedBatch:
		r, err := decodeReleasedBatch(d)
		if err != nil {
			return err
		}
		// A checkpoint's restatement replaces what earlier records built of the
		// batch: a recRelease written while the checkpoint was under way may have
		// named spans whose own records the checkpoint had not restated yet.
		j.st.forget(r.TraceID, r.Batch)
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
