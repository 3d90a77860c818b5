package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// world is one engine on an in-memory transaction and a manual clock.
type world struct {
	t     *testing.T
	e     *Engine
	tx    *memTx
	codec memCodec
	now   time.Time
}

func newWorld(t *testing.T, mutate func(*Config)) *world {
	cfg := Config{IdleTimeout: 5 * time.Minute, BackgroundTimeout: 15 * time.Minute, MaxDuration: time.Hour,
		MaxTraceHold: 10 * time.Minute, SupersedeWindow: time.Hour, PassOn: true, MaxSpanBytes: 1 << 20, TickInterval: time.Second,
		MaxFutureSkew: time.Hour, ClockTolerance: time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	w := &world{t: t, tx: newMemTx(), codec: memCodec{}, now: t0}
	w.e = New(cfg, t0, WallClocks{}, w.codec, zapNop)
	return w
}

func (w *world) ingest(items ...Item) Result {
	return w.e.Ingest(w.tx, items, nil, memRequest(items), w.now)
}

func (w *world) tick(d time.Duration) Result {
	w.now = w.now.Add(d)
	return w.e.Tick(w.tx, w.now)
}

// reconciled is how span id of trace was reconciled.
func (w *world) reconciled(trace pcommon.TraceID, id pcommon.SpanID) (Reconciliation, bool) {
	r, ok := w.codec[string(payloadOf(trace, id))]
	return r, ok
}

var (
	traceA = pcommon.TraceID{0xa}
	traceB = pcommon.TraceID{0xb}
	root   = pcommon.SpanID{1}
	kid    = pcommon.SpanID{2}
)

func openSpan(trace pcommon.TraceID, id, parent pcommon.SpanID, start time.Time) Item {
	return Item{TraceID: trace, SpanID: id, ParentID: parent, Name: "work", Start: start, Open: true, Source: "otlp_open_span"}
}

func endedSpan(trace pcommon.TraceID, id, parent pcommon.SpanID, start, end time.Time) Item {
	return Item{TraceID: trace, SpanID: id, ParentID: parent, Name: "work", Start: start, End: end}
}

// Idle deadline: silent for idle_timeout, the span and its open child are
// reconciled at their last report, released with the trace's ended span.
func TestIdleTimeoutReconcilesAtLastReport(t *testing.T) {
	w := newWorld(t, nil)
	res := w.ingest(openSpan(traceA, root, pcommon.SpanID{}, t0), openSpan(traceA, kid, root, t0))
	assert.Equal(t, 2, res.Received[OutcomeOpened])
	w.now = t0.Add(2 * time.Minute)
	w.ingest(openSpan(traceA, root, pcommon.SpanID{}, t0)) // reported again
	assert.Empty(t, w.tick(2*time.Minute+59*time.Second).Reconciled, "the child's clock still runs")
	res = w.tick(time.Second) // kid silent since t0 for 5 min
	assert.Equal(t, map[string]int{ReasonIdleTimeout: 1}, res.Reconciled)
	rc, ok := w.reconciled(traceA, kid)
	require.True(t, ok)
	assert.Equal(t, t0, rc.End, "ends at its last report, not now")
	res = w.tick(2 * time.Minute)
	assert.Equal(t, map[string]int{ReasonIdleTimeout: 1}, res.Reconciled)
	require.Len(t, res.Released, 1)
	assert.Len(t, res.Released[0].Spans, 2)
	rc, _ = w.reconciled(traceA, root)
	assert.Equal(t, t0.Add(2*time.Minute), rc.End)
}

// Max duration: an open span reported all along is reconciled at max_duration; its
// open child as parent_reconciled.
func TestMaxDurationAndDescendants(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.IdleTimeout = time.Hour; c.MaxDuration = 10 * time.Minute })
	w.ingest(openSpan(traceA, root, pcommon.SpanID{}, t0), openSpan(traceA, kid, root, t0.Add(time.Minute)))
	assert.Empty(t, w.tick(10*time.Minute-time.Second).Reconciled)
	res := w.tick(time.Second)
	assert.Equal(t, map[string]int{ReasonMaxDuration: 1, ReasonParentReconciled: 1}, res.Reconciled)
	require.Len(t, res.Released, 1)
}

// Session: a new session span reconciles the open spans of the session's other
// traces that started before it, only those of the same client when asked to.
func TestSessionRule(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.SessionRuleSameClient = true })
	old := openSpan(traceA, root, pcommon.SpanID{}, t0)
	old.Session, old.Client = "s1", "10.0.0.1"
	w.ingest(old)
	other := openSpan(traceB, root, pcommon.SpanID{}, t0.Add(time.Second))
	other.Session, other.Client = "s1", "10.0.0.2"
	res := w.ingest(other)
	assert.Equal(t, 1, res.UntrustedSession, "another client")
	assert.Empty(t, res.Reconciled)
	again := openSpan(pcommon.TraceID{0xc}, root, pcommon.SpanID{}, t0.Add(2*time.Second))
	again.Session, again.Client = "s1", "10.0.0.1"
	res = w.ingest(again)
	assert.Equal(t, map[string]int{ReasonSessionEnded: 1}, res.Reconciled)
	_, ok := w.reconciled(traceA, root)
	assert.True(t, ok)
}

// A session.end event ends its session: the session's open spans that started before
// it are reconciled, later ones are not.
func TestSessionEndEvent(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.SessionSpanNames = []string{"page.session"} }) // "work" spans start no session
	before := openSpan(traceA, root, pcommon.SpanID{}, t0)
	before.Session = "s1"
	after := openSpan(traceB, root, pcommon.SpanID{}, t0.Add(time.Minute))
	after.Session = "s1"
	w.ingest(before, after)
	res := w.e.Ingest(w.tx, nil, []SessionEnd{{Session: "s1", Before: t0.Add(30 * time.Second)}}, memRequest(nil), w.now)
	assert.Equal(t, map[string]int{ReasonSessionEnded: 1}, res.Reconciled)
	require.Len(t, res.Released, 1)
	assert.Equal(t, traceA, res.Released[0].TraceID)
	assert.Equal(t, spanjournal.SpanOpen, w.tx.Span(traceB, root).State)
}

