package longspan

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// hostileID is the span id of the hostile span in every hostile request.
var hostileID = pcommon.SpanID{7, 7, 7, 7, 7, 7, 7, 7}

// hostileRow is one hostile input the stock OTLP receiver accepts: mutate makes the
// hostile span (or its resource or scope) so; reason is what it is dropped for, ""
// for the boundary cases that must be accepted.
type hostileRow struct {
	name   string
	reason string
	// ended makes the hostile span an ended one (else it is open, and would be
	// journaled if accepted).
	ended  bool
	mutate func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span)
}

const (
	badUTF8       = "page\xff\xfe"   // bytes that are never UTF-8
	surrogateUTF8 = "a\xed\xa0\x80b" // an encoded UTF-16 surrogate: not UTF-8 either
	truncatedUTF8 = "caf\xc3"        // a sequence cut in the middle
)

// nest puts a value levels containers deep (maps, or arrays with arrays) into v,
// with a string innermost.
func nest(v pcommon.Value, levels int, arrays bool) {
	for range levels {
		if arrays {
			v = v.SetEmptySlice().AppendEmpty()
		} else {
			v = v.SetEmptyMap().PutEmpty("k")
		}
	}
	v.SetStr("innermost")
}

func hostileRows() []hostileRow {
	maxDepth := createDefaultConfig().(*Config).Limits.MaxAttributeDepth
	deep := func(levels int, arrays bool) func(pcommon.Map) {
		return func(m pcommon.Map) { nest(m.PutEmpty("deep"), levels, arrays) }
	}
	onSpan := func(f func(pcommon.Map)) func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) {
		return func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) { f(s.Attributes()) }
	}
	onEvent := func(f func(pcommon.Map)) func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) {
		return func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			e := s.Events().AppendEmpty()
			e.SetName("click")
			e.SetTimestamp(pcommon.NewTimestampFromTime(t0))
			f(e.Attributes())
		}
	}
	onLink := func(f func(pcommon.Map)) func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) {
		return func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			l := s.Links().AppendEmpty()
			l.SetTraceID(traceA)
			l.SetSpanID(rootID)
			f(l.Attributes())
		}
	}
	onResource := func(f func(pcommon.Map)) func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) {
		return func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, _ ptrace.Span) { f(rs.Resource().Attributes()) }
	}
	onScope := func(f func(pcommon.Map)) func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) {
		return func(_ ptrace.ResourceSpans, ss ptrace.ScopeSpans, _ ptrace.Span) { f(ss.Scope().Attributes()) }
	}
	str := func(k, v string) func(pcommon.Map) { return func(m pcommon.Map) { m.PutStr(k, v) } }
	span := func(f func(ptrace.Span)) func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) {
		return func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) { f(s) }
	}
	return []hostileRow{
		{name: "invalid UTF-8 in the span name", reason: dropInvalidUTF8, mutate: span(func(s ptrace.Span) { s.SetName(badUTF8) })},
		{name: "invalid UTF-8 in the status message", reason: dropInvalidUTF8, mutate: span(func(s ptrace.Span) { s.Status().SetMessage(truncatedUTF8) })},
		{name: "invalid UTF-8 in the trace state", reason: dropInvalidUTF8, mutate: span(func(s ptrace.Span) { s.TraceState().FromRaw("vendor=" + badUTF8) })},
		{name: "invalid UTF-8 in an attribute key", reason: dropInvalidUTF8, mutate: onSpan(str("page"+badUTF8, "ok"))},
		{name: "invalid UTF-8 in an attribute value", reason: dropInvalidUTF8, mutate: onSpan(str("page.url", surrogateUTF8))},
		{name: "invalid UTF-8 in a map in an array", reason: dropInvalidUTF8, mutate: onSpan(func(m pcommon.Map) {
			m.PutEmptySlice("list").AppendEmpty().SetEmptyMap().PutStr("k", truncatedUTF8)
		})},
		{name: "invalid UTF-8 in an event name", reason: dropInvalidUTF8, mutate: span(func(s ptrace.Span) { s.Events().AppendEmpty().SetName(badUTF8) })},
		{name: "invalid UTF-8 in an event attribute", reason: dropInvalidUTF8, mutate: onEvent(str("k", badUTF8))},
		{name: "invalid UTF-8 in a link trace state", reason: dropInvalidUTF8, mutate: span(func(s ptrace.Span) { s.Links().AppendEmpty().TraceState().FromRaw(badUTF8) })},
		{name: "invalid UTF-8 in a link attribute key", reason: dropInvalidUTF8, mutate: onLink(str(badUTF8, "v"))},
		{name: "invalid UTF-8 in a resource attribute", reason: dropInvalidUTF8, mutate: onResource(str("browser.brand", badUTF8))},
		{name: "invalid UTF-8 in the resource schema url", reason: dropInvalidUTF8, mutate: func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, _ ptrace.Span) {
			rs.SetSchemaUrl("https://example.com/" + badUTF8)
		}},
		{name: "invalid UTF-8 in the scope name", reason: dropInvalidUTF8, mutate: func(_ ptrace.ResourceSpans, ss ptrace.ScopeSpans, _ ptrace.Span) {
			ss.Scope().SetName(badUTF8)
		}},
		{name: "invalid UTF-8 in the scope version", reason: dropInvalidUTF8, mutate: func(_ ptrace.ResourceSpans, ss ptrace.ScopeSpans, _ ptrace.Span) {
			ss.Scope().SetVersion(truncatedUTF8)
		}},
		{name: "invalid UTF-8 in a scope attribute", reason: dropInvalidUTF8, mutate: onScope(str("k", surrogateUTF8))},
		{name: "invalid UTF-8 in the scope schema url", reason: dropInvalidUTF8, mutate: func(_ ptrace.ResourceSpans, ss ptrace.ScopeSpans, _ ptrace.Span) {
			ss.SetSchemaUrl(badUTF8)
		}},
		{name: "invalid UTF-8 in an ended span", reason: dropInvalidUTF8, ended: true, mutate: span(func(s ptrace.Span) { s.SetName(badUTF8) })},

		{name: "maps nested one deeper than max_attribute_depth", reason: dropAttributesTooDeep, mutate: onSpan(deep(maxDepth+1, false))},
		{name: "arrays nested one deeper than max_attribute_depth", reason: dropAttributesTooDeep, mutate: onSpan(deep(maxDepth+1, true))},
		{name: "maps nested 1000 deep", reason: dropAttributesTooDeep, mutate: onSpan(deep(1000, false))},
		{name: "too deep in an event", reason: dropAttributesTooDeep, mutate: onEvent(deep(maxDepth+1, false))},
		{name: "too deep in a link", reason: dropAttributesTooDeep, mutate: onLink(deep(maxDepth+1, true))},
		{name: "too deep in the resource", reason: dropAttributesTooDeep, mutate: onResource(deep(maxDepth+1, false))},
		{name: "too deep in the scope", reason: dropAttributesTooDeep, mutate: onScope(deep(maxDepth+1, true))},
		{name: "too deep in an ended span", reason: dropAttributesTooDeep, ended: true, mutate: onSpan(deep(maxDepth+1, false))},

		{name: "start past MaxInt64 ns", reason: dropInvalidTime, mutate: span(func(s ptrace.Span) { s.SetStartTimestamp(math.MaxInt64 + 1) })},
		{name: "start 2^64-1 ns (a JSON -1 wrapped)", reason: dropInvalidTime, mutate: span(func(s ptrace.Span) { s.SetStartTimestamp(math.MaxUint64) })},
		{name: "end past MaxInt64 ns", reason: dropInvalidTime, ended: true, mutate: span(func(s ptrace.Span) { s.SetEndTimestamp(math.MaxUint64) })},
		{name: "event time past MaxInt64 ns", reason: dropInvalidTime, mutate: span(func(s ptrace.Span) {
			s.Events().AppendEmpty().SetTimestamp(math.MaxInt64 + 1)
		})},

		{name: "accepted: maps nested exactly max_attribute_depth", mutate: onSpan(deep(maxDepth, false))},
		{name: "accepted: arrays nested exactly max_attribute_depth", mutate: onSpan(deep(maxDepth, true))},
		{name: "accepted: multi-byte UTF-8 everywhere", mutate: func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span) {
			s.SetName("Seite ✓ 页面 🚀")
			s.Attributes().PutStr("ключ", "значение ✓")
			rs.Resource().Attributes().PutStr("service.namespace", "日本語")
			ss.Scope().SetVersion("1.0.0-β")
		}},
		{name: "accepted: end exactly MaxInt64 ns", ended: true, mutate: span(func(s ptrace.Span) { s.SetEndTimestamp(math.MaxInt64) })},
		{name: "accepted: a bytes value that is not UTF-8", mutate: onSpan(func(m pcommon.Map) {
			m.PutEmptyBytes("blob").FromRaw([]byte(badUTF8))
		})},
	}
}

