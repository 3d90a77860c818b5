package wal

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is Options.now and Options.after for the MinSyncInterval tests: time
// moves only when the test moves it, and every wait the committer starts is handed
// to the test (waits), which ends it with end.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits chan fakeWait
}

type fakeWait struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock() *fakeClock {
	// Buffered: a wait the test does not expect must not block the committer, so
	// the test can see it and fail instead of hanging.
	return &fakeClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), waits: make(chan fakeWait, 4)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) after(d time.Duration) <-chan time.Time {
	w := fakeWait{d: d, fire: make(chan time.Time, 1)}
	c.waits <- w
	return w.fire
}

// end lets the wait's time pass and ends it.
func (c *fakeClock) end(w fakeWait) {
	c.advance(w.d)
	w.fire <- c.now()
}

// syncIntervalLog opens a log with MinSyncInterval on the fake clock and the fault
// seam; every commit is sent on the returned channel.
func syncIntervalLog(t *testing.T, interval time.Duration) (*Log, *faults, *fakeClock, chan Commit) {
	t.Helper()
	dir := t.TempDir()
	f := &faults{dir: dir}
	clk := newFakeClock()
	commits := make(chan Commit, 16)
	l, err := Open(Options{
		Dir: dir, MinSyncInterval: interval, openStore: f.open, now: clk.now, after: clk.after,
		Hooks: Hooks{OnCommit: func(c Commit) { commits <- c }},
	})
	require.NoError(t, err)
	return l, f, clk, commits
}

// waitUnheld waits for p and fails if the committer held its batch back instead.
// Only for a batch after which nothing is queued: the hold of a later batch would
// look the same.
func waitUnheld(t *testing.T, clk *fakeClock, p *Pending) uint64 {
	t.Helper()
	done := make(chan struct{})
	var idx uint64
	var err error
	go func() {
		idx, err = p.Wait(context.Background())
		close(done)
	}()
	select {
	case <-done:
	case w := <-clk.waits:
		t.Fatalf("the batch was held back %s; it should have been written at once", w.d)
	}
	require.NoError(t, err)
	return idx
}

func (f *faults) syncCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs
}

func (f *faults) setDuringSync(fn func()) {
	f.mu.Lock()
	f.duringSync = fn
	f.mu.Unlock()
}

// expectHold returns the wait the committer starts for p's batch, and fails if the
// batch is written without one.
func expectHold(t *testing.T, clk *fakeClock, p *Pending) fakeWait {
	t.Helper()
	select {
	case w := <-clk.waits:
		return w
	case <-p.b.done:
		t.Fatal("the batch was written at once; it should have been held back")
	}
	return fakeWait{}
}

func requireNotDone(t *testing.T, p *Pending, what string) {
	t.Helper()
	select {
	case <-p.b.done:
		t.Fatalf("%s returned before its batch was written", what)
	default:
	}
}

// TestMinSyncIntervalSharesFsync: a record submitted sooner than MinSyncInterval
// after an fsync began (while it runs, or after) is held until then, the records
// submitted meanwhile join it, and all of them are made durable by one fsync; a
// record submitted after a quiet interval is written at once.
func TestMinSyncIntervalSharesFsync(t *testing.T) {
	const interval = 5 * time.Millisecond
	l, f, clk, commits := syncIntervalLog(t, interval)
	defer func() { require.NoError(t, l.Close()) }()

	// No fsync running: the first record is written at once.
	var pB *Pending
	f.setDuringSync(func() { pB = l.Submit(testRecord(2)) })
	idx, err := submitWait(l, testRecord(1))
	require.NoError(t, err)
	require.Equal(t, uint64(1), idx)
	c := <-commits
	require.Equal(t, 1, c.Submits)
	require.Zero(t, c.Held)
	require.Equal(t, 1, f.syncCount())

	// Record 2 arrived during that fsync: its batch is held for the whole
	// interval (the fake clock did not move during the fsync).
	w := expectHold(t, clk, pB)
	require.Equal(t, interval, w.d)
	pC := l.Submit(testRecord(3), testRecord(4))
	pD := l.Submit(testRecord(5))
	requireNotDone(t, pB, "record 2")
	requireNotDone(t, pC, "records 3-4")
	require.Equal(t, 1, f.syncCount(), "no fsync while the batch is held")
	clk.end(w)
	for _, c := range []struct {
		p    *Pending
		last uint64
	}{{pB, 2}, {pC, 4}, {pD, 5}} {
		idx, err := c.p.Wait(context.Background())
		require.NoError(t, err)
		require.Equal(t, c.last, idx)
	}
	c = <-commits
	require.Equal(t, 4, c.Records)
	require.Equal(t, 3, c.Submits, "three Submits share one fsync")
	require.Equal(t, interval, c.Held)
	require.Equal(t, 2, f.syncCount())

	// A record 1 ms after that fsync began is held for the rest of the interval,
	// though nothing else is queued: fsyncs start at least the interval apart.
	clk.advance(time.Millisecond)
	p6 := l.Submit(testRecord(6))
	w = expectHold(t, clk, p6)
	require.Equal(t, interval-time.Millisecond, w.d)
	clk.end(w)
	idx, err = p6.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(6), idx)
	require.Equal(t, interval-time.Millisecond, (<-commits).Held)

	// After a quiet interval a record is written at once.
	clk.advance(interval)
	require.Equal(t, uint64(7), waitUnheld(t, clk, l.Submit(testRecord(7))))
	c = <-commits
	require.Equal(t, 1, c.Records)
	require.Zero(t, c.Held)
	require.Equal(t, 4, f.syncCount())
	checkIDs(t, replayAll(t, l), 1, 7)
}

