package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// Result is what one run of the rules did under one journal update: for a request
// (Ingest) or for a tick (Tick). The processor acts on it once the update is
// durable: it passes spans on, delivers the released batches, emits the snapshots
// and counts.
type Result struct {
	// Passed counts the request's spans that go on unchanged or marked (Ingest only);
	// Marked is set when one needs a changed copy.
	Passed int
	Marked bool
	// Released holds the batches released in this run.
	Released []*spanjournal.Released
	// Snapshots are the open spans whose snapshot this tick takes (Tick only).
	Snapshots []Snapshot
	// Received, Dropped and Reconciled count spans by outcome and reason
	// (otelcol_longspan_spans_received, _dropped, _reconciled).
	Received   map[string]int
	Dropped    map[string]int
	Reconciled map[string]int
	// UntrustedSession counts open spans the session rule left alone because another
	// client reported them.
	UntrustedSession int
	// ClockSuspect counts spans kept although their times were impossible on the
	// clock they were judged in, by reason (otelcol_longspan_spans_clock_suspect);
	// OffsetMoves counts held spans whose client clock offset moved past
	// client_clock.tolerance (otelcol_longspan_clock_offset_moves).
	ClockSuspect map[string]int
	OffsetMoves  int

	// touched holds the traces whose spans changed: releaseComplete releases each one
	// that is complete.
	touched map[pcommon.TraceID]struct{}
}

// Snapshot is what a snapshot needs of an open span, copied under the journal lock.
// End and LastSeen are in the span's client clock (clock.go).
type Snapshot struct {
	Span          *spanjournal.Span
	Seq           uint32
	End, LastSeen time.Time
}

// pass sends a span on, through the request's pass-through part.
func (r *Result) pass(it *Item, mark Mark) {
	it.Pass, it.Mark = true, mark
	r.Passed++
	r.Marked = r.Marked || mark != MarkNone || it.Rerouted
}

func (r *Result) drop(reason string) { Increment(&r.Dropped, reason) }

func (r *Result) receive(outcome string) { Increment(&r.Received, outcome) }

// reconcile counts a span reconciled for reason and touches its trace.
func (r *Result) reconcile(id pcommon.TraceID, reason string) {
	Increment(&r.Reconciled, reason)
	r.touch(id)
}

func (r *Result) touch(id pcommon.TraceID) {
	if r.touched == nil {
		r.touched = map[pcommon.TraceID]struct{}{}
	}
	r.touched[id] = struct{}{}
}

// Increment counts one more key in a map it creates when needed: most runs count
// nothing, and a nil map costs no allocation.
func Increment(m *map[string]int, key string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[key]++
}
