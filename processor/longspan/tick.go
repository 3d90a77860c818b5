package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// tick runs the timed rules under one journal update: reconciliation, release of
// traces that completed or held too long, delivery of released traces (and their
// retries), forgetting traces past tail sampling, and the first slice of the tick's
// snapshots; the rest of its snapshots are taken in further updates of at most
// engine.SnapshotHoldSlice open spans each, so that no hold of the journal lock is
// longer than one slice. The updates' writes share the journal's group commit (one
// fsync, one min_sync_interval) and are waited for together before anything is
// delivered or emitted. Only the journal's emitter runs it.
//
// Its cost does not grow with what is held (engine.Engine.Tick).
// longspan_tick_duration records how long the tick's journal updates took (waiting
// for the lock, the rules, the snapshots taken and the journal writes),
// longspan_tick_rules_duration its longest hold of the lock, and the two waits apart:
// longspan_tick_lock_wait_duration for the lock (summed over the updates),
// longspan_tick_write_wait_duration for the writes after the last update.
func (p *longspanProcessor) tick(ctx context.Context) {
	now := p.clock.Now()
	var res ruleResult
	var due []*spanjournal.Released
	var evicted int
	var longest, lockWait time.Duration
	pending := false
	var waits []func() error
	// hold runs fn in a journal update of its own without waiting for its write: the
	// tick's updates share the journal's group commit, waited for together below.
	hold := func(fn func(tx *spanjournal.Tx)) {
		asked := time.Now()
		waits = append(waits, p.journal.UpdateAsync(ctx, func(tx *spanjournal.Tx) error {
			locked := time.Now()
			lockWait += locked.Sub(asked)
			fn(tx)
			pending = p.rules.SnapshotsPending()
			longest = max(longest, time.Since(locked))
			return nil
		}))
	}
	began := time.Now()
	hold(func(tx *spanjournal.Tx) {
		res = p.rules.Tick(engine.Journal(tx), now)
		due = tx.TakeDue(now)
		tx.ForgetExpired(now)
		_, evicted = tx.ForgetClosed(now.Add(-p.cfg.SupersedeWindow), p.cfg.Limits.MaxReconciledIDs)
	})
	for pending {
		hold(func(tx *spanjournal.Tx) {
			res.Snapshots = p.rules.MoreSnapshots(engine.Journal(tx), now, res.Snapshots)
		})
	}
	var err error
	written := time.Now()
	for _, wait := range waits {
		err = errors.Join(err, wait())
	}
	done := time.Now()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p.telemetry.LongspanTickDuration.Record(ctx, ms(done.Sub(began)))
	p.telemetry.LongspanTickRulesDuration.Record(ctx, ms(longest))
	p.telemetry.LongspanTickLockWaitDuration.Record(ctx, ms(lockWait))
	p.telemetry.LongspanTickWriteWaitDuration.Record(ctx, ms(done.Sub(written)))
	if evicted > 0 {
		p.telemetry.LongspanReconciledIdsEvicted.Add(ctx, int64(evicted))
		p.logger.Warn("Forgot closed span ids before supersede_window ended: limits.max_reconciled_ids reached; a late real end of those spans passes as a plain span, and a late snapshot of them opens them again",
			zap.Int("evicted", evicted), zap.Int("max_reconciled_ids", p.cfg.Limits.MaxReconciledIDs))
	}
	if err != nil {
		// The changes stand in memory and are delivered below (spanjournal's
		// Journal.Update): the journal restates them at its next checkpoint, and a
		// restart before that may reconcile or release them again.
		p.logger.Error("Journaling timed changes failed; they stay in effect and the journal's next checkpoint writes them (a restart before it may repeat them)", zap.Error(err))
	}
	p.count(ctx, nil, res)
	p.warnIfStalled(ctx, now)
	p.deliver(ctx, due, now)
	p.emitSnapshots(ctx, res.Snapshots)
}
