package longspan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

func TestEmbraceAppleCopyIsRecognised(t *testing.T) {
	build := func(language, resourceKey, spanKey string, end bool, status ptrace.StatusCode) (pcommon.Resource, ptrace.Span) {
		res := pcommon.NewResource()
		if language != "" {
			res.Attributes().PutStr(attrTelemetrySDKLanguage, language)
		}
		if resourceKey != "" {
			res.Attributes().PutStr(resourceKey, "6.14.0")
		}
		span := ptrace.NewSpan()
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
		if end {
			span.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Second)))
		}
		if spanKey != "" {
			span.Attributes().PutStr(spanKey, "perf")
		}
		span.Status().SetCode(status)
		return res, span
	}
	cases := []struct {
		name                          string
		language, resourceKey, spanKy string
		end                           bool
		status                        ptrace.StatusCode
		want                          bool
	}{
		{"swift resource with the Embrace SDK version", "swift", attrEmbraceSDKVersion, "", true, ptrace.StatusCodeUnset, true},
		{"swift span with an Embrace span type", "swift", "", attrEmbraceType, true, ptrace.StatusCodeUnset, true},
		{"the ended span: status OK", "swift", attrEmbraceSDKVersion, attrEmbraceType, true, ptrace.StatusCodeOk, false},
		{"the ended span: status Error", "swift", attrEmbraceSDKVersion, attrEmbraceType, true, ptrace.StatusCodeError, false},
		{"an open span is no copy", "swift", attrEmbraceSDKVersion, attrEmbraceType, false, ptrace.StatusCodeUnset, false},
		{"OpenTelemetry Swift without Embrace", "swift", "", "", true, ptrace.StatusCodeUnset, false},
		{"Embrace Android (completed spans only)", "kotlin", attrEmbraceSDKVersion, attrEmbraceType, true, ptrace.StatusCodeUnset, false},
		{"no SDK language", "", attrEmbraceSDKVersion, attrEmbraceType, true, ptrace.StatusCodeUnset, false},
	}
	for _, tc := range cases {
		res, span := build(tc.language, tc.resourceKey, tc.spanKy, tc.end, tc.status)
		assert.Equal(t, tc.want, isEmbraceAppleCopy(res, span), tc.name)
	}
}

// embraceCopiesHarness posts the Embrace Apple samples with embrace_apple_snapshots on.
func embraceCopiesHarness(t *testing.T, clk *manualClock, mutate func(*Config)) (*harness, otlpEndpoints) {
	return newInputsHarness(t, t.TempDir(), clk, func(c *Config) {
		c.EmbraceAppleSnapshots = true
		c.IdleTimeout = time.Minute
		if mutate != nil {
			mutate(c)
		}
	})
}

// With embrace_apple_snapshots on, the start copy of a span is its open snapshot and
// the ended span comes out once: the client's version (end, status OK), not a copy.
func TestEmbraceAppleSpanComesOutOnceWithTheClientsEnd(t *testing.T) {
	clk := &manualClock{now: fixtureT.Add(3 * time.Second)}
	h, ep := embraceCopiesHarness(t, clk, nil)
	ep.postFixture(t, "embrace-apple-span-start-copy.json")
	assert.Empty(t, h.sink.AllTraces(), "the copy is an open span, not an ended one")
	require.Equal(t, 1, h.openCount())
	assert.Equal(t, sourceEmbrace, h.openSpan(t).Source)
	assert.Equal(t, h.cfg.MaxDuration, h.openSpan(t).IdleTimeout, "a span other than the session span lives by its session")

	clk.Advance(5 * time.Second)
	ep.postFixture(t, "embrace-apple-span-ended.json")
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	require.Len(t, got[0], 1, "one span out")
	s := got[0][0]
	want := readFixture(t, "embrace-apple-span-ended.json").ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, want.EndTimestamp(), s.EndTimestamp())
	assert.Equal(t, ptrace.StatusCodeOk, s.Status().Code())
	assert.Empty(t, attr(s, attrState))
	assert.Equal(t, 0, h.openCount())
}

// The session span's heartbeat copies keep it open; its ended version never comes
// (6.x does not export it), so once the copies stop it is reconciled idle_timeout,
// ending at the last copy's arrival. The copies of its session's other spans live as
// long as it does, whatever idle_timeout says, and are then reconciled session_ended
// at the same last report.
func TestEmbraceAppleSessionSpanCarriesItsSessionsCopies(t *testing.T) {
	clk := &manualClock{now: fixtureT}
	h, ep := embraceCopiesHarness(t, clk, nil)
	ep.postFixture(t, "embrace-apple-session-copy-0s.json")
	clk.Advance(3 * time.Second)
	ep.postFixture(t, "embrace-apple-span-start-copy.json")
	var last time.Time
	for i := 0; i < 30; i++ { // 150 s of heartbeats, longer than idle_timeout
		last = clk.Advance(5 * time.Second)
		name := "embrace-apple-session-copy-5s.json"
		if i%2 == 1 {
			name = "embrace-apple-session-copy-10s.json"
		}
		// Each copy ends at its export time, the device's clock (here the
		// collector's): the collector judges the session's spans in that clock.
		copyOf := readFixture(t, name)
		copyOf.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetEndTimestamp(pcommon.NewTimestampFromTime(last))
		ep.sendGRPC(t, copyOf)
		h.advance(0)
	}
	assert.Empty(t, h.sink.AllTraces(), "the checkout copy lives while its session span is reported")
	assert.Equal(t, 2, h.openCount())

	h.advance(time.Minute - time.Second)
	assert.Empty(t, h.sink.AllTraces())
	h.advance(time.Second)
	closed := map[string]ptrace.Span{}
	for _, b := range allSpans(h.sink) {
		for _, s := range b {
			require.NotContains(t, closed, s.Name(), "each span comes out once")
			closed[s.Name()] = s
		}
	}
	require.Len(t, closed, 2)
	session, checkout := closed["emb-session"], closed["checkout"]
	assert.Equal(t, engine.ReasonIdleTimeout, attr(session, attrCloseReason))
	assert.Equal(t, last.UnixNano(), int64(session.EndTimestamp()), "the session ends at its last heartbeat copy")
	assert.Equal(t, engine.ReasonSessionEnded, attr(checkout, attrCloseReason))
	assert.Equal(t, last.UnixNano(), int64(checkout.EndTimestamp()), "the app was alive until the session's last report")
	assert.Equal(t, sourceEmbrace, attr(checkout, attrSource))
	assert.Equal(t, 0, h.openCount())
}

// Without the switch nothing changes for Embrace Apple copies (they pass on as ended
// spans: sdkfixtures_test.go); with it, other SDKs' ended spans with status UNSET
// still pass on.
func TestEmbraceAppleSnapshotsLeaveOtherSDKsAlone(t *testing.T) {
	h, ep := embraceCopiesHarness(t, &manualClock{now: fixtureT.Add(time.Minute)}, nil)
	for _, name := range []string{"otel-swift-ended-spans.json", "embrace-android-completed-spans.json"} {
		ep.postFixture(t, name)
	}
	assert.Len(t, h.sink.AllTraces(), 2, "both requests passed on")
	assert.Equal(t, 0, h.openCount())
}