// App terminated: reconciled at once as client_interrupted, ending at the client's
// last-known time (never before the start); background: background_timeout until a
// report without the hint.
func TestAppLifeCycleHints(t *testing.T) {
	w := newWorld(t, nil)
	dead := openSpan(traceA, root, pcommon.SpanID{}, t0.Add(-time.Hour))
	dead.Hint, dead.ClientLastSeen = HintAppTerminated, t0.Add(-20*time.Minute)
	res := w.ingest(dead)
	assert.Equal(t, map[string]int{ReasonClientInterrupted: 1}, res.Reconciled)
	require.Len(t, res.Released, 1)
	rc, _ := w.reconciled(traceA, root)
	assert.Equal(t, t0.Add(-20*time.Minute), rc.End)

	bg := openSpan(traceB, root, pcommon.SpanID{}, t0)
	bg.Hint = HintAppBackground
	w.ingest(bg)
	assert.Equal(t, 15*time.Minute, w.tx.Span(traceB, root).IdleTimeout)
	assert.Empty(t, w.tick(14*time.Minute).Reconciled, "background_timeout, not idle_timeout")
	bg.Hint = ""
	w.ingest(bg)
	assert.Zero(t, w.tx.Span(traceB, root).IdleTimeout, "a report without the hint restores idle_timeout")
	assert.Equal(t, map[string]int{ReasonIdleTimeout: 1}, w.tick(5*time.Minute).Reconciled)
}

// Supersede and stale: after a reconciliation, the span's late snapshot is dropped and
// its real end goes on marked; a repeat of an end released already is dropped.
func TestSupersedeStaleAndRepeat(t *testing.T) {
	w := newWorld(t, nil)
	w.ingest(openSpan(traceA, root, pcommon.SpanID{}, t0))
	require.Len(t, w.tick(5*time.Minute).Released, 1)
	res := w.ingest(openSpan(traceA, root, pcommon.SpanID{}, t0))
	assert.Equal(t, map[string]int{DropStaleSnapshot: 1}, res.Dropped)
	end := endedSpan(traceA, root, pcommon.SpanID{}, t0, t0.Add(6*time.Minute))
	items := []Item{end}
	res = w.e.Ingest(w.tx, items, nil, memRequest(items), w.now)
	assert.Equal(t, 1, res.Received[OutcomeSuperseding])
	assert.True(t, items[0].Pass)
	assert.Equal(t, MarkSuperseding, items[0].Mark)
	assert.Equal(t, t0.Add(5*time.Minute), items[0].ReconciledAt)

	w.ingest(openSpan(traceB, root, pcommon.SpanID{}, t0))
	w.ingest(endedSpan(traceB, root, pcommon.SpanID{}, t0, w.now))
	res = w.ingest(endedSpan(traceB, root, pcommon.SpanID{}, t0, w.now))
	assert.Equal(t, 1, res.Received[OutcomeRepeat])
}

// Grace and hold: an ended child of a trace with nothing held waits parent_grace for
// its parent; a trace holding ended spans next to an open one releases them early
// after max_trace_hold, counted from the hold's start.
func TestGraceAndMaxTraceHold(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.ParentGrace = 10 * time.Second; c.IdleTimeout = time.Hour })
	res := w.ingest(endedSpan(traceA, kid, root, t0, t0))
	assert.Equal(t, 1, res.Received[OutcomeGraceHeld])
	assert.Empty(t, w.tick(9*time.Second).Released)
	require.Len(t, w.tick(time.Second).Released, 1, "released once parent_grace passed")

	w.ingest(openSpan(traceB, root, pcommon.SpanID{}, w.now))
	w.ingest(endedSpan(traceB, kid, root, w.now, w.now))
	assert.Empty(t, w.tick(10*time.Minute-time.Second).Released)
	res = w.tick(time.Second)
	require.Len(t, res.Released, 1)
	assert.True(t, res.Released[0].Early)
	assert.Len(t, res.Released[0].Spans, 1, "the open span stays")
	assert.Equal(t, spanjournal.SpanOpen, w.tx.Span(traceB, root).State)
}

// Adds measures what Ingest stores: a stale snapshot and a passed span add nothing,
// an ended span of a trace the same request opens adds a held span.
func TestAddsMeasuresTheRulesDecision(t *testing.T) {
	w := newWorld(t, nil)
	w.ingest(openSpan(traceA, root, pcommon.SpanID{}, t0))
	w.ingest(endedSpan(traceA, root, pcommon.SpanID{}, t0, t0)) // released; remembered
	items := []Item{
		openSpan(traceA, root, pcommon.SpanID{}, t0),               // stale
		endedSpan(traceB, kid, root, t0, t0),                       // nothing held: passed on
		openSpan(pcommon.TraceID{0xc}, root, pcommon.SpanID{}, t0), // opens a trace
		endedSpan(pcommon.TraceID{0xc}, kid, root, t0, t0),         // held in it
	}
	var total spanjournal.Usage
	w.e.Adds(w.tx, items, memRequest(items), w.now, true, func(_ *Item, add spanjournal.Usage) {
		total.Open += add.Open
		total.Held += add.Held
		total.Bytes += add.Bytes
	})
	assert.Equal(t, spanjournal.Usage{Open: 1, Held: 1, Bytes: 48}, total)
}
