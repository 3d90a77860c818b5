package wal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWriteReplayReopen(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	require.Equal(t, uint64(1), l.FirstIndex())
	require.Equal(t, uint64(0), l.LastIndex())
	for i := uint64(1); i <= 50; i++ {
		idx, err := submitWait(l, testRecord(i))
		require.NoError(t, err)
		require.Equal(t, i, idx)
	}
	require.Positive(t, l.Size())
	checkIDs(t, replayAll(t, l), 1, 50)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	_, err = submitWait(l, testRecord(51))
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, l.Replay(func(uint64, Record, Location) error { return nil }), ErrClosed)

	l, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, l.Close()) }()
	require.Equal(t, uint64(50), l.LastIndex())
	got := replayAll(t, l)
	require.Len(t, got, 50)
	checkIDs(t, got, 1, 50)
	idx, err := submitWait(l, testRecord(51), testRecord(52))
	require.NoError(t, err)
	require.Equal(t, uint64(52), idx)
}

// TestReplaySegmentsOfMixedSizes replays segments of very different sizes, a batch
// larger than the segment size between small ones: start-up reads every segment into
// one buffer (grown for the big one, then reused), and each record must still come
// back whole, from Open's verification and from Replay.
func TestReplaySegmentsOfMixedSizes(t *testing.T) {
	dir := t.TempDir()
	const segSize = 4 << 10
	l, err := Open(Options{Dir: dir, SegmentSize: segSize})
	require.NoError(t, err)
	want := map[uint64]Record{}
	var id uint64
	add := func(size int) Record {
		id++
		r := Record{Type: byte(id), Data: testPayload(id, size)}
		want[id] = r
		return r
	}
	for range 40 {
		_, err := submitWait(l, add(100))
		require.NoError(t, err)
	}
	big := make([]Record, 0, 8)
	for range 8 {
		big = append(big, add(3<<10)) // one batch of 24 KiB: a segment of its own, 6x the others
	}
	_, err = submitWait(l, big...)
	require.NoError(t, err)
	for range 40 {
		_, err := submitWait(l, add(50))
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	segs, err := listSegments(dir)
	require.NoError(t, err)
	require.Greater(t, len(segs), 3)

	l, err = Open(Options{Dir: dir, SegmentSize: segSize})
	require.NoError(t, err)
	defer func() { require.NoError(t, l.Close()) }()
	require.Equal(t, want, replayAll(t, l))
}

func TestOpenRejectsBadOptions(t *testing.T) {
	_, err := Open(Options{})
	require.Error(t, err)
	_, err = Open(Options{Dir: t.TempDir(), Sync: "sometimes"})
	require.ErrorContains(t, err, "sometimes")
	_, err = Open(Options{Dir: t.TempDir(), MinSyncInterval: -time.Millisecond})
	require.ErrorContains(t, err, "MinSyncInterval -1ms is negative")
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	_, err = Open(Options{Dir: dir})
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, l.Close())
	l, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestConcurrentWritersAndSubmitOrder(t *testing.T) {
	for _, tc := range []struct {
		policy   SyncPolicy
		interval time.Duration
	}{{SyncAlways, 0}, {SyncNever, 0}, {SyncAlways, 2 * time.Millisecond}} {
		t.Run(fmt.Sprintf("%s/min_sync_interval=%s", tc.policy, tc.interval), func(t *testing.T) {
			var commits, committed int
			l, err := Open(Options{Dir: t.TempDir(), Sync: tc.policy, MinSyncInterval: tc.interval, SegmentSize: 8 << 10, Hooks: Hooks{
				OnCommit: func(c Commit) { commits++; committed += c.Records },
			}})
			require.NoError(t, err)
			const writers, per = 16, 60
			var mu sync.Mutex
			owner := map[uint64]uint64{} // index -> id
			var wg sync.WaitGroup
			for g := uint64(0); g < writers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for s := uint64(0); s < per; s++ {
						id := g*1000 + s*2 + 1
						last, err := submitWait(l, testRecord(id), testRecord(id+1))
						if !assertNoError(t, err) {
							return
						}
						mu.Lock()
						owner[last-1], owner[last] = id, id+1
						mu.Unlock()
					}
				}()
			}
			// Submit from one goroutine: later submissions get higher indexes.
			var pend []*Pending
			for i := uint64(0); i < 100; i++ {
				pend = append(pend, l.Submit(testRecord(900000+i)))
			}
			var prev uint64
			for i, p := range pend {
				idx, err := p.Wait(context.Background())
				require.NoError(t, err)
				require.Greater(t, idx, prev)
				prev = idx
				mu.Lock()
				owner[idx] = 900000 + uint64(i)
				mu.Unlock()
			}
			wg.Wait()
			total := writers*per*2 + 100
			require.Len(t, owner, total, "no index handed out twice")
			require.Equal(t, uint64(total), l.LastIndex())
			got := replayAll(t, l)
			require.Len(t, got, total)
			for idx, id := range owner {
				require.Equal(t, testRecord(id), got[idx])
			}
			require.NoError(t, l.Close())
			require.Equal(t, total, committed)
			t.Logf("%d records in %d batches", committed, commits)
		})
	}
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

