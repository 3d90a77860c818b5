package spanjournal

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// payloadOf is the deterministic payload of span n, version v.
func payloadOf(n, v int) []byte {
	b := make([]byte, 200+n%300)
	copy(b, fmt.Sprintf("span %d version %d;", n, v))
	for i := 32; i < len(b); i++ {
		b[i] = byte(n*7 + v*13 + i)
	}
	return b
}

// dumpState renders every held span and released batch with its payload, read back
// through Journal.Payloads, so two states compare as strings.
func dumpState(t *testing.T, j *Journal) []string {
	t.Helper()
	var spans []*Span
	var names []string
	j.mu.Lock()
	for _, tr := range j.st.traces {
		for _, s := range tr.Spans {
			spans = append(spans, s)
			names = append(names, fmt.Sprintf("held %s/%s %s", s.TraceID, s.SpanID, s.State))
		}
	}
	for _, rs := range j.st.released {
		for _, r := range rs {
			for _, s := range r.Spans {
				spans = append(spans, s)
				names = append(names, fmt.Sprintf("released %s batch %d %s", s.TraceID, r.Batch, s.SpanID))
			}
		}
	}
	j.mu.Unlock()
	payloads, err := j.Payloads(spans)
	require.NoError(t, err)
	out := make([]string, len(spans))
	for i := range spans {
		out[i] = fmt.Sprintf("%s %x", names[i], payloads[i])
	}
	sort.Strings(out)
	return out
}

func TestPayloadsLeaveMemoryOnceDurable(t *testing.T) {
	dir := t.TempDir()
	e := startExtension(t, dir, func(c *Config) { c.PayloadCacheBytes = 0 })
	s := testSpan(1, 1, SpanOpen)
	s.SetPayload(payloadOf(1, 1))
	update(t, e, func(tx *Tx) { tx.Put(s, t0) })
	e.journal.mu.Lock()
	assert.Nil(t, s.payload, "a durable span keeps only where its payload lies")
	assert.False(t, s.at.IsZero())
	assert.Equal(t, len(payloadOf(1, 1)), s.PayloadSize())
	e.journal.mu.Unlock()
	got, err := e.journal.Payloads([]*Span{s})
	require.NoError(t, err)
	assert.Equal(t, payloadOf(1, 1), got[0])
	want := dumpState(t, e.journal)
	require.NoError(t, e.Shutdown(context.Background()))

	e = startExtension(t, dir, nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	assert.Equal(t, want, dumpState(t, e.journal), "replay keeps locations that read back the same payloads")
}

// TestCheckpointUnderConcurrentUpdates runs checkpoints in small chunks while traces
// are put, released and forgotten, then restarts: the replayed state, payloads
// included, must equal what memory held, and the journal must have shrunk to what is
// live.
func TestCheckpointUnderConcurrentUpdates(t *testing.T) {
	dir := t.TempDir()
	// No payload cache: the checkpoint reads every payload back from disk.
	e := startExtension(t, dir, func(c *Config) { c.SegmentBytes, c.PayloadCacheBytes = 64<<10, 0 })
	e.journal.chunkBytes = 2 << 10
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var checkpoints atomic.Int32
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := e.journal.checkpoint(context.Background())
			assert.NoError(t, err)
			checkpoints.Add(1)
		}
	})
	for round := 0; round < 3000 || checkpoints.Load() < 3; round++ {
		require.NoError(t, e.journal.Update(context.Background(), func(tx *Tx) error {
			trace := pcommon.TraceID{byte(rng.IntN(200)), 7}
			switch op := rng.IntN(10); {
			case op < 6: // a new ended span, or a new version of one
				n++
				s := &Span{TraceID: trace, SpanID: pcommon.SpanID{byte(rng.IntN(20)), 1}, State: SpanEnded}
				s.SetPayload(payloadOf(n, round))
				tx.Put(s, t0)
			case op < 8: // release the trace
				if tr := tx.Trace(trace); tr != nil {
					spans := make([]*Span, 0, len(tr.Spans))
					for _, s := range tr.Spans {
						spans = append(spans, s)
					}
					tx.Release(tr, spans, t0, false)
				}
			default: // forget the trace's released batches
				for _, r := range tx.Released(trace) {
					tx.Take(r)
					tx.Delivered(r, t0)
				}
				tx.ForgetExpired(t0.Add(1))
			}
			return nil
		}))
	}
	close(stop)
	wg.Wait()
	_, err := e.journal.checkpoint(context.Background())
	require.NoError(t, err)
	want := dumpState(t, e.journal)
	require.NotEmpty(t, want)
	var live int64
	for _, line := range want {
		live += int64(len(line))
	}
	assert.Less(t, e.log.Size(), 4*live+2*64<<10, "the journal holds little beyond what is live")
	require.NoError(t, e.Shutdown(context.Background()))

	e = startExtension(t, dir, nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	assert.Equal(t, want, dumpState(t, e.journal))
}

func TestLiveBytesFollowsPutReleaseAndForget(t *testing.T) {
	dir := t.TempDir()
	e := startExtension(t, dir, nil)
	a, b := testSpan(1, 1, SpanEnded), testSpan(1, 2, SpanOpen)
	a.SetPayload(make([]byte, 100))
	b.SetPayload(make([]byte, 30))
	update(t, e, func(tx *Tx) {
		tx.Put(a, t0)
		tx.Put(b, t0)
	})
	assert.Equal(t, int64(130), e.journal.liveBytes())
	var r *Released
	require.NoError(t, e.journal.Update(context.Background(), func(tx *Tx) error {
		r = tx.Release(tx.Trace(a.TraceID), []*Span{a}, t0, false)
		return nil
	}))
	assert.Equal(t, int64(130), e.journal.liveBytes(), "a released batch is still live until forgotten")
	require.NoError(t, e.Shutdown(context.Background()))
	e = startExtension(t, dir, nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	assert.Equal(t, int64(130), e.journal.liveBytes(), "replay counts the same bytes")
	require.NoError(t, e.journal.Update(context.Background(), func(tx *Tx) error {
		for _, r := range tx.Released(r.TraceID) {
			tx.Take(r)
			tx.Delivered(r, t0)
		}
		tx.ForgetExpired(t0.Add(1))
		return nil
	}))
	assert.Equal(t, int64(30), e.journal.liveBytes())
}

func TestPayloadCacheKeepsTheNewestWithinItsBudget(t *testing.T) {
	e := startExtension(t, t.TempDir(), func(c *Config) { c.PayloadCacheBytes = 1000 })
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	var spans []*Span
	for i := 0; i < 5; i++ {
		s := testSpan(byte(i+1), 1, SpanEnded)
		s.SetPayload(make([]byte, 300))
		spans = append(spans, s)
		require.NoError(t, e.journal.Update(context.Background(), func(tx *Tx) error {
			tx.Put(s, t0)
			return nil
		}))
	}
	e.journal.mu.Lock()
	var inMemory []bool
	for _, s := range spans {
		inMemory = append(inMemory, s.payload != nil)
		assert.False(t, s.at.IsZero(), "every payload is journaled")
	}
	e.journal.mu.Unlock()
	assert.Equal(t, []bool{false, false, true, true, true}, inMemory, "the three newest fit in 1000 bytes")
	assert.Equal(t, int64(900), e.journal.cachedBytes())
	got, err := e.journal.Payloads(spans)
	require.NoError(t, err)
	for i := range got {
		assert.Len(t, got[i], 300, "span %d reads back from memory or disk alike", i)
	}
}
