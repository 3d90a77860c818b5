package longspan

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
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
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// The public endpoint under abuse (issue #12): hostile bodies posted to the stock OTLP
// receiver, over HTTP (OTLP/JSON and protobuf) and gRPC, each get a clear 4xx from the
// receiver or a counted drop in longspan; never a crash, never a journal record that
// fails to replay.

// Receiver limits as the default configuration (config/otelcol-longspan.yaml) sets them.
const (
	hostileMaxRequestBodySize = 4 << 20
	hostileMaxRecvMsgSizeMiB  = 4
)

// hostileEndpoints is the stock OTLP receiver on loopback, with the default
// configuration's size limits, feeding a harness's traces and logs instances.
type hostileEndpoints struct{ otlpEndpoints }

func startHostileOTLP(t *testing.T, h *harness) hostileEndpoints {
	t.Helper()
	return hostileEndpoints{startOTLPWith(t, h,
		map[string]any{"max_request_body_size": hostileMaxRequestBodySize},
		map[string]any{"max_recv_msg_size_mib": hostileMaxRecvMsgSizeMiB})}
}

// post sends a raw body and returns the HTTP status.
func (ep hostileEndpoints) post(t *testing.T, signal, contentType string, body []byte) int {
	t.Helper()
	resp, err := http.Post(ep.httpBase+"/v1/"+signal, contentType, bytes.NewReader(body))
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	return resp.StatusCode
}

// rawCodec sends protobuf bytes over gRPC as they are, so that a test can send what
// no well-behaved client would encode.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

// export sends raw protobuf bytes to the receiver's gRPC Export of the signal and
// returns the status code.
func (ep hostileEndpoints) export(t *testing.T, signal string, body []byte) codes.Code {
	t.Helper()
	conn, err := grpc.NewClient(ep.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	method := "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	if signal == "logs" {
		method = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var resp []byte
	err = conn.Invoke(ctx, method, &body, &resp, grpc.ForceCodec(rawCodec{}))
	return status.Code(err)
}

// hostileCase is one hostile body and what each transport must answer.
type hostileCase struct {
	name   string
	signal string // traces or logs
	// json and proto are the bodies; nil where the case has no such encoding.
	json, proto []byte
	// jsonStatus and protoStatus are the HTTP statuses; grpcCode gRPC's answer to proto.
	jsonStatus, protoStatus int
	grpcCode                codes.Code
	// dropped is the reason of spans_dropped, logDropped of log_records_dropped, that an
	// accepted body (2xx) must count once; both empty: accepted and nothing dropped.
	dropped, logDropped string
	// passes: the hostile span is accepted and passed on downstream.
	passes bool
}

// placeholder stands for a string a test then replaces in encoded bytes.
const placeholder = "PLACEHOLDER-0123456789"

func tracesJSON(t *testing.T, td ptrace.Traces) []byte {
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return b
}

func tracesProto(t *testing.T, td ptrace.Traces) []byte {
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return b
}

func logsJSON(t *testing.T, ld plog.Logs) []byte {
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return b
}

func logsProto(t *testing.T, ld plog.Logs) []byte {
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return b
}

// withHostile is hostileRequest with the hostile span changed by f.
func withHostile(f func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span)) ptrace.Traces {
	return hostileRequest(f, false)
}

// replaced encodes td with enc and replaces the placeholder by with, padded to the
// placeholder's length (protobuf length prefixes stay right), in the encoded bytes.
func replaced(t *testing.T, enc func(*testing.T, ptrace.Traces) []byte, td ptrace.Traces, with string) []byte {
	b := enc(t, td)
	require.True(t, bytes.Contains(b, []byte(placeholder)))
	require.LessOrEqual(t, len(with), len(placeholder))
	with += strings.Repeat("x", len(placeholder)-len(with))
	return bytes.ReplaceAll(b, []byte(placeholder), []byte(with))
}

