package longspan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// The mobile SDK wire samples (testdata/wire, constructed from each SDK's source; see
// its README) posted as the SDK posts them, through the stock OTLP receiver, with the
// default configuration. The session.end rule has its own tests (sessionend_test.go,
// on the same samples); device clocks and Embrace Apple copies taken as snapshots
// (opt-in) are not asserted here.

// fixtureT is the time the mobile samples are built around (2026-12-07T08:00:00Z).
var fixtureT = time.Unix(1796630400, 0).UTC()

// fixtureJSON is td as OTLP/JSON, to compare what left the processor with what came in.
func fixtureJSON(t *testing.T, td ptrace.Traces) string {
	t.Helper()
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return string(b)
}

// TestMobileEndedSpansPassThroughUnchanged: OpenTelemetry Android and Swift export ended
// spans only. A trace with nothing held passes on as it came, without touching the
// journal, whether it is fresh or a disk-buffered burst hours late.
func TestMobileEndedSpansPassThroughUnchanged(t *testing.T) {
	for _, name := range []string{"otel-android-ended-spans.json", "otel-swift-ended-spans.json", "otel-android-disk-buffered-burst.json"} {
		t.Run(name, func(t *testing.T) {
			h, ep := newInputsHarness(t, t.TempDir(), &manualClock{now: fixtureT.Add(time.Minute)}, nil)
			ep.postFixture(t, name)
			require.Len(t, h.sink.AllTraces(), 1, "one request, one batch on")
			assert.Equal(t, fixtureJSON(t, readFixture(t, name)), fixtureJSON(t, h.sink.AllTraces()[0]))
			assert.Equal(t, 0, h.openCount())
			for _, s := range allSpans(h.sink)[0] {
				assert.NotEmpty(t, attr(s, "session.id"), "the SDK's session id is kept")
				assert.Empty(t, attr(s, attrState))
			}
		})
	}
}

// TestMobileSessionEventsCarryTheirSession: the Android and Swift session.start /
// session.end records are read by the stock receiver with their event name and session
// id, and with no span of their session held they change nothing and emit no span.
func TestMobileSessionEventsCarryTheirSession(t *testing.T) {
	cases := map[string]struct{ ended, started string }{
		"otel-android-session-events.json": {"1d2e3f4a5b6c4d7e8f9a0b1c2d3e4f50", "7f3c8a1e2b4d4c6e9a0b1c2d3e4f5a6b"},
		"otel-swift-session-events.json":   {"71260ACC-5286-455F-9955-5DA8C5109A07", "550E8400-E29B-41D4-A716-446655440000"},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(fixtureBytes(t, name))
			require.NoError(t, err)
			events := map[string]string{}
			lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for i := 0; i < lrs.Len(); i++ {
				id, ok := lrs.At(i).Attributes().Get("session.id")
				require.True(t, ok)
				events[lrs.At(i).EventName()] = id.Str()
			}
			assert.Equal(t, map[string]string{"session.end": want.ended, "session.start": want.started}, events)

			h, ep := newInputsHarness(t, t.TempDir(), &manualClock{now: fixtureT.Add(time.Minute)}, nil)
			ep.postFixture(t, name)
			h.advance(time.Second)
			assert.Empty(t, h.sink.AllTraces())
			assert.Equal(t, 0, h.openCount())
		})
	}
}

// TestEmbraceAndroidCompletedSpans: Embrace Android 9.x sends completed spans only, with
// emb.user_session_id / emb.session_part_id in place of session.id. The ones it closed
// itself (emb.error_code) keep its end and status and are marked client_interrupted;
// the emb-session span and everything else pass on as sent.
func TestEmbraceAndroidCompletedSpans(t *testing.T) {
	const name = "embrace-android-completed-spans.json"
	sent := readFixture(t, name).ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	h, ep := newInputsHarness(t, t.TempDir(), &manualClock{now: fixtureT.Add(2 * time.Minute)}, nil)
	ep.postFixture(t, name)
	got := allSpans(h.sink)
	var out []ptrace.Span
	for _, batch := range got {
		out = append(out, batch...)
	}
	require.Len(t, out, sent.Len(), "each span once")
	for i := 0; i < sent.Len(); i++ {
		want := sent.At(i)
		s, ok := findSpan(out, want.SpanID())
		require.True(t, ok, want.Name())
		assert.Equal(t, want.EndTimestamp(), s.EndTimestamp(), "%s: the client's end", want.Name())
		assert.Equal(t, want.Status().Code(), s.Status().Code(), want.Name())
		assert.Equal(t, attr(want, "emb.user_session_id"), attr(s, "emb.user_session_id"))
		assert.Empty(t, attr(s, "session.id"), "9.x sends no session.id")
		if code := attr(want, "emb.error_code"); code != "" {
			assert.Equal(t, engine.ReasonClientInterrupted, attr(s, attrCloseReason), want.Name())
			assert.Equal(t, sourceEmbrace, attr(s, attrSource), want.Name())
		} else {
			assert.Equal(t, "emb-session", s.Name())
			assert.Equal(t, "ux.session", attr(s, "emb.type"))
			assert.Empty(t, attr(s, attrCloseReason))
		}
	}
	assert.Equal(t, 0, h.openCount())
}

// TestEmbraceAppleCopiesPassThroughByDefault: Embrace Apple 6.x exports each span at its
// start and the session span at every 5 s heartbeat, each time as an ended span (end =
// export time, status UNSET), and the span again once ended (OK). Without the opt-in
// switch the collector cannot tell these copies from ended spans: every copy goes on,
// so the session span comes out three times with growing length and the checkout span
// twice.
func TestEmbraceAppleCopiesPassThroughByDefault(t *testing.T) {
	order := []string{
		"embrace-apple-session-copy-0s.json", "embrace-apple-span-start-copy.json",
		"embrace-apple-session-copy-5s.json", "embrace-apple-span-ended.json", "embrace-apple-session-copy-10s.json",
	}
	h, ep := newInputsHarness(t, t.TempDir(), &manualClock{now: fixtureT.Add(10 * time.Second)}, nil)
	for _, name := range order {
		ep.postFixture(t, name)
	}
	type copyOut struct {
		name   string
		length time.Duration
		status ptrace.StatusCode
	}
	var out []copyOut
	ids := map[pcommon.SpanID]int{}
	for _, batch := range allSpans(h.sink) {
		for _, s := range batch {
			ids[s.SpanID()]++
			out = append(out, copyOut{s.Name(), s.EndTimestamp().AsTime().Sub(s.StartTimestamp().AsTime()), s.Status().Code()})
			assert.Empty(t, attr(s, attrState), "plain ended spans, not snapshots")
		}
	}
	assert.Equal(t, []copyOut{
		{"emb-session", 2 * time.Millisecond, ptrace.StatusCodeUnset},
		{"checkout", time.Millisecond, ptrace.StatusCodeUnset},
		{"emb-session", 5 * time.Second, ptrace.StatusCodeUnset},
		{"checkout", 5 * time.Second, ptrace.StatusCodeOk},
		{"emb-session", 10 * time.Second, ptrace.StatusCodeUnset},
	}, out)
	assert.Len(t, ids, 2, "two spans, five copies")
	assert.Equal(t, 0, h.openCount())
}
