package longspan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The limits measure the rules' own decision (decide): a late snapshot of a span that
// already ended is dropped as stale, so it takes no room under max_open_spans, while a
// new open span at the limit is still refused.
func TestLimitsCountWhatTheRulesStore(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, func(c *Config) { c.Limits.MaxOpenSpans = 1 })
	h.mustConsume(traces(openRoot(t0)))
	ended := openRoot(t0)
	ended.end = t0.Add(time.Second)
	h.mustConsume(traces(ended)) // released; its end is remembered
	h.mustConsume(traces(spanSpec{trace: traceB, id: kidID, name: "other", start: t0}))
	require.Equal(t, 1, h.openCount())

	require.NoError(t, h.consume(traces(openRoot(t0))), "a stale snapshot needs no room")
	assert.Equal(t, 1, h.openCount())
	err := h.consume(traces(spanSpec{trace: traceB, id: kid2ID, name: "new", start: t0}))
	assert.ErrorContains(t, err, "max_open_spans")
}
