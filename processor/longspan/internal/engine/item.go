package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Item is one valid span of an incoming request, as the rules see it: the processor
// reads it from the request (classify) and acts on what the rules set in Pass and
// Mark.
type Item struct {
	TraceID  pcommon.TraceID
	SpanID   pcommon.SpanID
	ParentID pcommon.SpanID
	Name     string
	// Service is the resource's service.name.
	Service string
	// Start is the span's start; End its end, zero for an open span.
	Start, End time.Time
	Open       bool
	// Session is the span's session id; Client who sent the request (the per_client
	// quota's key and the session rule's trust).
	Session string
	Client  string
	// Source is how the client reported the span (longspan.source), stored with it.
	Source string
	// Heartbeat is set for a partial-span heartbeat: a report without a frequency
	// keeps the idle timeout the span had.
	Heartbeat bool
	// IdleTimeout overrides idle_timeout for this span (heartbeat frequency × factor).
	IdleTimeout time.Duration
	// Interrupted is an ended span its client closed as interrupted (Embrace codes).
	Interrupted bool
	// Rerouted is a heartbeat another shard's logs pipeline sent here as a span: its
	// copy that goes on loses the marker attribute.
	Rerouted bool
	// ClockOffset is how far the client's clock is ahead of the collector's by the
	// request (longspan.client.now_unix_nano minus the receipt time), when Stamped.
	ClockOffset time.Duration
	Stamped     bool
	// Hint is longspan.client.hint (Hint*), "" when not sent; ClientLastSeen is
	// longspan.client.last_seen_unix_nano (the client's clock), zero when not usable.
	Hint           string
	ClientLastSeen time.Time

	// Pass is set by the rules for a span that goes on in the request's pass-through
	// part, with Mark applied to its copy (ReconciledAt for MarkSuperseding).
	Pass         bool
	Mark         Mark
	ReconciledAt time.Time
}

// Mark is how a span that goes on, or the stored copy of one, is changed.
type Mark uint8

const (
	// MarkNone leaves the span as the client sent it.
	MarkNone Mark = iota
	// MarkInterrupted marks a span its client ended as interrupted
	// (close_reason client_interrupted, source embrace).
	MarkInterrupted
	// MarkSuperseding marks the real end of a span reconciled at Item.ReconciledAt.
	MarkSuperseding
)

// Request gives the stored payload of item i of the request being ingested, with
// mark applied (encoded once per item and mark by the processor, which holds the
// request's wire bytes).
type Request interface {
	Payload(i int, mark Mark) ([]byte, error)
}

// Codec rewrites a stored payload into its reconciled version. The processor
// implements it: it owns the output attributes.
type Codec interface {
	Reconciled(stored []byte, r Reconciliation) ([]byte, error)
}

// Reconciliation is what the reconciled version of a span says.
type Reconciliation struct {
	// End is when the span ends: its client's last report, never before its start.
	End time.Time
	// Reason is the close reason (Reason*), Message the status message.
	Reason, Message string
	// LastSeen is when the client last reported it; Source how.
	LastSeen time.Time
	Source   string
}