// hostileSpan is the hostile span in a resource and scope of its own, in trace B.
func hostileSpan(mutate func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span), ended bool) ptrace.ResourceSpans {
	rs := ptrace.NewResourceSpans()
	rs.Resource().Attributes().PutStr("service.name", "hostile-page")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("hostile")
	s := ss.Spans().AppendEmpty()
	s.SetTraceID(traceB)
	s.SetSpanID(hostileID)
	s.SetName("hostile")
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(-time.Minute)))
	if ended {
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(t0))
	}
	mutate(rs, ss, s)
	return rs
}

// hostileRequest is a good open root and its ended child (held), and, in a resource of
// its own, the hostile span.
func hostileRequest(mutate func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span), ended bool) ptrace.Traces {
	td := traces(openRoot(t0.Add(-time.Minute)), endedKid(t0.Add(-time.Minute)))
	hostileSpan(mutate, ended).CopyTo(td.ResourceSpans().AppendEmpty())
	return td
}

// journalKeys names every span of the requests.
func journalKeys(tds ...ptrace.Traces) map[spanjournal.SpanKey]struct{} {
	keys := map[spanjournal.SpanKey]struct{}{}
	for _, td := range tds {
		forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			keys[spanjournal.SpanKey{Trace: s.TraceID(), Span: s.SpanID()}] = struct{}{}
		})
	}
	return keys
}