// TestMinSyncIntervalCountsFromTheFsyncStart: the hold ends MinSyncInterval after
// the previous fsync began, so a slow fsync shortens it and one slower than the
// interval leaves nothing to wait.
func TestMinSyncIntervalCountsFromTheFsyncStart(t *testing.T) {
	const interval = 5 * time.Millisecond
	for _, tc := range []struct {
		fsync, hold time.Duration
	}{{2 * time.Millisecond, 3 * time.Millisecond}, {interval, 0}, {7 * time.Millisecond, 0}} {
		t.Run(tc.fsync.String(), func(t *testing.T) {
			l, f, clk, commits := syncIntervalLog(t, interval)
			defer func() { require.NoError(t, l.Close()) }()
			var p2 *Pending
			f.setDuringSync(func() {
				p2 = l.Submit(testRecord(2))
				clk.advance(tc.fsync)
			})
			_, err := submitWait(l, testRecord(1))
			require.NoError(t, err)
			require.Zero(t, (<-commits).Held)
			if tc.hold == 0 {
				require.Equal(t, uint64(2), waitUnheld(t, clk, p2))
			} else {
				w := expectHold(t, clk, p2)
				require.Equal(t, tc.hold, w.d)
				requireNotDone(t, p2, "record 2")
				clk.end(w)
				idx, err := p2.Wait(context.Background())
				require.NoError(t, err)
				require.Equal(t, uint64(2), idx)
			}
			require.Equal(t, tc.hold, (<-commits).Held)
			require.Equal(t, 2, f.syncCount())
		})
	}
}

// TestMinSyncIntervalZeroWritesAtOnce: with MinSyncInterval 0 a record submitted
// during an fsync is written as soon as that fsync is done, as without the option.
func TestMinSyncIntervalZeroWritesAtOnce(t *testing.T) {
	l, f, clk, commits := syncIntervalLog(t, 0)
	defer func() { require.NoError(t, l.Close()) }()
	var p2 *Pending
	f.setDuringSync(func() { p2 = l.Submit(testRecord(2)) })
	waitUnheld(t, clk, l.Submit(testRecord(1)))
	require.Equal(t, uint64(2), waitUnheld(t, clk, p2))
	for range 2 {
		c := <-commits
		require.Equal(t, 1, c.Records)
		require.Zero(t, c.Held)
	}
	require.Equal(t, 2, f.syncCount())
}

// TestCloseWhileHeld: Close during the hold returns without waiting for the
// interval, and every caller of the held batch gets ErrClosed: none returns
// success for a record that was not fsynced.
func TestCloseWhileHeld(t *testing.T) {
	l, f, clk, commits := syncIntervalLog(t, 5*time.Millisecond)
	var p2 *Pending
	f.setDuringSync(func() { p2 = l.Submit(testRecord(2)) })
	_, err := submitWait(l, testRecord(1))
	require.NoError(t, err)
	require.Zero(t, (<-commits).Held)
	expectHold(t, clk, p2) // never ended
	p3 := l.Submit(testRecord(3))
	require.NoError(t, l.Close())
	for _, p := range []*Pending{p2, p3} {
		_, err := p.Wait(context.Background())
		require.ErrorIs(t, err, ErrClosed)
	}
	require.Equal(t, 1, f.syncCount())
	require.Empty(t, commits)

	l, err = Open(Options{Dir: f.dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, l.Close()) }()
	got := replayAll(t, l)
	require.Len(t, got, 1, "the held records were never written")
	checkIDs(t, got, 1, 1)
}