func TestSubmitEmptyAndWaitCanceled(t *testing.T) {
	dir := t.TempDir()
	f := &faults{dir: dir, entered: make(chan struct{}), release: make(chan struct{}), gate: true}
	l, err := Open(Options{Dir: dir, openStore: f.open})
	require.NoError(t, err)
	defer func() { require.NoError(t, l.Close()) }()
	idx, err := submitWait(l)
	require.NoError(t, err)
	require.Equal(t, uint64(0), idx)
	// The committer is held inside the Write: a waiter whose context ends
	// first gets the context's error, and the record is written all the same.
	p := l.Submit(testRecord(1))
	<-f.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled)
	close(f.release)
	idx, err = p.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(1), idx)
	idx, err = l.Submit().Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(1), idx)
}

// TestSegmentMirror checks that the writer's model of the tail segment (where
// the Locations of new records point, and when a segment is created) matches
// the files on disk after every batch.
func TestSegmentMirror(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, SegmentSize: 1000})
	require.NoError(t, err)
	for i := uint64(1); i <= 300; i++ {
		recs := []Record{testRecord(i)}
		if i%7 == 0 {
			recs = append(recs, testRecord(i+1000), testRecord(i+2000))
		}
		_, err := submitWait(l, recs...)
		require.NoError(t, err)
		segs := mustList(t, dir)
		w := l.st.(*segmentWriter)
		require.Equal(t, segs[len(segs)-1].size, w.size, "after %d", i)
		require.Equal(t, segs[len(segs)-1].index, w.tail, "after %d", i)
		var total int64
		for _, s := range segs {
			total += s.size
		}
		require.Equal(t, total, l.Size())
	}
	require.Greater(t, len(mustList(t, dir)), 10)
	require.NoError(t, l.Close())
}

func TestTruncateBefore(t *testing.T) {
	dir := t.TempDir()
	writeTestLog(t, dir, 400, 2048)
	l, err := Open(Options{Dir: dir, SegmentSize: 2048})
	require.NoError(t, err)
	segs := mustList(t, dir)
	require.Greater(t, len(segs), 5)

	n, err := l.TruncateBefore(segs[0].index) // nothing before the first segment
	require.NoError(t, err)
	require.Zero(t, n)

	mid := segs[3].index + 2 // inside segment 3: segments 0..2 go
	n, err = l.TruncateBefore(mid)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, segs[3].index, l.FirstIndex())
	got := replayAll(t, l)
	require.Len(t, got, int(400-segs[3].index+1))
	checkIDs(t, got, segs[3].index, 400)

	n, err = l.TruncateBefore(1 << 40) // everything but the tail segment
	require.NoError(t, err)
	require.Equal(t, len(segs)-4, n)
	require.Equal(t, segs[len(segs)-1].index, l.FirstIndex())
	require.Len(t, mustList(t, dir), 1, "the %d segments reported removed are gone from disk", len(segs)-1)
	require.NoError(t, l.Close())

	l, err = Open(Options{Dir: dir, SegmentSize: 2048})
	require.NoError(t, err)
	require.Equal(t, segs[len(segs)-1].index, l.FirstIndex())
	require.Equal(t, uint64(400), l.LastIndex())
	checkIDs(t, replayAll(t, l), segs[len(segs)-1].index, 400)
	require.NoError(t, l.Close())
}

// TestTruncateWhileAppending runs compaction concurrently with writers.
func TestTruncateWhileAppending(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, SegmentSize: 4096})
	require.NoError(t, err)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(1); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := submitWait(l, testRecord(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	removed := 0
	for removed < 20 {
		n, err := l.TruncateBefore(l.LastIndex())
		require.NoError(t, err)
		removed += n
		_, err = submitWait(l, testRecord(1))
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	first := l.FirstIndex()
	var n int
	require.NoError(t, l.Replay(func(i uint64, _ Record, _ Location) error {
		if i != first+uint64(n) {
			return errors.New("gap")
		}
		n++
		return nil
	}))
	require.Equal(t, l.LastIndex(), first+uint64(n)-1)
	require.NoError(t, l.Close())
}
