package longspan

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// sessionEndLogs is one session.end record for session, at at, written the way form
// says: "event_name" (opentelemetry-android), "event.name" (its older Events API) or
// "body" (opentelemetry-swift).
func sessionEndLogs(form, session string, at time.Time) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "shop-mobile")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	switch form {
	case "event_name":
		lr.SetEventName(eventSessionEnd)
	case "event.name":
		lr.Attributes().PutStr(attrEventName, eventSessionEnd)
	case "body":
		lr.Body().SetStr(eventSessionEnd)
	}
	if session != "" {
		lr.Attributes().PutStr("session.id", session)
	}
	return ld
}

// closedSpans is what left the processor: span name → close reason.
func closedSpans(h *harness) map[string]string {
	out := map[string]string{}
	for _, b := range allSpans(h.sink) {
		for _, s := range b {
			out[s.Name()] = attr(s, attrCloseReason)
		}
	}
	return out
}

// A session.end event, in each form the SDKs write it, ends the open spans of its
// session that started before it, at their last report; other sessions are not
// touched; the record goes on down the logs pipeline, and is counted.
func TestSessionEndEventEndsItsSession(t *testing.T) {
	for _, form := range []string{"event_name", "event.name", "body"} {
		t.Run(form, func(t *testing.T) {
			clk := &manualClock{now: t0}
			h := newHarness(t, t.TempDir(), clk, nil)
			h.startLogs()
			h.mustConsume(traces(
				spanSpec{trace: traceA, id: rootID, name: "screen.checkout", start: t0, session: "s-1"},
				spanSpec{trace: traceA, id: kidID, parent: rootID, name: "upload", start: t0, session: "s-1"},
				spanSpec{trace: traceB, id: rootID, name: "screen.home", start: t0, session: "s-2"},
			))
			seen := clk.Advance(time.Minute)
			h.mustConsume(traces(spanSpec{trace: traceA, id: rootID, name: "screen.checkout", start: t0, session: "s-1"}))
			clk.Advance(time.Minute)
			// A span of the session that starts after the event's time is not the
			// ended session's (a clock or an id gone wrong): left to its own rules.
			h.mustConsume(traces(spanSpec{trace: traceB, id: kid2ID, name: "later", start: clk.Now().Add(time.Second), session: "s-1"}))

			require.NoError(t, h.logs.ConsumeLogs(context.Background(), sessionEndLogs(form, "s-1", clk.Now())))
			h.advance(0) // the emitter delivers what the logs instance released
			closed := closedSpans(h)
			assert.Len(t, closed, 2)
			assert.Equal(t, engine.ReasonSessionEnded, closed["screen.checkout"])
			// The child carries the session too: closed with its session, or as its
			// parent's descendant, whichever the session's spans are visited in.
			assert.Contains(t, []string{engine.ReasonSessionEnded, engine.ReasonParentReconciled}, closed["upload"])
			root, ok := findSpan(allSpans(h.sink)[0], rootID)
			require.True(t, ok)
			assert.Equal(t, seen.UnixNano(), int64(root.EndTimestamp()), "ends at its last report")
			assert.Equal(t, 2, h.openCount(), "screen.home (another session) and later stay open")

			require.Len(t, h.logsSink.AllLogs(), 1, "the event goes on down the logs pipeline")
			assert.Equal(t, 1, h.logsSink.AllLogs()[0].LogRecordCount())
			metadatatest.AssertEqualLongspanSessionEndEvents(t, h.tel, []metricdata.DataPoint[int64]{
				{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", sessionEndEnded))},
			}, metricdatatest.IgnoreTimestamp())
		})
	}
}

// A session.end event without a session id (none of session_attributes), or for a
// session nothing is open of, changes nothing; the first is counted no_session.
func TestSessionEndEventWithoutItsSessionChangesNothing(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	h.startLogs()
	h.mustConsume(traces(spanSpec{trace: traceA, id: rootID, name: "screen", start: t0, session: "s-1"}))
	clk.Advance(time.Minute)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), sessionEndLogs("event_name", "", clk.Now())))
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), sessionEndLogs("event_name", "s-other", clk.Now())))
	h.advance(0)
	assert.Empty(t, h.sink.AllTraces())
	assert.Equal(t, 1, h.openCount())
	assert.Len(t, h.logsSink.AllLogs(), 2)
	metadatatest.AssertEqualLongspanSessionEndEvents(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", sessionEndNoSession))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", sessionEndEnded))},
	}, metricdatatest.IgnoreTimestamp())
}

// The session rule's trust holds for session.end events too: one sent from another
// client than the session's spans closes none of them.
func TestSessionEndEventFromAnotherClientClosesNothing(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	h.startLogs()
	require.NoError(t, h.proc.ConsumeTraces(from("192.0.2.1:5000", nil), traces(spanSpec{trace: traceA, id: rootID, name: "screen", start: t0, session: "s-1"})))
	clk.Advance(time.Minute)
	require.NoError(t, h.logs.ConsumeLogs(from("198.51.100.7:6000", nil), sessionEndLogs("event_name", "s-1", clk.Now())))
	h.advance(0)
	assert.Empty(t, h.sink.AllTraces())
	assert.Equal(t, 1, h.openCount())
	metadatatest.AssertEqualLongspanSessionRuleUntrusted(t, h.tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())

	require.NoError(t, h.logs.ConsumeLogs(from("192.0.2.1:5001", nil), sessionEndLogs("event_name", "s-1", clk.Now())))
	h.advance(0)
	assert.Equal(t, map[string]string{"screen": engine.ReasonSessionEnded}, closedSpans(h), "its own client may end it")
}

// The SDKs' own session events (testdata/wire), posted through the OTLP receiver, end
// the session they name: opentelemetry-android's session.end by event name,
// opentelemetry-swift's by body. The session.start beside it ends nothing.
func TestMobileSessionEndFixturesEndTheirSession(t *testing.T) {
	cases := map[string]string{
		"otel-android-session-events.json": "1d2e3f4a5b6c4d7e8f9a0b1c2d3e4f50",
		"otel-swift-session-events.json":   "71260ACC-5286-455F-9955-5DA8C5109A07",
	}
	for name, session := range cases {
		t.Run(name, func(t *testing.T) {
			clk := &manualClock{now: fixtureT.Add(-time.Hour)}
			h, ep := newInputsHarness(t, t.TempDir(), clk, func(c *Config) { c.IdleTimeout = 2 * time.Hour })
			h.mustConsume(traces(
				spanSpec{trace: traceA, id: rootID, name: "screen.cart", start: fixtureT.Add(-time.Hour), session: session},
				spanSpec{trace: traceB, id: rootID, name: "screen.next", start: fixtureT.Add(-time.Hour), session: "another"},
			))
			clk.Advance(time.Hour + time.Minute)
			ep.postFixture(t, name)
			h.advance(0)
			assert.Equal(t, map[string]string{"screen.cart": engine.ReasonSessionEnded}, closedSpans(h))
			assert.Equal(t, 1, h.openCount())
		})
	}
}
