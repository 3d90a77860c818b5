package longspan

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// The fuzz targets feed arbitrary OTLP through the processor, the way the stock OTLP
// receiver would hand it over (a body it cannot decode gets a 4xx and never reaches
// longspan), and require that a restart replays the journal to the same state
// (issue #12). `make fuzz` runs each for a fixed number of executions (FUZZTIME
// overrides it); `go test` runs their seeds.
//
// FuzzTraces and FuzzLogs take a selector byte and a body: an even selector reads the
// body as OTLP protobuf, an odd one as OTLP/JSON. FuzzScenario (below) drives the
// rules with a program of requests, ticks and restarts.

func FuzzTraces(f *testing.F) { fuzzTarget(f, fuzzTracesProto, fuzzTracesJSON) }
func FuzzLogs(f *testing.F)   { fuzzTarget(f, fuzzLogsProto, fuzzLogsJSON) }

type fuzzInput int

const (
	fuzzTracesProto fuzzInput = iota
	fuzzTracesJSON
	fuzzLogsProto
	fuzzLogsJSON
)

// Selector bytes of FuzzTraces and FuzzLogs.
const (
	selectProto byte = 0
	selectJSON  byte = 1
)

// maxFuzzInput bounds one input: the receiver's limits allow more, but the fuzzer
// learns nothing from size alone (hostile_test covers the large bodies).
const maxFuzzInput = 64 << 10

func fuzzTarget(f *testing.F, proto, json fuzzInput) {
	for _, seed := range fuzzSeeds(f, proto) {
		f.Add(append([]byte{selectProto}, seed...))
	}
	for _, seed := range fuzzSeeds(f, json) {
		f.Add(append([]byte{selectJSON}, seed...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 1 || len(b) > maxFuzzInput {
			return
		}
		in := proto
		if b[0]&1 == selectJSON {
			in = json
		}
		body := b[1:]
		var td ptrace.Traces
		var ld plog.Logs
		var err error
		switch in {
		case fuzzTracesProto:
			td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		case fuzzTracesJSON:
			td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		case fuzzLogsProto:
			ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(body)
		case fuzzLogsJSON:
			ld, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(body)
		}
		if err != nil {
			return // the receiver refuses it; longspan never sees it
		}
		runFuzz(t, td, ld)
	})
}

// fuzzConfig turns every timed rule on with short periods, so that a few ticks
// snapshot, reconcile, release (early too) and forget what the input brought.
func fuzzConfig(c *Config) {
	c.IdleTimeout = 2 * time.Second
	c.MaxTraceHold = 3 * time.Second
	c.ReleaseRetention = 2 * time.Second
	c.ParentGrace = time.Second
	c.Snapshot.Interval = time.Second
	c.Snapshot.MinAge = 0
	c.Limits.MaxSpanBytes = 4096
	c.Limits.MaxAttributeDepth = 3
}

// runFuzz feeds one request to a traces and a logs instance sharing a journal, moves
// the clock across a few ticks, then restarts on the same directory and requires the
// same journal state.
func runFuzz(t *testing.T, td ptrace.Traces, ld plog.Logs) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	h := startFuzzHarness(t, dir, clk)
	keys := map[spanjournal.SpanKey]struct{}{}
	collectKeys := func(td ptrace.Traces) {
		forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			keys[spanjournal.SpanKey{Trace: s.TraceID(), Span: s.SpanID()}] = struct{}{}
		})
	}
	feed := func() {
		// Errors are allowed (a refusal is a retryable error); panics and lost state
		// are not.
		ctx := context.Background()
		if td != (ptrace.Traces{}) {
			collectKeys(td)
			_ = h.proc.ConsumeTraces(ctx, td)
		}
		if ld != (plog.Logs{}) {
			for _, lr := range allLogRecords(ld) {
				if hb, ok, _, err := readHeartbeat(lr); ok && err == nil {
					collectKeys(hb.td)
				}
			}
			_ = h.logs.ConsumeLogs(ctx, ld)
		}
	}
	feed()
	h.advance(time.Second)
	feed() // the same again: updates of open spans, stale snapshots, superseding ends
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second} {
		h.advance(d)
	}
	feed()
	h.advance(time.Second)
	requireValidOutput(t, h)

	before := captureJournal(t, h.proc.journal, keys)
	h.stop()
	again := startFuzzHarness(t, dir, clk)
	after := captureJournal(t, again.proc.journal, keys)
	require.Equal(t, before, after, "a restart must replay the journal to the same state")
	again.advance(time.Second) // delivers what was released again
	requireValidOutput(t, again)
}

