package longspan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
