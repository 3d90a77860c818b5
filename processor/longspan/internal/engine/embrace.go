package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"slices"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// Embrace Apple copies (the processor's embrace_apple_snapshots, its embrace.go).
//
// The Embrace Apple 6.x SDK reports a span at its start and at its end only, and its
// session span (emb-session) every 5 s: the app is alive while its session span keeps
// coming, and a span's own silence says nothing. The processor takes the SDK's copies
// of running spans as open spans with source SourceEmbrace; these rules give them
// their liveness:
//
//   - A copy of a span other than its session's session span lives by the session
//     span: its silence limit is max_duration (livesBySession).
//   - When an Embrace session span is reconciled (its copies stopped: the session
//     ended, or the app was suspended or killed), the open copies of its session are
//     reconciled session_ended, each ending at the session span's last report, or its
//     own when later: the last time the app was known alive (endEmbraceSession).

// livesBySession says whether open span it is an Embrace copy whose liveness is its
// session span's.
func (e *Engine) livesBySession(it *Item) bool {
	return it.Open && it.Source == SourceEmbrace && it.Session != "" && !e.isSessionSpan(it)
}

// endEmbraceSession, when reconciled span session is an Embrace session span,
// reconciles the open Embrace copies of its session (trusted as the session rule is:
// those last reported by the same client).
func (e *Engine) endEmbraceSession(tx Tx, session *spanjournal.Span, now time.Time, res *Result) {
	if session.Source() != SourceEmbrace || session.SessionID() == "" || !session.ParentID.IsEmpty() ||
		(len(e.cfg.SessionSpanNames) > 0 && !slices.Contains(e.cfg.SessionSpanNames, session.Name)) {
		return
	}
	// Every copy first, each at the session's last report; then whatever else hangs
	// under them, at its own.
	var closed []*spanjournal.Span
	for _, s := range tx.SessionSpans(session.SessionID()) {
		if s.Source() != SourceEmbrace || s.State != spanjournal.SpanOpen {
			continue // not a copy
		}
		if e.cfg.SessionRuleSameClient && session.Client() != "" && s.Client() != "" && s.Client() != session.Client() {
			res.UntrustedSession++
			continue
		}
		alive := session.LastSeen()
		if s.LastSeen().After(alive) {
			alive = s.LastSeen()
		}
		e.closeSpanAt(tx, s, ReasonSessionEnded, alive, now, res)
		closed = append(closed, s)
	}
	for _, s := range closed {
		e.closeDescendants(tx, s.TraceID, s.SpanID, now, res)
	}
}
