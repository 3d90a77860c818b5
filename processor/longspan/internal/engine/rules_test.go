package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// The timed rules' deadlines: silence counts from the later of the last report and
// the processor's start, a heartbeat's timeout overrides idle_timeout, and a
// recovered trace's hold and (with the watermark) release gate start with the
// processor.
func TestDeadlineRules(t *testing.T) {
	start := t0
	e := New(Config{IdleTimeout: 5 * time.Minute, MaxDuration: time.Hour, MaxTraceHold: 10 * time.Minute}, start, WallClocks{}, memCodec{}, zapNop)

	span := func(started, lastSeen time.Time, idle time.Duration) *spanjournal.Span {
		s := &spanjournal.Span{IdleTimeout: idle}
		s.SetTimes(started, started, lastSeen)
		return s
	}
	before := span(start.Add(-2*time.Hour), start.Add(-time.Minute), 0)
	assert.Equal(t, start, e.silenceStart(before), "downtime is not client silence")
	assert.Equal(t, start.Add(5*time.Minute), e.idleDeadline(before))
	assert.Equal(t, start.Add(-time.Hour), e.maxDurationDeadline(before))

	after := span(start, start.Add(time.Minute), 30*time.Second)
	assert.Equal(t, start.Add(time.Minute), e.silenceStart(after))
	assert.Equal(t, start.Add(90*time.Second), e.idleDeadline(after), "the heartbeat's timeout")

	recovered := TraceState{}
	assert.Equal(t, start, e.holdStart(recovered), "a recovered trace's hold restarts with the processor")
	assert.Equal(t, start.Add(10*time.Minute), e.holdDeadline(recovered))
	assert.True(t, e.releaseGate(recovered).IsZero(), "no grace, no watermark: at once")
	e.cfg.Watermark = true
	assert.Equal(t, start, e.releaseGate(recovered), "with the watermark, what was queued meanwhile comes first")
}
