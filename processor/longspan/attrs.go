package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// Every name and value the processor reads from or writes to telemetry lives here.

// Input attributes (docs/design.md, "What counts as what on input").
const (
	// attrServiceName is the resource attribute the journal keeps as Span.Service.
	attrServiceName = "service.name"

	// Partial-span heartbeat log records. G-Research's PartialSpanProcessor (.NET,
	// Python) writes the partial.* names; the python-contrib variant writes span.state
	// and log.body.type.
	attrPartialEvent     = "partial.event"
	attrPartialBodyType  = "partial.body.type"
	attrPartialFrequency = "partial.frequency"
	attrSpanState        = "span.state"
	attrLogBodyType      = "log.body.type"
	bodyTypeJSON         = "json/v1"

	// attrEmbraceErrorCode is Embrace's interruption code on an ended span.
	attrEmbraceErrorCode = "emb.error_code"
	// attrClientHint carries what our clients know about an open span's future
	// (engine.Hint*).
	attrClientHint = "longspan.client.hint"
	// attrClientLastSeen is, with engine.HintAppTerminated, the last time (the
	// client's clock, Unix ns) the dead run knew the span open.
	attrClientLastSeen = "longspan.client.last_seen_unix_nano"
	// attrClientNow is the client's clock (Unix ns) when it sent an open-span report:
	// the request's resource is judged in that clock (engine's clock.go).
	attrClientNow = "longspan.client.now_unix_nano"
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
)

// attrReroutedHeartbeat marks a heartbeat that a sharded gateway's logs pipeline
// turned into a span and sent through the front tier to the shard of its trace
// (reroute_heartbeats); its value is the idle timeout the heartbeat's frequency set,
// in milliseconds (0: none). The owning shard reads it as a heartbeat and removes it.
const attrReroutedHeartbeat = "longspan.heartbeat.idle_timeout_ms"

// Values of longspan.state.
const (
	stateSnapshot      = "snapshot"
	stateReconciled    = "reconciled"
	stateSuperseding   = "superseding"
	stateReleasedEarly = "released_early"
)

// Values of longspan.source: how the client reported an open span.
const (
	sourceOTLPOpenSpan = engine.SourceOTLPOpenSpan
	sourceHeartbeatLog = engine.SourceHeartbeatLog
	sourceEmbrace      = engine.SourceEmbrace
)

// The values of longspan.close_reason, and most reasons of the span counters, are
// the rules' (internal/engine's vocab.go).

// Keys of the processor's metric attributes (metadata.yaml).
const (
	metricAttrReason = "reason"
	metricAttrLimit  = "limit"
)

// withReason is the reason attribute of a counter.
func withReason(reason string) metric.AddOption {
	return metric.WithAttributes(attribute.String(metricAttrReason, reason))
}

// Reasons of otelcol_longspan_spans_dropped: bad or stale input, dropped (and counted)
// one span at a time.
const (
	dropInvalidID      = "invalid_id"
	dropEndBeforeStart = "end_before_start"
	dropNoStartTime    = "no_start_time"
)

// Reasons of otelcol_longspan_log_records_dropped: why a heartbeat record was dropped.
const (
	dropBadBody      = "bad_body"
	dropNotOneSpan   = "not_one_span"
	dropUnknownEvent = "unknown_event"
	dropBadEndedSpan = "ended_without_end_time"
)

// Values of the limit attribute of otelcol_longspan_requests_refused: the limit that
// refused a request.
const (
	limitMaxOpenSpans    = "max_open_spans"
	limitMaxHeldSpans    = "max_held_spans"
	limitMaxJournalBytes = "max_journal_bytes"
)

// Mobile SDK inputs (docs/design.md, "What counts as what on input").
const (
	// eventSessionEnd is the OpenTelemetry session.end event (Android, Swift):
	// LogRecord.event_name, the older Events API's event.name attribute
	// (attrEventName), or the Swift instrumentation's body string.
	eventSessionEnd = "session.end"
	attrEventName   = "event.name"

	// attrEmbraceType is the Embrace span type every span of its SDKs carries
	// (perf, ux.session, ...).
	attrEmbraceType = "emb.type"
	// attrEmbraceSDKVersion is the resource attribute Embrace's SDKs record at start.
	attrEmbraceSDKVersion = "emb.sdk.version"
	// attrTelemetrySDKLanguage is the resource's SDK language: swift for the Apple SDK.
	attrTelemetrySDKLanguage = "telemetry.sdk.language"
	// The Embrace Apple SDK's session span and session id attribute.
	embraceSessionSpanName = "emb-session"
	embraceSessionIDKey    = "session.id"
)

// Reasons of otelcol_longspan_session_end_events.
const (
	// sessionEndEnded: the event named a session; its open spans were reconciled.
	sessionEndEnded = "ended"
	// sessionEndNoSession: the event named none of session_attributes.
	sessionEndNoSession = "no_session"
)
