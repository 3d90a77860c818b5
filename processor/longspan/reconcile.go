package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// reconciledCodec writes the reconciled version of a stored span (engine.Codec): it
// ends at the client's last report with status Error, marked reconciled with its
// close reason and last report.
type reconciledCodec struct{}

func (reconciledCodec) Reconciled(stored []byte, r engine.Reconciliation) ([]byte, error) {
	return editPayload(stored, nil, func(span ptrace.Span) {
		span.SetEndTimestamp(timestamp(r.End))
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage(r.Message)
		attrs := span.Attributes()
		attrs.PutStr(attrState, stateReconciled)
		attrs.PutStr(attrCloseReason, r.Reason)
		setTime(attrs, attrLastSeen, r.LastSeen)
		if r.Source != "" {
			attrs.PutStr(attrSource, r.Source)
		}
	})
}

// editPayload decodes a stored payload (read with readErr), edits it and encodes it
// again.
func editPayload(b []byte, readErr error, edit func(ptrace.Span)) ([]byte, error) {
	if readErr != nil {
		return nil, readErr
	}
	td, span, err := decodePayload(b)
	if err != nil {
		return nil, err
	}
	edit(span)
	return protoMarshaler.MarshalTraces(td)
}

// embraceInterrupted says whether an ended span carries one of Embrace's interruption
// codes: the client closed it because the work was cut short.
func embraceInterrupted(span ptrace.Span) bool {
	v, ok := span.Attributes().Get(attrEmbraceErrorCode)
	if !ok {
		return false
	}
	switch strings.ToLower(v.AsString()) {
	case "failure", "user_abandon", "unknown":
		return true
	}
	return false
}

// markOf is how a span that goes on, or the stored copy of one, is changed for mark;
// nil: not at all.
func markOf(it *engine.Item, mark engine.Mark) func(ptrace.Span) {
	switch mark {
	case engine.MarkInterrupted:
		return markInterrupted
	case engine.MarkSuperseding:
		return markSuperseding(it.ReconciledAt)
	}
	return nil
}

// markInterrupted marks a span the client ended as interrupted; its end time and
// status stay the client's.
func markInterrupted(span ptrace.Span) {
	span.Attributes().PutStr(attrCloseReason, engine.ReasonClientInterrupted)
	span.Attributes().PutStr(attrSource, sourceEmbrace)
}

// markSuperseding marks the real end of a span that was reconciled at at.
func markSuperseding(at time.Time) func(ptrace.Span) {
	return func(span ptrace.Span) {
		span.Attributes().PutStr(attrState, stateSuperseding)
		setTime(span.Attributes(), attrReconciledAt, at)
	}
}
