package longspan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// The timed rules' deadlines, without a collector: silence counts from the later of
// the last report and the processor's start, a heartbeat's timeout overrides
// idle_timeout, and a recovered trace's hold and (with the watermark) release gate
// start with the processor.
func TestDeadlineRules(t *testing.T) {
	start := time.Unix(1_796_126_400, 0) // as the journal keeps times: Unix nanoseconds, local
	cfg := &Config{IdleTimeout: 5 * time.Minute, MaxDuration: time.Hour, MaxTraceHold: 10 * time.Minute}
	r := deadlineRules{cfg: cfg, startedAt: start}

	span := func(started, lastSeen time.Time, idle time.Duration) *spanjournal.Span {
		s := &spanjournal.Span{IdleTimeout: idle}
		s.SetTimes(started, started, lastSeen)
		return s
	}
	before := span(start.Add(-2*time.Hour), start.Add(-time.Minute), 0)
	assert.Equal(t, start, r.silenceStart(before), "downtime is not client silence")
	assert.Equal(t, start.Add(5*time.Minute), r.idleDeadline(before))
	assert.Equal(t, start.Add(-time.Hour), r.maxDurationDeadline(before))

	after := span(start, start.Add(time.Minute), 30*time.Second)
	assert.Equal(t, start.Add(time.Minute), r.silenceStart(after))
	assert.Equal(t, start.Add(90*time.Second), r.idleDeadline(after), "the heartbeat's timeout")

	recovered := &spanjournal.Trace{}
	assert.Equal(t, start, r.holdStart(recovered), "a recovered trace's hold restarts with the processor")
	assert.Equal(t, start.Add(10*time.Minute), r.holdDeadline(recovered))
	assert.True(t, r.releaseGate(recovered).IsZero(), "no grace, no watermark: at once")
	cfg.Watermark.Enabled = true
	assert.Equal(t, start, r.releaseGate(recovered), "with the watermark, what was queued meanwhile comes first")
}
