package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

// Backgrounded spans: an open span whose last report carried
// longspan.client.hint=app_background may be silent for background_timeout (Ingest
// sets its IdleTimeout); the index counts them as it indexes each trace's open spans
// (traceDeadlines), for the processor's spans_backgrounded gauge.

// isBackgrounded says whether open span s is backgrounded. Of the spans reported as
// OTLP open spans, only those carry an idle timeout of their own: a heartbeat's comes
// from its frequency (source heartbeat_log), an Embrace copy's from its session
// (source embrace).
func isBackgrounded(s *spanjournal.Span) bool {
	return s.Source() == SourceOTLPOpenSpan && s.IdleTimeout != 0
}

// Backgrounded is how many open spans are backgrounded, as of the last tick; 0 before
// the first. Safe to call from any goroutine.
func (e *Engine) Backgrounded() int64 { return e.backgrounded.Load() }
