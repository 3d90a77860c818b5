package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

// Values of longspan.close_reason (docs/design.md, promise 5), also the reason of
// otelcol_longspan_spans_reconciled.
const (
	ReasonIdleTimeout      = "idle_timeout"
	ReasonSessionEnded     = "session_ended"
	ReasonMaxDuration      = "max_duration"
	ReasonParentReconciled = "parent_reconciled"
	// ReasonClientInterrupted is a span the client itself gave up on: an Embrace
	// interruption code, a browser's unload hint, or an app run that died.
	ReasonClientInterrupted = "client_interrupted"
)

// Reasons of otelcol_longspan_spans_dropped that the rules decide (the processor's
// classify drops bad input before them).
const (
	DropTooLarge      = "too_large"
	DropStaleSnapshot = "stale_snapshot"
	DropUnencodable   = "unencodable"
)

// Reasons of otelcol_longspan_spans_clock_suspect: a span kept although its times
// were impossible on the clock it was judged in (clock.go).
const (
	// SuspectStartInFuture is a span starting later than max_future_skew past its
	// client's clock (the collector's, when the client did not say).
	SuspectStartInFuture = "start_in_future"
)

// Reasons of otelcol_longspan_spans_received: what became of a valid span.
const (
	OutcomePassed  = "passed"
	OutcomeOpened  = "opened"
	OutcomeUpdated = "updated"
	OutcomeHeld    = "held"
	OutcomeEnded   = "ended"
	// OutcomeGraceHeld is an ended span held for parent_grace because its parent is
	// not known yet.
	OutcomeGraceHeld = "grace_held"
	// OutcomeSuperseding is the real end of a span the collector had reconciled.
	OutcomeSuperseding = "superseding"
	// OutcomeRepeat is a repeat delivery of a span its client ended that was released
	// already: not sent on again.
	OutcomeRepeat = "repeat"
)

// Values of longspan.source: how the client reported a span (the processor sets it,
// the rules read it).
const (
	SourceOTLPOpenSpan = "otlp_open_span"
	SourceHeartbeatLog = "heartbeat_log"
	// SourceEmbrace is a span the Embrace SDKs reported: an open copy of a running
	// span (embrace.go), or an ended span closed as interrupted.
	SourceEmbrace = "embrace"
)

// Values of longspan.client.hint: what our clients know about an open span's future.
const (
	// HintPageUnload: the page is gone and the span will never end.
	HintPageUnload = "page_unload"
	// HintAppTerminated: our React Native client reports, at the next launch, the open
	// spans of a run that was killed or crashed, with their last-known time.
	HintAppTerminated = "app_terminated"
	// HintAppBackground: the app went to the background; the span may be silent for
	// background_timeout before it is taken for gone.
	HintAppBackground = "app_background"
)
