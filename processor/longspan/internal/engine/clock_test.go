package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// deviceSpan is an open span from a device whose clock is ahead of ours by skew,
// stamped when sent (latency: how long the report took to arrive).
func deviceSpan(trace pcommon.TraceID, start time.Time, skew, latency time.Duration) Item {
	it := openSpan(trace, root, pcommon.SpanID{}, start)
	it.ClockOffset, it.Stamped = skew-latency, true
	return it
}

// A device 2 h fast: its open span is held and judged in its clock: idle, the
// reconciled end (its last report as the client's clock had it) and snapshots.
func TestClockTwoHoursFast(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.SnapshotInterval = time.Minute; c.SnapshotMinAge = 30 * time.Second })
	skew := 2 * time.Hour
	start := t0.Add(skew - 10*time.Second)
	res := w.ingest(deviceSpan(traceA, start, skew, 40*time.Millisecond))
	assert.Empty(t, res.ClockSuspect)
	assert.Equal(t, skew, w.tx.Span(traceA, root).ClockOffset(), "rounded to client_clock.tolerance")

	snaps := w.tick(30 * time.Second).Snapshots
	require.Len(t, snaps, 1, "40 s old in the client's clock")
	assert.Equal(t, w.now.Add(skew), snaps[0].End)
	assert.Equal(t, t0.Add(skew), snaps[0].LastSeen)

	res = w.tick(w.e.cfg.IdleTimeout)
	assert.Equal(t, map[string]int{ReasonIdleTimeout: 1}, res.Reconciled)
	rc, _ := w.reconciled(traceA, root)
	assert.Equal(t, t0.Add(skew), rc.End)
	assert.Equal(t, rc.End, rc.LastSeen)
	assert.Equal(t, 10*time.Second, rc.End.Sub(start), "what the client lived")
}

// A device 8 days slow: a span that just started is not past max_duration; it is
// reconciled at max_duration of its own clock, at its last report.
func TestClockEightDaysSlow(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.IdleTimeout = time.Hour; c.MaxDuration = 2 * time.Hour })
	skew := -8 * 24 * time.Hour
	start := t0.Add(skew - time.Minute) // a minute ago, in the device's clock
	w.ingest(deviceSpan(traceA, start, skew, 0))
	assert.Empty(t, w.tick(time.Second).Reconciled, "1 min old, not 192 h")
	for k := range 3 { // reported every half hour
		w.now = t0.Add(time.Duration(k+1) * 30 * time.Minute)
		w.ingest(deviceSpan(traceA, start, skew, 0))
		assert.Empty(t, w.tick(0).Reconciled)
	}
	lastReport := w.now
	w.now = t0.Add(2*time.Hour - time.Minute - time.Second)
	assert.Empty(t, w.tick(0).Reconciled)
	res := w.tick(time.Second)
	assert.Equal(t, map[string]int{ReasonMaxDuration: 1}, res.Reconciled, "2 h after its start in its clock")
	rc, _ := w.reconciled(traceA, root)
	assert.Equal(t, lastReport.Add(skew), rc.End, "its last report in its clock")
	assert.Equal(t, 91*time.Minute, rc.End.Sub(start))
}

// Tolerance: a later estimate within client_clock.tolerance keeps the span's offset
// (the session keeps sharing it); past it, the span takes the new one, counted.
func TestClockOffsetMovesOnlyPastTolerance(t *testing.T) {
	w := newWorld(t, nil) // tolerance 1 s
	w.ingest(deviceSpan(traceA, t0, time.Hour, 0))
	res := w.ingest(deviceSpan(traceA, t0, time.Hour+900*time.Millisecond, 0))
	assert.Zero(t, res.OffsetMoves)
	assert.Equal(t, time.Hour, w.tx.Span(traceA, root).ClockOffset())
	res = w.ingest(deviceSpan(traceA, t0, time.Hour+3*time.Second, 0))
	assert.Equal(t, 1, res.OffsetMoves)
	assert.Equal(t, time.Hour+3*time.Second, w.tx.Span(traceA, root).ClockOffset())
	unstamped := openSpan(traceA, root, pcommon.SpanID{}, t0)
	res = w.ingest(unstamped)
	assert.Zero(t, res.OffsetMoves)
	assert.Equal(t, time.Hour+3*time.Second, w.tx.Span(traceA, root).ClockOffset(), "an unstamped report keeps what is known")
}

// An unstamped span starting 2 h ahead of the collector's clock is not dropped: held
// as if it had just started, in a clock at least that far ahead, and counted; an
// ended one of a trace with nothing held goes on, counted.
func TestClockUnstampedImpossibleStart(t *testing.T) {
	w := newWorld(t, nil)
	start := t0.Add(2 * time.Hour)
	res := w.ingest(openSpan(traceA, root, pcommon.SpanID{}, start))
	assert.Equal(t, map[string]int{SuspectStartInFuture: 1}, res.ClockSuspect)
	assert.Equal(t, 1, res.Received[OutcomeOpened])
	assert.Equal(t, 2*time.Hour, w.tx.Span(traceA, root).ClockOffset())
	w.now = w.now.Add(time.Minute)
	w.ingest(openSpan(traceA, root, pcommon.SpanID{}, start))
	w.tick(w.e.cfg.IdleTimeout)
	rc, ok := w.reconciled(traceA, root)
	require.True(t, ok)
	assert.Equal(t, start.Add(time.Minute), rc.End, "its last report, a minute after it was first seen")

	items := []Item{endedSpan(traceB, kid, root, start, start.Add(time.Second))}
	res = w.e.Ingest(w.tx, items, nil, memRequest(items), w.now)
	assert.Equal(t, map[string]int{SuspectStartInFuture: 1}, res.ClockSuspect)
	assert.True(t, items[0].Pass, "passed on, never dropped for its times")
}

// app_terminated: the client's last-known time is in its clock; the reconciled span
// ends there whatever the offset.
func TestClockAppTerminated(t *testing.T) {
	w := newWorld(t, nil)
	skew := -3 * time.Hour
	it := deviceSpan(traceA, t0.Add(skew-time.Hour), skew, 0)
	it.Hint, it.ClientLastSeen = HintAppTerminated, t0.Add(skew-20*time.Minute)
	w.ingest(it)
	rc, ok := w.reconciled(traceA, root)
	require.True(t, ok)
	assert.Equal(t, t0.Add(skew-20*time.Minute), rc.End)
}
