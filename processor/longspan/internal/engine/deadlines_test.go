package engine

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// t0 is the tests' wall-clock origin, local as the journal gives its times back.
var t0 = time.Unix(1_796_126_400, 0)

func TestDeadlineIndexBoundsStaleEntries(t *testing.T) {
	d := newDeadlines()
	var ids []pcommon.TraceID
	for i := range 100 {
		var id pcommon.TraceID
		binary.BigEndian.PutUint64(id[:8], uint64(i+1))
		ids = append(ids, id)
	}
	// Every trace's deadline moves 1000 times (an open span reported again and again):
	// each move leaves a stale entry behind.
	for round := range 1000 {
		for i, id := range ids {
			d.set(id, [numClocks]int64{int64(1000 + round + i), noDeadline, noDeadline})
			require.LessOrEqual(t, d.entries(), 2*d.live+staleSlack)
		}
	}
	assert.Equal(t, 100, d.live)
	// Only the current deadlines fire, each once.
	var fired []pcommon.TraceID
	d.popDue(clockSilence, 1000+999+49, func(id pcommon.TraceID) { fired = append(fired, id) })
	assert.ElementsMatch(t, ids[:50], fired)
	d.popDue(clockSilence, 1000+999+49, func(pcommon.TraceID) { t.Fatal("fired twice") })
	// A trace with nothing due leaves the index.
	for _, id := range ids {
		d.set(id, [numClocks]int64{noDeadline, noDeadline, noDeadline})
	}
	assert.Zero(t, d.live)
	assert.Empty(t, d.cur)
	d.popDue(clockSilence, noDeadline-1, func(pcommon.TraceID) { t.Fatal("a stale entry fired") })
}

func TestDeadlineNanosClamps(t *testing.T) {
	assert.Equal(t, t0.UnixNano(), deadlineNanos(t0))
	assert.Equal(t, int64(noDeadline-1), deadlineNanos(t0.AddDate(300, 0, 0)))
	assert.Equal(t, int64(math.MinInt64), deadlineNanos(time.Time{}))
	assert.Less(t, deadlineNanos(t0.Add(-time.Nanosecond)), deadlineNanos(t0))
}
