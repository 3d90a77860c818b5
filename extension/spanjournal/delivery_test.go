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

	batches, _ := e.journal.ForgetPassed(both)
	assert.Zero(t, batches, "in flight: it may have reached tail_sampling after the decision")
	update(t, e, func(tx *Tx) { tx.Delivered(r, t0.Add(1e12)) })
	batches, _ = e.journal.ForgetPassed(one)
	assert.Zero(t, batches, "half of it may still wait in tail_sampling")
	batches, spans := e.journal.ForgetPassed(both)
	assert.Equal(t, []int{1, 2}, []int{batches, spans})
	batches, _ = e.journal.ForgetPassed(both)
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
