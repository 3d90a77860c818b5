package spanjournal

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// Closed spans are remembered across a replay and a checkpoint, with how they closed;
// a recReconciled record written before ended ones existed (no kind byte) reads as
// reconciled.
func TestClosedSpansSurviveReplayAndCheckpoint(t *testing.T) {
	reconciled := SpanKey{Trace: pcommon.TraceID{1}, Span: pcommon.SpanID{1}}
	ended := SpanKey{Trace: pcommon.TraceID{2}, Span: pcommon.SpanID{2}}
	for _, checkpoint := range []bool{false, true} {
		dir := t.TempDir()
		e := startExtension(t, dir, nil)
		update(t, e, func(tx *Tx) {
			tx.RememberClosed(reconciled, Closed{At: t0})
			tx.RememberClosed(ended, Closed{At: t0.Add(time.Second), Ended: true})
		})
		if checkpoint {
			_, err := e.journal.checkpoint(context.Background())
			require.NoError(t, err)
		}
		require.NoError(t, e.Shutdown(context.Background()))

		e = startExtension(t, dir, nil)
		update(t, e, func(tx *Tx) {
			c, ok := tx.ClosedAt(reconciled)
			require.True(t, ok)
			assert.Equal(t, Closed{At: t0}, Closed{At: c.At.UTC(), Ended: c.Ended})
			c, ok = tx.ClosedAt(ended)
			require.True(t, ok)
			assert.True(t, c.Ended)
			assert.Equal(t, t0.Add(time.Second).UnixNano(), c.At.UnixNano())
			expired, evicted := tx.ForgetClosed(t0.Add(time.Millisecond), 10)
			assert.Equal(t, []int{1, 0}, []int{expired, evicted})
			_, ok = tx.ClosedAt(reconciled)
			assert.False(t, ok)
		})
		require.NoError(t, e.Shutdown(context.Background()))
	}
}

func TestReconciledRecordWithoutKindDecodesAsReconciled(t *testing.T) {
	k := SpanKey{Trace: pcommon.TraceID{3}, Span: pcommon.SpanID{3}}
	rec := closedRecord(k, Closed{At: t0})
	withKind := closedRecord(k, Closed{At: t0, Ended: true})
	require.Len(t, withKind.Data, len(rec.Data)+1, "a reconciled span's record is the old layout, byte for byte")
	got, c, err := decodeClosed(newDecoder(rec.Data, wal.Location{}))
	require.NoError(t, err)
	assert.Equal(t, k, got)
	assert.False(t, c.Ended)
	_, c, err = decodeClosed(newDecoder(withKind.Data, wal.Location{}))
	require.NoError(t, err)
	assert.True(t, c.Ended)
}
