package longspan

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// TestSnapshotRoundIsPacedOverTheInterval: a round with more open spans than a tick's
// slice is spread over the ticks of snapshot.interval, every span once.
func TestSnapshotRoundIsPacedOverTheInterval(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) {
		c.Snapshot.Interval = 10 * time.Second
		c.Snapshot.MinAge = 0
		c.TickInterval = time.Second
		c.IdleTimeout = time.Hour
	})
	const n = 3 * engine.SnapshotMinSlice / 100 * 100
	for i := range uint64(n / 100) {
		specs := make([]spanSpec, 0, 100)
		for k := range uint64(100) {
			var tid pcommon.TraceID
			binary.BigEndian.PutUint64(tid[:8], i*100+k+1)
			binary.BigEndian.PutUint64(tid[8:], (i*100+k+1)*0x9E3779B97F4A7C15)
			specs = append(specs, spanSpec{trace: tid, id: rootID, name: "page.session", start: t0})
		}
		h.mustConsume(traces(specs...))
	}
	perTick := []int{}
	seen := map[pcommon.TraceID]int{}
	from := 0
	for range 10 {
		h.advance(time.Second)
		got := allSpans(h.sink)
		count := 0
		for _, batch := range got[from:] {
			for _, s := range batch {
				seen[s.TraceID()]++
				assert.Equal(t, "1", attr(s, attrSnapshotSeq))
				count++
			}
		}
		from = len(got)
		perTick = append(perTick, count)
	}
	assert.Equal(t, n, len(seen), "every open span got its snapshot within the interval")
	for id, k := range seen {
		require.Equal(t, 1, k, "trace %s snapshotted once per round", id)
	}
	assert.Greater(t, len(slices.DeleteFunc(slices.Clone(perTick), func(c int) bool { return c == 0 })), 1, "spread over several ticks: %v", perTick)
	for _, c := range perTick {
		assert.Less(t, c, n, "no tick takes the whole round: %v", perTick)
	}
}

// TestTickRecordsItsDuration: every tick records one longspan_tick_duration point and
// one point of each of its parts: longspan_tick_rules_duration (the longest hold of the
// lock), longspan_tick_lock_wait_duration and longspan_tick_write_wait_duration; the
// longest hold and the two waits together are never longer than the tick.
func TestTickRecordsItsDuration(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	h.mustConsume(benchRequest(1, true))
	for range 3 {
		h.advance(time.Second)
	}
	tick := tickHistogram(t, h, "otelcol_longspan_tick_duration")
	assert.Equal(t, []float64{0.5, 1, 2, 5, 7.5, 10, 15, 20, 25, 30, 40, 50, 100, 200, 500, 1000, 5000}, tick.Bounds)
	var parts float64
	for _, name := range []string{"otelcol_longspan_tick_rules_duration", "otelcol_longspan_tick_lock_wait_duration", "otelcol_longspan_tick_write_wait_duration"} {
		parts += tickHistogram(t, h, name).Sum
	}
	assert.LessOrEqual(t, parts, tick.Sum)
}

// tickHistogram is the single point of the tick histogram called name: one
// observation per tick of TestTickRecordsItsDuration, in ms.
func tickHistogram(t *testing.T, h *harness, name string) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m, err := h.tel.GetMetric(name)
	require.NoError(t, err, name)
	hist, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s: a histogram: %T", name, m.Data)
	require.Len(t, hist.DataPoints, 1, name)
	assert.Equal(t, uint64(3), hist.DataPoints[0].Count, name)
	assert.Equal(t, "ms", m.Unit, name)
	return hist.DataPoints[0]
}
