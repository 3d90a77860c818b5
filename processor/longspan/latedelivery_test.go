package longspan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// Late mobile delivery: OpenTelemetry Android's disk buffering writes ended spans to
// disk and sends them from about 30 s to 18 h later, a file at a time (a burst). Up to
// supersede_window late, every such span comes out exactly once: none is dropped for
// being old, none is released twice.

// outputs counts what left the processor per span name and state.
func outputs(h *harness) map[string]int {
	out := map[string]int{}
	for _, b := range allSpans(h.sink) {
		for _, s := range b {
			out[s.Name()+"/"+attr(s, attrState)]++
		}
	}
	return out
}

// A burst 30 s late, while its trace's root is still open: its spans are held with
// the trace and released once, with the root's end.
func TestLateBurstOfAnOpenTraceIsReleasedOnceWithIt(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	root := spanSpec{trace: traceA, id: rootID, name: "app.session", start: t0, session: "s-1"}
	h.mustConsume(traces(root))
	clk.Advance(30 * time.Second)
	kid := spanSpec{trace: traceA, id: kidID, parent: rootID, name: "screen", start: t0, end: t0.Add(time.Second), session: "s-1"}
	kid2 := spanSpec{trace: traceA, id: kid2ID, parent: kidID, name: "http", start: t0, end: t0.Add(500 * time.Millisecond), session: "s-1"}
	h.mustConsume(traces(kid, kid2))
	assert.Empty(t, h.sink.AllTraces(), "held with the open root")
	root.end = clk.Advance(time.Minute)
	h.mustConsume(traces(root))

	got := allSpans(h.sink)
	require.Len(t, got, 1, "one batch")
	assert.Len(t, got[0], 3)
	assert.Equal(t, map[string]int{"app.session/": 1, "screen/": 1, "http/": 1}, outputs(h))
}

// A burst up to supersede_window late, after the collector reconciled the open root
// it belongs to and released its trace: the root's real end goes on as the
// authoritative version (superseding), the children it never saw and a whole trace
// of ended spans pass on once each, and nothing is dropped. The same burst sent again
// (its export's acknowledgement was lost) brings no second superseding root. Past
// supersede_window, a real end passes as a plain ended span.
func TestLateBurstWithinSupersedeWindowIsNeitherDroppedNorDoubled(t *testing.T) {
	for _, late := range []time.Duration{30 * time.Second, 18 * time.Hour, 24*time.Hour - time.Second} {
		t.Run(late.String(), func(t *testing.T) {
			clk := &manualClock{now: t0}
			h := newHarness(t, t.TempDir(), clk, func(c *Config) {
				c.IdleTimeout = 10 * time.Second
				c.SupersedeWindow = 24 * time.Hour
			})
			root := spanSpec{trace: traceA, id: rootID, name: "app.session", start: t0, session: "s-1"}
			h.mustConsume(traces(root))
			h.advance(10 * time.Second)
			require.Equal(t, map[string]int{"app.session/" + stateReconciled: 1}, outputs(h), "the silent root is reconciled")
			reconciledAt := clk.Now()

			h.advance(late - 10*time.Second) // the burst comes `late` after the app last reported
			root.end = t0.Add(20 * time.Second)
			burst := traces(
				root,
				spanSpec{trace: traceA, id: kidID, parent: rootID, name: "screen", start: t0, end: t0.Add(15 * time.Second), session: "s-1"},
				spanSpec{trace: traceB, id: rootID, name: "sync", start: t0, end: t0.Add(time.Second), session: "s-1"},
				spanSpec{trace: traceB, id: kid2ID, parent: rootID, name: "upload", start: t0, end: t0.Add(900 * time.Millisecond), session: "s-1"},
			)
			h.mustConsume(burst)
			assert.Equal(t, map[string]int{"app.session/" + stateReconciled: 1, "app.session/" + stateSuperseding: 1,
				"screen/": 1, "sync/": 1, "upload/": 1}, outputs(h))
			for _, b := range allSpans(h.sink)[1:] {
				if s, ok := findSpan(b, rootID); ok && s.Name() == "app.session" {
					assert.Equal(t, int64(root.end.UnixNano()), int64(s.EndTimestamp()), "the client's own end")
					assert.Equal(t, reconciledAt.UnixNano(), s.Attributes().AsRaw()[attrReconciledAt])
				}
			}
			metadatatest.AssertEqualLongspanSpansReceived(t, h.tel, []metricdata.DataPoint[int64]{
				{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.OutcomeOpened))},
				{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", engine.OutcomeSuperseding))},
				{Value: 3, Attributes: attribute.NewSet(attribute.String("reason", engine.OutcomePassed))},
			}, metricdatatest.IgnoreTimestamp())
			_, err := h.tel.GetMetric("otelcol_longspan_spans_dropped")
			assert.Error(t, err, "nothing dropped")

			h.advance(time.Second)
			h.mustConsume(traces(root))
			assert.Equal(t, 1, outputs(h)["app.session/"+stateSuperseding], "a repeat of the real end is not sent again")
		})
	}

	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.IdleTimeout = 10 * time.Second; c.SupersedeWindow = time.Hour })
	root := spanSpec{trace: traceA, id: rootID, name: "app.session", start: t0, session: "s-1"}
	h.mustConsume(traces(root))
	h.advance(10 * time.Second)
	h.advance(time.Hour)
	root.end = t0.Add(20 * time.Second)
	h.mustConsume(traces(root))
	assert.Equal(t, map[string]int{"app.session/" + stateReconciled: 1, "app.session/": 1}, outputs(h),
		"past supersede_window the real end is a plain ended span")
}
