package spanjournal

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// ForgetPassed forgets a delivered batch only once every span of it passed, journals
// the drop, and leaves nothing for ForgetExpired to drop a second time.
func TestForgetPassedNeedsTheWholeDeliveredBatch(t *testing.T) {
	dir := t.TempDir()
	e := startExtension(t, dir, nil)
	trace := pcommon.TraceID{7, 1}
	var r *Released
	update(t, e, func(tx *Tx) {
		a, b := testSpan(7, 1, SpanEnded), testSpan(7, 2, SpanEnded)
		tx.Put(a, t0)
		tx.Put(b, t0)
		r = tx.Release(tx.Trace(trace), []*Span{a, b}, t0, false)
		require.True(t, tx.Take(r))
	})
	one := map[pcommon.TraceID][]pcommon.SpanID{trace: {{1, 2}}}
	both := map[pcommon.TraceID][]pcommon.SpanID{trace: {{1, 2}, {2, 2}}}

	batches, _ := forgetPassed(t, e, both)
	assert.Zero(t, batches, "in flight: it may have reached tail_sampling after the decision")
	update(t, e, func(tx *Tx) { tx.Delivered(r, t0.Add(1e12)) })
	batches, _ = forgetPassed(t, e, one)
	assert.Zero(t, batches, "half of it may still wait in tail_sampling")
	batches, spans := forgetPassed(t, e, both)
	assert.Equal(t, []int{1, 2}, []int{batches, spans})
	batches, _ = forgetPassed(t, e, both)
	assert.Zero(t, batches, "forgotten once")
	update(t, e, func(tx *Tx) {
		assert.Empty(t, tx.Released(trace))
		assert.Zero(t, tx.ForgetExpired(t0.Add(2e12)), "already forgotten")
	})
	require.NoError(t, e.Shutdown(context.Background()))

	e = startExtension(t, dir, nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	_, _, released, _ := e.journal.counts()
	assert.Zero(t, released, "the drop was journaled")
}

// forgetPassed acknowledges passed as longspan_ack does: in an Update of its own.
func forgetPassed(t *testing.T, e *journalExtension, passed map[pcommon.TraceID][]pcommon.SpanID) (batches, spans int) {
	t.Helper()
	require.NoError(t, e.journal.Update(context.Background(), func(tx *Tx) error {
		batches, spans = tx.ForgetPassed(passed)
		return nil
	}))
	return batches, spans
}

// The drops ForgetPassed journals ride with the next Update's write: once one ran they
// survive a crash (the log closed without the extension's shutdown); before, a crash
// brings the batch back, to be sent again, never lost.
func TestForgottenBatchesRideWithTheNextWrite(t *testing.T) {
	for _, tc := range []struct {
		name      string
		nextWrite bool
		ackAgain  bool // another acknowledgement, forgetting nothing, before the crash
		report    bool // a delivery report of another batch before the crash
		want      int
	}{
		// want counts the batches back after the crash: the other batch, never
		// acknowledged, always; the acknowledged one when its drop was not written.
		{name: "written with the next update", nextWrite: true, want: 1},
		{name: "crash before any write", nextWrite: false, want: 2},
		{name: "an acknowledgement writes no riders", ackAgain: true, want: 2},
		{name: "a delivery report writes no riders", report: true, want: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := startExtension(t, dir, nil)
			trace := pcommon.TraceID{7, 1}
			var other *Released
			update(t, e, func(tx *Tx) {
				s := testSpan(7, 1, SpanEnded)
				tx.Put(s, t0)
				r := tx.Release(tx.Trace(trace), []*Span{s}, t0, false)
				tx.Take(r)
				tx.Delivered(r, t0.Add(1e12))
				o := testSpan(6, 1, SpanEnded)
				tx.Put(o, t0)
				other = tx.Release(tx.Trace(o.TraceID), []*Span{o}, t0, false)
				tx.Take(other)
			})
			batches, _ := forgetPassed(t, e, map[pcommon.TraceID][]pcommon.SpanID{trace: {{1, 2}}})
			require.Equal(t, 1, batches)
			if tc.ackAgain {
				batches, _ := forgetPassed(t, e, map[pcommon.TraceID][]pcommon.SpanID{{9}: {{9}}})
				require.Zero(t, batches)
			}
			if tc.report {
				update(t, e, func(tx *Tx) { tx.Delivered(other, t0.Add(1e12)) })
			}
			if tc.nextWrite {
				update(t, e, func(tx *Tx) { tx.Put(testSpan(8, 1, SpanOpen), t0) })
			}
			require.NoError(t, e.log.Close()) // the crash: what was not written is gone
			_ = e.Shutdown(context.Background())

			e = startExtension(t, dir, nil)
			defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
			_, _, released, _ := e.journal.counts()
			assert.Equal(t, tc.want, released)
		})
	}
}