// requireValidOutput checks that everything the processor emitted is what a
// downstream exporter accepts: valid by validateSpan, and encodable.
func requireValidOutput(t *testing.T, h *harness) {
	t.Helper()
	for _, td := range h.sink.AllTraces() {
		forEachSpan(td, func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span) {
			require.Empty(t, validateSpan(rs, ss, s, h.cfg.Limits.MaxAttributeDepth), "span %s/%s emitted", s.TraceID(), s.SpanID())
		})
		_, err := protoMarshaler.MarshalTraces(td)
		require.NoError(t, err)
	}
}

// startFuzzHarness is newHarness with a traces and a logs instance on a journal that
// does not fsync (the replay is the same, the fuzzer runs many times faster).
func startFuzzHarness(t testing.TB, dir string, clk *manualClock) *harness {
	t.Helper()
	h := newHarnessJournal(t, dir, clk, fuzzConfig, nil, func(c *spanjournal.Config) { c.Sync = wal.SyncNever })
	h.startLogs()
	return h
}

// journalState is everything the journal restores on replay, in a comparable form:
// times as Unix nanoseconds (0 for the zero time, as the journal writes it), ids as
// hex, sorted.
type journalState struct {
	Open, Held int
	Spans      []spanState
	Released   []releasedState
	// Reconciled maps "trace/span" to when it was reconciled, for the spans asked
	// about (the journal lists no reconciled ids).
	Reconciled map[string]int64
}

type spanState struct {
	Trace, Span, Parent string
	State               string
	Name, Service       string
	Session, Source     string
	Client              string
	Start, FirstSeen    int64
	LastSeen            int64
	IdleTimeout         time.Duration
	SnapshotSeq         uint32
	Payload             []byte
}

type releasedState struct {
	Trace string
	Batch uint64
	At    int64
	Early bool
	Spans []spanState
}

// captureJournal reads the journal's state through the public Tx API; keys names the
// spans whose reconciled time is asked for (and whose traces' released batches are
// read, besides those of every held trace).
func captureJournal(t testing.TB, j *spanjournal.Journal, keys map[spanjournal.SpanKey]struct{}) journalState {
	t.Helper()
	st := journalState{Reconciled: map[string]int64{}}
	require.NoError(t, j.Update(context.Background(), func(tx *spanjournal.Tx) error {
		st.Open, st.Held = tx.Counts()
		traceIDs := map[pcommon.TraceID]struct{}{}
		tx.Traces(func(tr *spanjournal.Trace) {
			traceIDs[tr.ID] = struct{}{}
			for _, s := range tr.Spans {
				st.Spans = append(st.Spans, spanStateOf(t, tx, s))
			}
		})
		for k := range keys {
			traceIDs[k.Trace] = struct{}{}
			if c, ok := tx.ClosedAt(k); ok {
				st.Reconciled[k.Trace.String()+"/"+k.Span.String()] = nanos(c.At)
			}
		}
		for id := range traceIDs {
			for _, r := range tx.Released(id) {
				rs := releasedState{Trace: r.TraceID.String(), Batch: r.Batch, At: nanos(r.At), Early: r.Early}
				for _, s := range r.Spans {
					rs.Spans = append(rs.Spans, spanStateOf(t, tx, s))
				}
				st.Released = append(st.Released, rs)
			}
		}
		return nil
	}))
	slices.SortFunc(st.Spans, func(a, b spanState) int { return strings.Compare(a.Trace+a.Span, b.Trace+b.Span) })
	slices.SortFunc(st.Released, func(a, b releasedState) int {
		if c := strings.Compare(a.Trace, b.Trace); c != 0 {
			return c
		}
		return int(a.Batch) - int(b.Batch)
	})
	return st
}

