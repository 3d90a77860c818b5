package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The index counts the open spans in the background: those whose last report carried
// app_background, not heartbeat spans or Embrace copies with limits of their own; a
// report without the hint, or the span's reconciliation, takes it out.
func TestBackgroundedSpansAreCounted(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.SessionSpanNames = []string{"emb-session"} })
	assert.Zero(t, w.e.Backgrounded(), "none before the first tick")
	bg := openSpan(traceA, root, pcommon.SpanID{}, t0)
	bg.Hint = HintAppBackground
	bgKid := openSpan(traceA, kid, root, t0)
	bgKid.Hint = HintAppBackground
	fg := openSpan(traceB, root, pcommon.SpanID{}, t0)
	heartbeat := openSpan(pcommon.TraceID{0xc}, root, pcommon.SpanID{}, t0)
	heartbeat.Source, heartbeat.Heartbeat, heartbeat.IdleTimeout = "heartbeat_log", true, 15*time.Minute
	copied := embraceCopy(pcommon.TraceID{0xd}, root, pcommon.SpanID{}, "checkout", t0)
	w.ingest(bg, bgKid, fg, heartbeat, copied)
	w.tick(time.Second)
	assert.Equal(t, int64(2), w.e.Backgrounded())

	w.ingest(openSpan(traceA, kid, root, t0)) // back in the foreground
	w.tick(time.Second)
	assert.Equal(t, int64(1), w.e.Backgrounded())

	w.tick(10 * time.Minute) // past idle_timeout: the foreground spans are reconciled
	assert.Equal(t, int64(1), w.e.Backgrounded(), "the backgrounded root is not")
	w.tick(5 * time.Minute) // the root's background_timeout
	_, ok := w.reconciled(traceA, root)
	assert.True(t, ok)
	assert.Zero(t, w.e.Backgrounded())
}