func journalCounts(h *harness) (open, held int) {
	_ = h.proc.journal.Update(context.Background(), func(tx *spanjournal.Tx) error {
		open, held = tx.Counts()
		return nil
	})
	return open, held
}

func droppedOnly(reason string) []metricdata.DataPoint[int64] {
	return []metricdata.DataPoint[int64]{{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", reason))}}
}

// TestHostileSpansAreDroppedAloneAndTheJournalReplays sends every hostile row as a
// span of a request that also brings an open root and its held child: the hostile span
// alone is dropped and counted, the rest is journaled, and a restart replays the same
// state, from which the trace completes.
func TestHostileSpansAreDroppedAloneAndTheJournalReplays(t *testing.T) {
	for _, row := range hostileRows() {
		t.Run(row.name, func(t *testing.T) {
			dir := t.TempDir()
			clk := &manualClock{now: t0}
			h := newHarness(t, dir, clk, nil)
			req := hostileRequest(row.mutate, row.ended)
			h.mustConsume(req)

			open, held := journalCounts(h)
			switch {
			case row.reason != "":
				metadatatest.AssertEqualLongspanSpansDropped(t, h.tel, droppedOnly(row.reason), metricdatatest.IgnoreTimestamp())
				assert.Equal(t, 1, open, "only the good root is open")
				assert.Empty(t, h.sink.AllTraces(), "nothing of the hostile span goes on")
			case row.ended:
				assert.Equal(t, 1, open)
				require.Equal(t, 1, h.sink.SpanCount(), "an accepted ended span of a trace with nothing held passes on")
				assert.Equal(t, hostileID, allSpans(h.sink)[0][0].SpanID())
			default:
				assert.Equal(t, 2, open, "the boundary case is accepted and journaled")
			}
			assert.Equal(t, 1, held, "the good child is held with its open root")

			before := captureJournal(t, h.proc.journal, journalKeys(req))
			h.stop()
			again := newHarness(t, dir, clk, nil)
			require.Equal(t, before, captureJournal(t, again.proc.journal, journalKeys(req)))

			root := openRoot(t0.Add(-time.Minute))
			root.end = t0
			again.mustConsume(traces(root))
			got := allSpans(again.sink)
			require.Len(t, got, 1)
			assert.Len(t, got[0], 2, "the good trace completes after the restart: root and child in one batch")
		})
	}
}

// TestHostileHeartbeatBodiesAreDroppedPerSpan carries every hostile row as the body of
// a heartbeat record, in OTLP/JSON and in protobuf, next to a good heartbeat in the same
// request: the span in the body is checked like any other, and the good one goes on.
func TestHostileHeartbeatBodiesAreDroppedPerSpan(t *testing.T) {
	for _, row := range hostileRows() {
		t.Run(row.name, func(t *testing.T) {
			dir := t.TempDir()
			clk := &manualClock{now: t0}
			h := newHarness(t, dir, clk, nil)
			h.startLogs()
			ld := hostileHeartbeatRequest(t, row)
			require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
			assert.Empty(t, h.logsSink.AllLogs(), "heartbeat records are consumed")
			keys := map[spanjournal.SpanKey]struct{}{{Trace: traceB, Span: hostileID}: {}, {Trace: traceA, Span: kid2ID}: {}}
			state := captureJournal(t, h.proc.journal, keys)
			switch {
			case row.reason != "":
				metadatatest.AssertEqualLongspanSpansDropped(t, h.tel, []metricdata.DataPoint[int64]{
					{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", row.reason))},
				}, metricdatatest.IgnoreTimestamp())
				assert.Equal(t, 1, state.Open, "the good heartbeat's span is open")
				assert.Zero(t, state.Held)
				assert.Empty(t, state.Released)
			case row.ended:
				assert.Equal(t, 1, state.Open)
				require.Len(t, state.Released, 1, "a stop record's span is journaled for the emitter to deliver")
				assert.Equal(t, hostileID.String(), state.Released[0].Spans[0].Span)
			default:
				assert.Equal(t, 2, state.Open)
			}
			h.stop()
			again := newHarness(t, dir, clk, nil)
			require.Equal(t, state, captureJournal(t, again.proc.journal, keys))
		})
	}
}

// hostileHeartbeatRequest is a logs request with the row's hostile span as the body of
// a JSON and of a protobuf heartbeat record, then a good heartbeat.
func hostileHeartbeatRequest(t *testing.T, row hostileRow) plog.Logs {
	lds := hostileHeartbeatLogs(t)
	idx := rowIndex(t, row.name) // hostileHeartbeatLogs lists, per row, the JSON and the protobuf record
	ld := plog.NewLogs()
	lds[2*idx].ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
	lds[2*idx+1].ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
	goodHeartbeat(t).ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
	return ld
}

func goodHeartbeat(t *testing.T) plog.Logs {
	return heartbeatLogs("heartbeat", bodyTypeJSON, func(v pcommon.Value) {
		v.SetStr(mustJSON(t, traces(spanSpec{trace: traceA, id: kid2ID, name: "hb", start: t0.Add(-time.Minute)})))
	})
}

// TestHeartbeatSpanDropsAreCountedWhenNothingElseIsValid: a logs request whose only
// heartbeat carries a hostile span must count the drop too.
func TestHeartbeatSpanDropsAreCountedWhenNothingElseIsValid(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, nil)
	h.startLogs()
	row := hostileRows()[0]
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), hostileHeartbeatLogs(t)[2*rowIndex(t, row.name)]))
	metadatatest.AssertEqualLongspanSpansDropped(t, h.tel, droppedOnly(row.reason), metricdatatest.IgnoreTimestamp())
}