func spanStateOf(t testing.TB, tx *spanjournal.Tx, s *spanjournal.Span) spanState {
	payloads, err := tx.Payloads([]*spanjournal.Span{s})
	require.NoError(t, err)
	return spanState{
		Trace: s.TraceID.String(), Span: s.SpanID.String(), Parent: s.ParentID.String(), State: s.State.String(),
		Name: s.Name, Service: s.Service(), Session: s.SessionID(), Source: s.Source(), Client: s.Client(),
		Start: nanos(s.Start()), FirstSeen: nanos(s.FirstSeen()), LastSeen: nanos(s.LastSeen()),
		IdleTimeout: s.IdleTimeout, SnapshotSeq: s.SnapshotSeq, Payload: bytes.Clone(payloads[0]),
	}
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func forEachSpan(td ptrace.Traces, fn func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span)) {
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				fn(rs, ss, ss.Spans().At(k))
			}
		}
	}
}

func allLogRecords(ld plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				out = append(out, lrs.At(k))
			}
		}
	}
	return out
}

// fuzzSeeds are the repository's wire samples of the target's kind (as sent, and
// re-encoded for the protobuf targets), plus the hostile inputs of validate_test and
// hostile_test.
func fuzzSeeds(tb testing.TB, in fuzzInput) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(fixturesDir, "*.json"))
	require.NoError(tb, err)
	var seeds [][]byte
	logsTarget := in == fuzzLogsProto || in == fuzzLogsJSON
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(tb, err)
		isLogs := bytes.Contains(b, []byte(`"resourceLogs"`))
		if isLogs != logsTarget {
			continue
		}
		seeds = append(seeds, encodeSeed(tb, in, b))
	}
	if logsTarget {
		for _, ld := range hostileHeartbeatLogs(tb) {
			seeds = append(seeds, marshalLogs(tb, in, ld))
		}
		return seeds
	}
	for _, td := range hostileTraces() {
		seeds = append(seeds, marshalTraces(tb, in, td))
	}
	return seeds
}

// encodeSeed turns an OTLP/JSON wire sample into the target's encoding.
func encodeSeed(tb testing.TB, in fuzzInput, jsonBody []byte) []byte {
	switch in {
	case fuzzTracesProto:
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(jsonBody)
		require.NoError(tb, err)
		return marshalTraces(tb, in, td)
	case fuzzLogsProto:
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(jsonBody)
		require.NoError(tb, err)
		return marshalLogs(tb, in, ld)
	}
	return jsonBody
}

func marshalTraces(tb testing.TB, in fuzzInput, td ptrace.Traces) []byte {
	var b []byte
	var err error
	if in == fuzzTracesProto {
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	} else {
		b, err = (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	}
	require.NoError(tb, err)
	return b
}

func marshalLogs(tb testing.TB, in fuzzInput, ld plog.Logs) []byte {
	var b []byte
	var err error
	if in == fuzzLogsProto {
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	} else {
		b, err = (&plog.JSONMarshaler{}).MarshalLogs(ld)
	}
	require.NoError(tb, err)
	return b
}

// hostileTraces is one request per hostile row of validate_test, each with a good
// open span and a held child around the hostile span.
func hostileTraces() []ptrace.Traces {
	var out []ptrace.Traces
	for _, row := range hostileRows() {
		out = append(out, hostileRequest(row.mutate, row.ended))
	}
	return out
}

// hostileHeartbeatLogs are heartbeat records whose bodies are hostile: each hostile
// span as a JSON and as a protobuf body, and the bodies that are not what they say.
func hostileHeartbeatLogs(tb testing.TB) []plog.Logs {
	var out []plog.Logs
	for _, row := range hostileRows() {
		td := ptrace.NewTraces()
		hostileSpan(row.mutate, row.ended).CopyTo(td.ResourceSpans().AppendEmpty())
		js, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		require.NoError(tb, err)
		pb, err := protoMarshaler.MarshalTraces(td)
		require.NoError(tb, err)
		event := "heartbeat"
		if row.ended {
			event = "stop"
		}
		out = append(out,
			heartbeatLogs(event, bodyTypeJSON, func(v pcommon.Value) { v.SetStr(string(js)) }),
			heartbeatLogs(event, "", func(v pcommon.Value) { v.SetEmptyBytes().FromRaw(pb) }))
	}
	for _, bad := range badHeartbeatBodies(tb) {
		out = append(out, bad.ld)
	}
	return out
}

// heartbeatLogs is one G-Research heartbeat record with the body body sets.
func heartbeatLogs(event, bodyType string, body func(pcommon.Value)) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "batch-runner")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	lr.Attributes().PutStr(attrPartialEvent, event)
	if bodyType != "" {
		lr.Attributes().PutStr(attrPartialBodyType, bodyType)
	}
	lr.Attributes().PutStr(attrPartialFrequency, "5000ms")
	body(lr.Body())
	return ld
}

