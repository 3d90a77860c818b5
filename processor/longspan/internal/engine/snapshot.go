package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// SnapshotMinSlice is the fewest open spans a tick of a snapshot round visits (while
// any are left): a small journal gets its whole round in one tick.
const SnapshotMinSlice = 4096

// snapshotRound is a snapshot round in progress. A round is due every
// snapshot.interval; its open spans are visited a slice per tick, shard by shard
// (spanjournal.OpenShards), so that no tick walks them all.
type snapshotRound struct {
	active bool
	// next is the next shard to visit.
	next int
	// perTick is how many open spans a tick visits at least (whole shards): the open
	// spans when the round started, spread over the ticks of the interval but one.
	perTick int
}

// takeSnapshots numbers a snapshot of the spans open at least snapshot.min_age in this
// tick's slice of the round and copies what the processor emits. A round still
// unfinished when the next is due is finished first, so every span open throughout
// gets one snapshot per round.
func (e *Engine) takeSnapshots(tx Tx, now time.Time) []Snapshot {
	if e.cfg.SnapshotInterval <= 0 {
		return nil
	}
	var snaps []Snapshot
	r := &e.snapRound
	if !now.Before(e.nextSnapshot) {
		if r.active {
			snaps = e.snapshotShards(tx, now, -1, snaps)
		}
		e.nextSnapshot = now.Add(e.cfg.SnapshotInterval)
		ticks := max(1, int(e.cfg.SnapshotInterval/e.cfg.TickInterval)-1)
		*r = snapshotRound{active: true, perTick: max(SnapshotMinSlice, (tx.OpenCount()+ticks-1)/ticks)}
	}
	if r.active {
		snaps = e.snapshotShards(tx, now, r.perTick, snaps)
	}
	return snaps
}

// snapshotShards visits whole shards of the round until limit open spans were visited
// (limit < 0: to the end of the round).
func (e *Engine) snapshotShards(tx Tx, now time.Time, limit int, snaps []Snapshot) []Snapshot {
	r := &e.snapRound
	visited := 0
	for r.next < spanjournal.OpenShards && (limit < 0 || visited < limit) {
		tx.OpenSpansInShard(r.next, func(s *spanjournal.Span) {
			visited++
			if end := clientTime(s, now); end.Sub(s.Start()) >= e.cfg.SnapshotMinAge {
				snaps = append(snaps, Snapshot{Span: s, Seq: tx.NextSnapshotSeq(s), End: end, LastSeen: clientTime(s, s.LastSeen())})
			}
		})
		r.next++
	}
	if r.next >= spanjournal.OpenShards {
		r.active = false
	}
	return snaps
}
