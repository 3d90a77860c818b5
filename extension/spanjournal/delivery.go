package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"slices"
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Delivery of released batches lives here, in the journal, bookkeeping and retry
// backoff alike, and not in the processor: several longspan instances share one
// journal, a batch released by one of them (the heartbeat-logs instance) is delivered
// by another (the emitter), and the batches themselves are journal state that must be
// handed out again after a restart. The processor only calls the next consumer and
// reports the outcome with Delivered or Failed.

// maxRetryBackoff caps the wait between deliveries of a batch the next consumer
// refused.
const maxRetryBackoff = 30 * time.Second

// Released is one batch of spans handed downstream. The journal keeps it until it
// is surely past tail sampling (which buffers in memory only), and hands it out again
// after a restart.
type Released struct {
	// Journaled (recRelease, recReleasedBatch): which trace, which batch, when, how,
	// and the spans.
	TraceID pcommon.TraceID
	// Batch identifies the release within its trace; unique per journal.
	Batch uint64
	At    time.Time
	Early bool
	Spans []*Span
	// Replayed is set for batches recovered from the journal: they are handed
	// downstream again, as possible duplicates.
	Replayed bool

	delivery delivery
}

// bytes is the payload bytes of the batch's spans.
func (r *Released) bytes() int64 {
	var n int64
	for _, s := range r.Spans {
		n += int64(s.PayloadSize())
	}
	return n
}

// delivery is a batch's delivery bookkeeping. Memory only: a restart delivers every
// journaled batch again, from its first attempt.
type delivery struct {
	// inFlight: a caller took the batch (TakeDue, Take) and has not reported back.
	inFlight bool
	// delivered: the next consumer accepted it; it stays journaled until until.
	delivered bool
	until     time.Time
	// passed: every span of it was exported past tail_sampling (ForgetPassed); it is
	// forgotten already, and ForgetExpired only lets go of it.
	passed bool
	// attempts counts failed deliveries; nextAttempt is when the next one is due.
	attempts    int
	nextAttempt time.Time
}

// Release moves the given spans of t into a released batch, journals the move and
// queues the batch for delivery.
func (tx *Tx) Release(t *Trace, spans []*Span, at time.Time, early bool) *Released {
	ids := make([]pcommon.SpanID, len(spans))
	for i, s := range spans {
		ids[i] = s.SpanID
	}
	st := tx.j.st
	r := st.release(t, ids, st.nextBatch, at, early)
	st.undelivered = append(st.undelivered, r)
	tx.recs = append(tx.recs, releaseRecord(r))
	return r
}

// Released returns the batches of this trace that are released but still journaled.
func (tx *Tx) Released(id pcommon.TraceID) []*Released { return tx.j.st.released[id] }

// TakeDue returns the released batches not yet accepted downstream whose next
// attempt is due, and marks them in flight: no other caller takes them until they are
// handed back to Delivered or Failed.
func (tx *Tx) TakeDue(now time.Time) []*Released {
	st := tx.j.st
	var due []*Released
	keep := st.undelivered[:0]
	for _, r := range st.undelivered {
		d := &r.delivery
		switch {
		case d.delivered || d.inFlight:
		case d.nextAttempt.After(now):
			keep = append(keep, r)
		default:
			d.inFlight = true
			due = append(due, r)
		}
	}
	clear(st.undelivered[len(keep):])
	st.undelivered = keep
	return due
}

// Take marks one batch in flight, as TakeDue does; false if someone else has it.
func (tx *Tx) Take(r *Released) bool {
	d := &r.delivery
	if d.delivered || d.inFlight {
		return false
	}
	d.inFlight = true
	return true
}

// Delivered records that the next consumer accepted r; the journal keeps it until
// until, when ForgetExpired drops it.
func (tx *Tx) Delivered(r *Released, until time.Time) {
	tx.rides = true // memory only: no reason to write, or wait for, the riders
	d := &r.delivery
	d.inFlight = false
	if d.delivered {
		return
	}
	d.delivered, d.until = true, until
	tx.j.st.delivered = append(tx.j.st.delivered, r)
}