// badHeartbeat is a heartbeat record whose body is not what the record says, and the
// reason of log_records_dropped it gets.
type badHeartbeat struct {
	name, reason string
	ld           plog.Logs
}

func badHeartbeatBodies(tb testing.TB) []badHeartbeat {
	one := traces(spanSpec{trace: traceB, id: kid2ID, name: "hb", start: t0.Add(-time.Minute)})
	two := traces(spanSpec{trace: traceB, id: kid2ID, name: "hb", start: t0.Add(-time.Minute)},
		spanSpec{trace: traceB, id: kidID, name: "hb2", start: t0.Add(-time.Minute)})
	js := func(td ptrace.Traces) string {
		b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		require.NoError(tb, err)
		return string(b)
	}
	pb, err := protoMarshaler.MarshalTraces(one)
	require.NoError(tb, err)
	str := func(s string) func(pcommon.Value) { return func(v pcommon.Value) { v.SetStr(s) } }
	return []badHeartbeat{
		{"body is not a span", dropBadBody, heartbeatLogs("heartbeat", bodyTypeJSON, str(`{"hello":"world"`))},
		{"body is plain text", dropBadBody, heartbeatLogs("heartbeat", "", str("the job is still running"))},
		{"body is a number", dropBadBody, heartbeatLogs("heartbeat", "", func(v pcommon.Value) { v.SetInt(42) })},
		{"body is empty TracesData", dropNotOneSpan, heartbeatLogs("heartbeat", bodyTypeJSON, str(`{}`))},
		{"body holds two spans", dropNotOneSpan, heartbeatLogs("heartbeat", bodyTypeJSON, str(js(two)))},
		{"stop without end time", dropBadEndedSpan, heartbeatLogs("stop", bodyTypeJSON, str(js(one)))},
		{"claims json, is base64 protobuf", dropBadBody, heartbeatLogs("heartbeat", bodyTypeJSON, str(base64.StdEncoding.EncodeToString(pb)))},
		{"claims protobuf, is json", dropBadBody, heartbeatLogs("heartbeat", "protobuf/v1", str(js(one)))},
		{"unknown event", dropUnknownEvent, heartbeatLogs("pause", bodyTypeJSON, str(js(one)))},
	}
}

// FuzzScenario reads the fuzz bytes as a program of client requests, clock ticks and
// restarts over a few traces, sessions and span ids that collide on purpose, so that the
// fuzzer explores the rules (open, update, hold, release, reconcile, supersede,
// heartbeats, hostile spans) instead of the decoders; at every restart, and at the end,
// the journal must replay to the state it had.
func FuzzScenario(f *testing.F) {
	for _, seed := range scenarioSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		if len(program) > 512 {
			return
		}
		runScenario(t, program)
	})
}

