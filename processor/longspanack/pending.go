package longspanack // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspanack"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// pendingAcks holds the span ids of exported requests until their delay is over, oldest
// first. Requests arrive in time order, so due ones are always a prefix.
type pendingAcks struct {
	entries []pendingAck
	spans   int // span ids in entries
}

type pendingAck struct {
	due    time.Time
	passed map[pcommon.TraceID][]pcommon.SpanID
	spans  int
}

// add queues passed (n span ids) until due, then drops the oldest entries while more
// than maxSpans are queued; it returns the span ids it dropped.
func (q *pendingAcks) add(due time.Time, passed map[pcommon.TraceID][]pcommon.SpanID, n, maxSpans int) (dropped int) {
	q.entries = append(q.entries, pendingAck{due: due, passed: passed, spans: n})
	q.spans += n
	k := 0
	for q.spans > maxSpans && k < len(q.entries) {
		q.spans -= q.entries[k].spans
		dropped += q.entries[k].spans
		k++
	}
	q.drop(k)
	return dropped
}

// takeDue removes and returns the entries due by now.
func (q *pendingAcks) takeDue(now time.Time) []pendingAck {
	k := 0
	for k < len(q.entries) && !q.entries[k].due.After(now) {
		q.spans -= q.entries[k].spans
		k++
	}
	due := append([]pendingAck(nil), q.entries[:k]...)
	q.drop(k)
	return due
}

func (q *pendingAcks) drop(k int) {
	clear(q.entries[:k])
	q.entries = q.entries[k:]
}