func rowIndex(t *testing.T, name string) int {
	for i, r := range hostileRows() {
		if r.name == name {
			return i
		}
	}
	t.Fatalf("no row %q", name)
	return -1
}

// TestHeartbeatBodiesThatAreNotWhatTheyClaim: a record that says it is a heartbeat but
// whose body is not one span of the kind it says is dropped and counted alone; the
// ordinary log record beside it goes on, and a good heartbeat after it still opens
// its span.
func TestHeartbeatBodiesThatAreNotWhatTheyClaim(t *testing.T) {
	for _, bad := range badHeartbeatBodies(t) {
		t.Run(bad.name, func(t *testing.T) {
			clk := &manualClock{now: t0}
			h := newHarness(t, t.TempDir(), clk, nil)
			h.startLogs()
			ld := plog.NewLogs()
			bad.ld.CopyTo(ld)
			ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty().Body().SetStr("an ordinary log line")
			require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
			metadatatest.AssertEqualLongspanLogRecordsDropped(t, h.tel, droppedOnly(bad.reason), metricdatatest.IgnoreTimestamp())
			require.Len(t, h.logsSink.AllLogs(), 1)
			assert.Equal(t, 1, h.logsSink.AllLogs()[0].LogRecordCount(), "the ordinary record goes on")
			assert.Zero(t, h.openCount())

			require.NoError(t, h.logs.ConsumeLogs(context.Background(), goodHeartbeat(t)))
			assert.Equal(t, 1, h.openCount())
		})
	}
}