// Scenario operations; an operation's operands are the bytes after it.
const (
	opOpen      = iota // span: add an open span to the pending request
	opEnded            // span, end: add an ended span
	opFlush            // send the pending request to the traces instance
	opHeartbeat        // span: a heartbeat record to the pending logs request
	opStop             // span, end: a stop record to the pending logs request
	opFlushLogs        // send the pending logs request to the logs instance
	opTick             // d: advance the clock d × 100ms and tick
	opRestart          // stop, replay the journal, compare
	opCount
)

// scenarioKeys is every span id a scenario can use: 4 traces of 8 spans.
func scenarioKeys() map[spanjournal.SpanKey]struct{} {
	keys := map[spanjournal.SpanKey]struct{}{}
	for tr := range 4 {
		for sp := range 8 {
			keys[spanjournal.SpanKey{Trace: scenarioTrace(byte(tr)), Span: scenarioSpan(byte(sp))}] = struct{}{}
		}
	}
	return keys
}

func scenarioTrace(b byte) pcommon.TraceID { return pcommon.TraceID{0xf0 | b%4, 1, 2, 3} }
func scenarioSpan(b byte) pcommon.SpanID   { return pcommon.SpanID{0x10 | b%8, 1} }

// programReader hands out operand bytes; past the end it returns zeros.
type programReader struct{ b []byte }

func (r *programReader) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// scenarioSpanInto appends the span the next operand bytes describe (trace, id,
// parent, start, name, session, flags) to a new resource of td, and returns it.
func scenarioSpanInto(td ptrace.Traces, r *programReader, now time.Time) ptrace.Span {
	ids, parent, start, kind, flags := r.next(), r.next(), r.next(), r.next(), r.next()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "scenario")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetTraceID(scenarioTrace(ids >> 4))
	s.SetSpanID(scenarioSpan(ids))
	if parent%9 != 0 {
		s.SetParentSpanID(scenarioSpan(parent%9 - 1))
	}
	switch start {
	case 0xff:
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(2 * time.Hour))) // a device clock 2 h fast
	case 0xfe:
		s.SetStartTimestamp(0) // no_start_time, for an open span
	default:
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(start) * time.Second)))
	}
	s.SetName([]string{"page.session", "emb-session", "fetch", "click"}[kind%4])
	if session := kind >> 2 % 4; session != 0 {
		s.Attributes().PutStr("session.id", fmt.Sprintf("s%d", session))
	}
	if flags&1 != 0 {
		s.Attributes().PutStr(attrClientHint, engine.HintPageUnload)
	}
	if flags&2 != 0 {
		s.Attributes().PutStr(attrEmbraceErrorCode, "user_abandon")
	}
	if flags&4 != 0 {
		s.SetName(badUTF8)
	}
	if flags&8 != 0 {
		nest(s.Attributes().PutEmpty("deep"), 4, flags&16 != 0) // limit 3 in fuzzConfig
	}
	if flags&32 != 0 {
		s.Events().AppendEmpty().SetTimestamp(math.MaxInt64 + 1)
	}
	if flags&64 != 0 {
		s.Attributes().PutStr("blob", strings.Repeat("x", 5000)) // over max_span_bytes 4096
	}
	if flags&128 != 0 {
		s.SetSpanID(pcommon.SpanID{}) // invalid_id
	}
	return s
}

// scenarioEnd sets the end of an ended span from the next operand: up to 25s after
// its start, or (for operands above 250) before it.
func scenarioEnd(s ptrace.Span, r *programReader) {
	d := r.next()
	end := s.StartTimestamp().AsTime().Add(time.Duration(d) * 100 * time.Millisecond)
	if d > 250 {
		end = s.StartTimestamp().AsTime().Add(-time.Second)
	}
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
}

