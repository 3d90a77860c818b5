package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// embraceCopy is an Embrace Apple copy of a running span, as the processor takes it.
func embraceCopy(trace pcommon.TraceID, id, parent pcommon.SpanID, name string, start time.Time) Item {
	return Item{TraceID: trace, SpanID: id, ParentID: parent, Name: name, Start: start, Open: true,
		Source: SourceEmbrace, Session: "s1", Client: "10.0.0.1"}
}

// An Embrace copy lives as long as its session span is reported, past idle_timeout;
// when the session span goes silent and is reconciled, its session's copies (and
// their open descendants) are reconciled session_ended at the session span's last
// report. Another client's copies of the session are left to their own deadline.
func TestEmbraceCopiesLiveByTheirSessionSpan(t *testing.T) {
	w := newWorld(t, func(c *Config) {
		c.SessionSpanNames = []string{"emb-session"}
		c.SessionRuleSameClient = true
	})
	session := embraceCopy(traceA, root, pcommon.SpanID{}, "emb-session", t0)
	checkout := embraceCopy(traceB, root, pcommon.SpanID{}, "checkout", t0.Add(time.Second))
	child := embraceCopy(traceB, kid, root, "http", t0.Add(2*time.Second))
	stranger := embraceCopy(pcommon.TraceID{0xc}, root, pcommon.SpanID{}, "checkout", t0.Add(time.Second))
	stranger.Client = "10.0.0.2"
	w.ingest(session, checkout, child, stranger)
	assert.Equal(t, time.Hour, w.tx.Span(traceB, root).IdleTimeout, "max_duration: alive while its session span is")
	assert.Zero(t, w.tx.Span(traceA, root).IdleTimeout, "the session span keeps idle_timeout")

	var last time.Time
	for range 12 { // 10 min of heartbeat copies, twice idle_timeout
		assert.Empty(t, w.tick(50*time.Second).Reconciled)
		w.ingest(session)
		last = w.now
	}
	res := w.tick(5*time.Minute - time.Second)
	assert.Empty(t, res.Reconciled)
	res = w.tick(time.Second)
	assert.Equal(t, map[string]int{ReasonIdleTimeout: 1, ReasonSessionEnded: 2}, res.Reconciled,
		"the session span, its session's copy and the copy's child (a copy of the session itself)")
	assert.Equal(t, 1, res.UntrustedSession, "another client's copy")
	for _, id := range []pcommon.SpanID{root, kid} {
		rc, ok := w.reconciled(traceB, id)
		require.True(t, ok)
		assert.Equal(t, last, rc.End, "alive until the session's last report")
		assert.Equal(t, last, rc.LastSeen)
	}
	assert.Equal(t, spanjournal.SpanOpen, w.tx.Span(pcommon.TraceID{0xc}, root).State)
}

// A copy without a session, and spans of other sources, keep idle_timeout.
func TestOnlySessionCopiesLiveBySession(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.SessionSpanNames = []string{"emb-session"} })
	lone := embraceCopy(traceA, root, pcommon.SpanID{}, "checkout", t0)
	lone.Session = ""
	web := openSpan(traceB, root, pcommon.SpanID{}, t0)
	web.Session = "s1"
	w.ingest(lone, web)
	assert.Zero(t, w.tx.Span(traceA, root).IdleTimeout)
	assert.Zero(t, w.tx.Span(traceB, root).IdleTimeout)
}