// protoSpan encodes, field by field, a TracesData holding a good open root and one
// span with the given ids and times, so that ids of any length can be sent.
func protoSpan(t *testing.T, traceID, spanID []byte, start, end uint64) []byte {
	good := tracesProto(t, traces(openRoot(t0.Add(-time.Minute))))
	var span []byte
	span = protowire.AppendTag(span, 1, protowire.BytesType)
	span = protowire.AppendBytes(span, traceID)
	span = protowire.AppendTag(span, 2, protowire.BytesType)
	span = protowire.AppendBytes(span, spanID)
	span = protowire.AppendTag(span, 5, protowire.BytesType)
	span = protowire.AppendString(span, "hostile")
	span = protowire.AppendTag(span, 7, protowire.Fixed64Type)
	span = protowire.AppendFixed64(span, start)
	span = protowire.AppendTag(span, 8, protowire.Fixed64Type)
	span = protowire.AppendFixed64(span, end)
	var ss []byte
	ss = protowire.AppendTag(ss, fieldScopeSpansSpans, protowire.BytesType)
	ss = protowire.AppendBytes(ss, span)
	var rs []byte
	rs = protowire.AppendTag(rs, fieldResourceSpansScopeSpans, protowire.BytesType)
	rs = protowire.AppendBytes(rs, ss)
	out := protowire.AppendTag(good, fieldTracesDataResourceSpans, protowire.BytesType)
	return protowire.AppendBytes(out, rs)
}

