package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"errors"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Embrace Apple 6.x copies (embrace_apple_snapshots).
//
// Embrace's Apple SDK 6.x hands every span to the user's OTLP exporter when it starts,
// and its session span (emb-session) again at every 5 s heartbeat, before it ends
// (EmbraceSpanProcessor: onStart and flush export the unended span). The OTel Swift
// SDK's toSpanData fills in the end of an unended span as the export time, so each
// copy arrives as an ended span of growing length, with status UNSET; the ended span
// itself comes with status OK or Error (processCompletedSpanData sets one on every
// ended span whose status is UNSET). The ended session span is never exported
// (hydrateSpan drops it; embrace-apple-sdk issue #710); 7.0 exports spans only when
// they end (its copies never come, and this switch changes nothing for it).
//
// With embrace_apple_snapshots on, such a copy is what it stands for: an open-span
// snapshot (longspan.source=embrace), so each span comes out once, ended, with the
// client's end; its children are held with it. Recognised by the resource the SDK
// builds (ResourceStorageExporter: telemetry.sdk.language=swift, and the
// emb.sdk.version it records at start) or an Embrace span type on the span itself
// (emb.type), together with an end time and status UNSET. How long such a span lives
// without news is the rules' (internal/engine's embrace.go): as long as its session
// span keeps coming. The session span itself, whose end never comes, is reconciled
// idle_timeout after its last heartbeat copy: its end is that last report, at most
// one heartbeat (5 s) before the real end.

// isEmbraceAppleCopy says whether an ended span is one of Embrace Apple 6.x's copies of
// a span still running.
func isEmbraceAppleCopy(resource pcommon.Resource, span ptrace.Span) bool {
	if span.EndTimestamp() == 0 || span.Status().Code() != ptrace.StatusCodeUnset {
		return false
	}
	res := resource.Attributes()
	if v, ok := res.Get(attrTelemetrySDKLanguage); !ok || v.AsString() != "swift" {
		return false
	}
	if _, ok := res.Get(attrEmbraceSDKVersion); ok {
		return true
	}
	_, ok := span.Attributes().Get(attrEmbraceType)
	return ok
}

// takeEmbraceCopy takes an Embrace Apple copy as the open-span snapshot it stands for.
// Its stored copy keeps the export time as its end: every way out of the journal for
// an open span (a snapshot, its reconciliation) sets the end anew.
func takeEmbraceCopy(it *item) {
	if it.span.StartTimestamp() == 0 {
		return // not a span that can be open (no_start_time): it stays an ended span
	}
	it.open, it.source = true, sourceEmbrace
}

// validateEmbraceAppleSnapshots checks that, with embrace_apple_snapshots on, the
// SDK's session span is a session span of its session: the copies of the other spans
// live as long as it does.
func (c *Config) validateEmbraceAppleSnapshots() []error {
	if !c.EmbraceAppleSnapshots {
		return nil
	}
	var errs []error
	if !slices.Contains(c.SessionAttributes, embraceSessionIDKey) {
		errs = append(errs, errors.New("embrace_apple_snapshots: session_attributes must list session.id (the Embrace Apple SDK's session id)"))
	}
	if len(c.SessionSpanNames) > 0 && !slices.Contains(c.SessionSpanNames, embraceSessionSpanName) {
		errs = append(errs, errors.New("embrace_apple_snapshots: session_span_names must list emb-session (the Embrace Apple SDK's session span), or be empty"))
	}
	return errs
}
