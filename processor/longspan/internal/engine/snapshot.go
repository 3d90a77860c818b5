package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// SnapshotMinSlice is the fewest open spans a tick of a snapshot round visits (while
// any are left): a small journal gets its whole round in one tick.
const SnapshotMinSlice = 4096

// SnapshotHoldSlice is the most open spans one journal update of a tick visits for
// snapshots (whole shards, so a little more): a tick's share of a round larger than
// this is taken in several updates (MoreSnapshots), each a short hold of the journal
// lock. Visiting an open span under a 10 M-span heap costs a few microseconds of
// cache misses (its trace, the span, its origin); a tick's 4,096 in one hold held the
// lock ~20 ms, which every request and the open-span view waited out.
const SnapshotHoldSlice = 1024

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
	// left is how many of this tick's perTick are still to visit (MoreSnapshots).
	left int
}

// takeSnapshots starts this tick's share of the round (perTick open spans) and takes
// its first slice (MoreSnapshots): it numbers a snapshot of each span open at least
// snapshot.min_age and copies what the processor emits. A round still unfinished when
// the next is due is finished first, in this update (it is late only when the open
// spans grew past the round's pace), so every span open throughout gets one snapshot
// per round.
func (e *Engine) takeSnapshots(tx Tx, now time.Time) []Snapshot {
	if e.cfg.SnapshotInterval <= 0 {
		return nil
	}
	var snaps []Snapshot
	r := &e.snapRound
	if !now.Before(e.nextSnapshot) {
		if r.active {
			snaps, _ = e.snapshotShards(tx, now, -1, snaps)
		}
		e.nextSnapshot = now.Add(e.cfg.SnapshotInterval)
		ticks := max(1, int(e.cfg.SnapshotInterval/e.cfg.TickInterval)-1)
		*r = snapshotRound{active: true, perTick: max(SnapshotMinSlice, (tx.OpenCount()+ticks-1)/ticks)}
	}
	if r.active {
		r.left = r.perTick
		snaps = e.MoreSnapshots(tx, now, snaps)
	}
	return snaps
}

// MoreSnapshots takes the next slice (at most about SnapshotHoldSlice open spans) of
// this tick's share of the round and appends its snapshots to snaps. Tick takes the
// first slice; while SnapshotsPending, the processor calls it again, each time in a
// journal update of its own, with the tick's now.
func (e *Engine) MoreSnapshots(tx Tx, now time.Time, snaps []Snapshot) []Snapshot {
	r := &e.snapRound
	if !r.active || r.left <= 0 {
		return snaps
	}
	snaps, visited := e.snapshotShards(tx, now, min(r.left, SnapshotHoldSlice), snaps)
	r.left -= visited
	return snaps
}

// SnapshotsPending says whether this tick's share of the round is not all taken yet
// (MoreSnapshots). Call it under the journal update, as the others.
func (e *Engine) SnapshotsPending() bool {
	return e.snapRound.active && e.snapRound.left > 0
}

// snapshotShards visits whole shards of the round until limit open spans were visited
// (limit < 0: to the end of the round); it returns how many it visited.
func (e *Engine) snapshotShards(tx Tx, now time.Time, limit int, snaps []Snapshot) ([]Snapshot, int) {
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
	return snaps, visited
}