// Failed puts r back in the delivery queue. The next attempt is due after a backoff
// that starts at firstRetry and doubles with every failed attempt, up to 30s. It
// returns how many attempts have failed so far.
func (tx *Tx) Failed(r *Released, now time.Time, firstRetry time.Duration) (attempts int) {
	tx.rides = true
	d := &r.delivery
	d.inFlight = false
	d.nextAttempt = now.Add(retryBackoff(firstRetry, d.attempts))
	d.attempts++
	tx.j.st.undelivered = append(tx.j.st.undelivered, r)
	return d.attempts
}

// retryBackoff is the wait before the next attempt after failed attempts before
// this one: first, doubled per earlier failure, at most maxRetryBackoff.
func retryBackoff(first time.Duration, failedBefore int) time.Duration {
	d := first
	for i := 0; i < failedBefore && d < maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, maxRetryBackoff)
}

// ForgetExpired drops, and journals the drop of, every delivered batch whose
// retention ended by now; it returns how many it dropped.
func (tx *Tx) ForgetExpired(now time.Time) int {
	st := tx.j.st
	n := 0
	dropped := 0
	for n < len(st.delivered) && !st.delivered[n].delivery.until.After(now) {
		r := st.delivered[n]
		n++
		if r.delivery.passed {
			continue
		}
		st.forget(r.TraceID, r.Batch)
		tx.recs = append(tx.recs, forgetRecord(r.TraceID, r.Batch))
		dropped++
	}
	clear(st.delivered[:n])
	st.delivered = st.delivered[n:]
	return dropped
}

// ForgetPassed forgets, and journals the drop of, every delivered batch all of whose
// spans are in passed (span ids by trace): the exporters after tail_sampling accepted
// them, so a restart must not send them again. The drop is not written by this
// Update: its records ride with the next write of an Update that is not only riding
// (a tick's at the latest; a shutdown writes what is left), so acknowledging costs no
// fsync of its own, even when other drops are waiting for a ride. A crash before then
// only sends the batches again, as release_retention would. It returns the batches and
// spans it forgot.
//
// Only batches already reported Delivered count: one still in flight may have reached
// tail_sampling after the decision that let these spans through, and wait in it for
// another.
func (tx *Tx) ForgetPassed(passed map[pcommon.TraceID][]pcommon.SpanID) (batches, spans int) {
	j, st := tx.j, tx.j.st
	tx.rides = true
	var ids map[pcommon.SpanID]struct{}
	for id, spanIDs := range passed {
		rs := st.released[id]
		if len(rs) == 0 {
			continue
		}
		clear(ids)
		if ids == nil {
			ids = make(map[pcommon.SpanID]struct{}, len(spanIDs))
		}
		for _, s := range spanIDs {
			ids[s] = struct{}{}
		}
		for _, r := range slices.Clone(rs) { // forget edits st.released[id]
			if !r.delivery.delivered || r.delivery.passed || !allIn(r.Spans, ids) {
				continue
			}
			r.delivery.passed = true
			st.forget(r.TraceID, r.Batch)
			j.riders = append(j.riders, forgetRecord(r.TraceID, r.Batch))
			batches++
			spans += len(r.Spans)
		}
	}
	return batches, spans
}

// allIn reports whether every span's id is in ids.
func allIn(spans []*Span, ids map[pcommon.SpanID]struct{}) bool {
	for _, s := range spans {
		if _, ok := ids[s.SpanID]; !ok {
			return false
		}
	}
	return true
}

// redeliverAll queues every journaled batch for delivery, oldest first, after a
// replay: none of them is known to have passed tail sampling.
func (st *state) redeliverAll() {
	st.undelivered = st.undelivered[:0]
	for _, rs := range st.released {
		for _, r := range rs {
			r.Replayed = true
			st.undelivered = append(st.undelivered, r)
		}
	}
	sort.Slice(st.undelivered, func(a, b int) bool { return st.undelivered[a].Batch < st.undelivered[b].Batch })
}
