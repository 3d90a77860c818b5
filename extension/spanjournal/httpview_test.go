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

// The view keeps the limit oldest open spans of every shard of the open-span index,
// oldest first, skips ended spans, and reports the longest lock hold it caused.
func TestViewListsTheOldestOpenSpansOfAllShards(t *testing.T) {
	e := startExtension(t, t.TempDir(), nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	rng := rand.New(rand.NewPCG(1, 2))
	var starts []time.Time
	update(t, e, func(tx *Tx) {
		for i := range 2000 {
			s := testSpan(0, 1, SpanOpen)
			s.TraceID = pcommon.TraceID{byte(i), byte(i >> 8), 3, byte(rng.Uint32())}
			at := t0.Add(-time.Duration(rng.IntN(1_000_000)) * time.Second)
			s.SetTimes(at, at, at)
			starts = append(starts, at)
			tx.Put(s, t0)
			ended := testSpan(0, 2, SpanEnded) // older than every open span: never listed
			ended.TraceID = s.TraceID
			ended.SetTimes(t0.Add(-1e6*time.Hour), t0, t0)
			tx.Put(ended, t0)
		}
	})
	sort.Slice(starts, func(a, b int) bool { return starts[a].Before(starts[b]) })

	var longest time.Duration
	calls := 0
	v := e.journal.view(25, t0, func(d time.Duration) { longest, calls = d, calls+1 })
	assert.Equal(t, 1, calls)
	assert.Positive(t, longest)
	assert.True(t, v.Truncated)
	assert.Equal(t, 2000, v.TotalOpen)
	assert.Equal(t, 2000, v.HeldSpans)
	require.Len(t, v.OpenSpans, 25)
	for i, row := range v.OpenSpans {
		assert.Equal(t, starts[i].UTC(), row.OpenSince, "row %d", i)
	}

	all := e.journal.view(5000, t0, nil)
	assert.False(t, all.Truncated)
	assert.Len(t, all.OpenSpans, 2000)
}
