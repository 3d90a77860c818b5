package engine

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// A tick's share of a snapshot round larger than SnapshotHoldSlice is taken in
// slices (Tick, then MoreSnapshots while SnapshotsPending), each of whole shards and
// about SnapshotHoldSlice open spans, so no journal update holds the lock for the
// whole share; over the round every open span still gets exactly one snapshot.
func TestSnapshotSlicesPerHold(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.SnapshotInterval = 10 * time.Second; c.SnapshotMinAge = 0 })
	const open = 3 * SnapshotMinSlice
	items := make([]Item, 0, open)
	for n := range uint64(open) {
		var trace pcommon.TraceID
		binary.BigEndian.PutUint64(trace[:8], n*0x9E3779B97F4A7C15+1)
		items = append(items, openSpan(trace, root, pcommon.SpanID{}, t0))
	}
	w.ingest(items...)

	seen := map[pcommon.TraceID]int{}
	maxSlice, ticks := 0, 0
	for ticks = 1; ticks <= 10; ticks++ {
		res := w.tick(time.Second)
		slices, share := [][]Snapshot{res.Snapshots}, len(res.Snapshots)
		for w.e.SnapshotsPending() {
			more := w.e.MoreSnapshots(w.tx, w.now, nil)
			require.NotEmpty(t, more, "a pending share yields snapshots")
			slices, share = append(slices, more), share+len(more)
		}
		for _, s := range slices {
			maxSlice = max(maxSlice, len(s))
			for _, sn := range s {
				seen[sn.Span.TraceID]++
				assert.Equal(t, uint32(1), sn.Seq, "one snapshot per span per round")
			}
		}
		if ticks == 1 {
			assert.GreaterOrEqual(t, share, SnapshotMinSlice, "the tick's share is not cut by the slicing")
			assert.GreaterOrEqual(t, len(slices), SnapshotMinSlice/SnapshotHoldSlice, "taken in several holds")
		}
		if len(seen) == open {
			break
		}
	}
	assert.Len(t, seen, open, "every open span snapshotted within the round")
	for id, n := range seen {
		require.Equal(t, 1, n, "trace %v snapshotted %d times", id, n)
	}
	assert.LessOrEqual(t, ticks, 3, "the round keeps its pace: 3 shares of %d", SnapshotMinSlice)
	// Whole shards: a slice passes SnapshotHoldSlice by less than one shard's spans.
	assert.Less(t, maxSlice, SnapshotHoldSlice+open/64, "a slice is about SnapshotHoldSlice")
	assert.False(t, w.e.SnapshotsPending())
}
