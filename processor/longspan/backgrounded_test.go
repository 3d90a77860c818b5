package longspan

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// otelcol_longspan_spans_backgrounded: the React Native client's background report
// (both open spans with app_background) counts two once the emitter's tick indexed
// it; the app back in the foreground counts none.
func TestSpansBackgroundedGauge(t *testing.T) {
	clk := &manualClock{now: fixtureT}
	h, ep := newInputsHarness(t, t.TempDir(), clk, nil)
	ep.postFixture(t, "rn-app-background.json")
	h.advance(time.Second)
	metadatatest.AssertEqualLongspanSpansBackgrounded(t, h.tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())

	td := readFixture(t, "rn-app-background.json")
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		spans.At(i).Attributes().Remove(attrClientHint)
	}
	h.mustConsume(td)
	h.advance(time.Second)
	metadatatest.AssertEqualLongspanSpansBackgrounded(t, h.tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}
