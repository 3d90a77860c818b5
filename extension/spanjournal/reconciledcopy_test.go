package spanjournal

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// A reconciled copy carries the span's identity and times, not its place in memory:
// with no new payload it keeps only where the journal holds the old one.
func TestReconciledCopy(t *testing.T) {
	s := testSpan(1, 2, SpanOpen)
	s.place(wal.Location{Segment: 3, Offset: 40, Size: 4}) // the payload is on disk too
	s.cached = true

	c := s.ReconciledCopy([]byte{9})
	assert.Equal(t, SpanReconciled, c.State)
	assert.Equal(t, SpanOpen, s.State, "the original is not changed")
	assert.Equal(t, []any{s.TraceID, s.SpanID, s.ParentID, s.Name, s.Service(), s.Client(), s.Start(), s.FirstSeen(), s.LastSeen(), s.IdleTimeout, s.SnapshotSeq},
		[]any{c.TraceID, c.SpanID, c.ParentID, c.Name, c.Service(), c.Client(), c.Start(), c.FirstSeen(), c.LastSeen(), c.IdleTimeout, c.SnapshotSeq})
	assert.Equal(t, []byte{9}, c.inMemory())
	assert.True(t, c.at.IsZero(), "the new payload is not in the journal yet")
	assert.False(t, c.cached)

	k := s.ReconciledCopy(nil)
	assert.Nil(t, k.inMemory(), "never the original's bytes")
	assert.Equal(t, s.at, k.at)
	assert.False(t, k.cached)
}
