package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// Output attributes (docs/design.md, "Output attributes").
const (
	attrState       = "longspan.state"
	attrCloseReason = "longspan.close_reason"
	attrSnapshotSeq = "longspan.snapshot.seq"
	attrLastSeen    = "longspan.last_seen_unix_nano"
	attrSource      = "longspan.source"

	// attrReconciledAt tells, on a superseding span, when the collector had
	// reconciled it.
	attrReconciledAt = "longspan.reconciled_at_unix_nano"

	stateSnapshot      = "snapshot"
	stateReconciled    = "reconciled"
	stateSuperseding   = "superseding"
	stateReleasedEarly = "released_early"

	sourceOTLPOpenSpan = "otlp_open_span"
	sourceHeartbeatLog = "heartbeat_log"
	sourceEmbrace      = "embrace"

	// attrEmbraceErrorCode is Embrace's interruption code on an ended span.
	attrEmbraceErrorCode = "emb.error_code"
	// attrClientHint carries what our web client knows about an open span's future:
	// hintPageUnload means the page is gone and the span will never end.
	attrClientHint = "longspan.client.hint"
	hintPageUnload = "page_unload"
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

// decodeSpans decodes stored spans into one request, in order, and lets edit change
// span i. All payloads are decoded with one unmarshal (concatPayloads); should that
// fail, each is decoded alone and the undecodable ones are reported and left out, so
// one bad payload cannot hold back the rest of a release forever.
func decodeSpans(spans []*spanjournal.Span, edit func(i int, span ptrace.Span)) (ptrace.Traces, []error) {
	payloads := make([][]byte, len(spans))
	for i, s := range spans {
		payloads[i] = s.Payload
	}
	td, err := concatPayloads(payloads)
	if err == nil && td.ResourceSpans().Len() == len(spans) && td.SpanCount() == len(spans) {
		for i := 0; i < len(spans); i++ {
			if edit != nil {
				edit(i, td.ResourceSpans().At(i).ScopeSpans().At(0).Spans().At(0))
			}
		}
		return td, nil
	}
	var errs []error
	td = ptrace.NewTraces()
	for i, s := range spans {
		one, span, err := decodePayload(s.Payload)
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
