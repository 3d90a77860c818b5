package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

var (
	protoMarshaler   ptrace.ProtoMarshaler
	protoUnmarshaler ptrace.ProtoUnmarshaler
)

// encodePayload stores one span with its resource and scope as OTLP protobuf, so a
// release restores exactly what the client sent.
// edit, when not nil, changes the stored copy.
func encodePayload(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, span ptrace.Span, edit func(ptrace.Span)) ([]byte, error) {
	td := ptrace.NewTraces()
	nrs := td.ResourceSpans().AppendEmpty()
	rs.Resource().CopyTo(nrs.Resource())
	nrs.SetSchemaUrl(rs.SchemaUrl())
	nss := nrs.ScopeSpans().AppendEmpty()
	ss.Scope().CopyTo(nss.Scope())
	nss.SetSchemaUrl(ss.SchemaUrl())
	stored := nss.Spans().AppendEmpty()
	span.CopyTo(stored)
	if edit != nil {
		edit(stored)
	}
	return protoMarshaler.MarshalTraces(td)
}

// decodePayload returns the stored span as its own TracesData and the span in it.
func decodePayload(b []byte) (ptrace.Traces, ptrace.Span, error) {
	td, err := protoUnmarshaler.UnmarshalTraces(b)
	if err != nil {
		return td, ptrace.Span{}, err
	}
	if td.ResourceSpans().Len() != 1 || td.ResourceSpans().At(0).ScopeSpans().Len() != 1 ||
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().Len() != 1 {
		return td, ptrace.Span{}, fmt.Errorf("stored payload holds %d spans, want 1", td.SpanCount())
	}
	return td, td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0), nil
}

// decodeSpans decodes the payloads of stored spans (read back from the journal,
// readErr naming those that could not be read) into one request and lets edit change
// span i. All payloads are decoded with one unmarshal, spans of the same resource and
// scope under one resource (mergePayloads); should that fail, each is decoded alone and
// the undecodable ones are reported and left out, so one bad payload cannot hold back
// the rest of a release forever.
func decodeSpans(spans []*spanjournal.Span, payloads [][]byte, readErr error, edit func(i int, span ptrace.Span)) (ptrace.Traces, []error) {
	b, at, resources, err := mergePayloads(payloads)
	var td ptrace.Traces
	if err == nil {
		td, err = protoUnmarshaler.UnmarshalTraces(b)
	}
	if err == nil && td.ResourceSpans().Len() == resources && td.SpanCount() == len(spans) {
		if edit != nil {
			for i := range spans {
				edit(i, td.ResourceSpans().At(at[i][0]).ScopeSpans().At(0).Spans().At(at[i][1]))
			}
		}
		return td, nil
	}
	var errs []error
	td = ptrace.NewTraces()
	for i, s := range spans {
		if payloads[i] == nil && readErr != nil {
			errs = append(errs, fmt.Errorf("span %s/%s: reading it back from the journal: %w", s.TraceID, s.SpanID, readErr))
			continue
		}
		one, span, err := decodePayload(payloads[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("span %s/%s: %w", s.TraceID, s.SpanID, err))
			continue
		}
		if edit != nil {
			edit(i, span)
		}
		one.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	return td, errs
}

func setTime(attrs pcommon.Map, key string, t time.Time) {
	attrs.PutInt(key, t.UnixNano())
}

func timestamp(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

// reportUndecodable logs and counts stored spans that could not be decoded. Only a
// payload damaged after its journal checksum was verified gets here.
func (p *longspanProcessor) reportUndecodable(errs []error) {
	if len(errs) == 0 {
		return
	}
	p.telemetry.LongspanSpansDropped.Add(context.Background(), int64(len(errs)), withReason(engine.DropUnencodable))
	for _, err := range errs {
		p.logger.Error("Dropped a stored span that could not be decoded", zap.Error(err))
	}
}