// TestValidateSpanAllocatesNothing: the check runs on every span of every request.
func TestValidateSpanAllocatesNothing(t *testing.T) {
	td := benchValidateRequest()
	rs := td.ResourceSpans().At(0)
	ss := rs.ScopeSpans().At(0)
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < ss.Spans().Len(); i++ {
			if r := validateSpan(rs, ss, ss.Spans().At(i), 8); r != "" {
				t.Fatal(r)
			}
		}
	})
	assert.Zero(t, allocs)
}

// benchValidateRequest is a browser-like request: a resource with a dozen attributes,
// 10 spans with a few attributes, an event and a nested value each.
func benchValidateRequest() ptrace.Traces {
	td := benchRequest(1, true)
	res := td.ResourceSpans().At(0).Resource().Attributes()
	for _, k := range []string{"telemetry.sdk.language", "telemetry.sdk.name", "telemetry.sdk.version", "service.version",
		"browser.brands", "browser.platform", "browser.mobile", "browser.language", "user_agent.original", "session.id", "deployment.environment"} {
		res.PutStr(k, strings.Repeat("v", 24))
	}
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		s := spans.At(i)
		s.Attributes().PutStr("http.url", "https://shop.example.com/cart?item=1234&ref=campaign")
		s.Attributes().PutInt("http.status_code", 200)
		s.Attributes().PutStr("http.method", "GET")
		tags := s.Attributes().PutEmptySlice("tags")
		tags.AppendEmpty().SetStr("a")
		tags.AppendEmpty().SetStr("b")
		tags.AppendEmpty().SetEmptyMap().PutStr("c", "d")
		e := s.Events().AppendEmpty()
		e.SetName("click")
		e.SetTimestamp(pcommon.NewTimestampFromTime(t0))
		e.Attributes().PutStr("target", "button#buy")
	}
	return td
}

// BenchmarkValidateSpan measures the check per span: on the OTel JS browser sample
// (one resource attribute) and on benchValidateRequest (a dozen resource attributes,
// each checked again for every span: classify keeps nothing per request).
func BenchmarkValidateSpan(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(fixturesDir, "otel-js-open-span.json"))
	require.NoError(b, err)
	sample, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
	require.NoError(b, err)
	for _, bc := range []struct {
		name string
		td   ptrace.Traces
	}{{"otel-js-sample", sample}, {"heavy-resource", benchValidateRequest()}} {
		b.Run(bc.name, func(b *testing.B) {
			rs := bc.td.ResourceSpans().At(0)
			ss := rs.ScopeSpans().At(0)
			n := ss.Spans().Len()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if validateSpan(rs, ss, ss.Spans().At(i%n), 8) != "" {
					b.Fatal("dropped")
				}
			}
		})
	}
}

func TestHeartbeatIdleIsBoundedWhateverTheClientClaims(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, func(c *Config) { c.MaxDuration = 24 * time.Hour; c.HeartbeatFactor = 3 })
	for _, tc := range []struct {
		frequency string
		want      time.Duration
	}{
		{"10s", 30 * time.Second},
		{"5000", 15 * time.Second},
		{"9223372036854775807", 0}, // milliseconds that overflow a Duration: no frequency
		{"2000000h", 24 * time.Hour},
		{"-5s", 0},
		{"soon", 0},
	} {
		assert.Equal(t, tc.want, h.proc.heartbeatIdle(parseFrequency(tc.frequency)), "partial.frequency=%q", tc.frequency)
	}
}

// validateSpan is what classify checks of one span, its resource and scope included.
func validateSpan(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, span ptrace.Span, maxDepth int) string {
	if reason := validateSpanOnly(span, maxDepth); reason != "" {
		return reason
	}
	return validateScope(rs, ss, maxDepth)
}
