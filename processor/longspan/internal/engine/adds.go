package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// Adds measures, before anything changes, what Ingest would store of a request: for
// every item it would store, fn gets what it adds to the usage of its trace, session
// and client; withBytes measures the payload bytes too. It is the rules' own decision
// (decide), with the traces earlier spans of the request open taken as held; a span
// the rules then drop as too large or unencodable may count against the request. The
// processor's limits and quotas refuse a request by it.
func (e *Engine) Adds(tx Tx, items []Item, req Request, now time.Time, withBytes bool, fn func(it *Item, add spanjournal.Usage)) {
	opening := map[pcommon.TraceID]bool{}
	for i := range items {
		if add, ok := e.wouldAdd(tx, items, i, req, now, opening, withBytes); ok {
			fn(&items[i], add)
		}
	}
}

func (e *Engine) wouldAdd(tx Tx, items []Item, i int, req Request, now time.Time, opening map[pcommon.TraceID]bool, withBytes bool) (spanjournal.Usage, bool) {
	it := &items[i]
	var add spanjournal.Usage
	v, old, _ := e.decide(tx, it, now, opening[it.TraceID])
	switch v {
	case keepOpen:
		opening[it.TraceID] = true
		if old == nil {
			add.Open = 1
		}
	case keepEnded:
		// Ending a span it holds adds no span: had this counted as a new held span, a
		// trace at its held quota could never end. Held spans may pass their quota by
		// at most the open spans, which have theirs.
		if old == nil {
			add.Held = 1
		}
	case holdForParent:
		add.Held = 1
	default:
		// Dropped, or passed on (a logs-pipeline instance or journal_pass_through
		// stores it as a trace of its own, released within this request).
		return add, false
	}
	if !withBytes {
		return add, true
	}
	payload, err := req.Payload(i, MarkNone)
	if err != nil {
		return add, false // dropped as unencodable by the rules
	}
	add.Bytes = int64(len(payload))
	if old != nil {
		add.Bytes -= int64(old.PayloadSize())
	}
	return add, true
}
