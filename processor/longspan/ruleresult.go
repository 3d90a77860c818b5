package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// ruleResult is what one run of the rules did, under one journal update: for a
// request (ingest) or for a tick (the timed rules). The caller acts on it once the
// update is durable: it passes spans on, delivers the released batches and counts.
type ruleResult struct {
	// passed counts the request's spans that go on unchanged or marked (ingest only).
	passed int
	// marked is set when a passed-through span needs a changed copy.
	marked bool
	// released holds the batches released in this run, for the emitter to deliver.
	released []*spanjournal.Released
	// touched holds the traces whose spans changed: releaseComplete releases each one
	// that is complete.
	touched map[pcommon.TraceID]struct{}
	// received, dropped and reconciled count spans by outcome and reason.
	received   map[string]int
	dropped    map[string]int
	reconciled map[string]int
	// untrustedSession counts open spans the session rule left alone because another
	// client reported them.
	untrustedSession int
}

// pass sends a span on, through the request's pass-through part.
func (r *ruleResult) pass(it *item, mark func(ptrace.Span)) {
	it.pass, it.mark = true, mark
	r.passed++
	r.marked = r.marked || mark != nil || it.rerouted
}

func (r *ruleResult) drop(reason string) { increment(&r.dropped, reason) }

func (r *ruleResult) receive(outcome string) { increment(&r.received, outcome) }

// reconcile counts a span reconciled for reason and touches its trace.
func (r *ruleResult) reconcile(id pcommon.TraceID, reason string) {
	increment(&r.reconciled, reason)
	r.touch(id)
}

func (r *ruleResult) touch(id pcommon.TraceID) {
	if r.touched == nil {
		r.touched = map[pcommon.TraceID]struct{}{}
	}
	r.touched[id] = struct{}{}
}

// increment counts one more key in a map it creates when needed: most runs count
// nothing, and a nil map costs no allocation.
func increment(m *map[string]int, key string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[key]++
}

// count adds a run's counts, and the drops classify made before it, to the
// processor's telemetry.
func (p *longspanProcessor) count(ctx context.Context, drops map[string]int, res ruleResult) {
	for reason, n := range drops {
		p.telemetry.LongspanSpansDropped.Add(ctx, int64(n), withReason(reason))
	}
	for reason, n := range res.dropped {
		p.telemetry.LongspanSpansDropped.Add(ctx, int64(n), withReason(reason))
	}
	for outcome, n := range res.received {
		p.telemetry.LongspanSpansReceived.Add(ctx, int64(n), withReason(outcome))
	}
	for reason, n := range res.reconciled {
		p.telemetry.LongspanSpansReconciled.Add(ctx, int64(n), withReason(reason))
	}
	if n := res.received[outcomeSuperseding]; n > 0 {
		p.telemetry.LongspanSpansSuperseding.Add(ctx, int64(n))
	}
	if res.untrustedSession > 0 {
		p.telemetry.LongspanSessionRuleUntrusted.Add(ctx, int64(res.untrustedSession))
	}
}
