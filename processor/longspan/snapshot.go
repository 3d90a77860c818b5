package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// snapshotChunk bounds the spans of one snapshot ConsumeTraces call.
const snapshotChunk = 1000

// snapshotOf is what a snapshot needs of an open span, copied under the journal lock.
type snapshotOf struct {
	span     *spanjournal.Span
	seq      uint32
	lastSeen time.Time
}

// snapshotMinSlice is the fewest open spans a tick of a snapshot round visits (while
// any are left): a small journal gets its whole round in one tick.
const snapshotMinSlice = 4096

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
// tick's slice of the round and copies what emitSnapshots needs, under the journal
// lock. A round still unfinished when the next is due is finished first, so every
// span open throughout gets one snapshot per round.
func (p *longspanProcessor) takeSnapshots(tx *spanjournal.Tx, now time.Time) []snapshotOf {
	if p.cfg.Snapshot.Interval <= 0 {
		return nil
	}
	var snaps []snapshotOf
	r := &p.snapRound
	if !now.Before(p.nextSnapshot) {
		if r.active {
			snaps = p.snapshotShards(tx, now, -1, snaps)
		}
		p.nextSnapshot = now.Add(p.cfg.Snapshot.Interval)
		open, _ := tx.Counts()
		ticks := max(1, int(p.cfg.Snapshot.Interval/p.cfg.TickInterval)-1)
		*r = snapshotRound{active: true, perTick: max(snapshotMinSlice, (open+ticks-1)/ticks)}
	}
	if r.active {
		snaps = p.snapshotShards(tx, now, r.perTick, snaps)
	}
	return snaps
}

// snapshotShards visits whole shards of the round until limit open spans were visited
// (limit < 0: to the end of the round).
func (p *longspanProcessor) snapshotShards(tx *spanjournal.Tx, now time.Time, limit int, snaps []snapshotOf) []snapshotOf {
	r := &p.snapRound
	visited := 0
	for r.next < spanjournal.OpenShards && (limit < 0 || visited < limit) {
		tx.OpenSpansInShard(r.next, func(s *spanjournal.Span) {
			visited++
			if now.Sub(s.Start()) >= p.cfg.Snapshot.MinAge {
				snaps = append(snaps, snapshotOf{span: s, seq: tx.NextSnapshotSeq(s), lastSeen: s.LastSeen()})
			}
		})
		r.next++
	}
	if r.next >= spanjournal.OpenShards {
		r.active = false
	}
	return snaps
}

// emitSnapshots sends a snapshot of each live span: the span as last reported, ended
// now, and marked so that the pipeline routes it around tail sampling.
func (p *longspanProcessor) emitSnapshots(ctx context.Context, snaps []snapshotOf, now time.Time) {
	for len(snaps) > 0 {
		chunk := snaps[:min(len(snaps), snapshotChunk)]
		snaps = snaps[len(chunk):]
		spans := make([]*spanjournal.Span, len(chunk))
		for i, sn := range chunk {
			spans[i] = sn.span
		}
		payloads, err := p.journal.Payloads(spans)
		td, errs := decodeSpans(spans, payloads, err, func(i int, span ptrace.Span) {
			sn := chunk[i]
			span.SetEndTimestamp(timestamp(now))
			attrs := span.Attributes()
			attrs.PutStr(attrState, stateSnapshot)
			attrs.PutInt(attrSnapshotSeq, int64(sn.seq))
			setTime(attrs, attrLastSeen, sn.lastSeen)
			if sn.span.Source() != "" {
				attrs.PutStr(attrSource, sn.span.Source())
			}
		})
		p.reportUndecodable(errs)
		n := td.SpanCount()
		if n == 0 {
			continue
		}
		if err := p.next.ConsumeTraces(ctx, td); err != nil {
			p.logger.Warn("The next consumer refused snapshot spans; they are not retried (the next round replaces them)",
				zap.Int("spans", n), zap.Error(err))
			continue
		}
		p.telemetry.LongspanSnapshotsEmitted.Add(ctx, int64(n))
	}
}
