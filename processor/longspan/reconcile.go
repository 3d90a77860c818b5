package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

func (p *longspanProcessor) closeMessage(reason string, s *spanjournal.Span) string {
	switch reason {
	case reasonIdleTimeout:
		return fmt.Sprintf("longspan: the client stopped reporting this span; closed after %s of silence at the time it was last seen", p.rules.idleTimeout(s))
	case reasonSessionEnded:
		return fmt.Sprintf("longspan: session %q started again or ended while this span was open; closed at the time it was last seen", s.SessionID())
	case reasonMaxDuration:
		return fmt.Sprintf("longspan: open longer than max_duration (%s); closed at the time it was last seen", p.cfg.MaxDuration)
	case reasonParentReconciled:
		return "longspan: its parent span was reconciled; closed at the time it was last seen"
	case reasonClientInterrupted:
		return "longspan: the client went away before the span ended (page unloaded or app terminated); closed at its last report"
	}
	return "longspan: closed by the collector: " + reason
}

// reconcileExpired reconciles the open spans of t whose client went quiet or that ran
// longer than max_duration (the timed rules). The tick calls it only for traces whose
// deadline (deadlines.go) is due; it visits their open spans only.
func (p *longspanProcessor) reconcileExpired(tx *spanjournal.Tx, t *spanjournal.Trace, now time.Time, res *ruleResult) {
	silence := p.silenceClock(now)
	var open []*spanjournal.Span
	tx.OpenSpansOf(t, func(s *spanjournal.Span) { open = append(open, s) })
	for _, s := range open {
		if t.Spans[s.SpanID] != s || s.State != spanjournal.SpanOpen {
			continue // closed meanwhile as a descendant of an earlier one
		}
		switch {
		case !silence.Before(p.rules.idleDeadline(s)):
			p.reconcile(tx, t, s, reasonIdleTimeout, now, res)
		case !now.Before(p.rules.maxDurationDeadline(s)):
			p.reconcile(tx, t, s, reasonMaxDuration, now, res)
		}
	}
}

// reconcile closes an open span that will never end, and every open descendant of it
// in the same trace, and journals them.
func (p *longspanProcessor) reconcile(tx *spanjournal.Tx, t *spanjournal.Trace, s *spanjournal.Span, reason string, now time.Time, res *ruleResult) {
	p.closeSpan(tx, s, reason, now, res)
	p.closeDescendants(tx, t, s.SpanID, now, res)
}

// closeDescendants reconciles the open descendants of a span that was reconciled or
// that the client ended as interrupted.
func (p *longspanProcessor) closeDescendants(tx *spanjournal.Tx, t *spanjournal.Trace, root pcommon.SpanID, now time.Time, res *ruleResult) {
	children := map[pcommon.SpanID][]*spanjournal.Span{}
	tx.OpenSpansOf(t, func(c *spanjournal.Span) {
		if !c.ParentID.IsEmpty() {
			children[c.ParentID] = append(children[c.ParentID], c)
		}
	})
	// children was built from the spans before any was closed; delete marks a parent
	// done, so a parent loop in bad input cannot make this run forever.
	queue := []pcommon.SpanID{root}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		kids := children[id]
		delete(children, id)
		for _, c := range kids {
			if cur := t.Spans[c.SpanID]; cur == nil || cur.State != spanjournal.SpanOpen {
				continue
			}
			p.closeSpan(tx, c, reasonParentReconciled, now, res)
			queue = append(queue, c.SpanID)
		}
	}
}

// closeSpan turns the last known copy of an open span into its reconciled version:
// it ends when the client was last seen (never "now"), with status Error.
func (p *longspanProcessor) closeSpan(tx *spanjournal.Tx, s *spanjournal.Span, reason string, now time.Time, res *ruleResult) {
	end := s.LastSeen()
	if end.Before(s.Start()) {
		end = s.Start()
	}
	stored, err := tx.Payloads([]*spanjournal.Span{s})
	payload, err := editPayload(stored[0], err, func(span ptrace.Span) {
		span.SetEndTimestamp(timestamp(end))
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage(p.closeMessage(reason, s))
		attrs := span.Attributes()
		attrs.PutStr(attrState, stateReconciled)
		attrs.PutStr(attrCloseReason, reason)
		setTime(attrs, attrLastSeen, s.LastSeen())
		if s.Source() != "" {
			attrs.PutStr(attrSource, s.Source())
		}
	})
	if err != nil {
		// Only a payload this processor failed to write could get here; keep the
		// span as it was stored rather than lose it.
		p.logger.Error("Could not rewrite a stored span as reconciled; releasing it as stored",
			zap.Stringer("trace_id", s.TraceID), zap.Stringer("span_id", s.SpanID), zap.Error(err))
		payload = stored[0] // nil: the copy keeps where the journal holds s's payload
	}
	closed := s.ReconciledCopy(payload)
	tx.Put(closed, now)
	tx.RememberClosed(spanjournal.SpanKey{Trace: s.TraceID, Span: s.SpanID}, spanjournal.Closed{At: now})
	res.reconcile(s.TraceID, reason)
	p.logger.Debug("Reconciled a span", zap.String("close_reason", reason), zap.String("name", s.Name),
		zap.Stringer("trace_id", s.TraceID), zap.Stringer("span_id", s.SpanID), zap.Time("last_seen", s.LastSeen()))
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

// reconcileSession applies the session_ended rule for the session span in it: the open
// spans of the same session in other traces, started before it, will never end.
func (p *longspanProcessor) reconcileSession(tx *spanjournal.Tx, it *item, now time.Time, res *ruleResult) {
	cutoff := it.span.StartTimestamp().AsTime()
	if !it.open {
		cutoff = it.span.EndTimestamp().AsTime()
	}
	p.closeSessionSpans(tx, sessionEnd{session: it.session, before: cutoff}, it.client, it.traceID, now, res)
}

// closeSessionSpans reconciles session_ended the open spans of a session that is over, in
// other traces than except, started before end.before (any time, when zero). The
// rule trusts whoever ended the session (client) only for spans last reported by the
// same client (docs/design.md, "How far the session rule trusts a client").
func (p *longspanProcessor) closeSessionSpans(tx *spanjournal.Tx, end sessionEnd, client string, except pcommon.TraceID, now time.Time, res *ruleResult) {
	for _, s := range tx.SessionSpans(end.session) {
		if s.TraceID == except || (!end.before.IsZero() && !s.Start().Before(end.before)) {
			continue
		}
		if p.cfg.Quotas.SessionRuleSameClient && client != "" && s.Client() != "" && s.Client() != client {
			// Knowing a session id is not enough to close the session's spans: only
			// the client that reports them may. They keep their idle deadline.
			res.untrustedSession++
			continue
		}
		// An earlier span of this loop may have closed s as a descendant already.
		t := tx.Trace(s.TraceID)
		if t == nil || t.Spans[s.SpanID] != s {
			continue
		}
		p.reconcile(tx, t, s, reasonSessionEnded, now, res)
	}
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

// markInterrupted marks a span the client ended as interrupted; its end time and
// status stay the client's.
func markInterrupted(span ptrace.Span) {
	span.Attributes().PutStr(attrCloseReason, reasonClientInterrupted)
	span.Attributes().PutStr(attrSource, sourceEmbrace)
}

// markSuperseding marks the real end of a span that was reconciled at at.
func markSuperseding(at time.Time) func(ptrace.Span) {
	return func(span ptrace.Span) {
		span.Attributes().PutStr(attrState, stateSuperseding)
		setTime(span.Attributes(), attrReconciledAt, at)
	}
}
