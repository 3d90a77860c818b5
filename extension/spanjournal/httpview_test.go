package spanjournal

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The view lists the limit oldest open spans, oldest first, skips ended spans, follows
// spans that were re-reported or ended, and reports how long it held the lock.
func TestViewListsTheOldestOpenSpans(t *testing.T) {
	e := startExtension(t, t.TempDir(), nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 2000
	ids := make([]pcommon.TraceID, n)
	starts := make([]time.Time, n)
	update(t, e, func(tx *Tx) {
		for i := range n {
			s := testSpan(0, 1, SpanOpen)
			ids[i] = pcommon.TraceID{byte(i), byte(i >> 8), 3, byte(rng.Uint32())}
			s.TraceID = ids[i]
			starts[i] = t0.Add(-time.Duration(rng.IntN(1_000_000)) * time.Second)
			s.SetTimes(starts[i], starts[i], starts[i])
			tx.Put(s, t0)
			ended := testSpan(0, 2, SpanEnded) // older than every open span: never listed
			ended.TraceID = ids[i]
			ended.SetTimes(t0.Add(-1e6*time.Hour), t0, t0)
			tx.Put(ended, t0)
		}
	})
	// End a third of the open spans, re-report another third with a new start.
	update(t, e, func(tx *Tx) {
		for i := range n {
			s := testSpan(0, 1, SpanOpen)
			s.TraceID = ids[i]
			switch i % 3 {
			case 0:
				s.State = SpanEnded
				starts[i] = time.Time{}
			case 1:
				starts[i] = starts[i].Add(time.Duration(rng.IntN(1_000_000)-500_000) * time.Second)
			default:
				continue
			}
			s.SetTimes(starts[i], starts[i], starts[i])
			tx.Put(s, t0)
		}
	})
	var open []time.Time
	for _, s := range starts {
		if !s.IsZero() {
			open = append(open, s)
		}
	}
	sort.Slice(open, func(a, b int) bool { return open[a].Before(open[b]) })

	var held time.Duration
	calls := 0
	v := e.journal.view(25, t0, func(d time.Duration) { held, calls = d, calls+1 })
	assert.Equal(t, 1, calls)
	assert.Positive(t, held)
	assert.True(t, v.Truncated)
	assert.Equal(t, len(open), v.TotalOpen)
	assert.Equal(t, n+n/3+1, v.HeldSpans)
	require.Len(t, v.OpenSpans, 25)
	for i, row := range v.OpenSpans {
		assert.Equal(t, open[i].UTC(), row.OpenSince, "row %d", i)
	}

	all := e.journal.view(5000, t0, nil)
	assert.False(t, all.Truncated)
	require.Len(t, all.OpenSpans, len(open))
	for i, row := range all.OpenSpans {
		assert.Equal(t, open[i].UTC(), row.OpenSince, "row %d", i)
	}
}
