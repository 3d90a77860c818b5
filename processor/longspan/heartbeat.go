package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"
)

var errNotOneSpan = errors.New("body must hold exactly one span")

// heartbeat is one partial-span log record, read.
type heartbeat struct {
	// ended is a stop / ended record: the span's final version.
	ended bool
	// frequency is the client's heartbeat period, zero when not sent.
	frequency time.Duration
	td        ptrace.Traces
}

// readHeartbeat reads a log record as a partial-span heartbeat. ok is false for a
// record that is not one (it goes on down the logs pipeline untouched); reason names
// why a heartbeat record could not be used.
func readHeartbeat(lr plog.LogRecord) (hb heartbeat, ok bool, reason string, err error) {
	attrs := lr.Attributes()
	var event, bodyType string
	if v, found := attrs.Get(attrPartialEvent); found {
		event = v.AsString()
		bodyType = stringAttr(attrs, attrPartialBodyType)
		switch event {
		case "heartbeat":
		case "stop":
			hb.ended = true
		default:
			return hb, true, dropUnknownEvent, fmt.Errorf("%s=%q is not heartbeat or stop", attrPartialEvent, event)
		}
		if f := stringAttr(attrs, attrPartialFrequency); f != "" {
			hb.frequency = parseFrequency(f)
		}
	} else if v, found := attrs.Get(attrSpanState); found {
		event = v.AsString()
		bodyType = stringAttr(attrs, attrLogBodyType)
		switch event {
		case "heartbeat":
		case "ended":
			hb.ended = true
		default:
			return hb, true, dropUnknownEvent, fmt.Errorf("%s=%q is not heartbeat or ended", attrSpanState, event)
		}
	} else {
		return hb, false, "", nil
	}

	td, err := decodeBody(lr.Body(), bodyType)
	if err != nil {
		if errors.Is(err, errNotOneSpan) {
			return hb, true, dropNotOneSpan, err
		}
		return hb, true, dropBadBody, err
	}
	span := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	if hb.ended && span.EndTimestamp() == 0 {
		return hb, true, dropBadEndedSpan, errors.New("a stop/ended record's span has no end time")
	}
	if !hb.ended {
		// A heartbeat is an open-span update, whatever the body says of its end.
		span.SetEndTimestamp(0)
	}
	hb.td = td
	return hb, true, "", nil
}

// decodeBody decodes a heartbeat body: OTLP/JSON TracesData for json/v1 (hex ids; the
// python variant's protobuf MessageToJson enum names are accepted too), otherwise OTLP
// protobuf, as raw bytes or base64 text (older .NET builds).
func decodeBody(body pcommon.Value, bodyType string) (ptrace.Traces, error) {
	var td ptrace.Traces
	var err error
	switch {
	case body.Type() == pcommon.ValueTypeBytes:
		td, err = protoUnmarshaler.UnmarshalTraces(body.Bytes().AsRaw())
	case body.Type() != pcommon.ValueTypeStr:
		return td, fmt.Errorf("body is a %s, want a string or bytes", body.Type())
	case bodyType == bodyTypeJSON || (bodyType == "" && strings.HasPrefix(strings.TrimSpace(body.Str()), "{")):
		td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(body.Str()))
	default:
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(body.Str()))
		if derr != nil {
			return td, fmt.Errorf("body type %q: not base64 protobuf: %w", bodyType, derr)
		}
		td, err = protoUnmarshaler.UnmarshalTraces(raw)
	}
	if err != nil {
		return td, fmt.Errorf("body type %q: %w", bodyType, err)
	}
	if n := td.SpanCount(); n != 1 {
		return td, fmt.Errorf("%w, it holds %d", errNotOneSpan, n)
	}
	// One span, but possibly behind empty resource or scope entries: normalise.
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool { return ss.Spans().Len() == 0 })
		return rs.ScopeSpans().Len() == 0
	})
	return td, nil
}

// heartbeatIdle is the idle deadline of a span whose heartbeats come every frequency:
// frequency × heartbeat_factor, at most max_duration (a client's frequency is its own
// word: a huge one must not overflow, nor outlive the span's own bound). Zero means
// idle_timeout.
func (p *longspanProcessor) heartbeatIdle(frequency time.Duration) time.Duration {
	if frequency <= 0 {
		return 0
	}
	if frequency > p.cfg.MaxDuration/time.Duration(p.cfg.HeartbeatFactor) {
		return p.cfg.MaxDuration
	}
	return frequency * time.Duration(p.cfg.HeartbeatFactor)
}

// parseFrequency reads partial.frequency: a Go duration ("5000ms", "5s") or a bare
// number of milliseconds. Unreadable values, or values that overflow, count as not
// sent.
func parseFrequency(s string) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 && ms <= math.MaxInt64/int64(time.Millisecond) {
		return time.Duration(ms) * time.Millisecond
	}
	return 0
}

func stringAttr(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}

// withoutRerouteMark extends edit to remove the marker of a rerouted heartbeat.
func withoutRerouteMark(edit func(ptrace.Span)) func(ptrace.Span) {
	return func(span ptrace.Span) {
		span.Attributes().Remove(attrReroutedHeartbeat)
		if edit != nil {
			edit(span)
		}
	}
}

// rerouteHeartbeats sends the heartbeats of a logs request, each as its span marked
// with attrReroutedHeartbeat, and then its watermark probes, as probe spans of the logs
// path, through the front tier to the shards that hold them, in one request; the front
// tier's acknowledgement is this request's.
func (p *longspanProcessor) rerouteHeartbeats(ctx context.Context, hbs []heartbeat, probes []plog.LogRecord) error {
	out := ptrace.NewTraces()
	for _, hb := range hbs {
		idle := p.heartbeatIdle(hb.frequency)
		rss := hb.td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			rs := rss.At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				spans := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					spans.At(k).Attributes().PutInt(attrReroutedHeartbeat, idle.Milliseconds())
				}
			}
		}
		rss.MoveAndAppendTo(out.ResourceSpans())
	}
	if len(probes) > 0 {
		spans := out.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
		for _, lr := range probes {
			probeSpanOf(lr, spans.AppendEmpty())
		}
	}
	if err := p.watermark.source.Forward(ctx, out); err != nil {
		return fmt.Errorf("longspan: rerouting %d heartbeats through the front tier: %w", len(hbs), err)
	}
	p.telemetry.LongspanHeartbeatsRerouted.Add(ctx, int64(len(hbs)))
	return nil
}

// isProbeRecord says whether a log record is a watermark probe of the logs queue.
func isProbeRecord(lr plog.LogRecord) bool {
	_, ok := lr.Attributes().Get(watermarkprobe.AttrSentAt)
	return ok
}

// probeSpanOf turns a logs-queue probe record into the probe span that goes on to the
// shard of its trace id, marked as having come through the logs queue.
func probeSpanOf(lr plog.LogRecord, sp ptrace.Span) {
	sp.SetTraceID(lr.TraceID())
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	sp.SetSpanID(id)
	sp.SetName(watermarkprobe.SpanName)
	sp.SetStartTimestamp(lr.Timestamp())
	sp.SetEndTimestamp(lr.Timestamp())
	lr.Attributes().CopyTo(sp.Attributes())
	sp.Attributes().PutStr(watermarkprobe.AttrPath, "logs")
}