func hostileCases(t *testing.T) []hostileCase {
	start := uint64(t0.Add(-time.Minute).UnixNano())
	trace16 := traceB[:]
	span8 := hostileID[:]
	hexTrace := traceB.String()
	hexSpan := hostileID.String()
	idJSON := func(trace, span string) []byte {
		b := tracesJSON(t, withHostile(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, _ ptrace.Span) {}))
		b = bytes.Replace(b, []byte(`"traceId":"`+hexTrace+`"`), []byte(`"traceId":"`+trace+`"`), 1)
		return bytes.Replace(b, []byte(`"spanId":"`+hexSpan+`"`), []byte(`"spanId":"`+span+`"`), 1)
	}
	timeJSON := func(startJSON string) []byte {
		b := tracesJSON(t, withHostile(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) { s.SetStartTimestamp(4242) }))
		require.True(t, bytes.Contains(b, []byte(`"startTimeUnixNano":"4242"`)))
		return bytes.Replace(b, []byte(`"startTimeUnixNano":"4242"`), []byte(`"startTimeUnixNano":`+startJSON), 1)
	}
	huge := withHostile(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		s.Attributes().PutStr("blob", strings.Repeat("x", 100<<10))
	})
	hugeEnded := hostileRequest(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		s.Attributes().PutStr("blob", strings.Repeat("x", 100<<10))
	}, true)
	many := withHostile(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		for i := range 10_000 {
			s.Attributes().PutInt(fmt.Sprintf("attr.%05d", i), int64(i))
		}
	})
	deep := func(levels int) ptrace.Traces {
		return withHostile(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			nest(s.Attributes().PutEmpty("deep"), levels, false)
		})
	}
	named := withHostile(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) { s.SetName(placeholder) })
	resAttr := withHostile(func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, _ ptrace.Span) {
		rs.Resource().Attributes().PutStr("browser.brand", placeholder)
	})
	overMaxInt64 := withHostile(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		s.SetStartTimestamp(math.MaxInt64 + 1)
	})
	endOverflow := hostileRequest(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) { s.SetEndTimestamp(math.MaxUint64) }, true)
	tooBig := withHostile(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		s.Attributes().PutStr("blob", strings.Repeat("x", hostileMaxRequestBodySize))
	})

	cases := []hostileCase{
		{name: "huge attribute value (100 KiB, over max_span_bytes)", signal: "traces", json: tracesJSON(t, huge), proto: tracesProto(t, huge),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, dropped: engine.DropTooLarge},
		// Spans that pass straight through are not size-checked (docs/design.md, promise 8):
		// an ended span of a trace with nothing held goes on as sent.
		{name: "huge attribute value on an ended span passing through", signal: "traces", json: tracesJSON(t, hugeEnded), proto: tracesProto(t, hugeEnded),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, passes: true},
		{name: "10,000 attributes", signal: "traces", json: tracesJSON(t, many), proto: tracesProto(t, many),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, dropped: engine.DropTooLarge},
		{name: "kvlist nested 9 deep (max_attribute_depth 8)", signal: "traces", json: tracesJSON(t, deep(9)), proto: tracesProto(t, deep(9)),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, dropped: dropAttributesTooDeep},
		{name: "kvlist nested 10,000 deep", signal: "traces", json: tracesJSON(t, deep(10_000)), proto: tracesProto(t, deep(10_000)),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, dropped: dropAttributesTooDeep},
		{name: "invalid UTF-8 in the span name", signal: "traces", json: replaced(t, tracesJSON, named, badUTF8), proto: replaced(t, tracesProto, named, badUTF8),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, dropped: dropInvalidUTF8},
		{name: "invalid UTF-8 in a resource attribute", signal: "traces", json: replaced(t, tracesJSON, resAttr, surrogateUTF8), proto: replaced(t, tracesProto, resAttr, surrogateUTF8),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, dropped: dropInvalidUTF8},
		// gRPC answers every body it cannot decode with INTERNAL (grpc-go's "error
		// unmarshalling request"), which OTLP exporters do not retry.
		{name: "trace id of 15 bytes", signal: "traces", json: idJSON(hexTrace[:30], hexSpan), proto: protoSpan(t, trace16[:15], span8, start, 0),
			jsonStatus: 400, protoStatus: 400, grpcCode: codes.Internal},
		{name: "trace id of 17 bytes", signal: "traces", json: idJSON(hexTrace+"ab", hexSpan), proto: protoSpan(t, append(bytes.Clone(trace16), 0xab), span8, start, 0),
			jsonStatus: 400, protoStatus: 400, grpcCode: codes.Internal},
		{name: "span id of 7 bytes", signal: "traces", json: idJSON(hexTrace, hexSpan[:14]), proto: protoSpan(t, trace16, span8[:7], start, 0),
			jsonStatus: 400, protoStatus: 400, grpcCode: codes.Internal},
		{name: "span id of odd hex length / not hex", signal: "traces", json: idJSON(hexTrace, hexSpan[:15]+"z"),
			jsonStatus: 400},
		{name: `start time "-1"`, signal: "traces", json: timeJSON(`"-1"`), jsonStatus: 400},
		// The stock receiver's quirk: the decoder's error quotes the offending byte as
		// one that is not UTF-8, the receiver cannot encode that error message as a
		// google.rpc.Status and falls back to 500. Nothing reaches longspan.
		{name: `start time -1 (a JSON number)`, signal: "traces", json: timeJSON(`-1`), jsonStatus: 500},
		{name: "undecodable JSON quoting invalid UTF-8", signal: "traces",
			json: []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"` + badUTF8 + `","startTimeUnixNano":"x"}]}]}]}`), jsonStatus: 500},
		{name: `start time "99999999999999999999" (over 2^64)`, signal: "traces", json: timeJSON(`"99999999999999999999"`), jsonStatus: 400},
		{name: `start time "18446744073709551615" (2^64-1)`, signal: "traces", json: timeJSON(`"18446744073709551615"`),
			jsonStatus: 200, dropped: dropInvalidTime},
		{name: "start time 2^63 (negative as int64)", signal: "traces", json: tracesJSON(t, overMaxInt64), proto: tracesProto(t, overMaxInt64),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, dropped: dropInvalidTime},
		{name: "end time 2^64-1", signal: "traces", json: tracesJSON(t, endOverflow), proto: tracesProto(t, endOverflow),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, dropped: dropInvalidTime},
		{name: "body over the size limit (4 MiB)", signal: "traces", json: tracesJSON(t, tooBig), proto: tracesProto(t, tooBig),
			jsonStatus: 400, protoStatus: 400, grpcCode: codes.ResourceExhausted},
		{name: "truncated body", signal: "traces", json: tracesJSON(t, named)[:100], proto: tracesProto(t, named)[:60],
			jsonStatus: 400, protoStatus: 400, grpcCode: codes.Internal},
	}

	for _, bad := range badHeartbeatBodies(t) {
		cases = append(cases, hostileCase{name: "heartbeat: " + bad.name, signal: "logs", json: logsJSON(t, bad.ld), proto: logsProto(t, bad.ld),
			jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, logDropped: bad.reason})
	}
	one := traces(spanSpec{trace: traceB, id: hostileID, name: placeholder, start: t0.Add(-time.Minute)})
	pb := tracesProto(t, one)
	rawJSONTyped := heartbeatLogs("heartbeat", bodyTypeJSON, func(v pcommon.Value) { v.SetEmptyBytes().FromRaw(pb) })
	cases = append(cases, hostileCase{name: "heartbeat: claims json, is raw protobuf bytes (read as protobuf)", signal: "logs",
		json: logsJSON(t, rawJSONTyped), proto: logsProto(t, rawJSONTyped), jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK})
	// With a good heartbeat beside it: logs.go counts the span drops of a logs request
	// only when some span of it is valid (TestHeartbeatSpanDropsAreCountedWhenNothingElseIsValid).
	badName := heartbeatLogs("heartbeat", bodyTypeJSON, func(v pcommon.Value) { v.SetStr(string(replaced(t, tracesJSON, one, badUTF8))) })
	goodHeartbeat(t).ResourceLogs().MoveAndAppendTo(badName.ResourceLogs())
	cases = append(cases, hostileCase{name: "heartbeat: body span with invalid UTF-8", signal: "logs",
		json: logsJSON(t, badName), proto: logsProto(t, badName), jsonStatus: 200, protoStatus: 200, grpcCode: codes.OK, dropped: dropInvalidUTF8})
	return cases
}

// TestHostileBodiesThroughTheStockReceiver posts every hostile body over each
// transport, each to a fresh collector: it gets the status of its row and, when
// accepted, exactly the drop of its row; a valid request after it still succeeds, and
// a restart replays the journal to the same state.
func TestHostileBodiesThroughTheStockReceiver(t *testing.T) {
	for _, hc := range hostileCases(t) {
		for _, transport := range []string{"http-json", "http-protobuf", "grpc"} {
			body := hc.json
			if transport != "http-json" {
				body = hc.proto
			}
			if body == nil {
				continue
			}
			t.Run(hc.name+"/"+transport, func(t *testing.T) {
				dir := t.TempDir()
				clk := &manualClock{now: t0}
				h := newHarness(t, dir, clk, nil)
				h.startLogs()
				ep := startHostileOTLP(t, h)

				accepted := false
				switch transport {
				case "http-json":
					assert.Equal(t, hc.jsonStatus, ep.post(t, hc.signal, "application/json", body))
					accepted = hc.jsonStatus == http.StatusOK
				case "http-protobuf":
					assert.Equal(t, hc.protoStatus, ep.post(t, hc.signal, "application/x-protobuf", body))
					accepted = hc.protoStatus == http.StatusOK
				case "grpc":
					assert.Equal(t, hc.grpcCode, ep.export(t, hc.signal, body))
					accepted = hc.grpcCode == codes.OK
				}
				requireDrops(t, h, accepted, hc)

				// A valid request still succeeds.
				good := traces(spanSpec{trace: traceA, id: kid2ID, name: "still-served", start: t0.Add(-time.Second)})
				assert.Equal(t, http.StatusOK, ep.post(t, "traces", "application/x-protobuf", tracesProto(t, good)))
				assert.Equal(t, codes.OK, ep.export(t, "traces", tracesProto(t, good)))

				keys := journalKeys(good, traces(openRoot(t0), endedKid(t0)))
				keys[spanjournal.SpanKey{Trace: traceB, Span: hostileID}] = struct{}{}
				before := captureJournal(t, h.proc.journal, keys)
				assert.NotZero(t, before.Open)
				h.stop()
				again := newHarness(t, dir, clk, nil)
				require.Equal(t, before, captureJournal(t, again.proc.journal, keys))
			})
		}
	}
}

// requireDrops checks the counted drops of an accepted body, and that a refused one
// reached nothing.
func requireDrops(t *testing.T, h *harness, accepted bool, hc hostileCase) {
	t.Helper()
	if !accepted {
		assert.Zero(t, h.openCount(), "a refused body reached nothing")
		return
	}
	if hc.dropped != "" {
		metadatatest.AssertEqualLongspanSpansDropped(t, h.tel, []metricdata.DataPoint[int64]{
			{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", hc.dropped))},
		}, metricdatatest.IgnoreTimestamp())
	}
	if hc.passes {
		require.Equal(t, 1, h.sink.SpanCount())
		assert.Equal(t, hostileID, allSpans(h.sink)[0][0].SpanID())
	}
	if hc.logDropped != "" {
		metadatatest.AssertEqualLongspanLogRecordsDropped(t, h.tel, []metricdata.DataPoint[int64]{
			{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", hc.logDropped))},
		}, metricdatatest.IgnoreTimestamp())
	}
}
