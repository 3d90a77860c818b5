package spanjournal

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// UpdateAsync changes memory at once and queues its records; its wait returns once
// they are durable, lets go of the payloads they hold (as Update does) and returns
// fn's error. Two in a row, waited for together, are both replayed.
func TestUpdateAsyncWaitsForItsRecords(t *testing.T) {
	dir := t.TempDir()
	e := startExtension(t, dir, nil)
	a, b := testSpan(1, 1, SpanOpen), testSpan(1, 2, SpanEnded)
	errFn := errors.New("refused by fn")
	waitA := e.journal.UpdateAsync(context.Background(), func(tx *Tx) error {
		tx.Put(a, t0)
		return nil
	})
	waitB := e.journal.UpdateAsync(context.Background(), func(tx *Tx) error {
		tx.Put(b, t0)
		tx.NextSnapshotSeq(a)
		return errFn
	})
	open, held, _, _ := e.journal.counts()
	assert.Equal(t, []int{1, 1}, []int{open, held}, "in effect before the wait")
	require.NoError(t, waitA())
	require.ErrorIs(t, waitB(), errFn)
	for _, s := range []*Span{a, b} {
		assert.False(t, s.at.IsZero(), "%s: durable, its payload's place in the journal known", s.Name)
	}
	require.NoError(t, e.Shutdown(context.Background()))

	e = startExtension(t, dir, nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	update(t, e, func(tx *Tx) {
		tr := tx.Trace(pcommon.TraceID{1, 1})
		require.NotNil(t, tr)
		assert.Len(t, tr.Spans, 2)
		assert.Equal(t, uint32(8), tr.Spans[a.SpanID].SnapshotSeq, "the second update's snapshot number")
	})
}
