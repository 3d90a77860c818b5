package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// session.end events: OpenTelemetry Android's and Swift's Sessions instrumentation log
// one when a session is over (timed out in the background, or past its maximum
// lifetime), naming it in session.id. None of the session's open spans will end
// after that: they are reconciled session_ended, as for an ended session span.
//
// The SDKs write the event three ways: opentelemetry-android as the record's event
// name (LogRecord.event_name; SessionIdEventSender.kt), its older releases through
// the incubating Events API as the event.name attribute, and opentelemetry-swift as
// the record's body string (SessionEventInstrumentation.swift).

// sessionEnd is a session.end event read from a log record.
type sessionEnd struct {
	// session is the session that ended.
	session string
	// before is the record's time (the client's clock, as its spans' start times):
	// the open spans of the session that started before it are reconciled. Zero when
	// the record has no time: all of them.
	before time.Time
}

// isSessionEndEvent says whether a log record is a session.end event.
func isSessionEndEvent(lr plog.LogRecord) bool {
	if lr.EventName() == eventSessionEnd {
		return true
	}
	if v, ok := lr.Attributes().Get(attrEventName); ok && v.AsString() == eventSessionEnd {
		return true
	}
	return lr.Body().Type() == pcommon.ValueTypeStr && lr.Body().Str() == eventSessionEnd
}

// readSessionEnd reads a session.end record: ok is false when the record is not one;
// session is "" when it names no session (none of session_attributes, on the record
// or its resource).
func (p *longspanProcessor) readSessionEnd(resource pcommon.Resource, lr plog.LogRecord) (end sessionEnd, ok bool) {
	if !isSessionEndEvent(lr) {
		return end, false
	}
	end.session = sessionIn(p.cfg.SessionAttributes, lr.Attributes(), resource.Attributes())
	switch {
	case lr.Timestamp() != 0:
		end.before = lr.Timestamp().AsTime()
	case lr.ObservedTimestamp() != 0:
		end.before = lr.ObservedTimestamp().AsTime()
	}
	return end, true
}
