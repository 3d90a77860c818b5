package longspan

import (
	"encoding/binary"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// A browser exports ended children before the first snapshot of their still-open page
// span. Without parent_grace they pass on alone and tail sampling judges a partial trace.
func TestParentGraceLetsAnEarlyChildJoinItsOpenParent(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.ParentGrace = 5 * time.Second })
	h.mustConsume(traces(endedKid(t0)))
	assert.Empty(t, h.sink.AllTraces(), "the child waits for its parent")

	clk.Advance(3 * time.Second)
	h.mustConsume(traces(openRoot(t0)))
	h.advance(10 * time.Second)
	assert.Empty(t, h.sink.AllTraces(), "the parent showed up open: the child is held with it")

	root := openRoot(t0)
	root.end = clk.Now()
	h.mustConsume(traces(root))
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	assert.Len(t, got[0], 2, "one batch with parent and child")
}

func TestParentGraceExpiresAndReleasesTheOrphan(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.ParentGrace = 5 * time.Second })
	h.mustConsume(traces(endedKid(t0)))
	h.advance(4 * time.Second)
	assert.Empty(t, h.sink.AllTraces())
	h.advance(time.Second)
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 1)
	assert.Empty(t, attr(got[0][0], attrState), "an orphan leaves unchanged")
}

func TestParentGraceEndsWhenTheRootArrivesEnded(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.ParentGrace = time.Minute })
	h.mustConsume(traces(endedKid(t0)))
	root := openRoot(t0)
	root.end = t0.Add(time.Second)
	h.mustConsume(traces(root))
	got := allSpans(h.sink)
	require.Len(t, got, 1, "an ended root completes the trace at once")
	assert.Len(t, got[0], 2)
}

func TestWithoutParentGraceAnEarlyChildPassesAlone(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, nil)
	h.mustConsume(traces(endedKid(t0)))
	require.Len(t, h.sink.AllTraces(), 1)
	h.mustConsume(traces(openRoot(t0)))
	assert.Equal(t, 1, h.openCount())
}

// TestParentGraceWhatItBuys measures, on a browser-like arrival pattern, the share of
// traces that leave in one piece for several parent_grace values. Each page exports
// its ended children over its first 2s, before the page span's first snapshot, which
// arrives 0–4s after the page started; then the page ends.
func TestParentGraceWhatItBuys(t *testing.T) {
	const pages = 200
	rng := rand.New(rand.NewPCG(1, 2))
	firstSnapshot := make([]time.Duration, pages)
	for i := range firstSnapshot {
		firstSnapshot[i] = time.Duration(rng.Int64N(int64(4 * time.Second)))
	}
	whole := map[time.Duration]float64{}
	for _, grace := range []time.Duration{0, time.Second, 2 * time.Second, 5 * time.Second} {
		clk := &manualClock{now: t0}
		h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.ParentGrace = grace })
		for i := 0; i < pages; i++ {
			var trace pcommon.TraceID
			binary.BigEndian.PutUint64(trace[:8], uint64(i)+1)
			start := clk.Now()
			root := spanSpec{trace: trace, id: rootID, name: "page.session", start: start}
			kid := spanSpec{trace: trace, id: kidID, parent: rootID, name: "fetch", start: start, end: start.Add(time.Millisecond)}
			kid2 := kid
			kid2.id = kid2ID
			// Children at +0.5s and +1.5s, the page's snapshot at firstSnapshot, its end at +5s.
			events := []struct {
				at   time.Duration
				span spanSpec
			}{{500 * time.Millisecond, kid}, {1500 * time.Millisecond, kid2}, {firstSnapshot[i], root}}
			sort.Slice(events, func(a, b int) bool { return events[a].at < events[b].at })
			elapsed := time.Duration(0)
			for _, e := range events {
				h.advance(e.at - elapsed)
				elapsed = e.at
				h.mustConsume(traces(e.span))
			}
			h.advance(5*time.Second - elapsed)
			root.end = clk.Now()
			h.mustConsume(traces(root))
			h.advance(grace + time.Second) // let any orphan's grace run out
		}
		perTrace := map[pcommon.TraceID]int{}
		complete := 0
		for _, batch := range allSpans(h.sink) {
			if len(batch) == 3 {
				complete++
			}
			for _, s := range batch {
				perTrace[s.TraceID()]++
			}
		}
		require.Len(t, perTrace, pages)
		for id, n := range perTrace {
			require.Equal(t, 3, n, "every span of %s arrives exactly once", id)
		}
		whole[grace] = float64(complete) / pages
		t.Logf("parent_grace=%-4s traces whole at tail sampling: %5.1f%%", grace, 100*whole[grace])
	}
	assert.Less(t, whole[0], 0.5, "without grace most early children leave alone")
	assert.Equal(t, 1.0, whole[5*time.Second], "a grace longer than the snapshot delay keeps every trace whole")
	assert.Greater(t, whole[2*time.Second], whole[time.Second])
}
