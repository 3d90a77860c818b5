package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import "time"

// Tick runs the timed rules under the emitter's journal update: the rules for every
// trace with a deadline due (idle_timeout, max_duration, max_trace_hold, the release
// gate), the release of what they completed, and this tick's slice of the snapshot
// round. Its cost does not grow with what is held: the rules run only on the traces
// whose deadline is due (deadlines.go), and a round's snapshots are taken a slice of
// the open spans per tick (snapshot.go).
func (e *Engine) Tick(tx Tx, now time.Time) Result {
	var res Result
	e.indexChanged(tx)
	due := e.dueTraces(now)
	for _, id := range due {
		e.reconcileExpired(tx, id, now, &res)
		e.releaseDue(tx, id, now, &res)
	}
	e.releaseComplete(tx, &res, now)
	// A due trace the rules left unchanged still needs its next deadline.
	for _, id := range due {
		e.index(tx, id)
	}
	e.indexChanged(tx)
	e.backgrounded.Store(int64(e.deadlines.total))
	res.Snapshots = e.takeSnapshots(tx, now)
	return res
}