func runScenario(t *testing.T, program []byte) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	h := startFuzzHarness(t, dir, clk)
	keys := scenarioKeys()
	r := &programReader{b: program}
	pending := ptrace.NewTraces()
	logs := plog.NewLogs()
	ctx := context.Background()
	restart := func() {
		requireValidOutput(t, h)
		before := captureJournal(t, h.proc.journal, keys)
		h.stop()
		h = startFuzzHarness(t, dir, clk)
		require.Equal(t, before, captureJournal(t, h.proc.journal, keys), "a restart must replay the journal to the same state")
	}
	heartbeat := func(event string, span func(ptrace.Traces) ptrace.Span, end bool) {
		td := ptrace.NewTraces()
		s := span(td)
		if end {
			scenarioEnd(s, r)
		}
		b, err := protoMarshaler.MarshalTraces(td)
		require.NoError(t, err)
		lr := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.Attributes().PutStr(attrPartialEvent, event)
		lr.Attributes().PutStr(attrPartialFrequency, "2s")
		lr.Body().SetEmptyBytes().FromRaw(b)
	}
	for len(r.b) > 0 {
		now := clk.Now()
		switch r.next() % opCount {
		case opOpen:
			scenarioSpanInto(pending, r, now)
		case opEnded:
			scenarioEnd(scenarioSpanInto(pending, r, now), r)
		case opFlush:
			_ = h.proc.ConsumeTraces(ctx, pending)
			pending = ptrace.NewTraces()
		case opHeartbeat:
			heartbeat("heartbeat", func(td ptrace.Traces) ptrace.Span { return scenarioSpanInto(td, r, now) }, false)
		case opStop:
			heartbeat("stop", func(td ptrace.Traces) ptrace.Span { return scenarioSpanInto(td, r, now) }, true)
		case opFlushLogs:
			_ = h.logs.ConsumeLogs(ctx, logs)
			logs = plog.NewLogs()
		case opTick:
			// At most 25.5s a tick and 512 bytes a program: far below supersede_window,
			// whose forgetting is not journaled (it is redone after a replay).
			h.advance(time.Duration(r.next()) * 100 * time.Millisecond)
		case opRestart:
			restart()
		}
	}
	restart()
}

// scenarioSeeds are a few programs that walk the main paths.
func scenarioSeeds() [][]byte {
	span := func(tr, sp, parent, start, kind, flags byte) []byte {
		return []byte{tr<<4 | sp, parent, start, kind, flags}
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	op := func(o int, operands ...byte) []byte { return append([]byte{byte(o)}, operands...) }
	return [][]byte{
		// A page session opens, a child ends under it, a restart, the root ends: one batch.
		cat(op(opOpen), span(0, 0, 0, 10, 0|1<<2, 0), op(opEnded), span(0, 1, 1, 5, 2, 0), []byte{3}, op(opFlush),
			op(opRestart), op(opEnded), span(0, 0, 0, 10, 0|1<<2, 0), []byte{50}, op(opFlush), op(opTick, 10), op(opRestart)),
		// An open span goes idle, is reconciled, released, then its real end supersedes it.
		cat(op(opOpen), span(1, 0, 0, 30, 2, 0), op(opFlush), op(opTick, 30), op(opTick, 10), op(opRestart),
			op(opEnded), span(1, 0, 0, 30, 2, 0), []byte{100}, op(opFlush), op(opRestart)),
		// Heartbeats and a stop, with a snapshot round and a restart in between.
		cat(op(opHeartbeat), span(2, 3, 0, 20, 3, 0), op(opFlushLogs), op(opTick, 10), op(opRestart),
			op(opStop), span(2, 3, 0, 20, 3, 0), []byte{200}, op(opFlushLogs), op(opTick, 10), op(opRestart)),
		// Hostile spans beside good ones; unload hint; Embrace interruption; sessions.
		cat(op(opOpen), span(3, 0, 0, 40, 0|2<<2, 0), op(opOpen), span(3, 1, 1, 30, 2|2<<2, 4), op(opOpen), span(3, 2, 1, 30, 2, 8),
			op(opOpen), span(3, 3, 1, 30, 2, 32), op(opOpen), span(3, 4, 1, 30, 2, 64), op(opFlush),
			op(opOpen), span(0, 5, 0, 20, 0|2<<2, 1), op(opEnded), span(1, 6, 0, 20, 3, 2), []byte{5}, op(opFlush),
			op(opTick, 50), op(opTick, 250), op(opRestart)),
	}
}
