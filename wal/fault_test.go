package wal

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	errInjectedWrite = errors.New("injected: input/output error")
	errInjectedOpen  = errors.New("injected: open failed")
)

// faults is the fault-injection seam: it wraps every segment writer the Log
// opens (Options.openStore).
type faults struct {
	dir string

	mu        sync.Mutex
	opens     int
	failOpens int
	gate      bool          // block the next Write until release
	entered   chan struct{} // signalled when a gated Write starts
	release   chan struct{}
	failMode  string // what the next non-gated Write does: "", "before", "after", "torn", "sync"
	syncs     int    // fsyncs of segments that succeeded
	// duringSync, if set, runs once inside the next Sync before the fsync,
	// as if it happened while the fsync ran.
	duringSync func()
}

func (f *faults) open(dir string, segSize int) (store, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	if f.failOpens > 0 {
		f.failOpens--
		return nil, errInjectedOpen
	}
	st, err := openSegments(dir, segSize)
	if err != nil {
		return nil, err
	}
	return &faultStore{store: st, f: f}, nil
}

type faultStore struct {
	store
	f        *faults
	failSync bool
}

func (s *faultStore) Write(first uint64, entries []byte, sizes []int, starts []entryStart) ([]entryStart, bool, error) {
	f := s.f
	f.mu.Lock()
	if f.gate {
		f.gate = false
		f.mu.Unlock()
		f.entered <- struct{}{}
		<-f.release
		return s.store.Write(first, entries, sizes, starts)
	}
	mode := f.failMode
	f.failMode = ""
	f.mu.Unlock()
	switch mode {
	case "before": // nothing reached the file
		return starts, false, errInjectedWrite
	case "after": // everything reached the file, then the error
		starts, cycled, err := s.store.Write(first, entries, sizes, starts)
		if err != nil {
			return starts, cycled, err
		}
		return starts, cycled, errInjectedWrite
	case "torn": // the batch reached the file with its end torn off
		starts, cycled, err := s.store.Write(first, entries, sizes, starts)
		if err != nil {
			return starts, cycled, err
		}
		segs, err := listSegments(f.dir)
		if err != nil {
			return starts, cycled, err
		}
		last := segs[len(segs)-1]
		if err := os.Truncate(last.path, last.size-3); err != nil {
			return starts, cycled, err
		}
		return starts, cycled, errInjectedWrite
	case "sync":
		s.failSync = true
	}
	return s.store.Write(first, entries, sizes, starts)
}

func (s *faultStore) Sync() error {
	if s.failSync {
		s.failSync = false
		return errInjectedWrite
	}
	f := s.f
	f.mu.Lock()
	during := f.duringSync
	f.duringSync = nil
	f.mu.Unlock()
	if during != nil {
		during()
	}
	if err := s.store.Sync(); err != nil {
		return err
	}
	f.mu.Lock()
	f.syncs++
	f.mu.Unlock()
	return nil
}

// TestWriteErrorReachesEveryWaiter: a failed batch fails every caller in
// it, the log is reopened from disk and no index is handed out twice.
func TestWriteErrorReachesEveryWaiter(t *testing.T) {
	const waiters = 6
	for _, tc := range []struct {
		mode      string
		failOpens int
		survivors uint64 // records of the failed batch still on disk
	}{
		{"before", 0, 0},
		{"after", 0, waiters},
		{"torn", 0, waiters - 1},
		{"sync", 0, waiters},
		{"after", 2, waiters}, // the reopen fails twice: next batch gets ErrUnavailable
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			f := &faults{dir: dir, entered: make(chan struct{}), release: make(chan struct{})}
			var repairs int
			l, err := Open(Options{Dir: dir, openStore: f.open, Hooks: Hooks{OnRepair: func(string, int64, string) { repairs++ }}})
			require.NoError(t, err)
			defer func() { require.NoError(t, l.Close()) }()
			returned := map[uint64]bool{}
			idx, err := submitWait(l, testRecord(1))
			require.NoError(t, err)
			returned[idx] = true

			// Hold the committer inside one Write so that the next
			// batch collects all the waiters.
			f.mu.Lock()
			f.gate = true
			f.mu.Unlock()
			p0 := l.Submit(testRecord(2))
			<-f.entered
			var pend []*Pending
			for i := uint64(0); i < waiters; i++ {
				pend = append(pend, l.Submit(testRecord(100+i)))
			}
			f.mu.Lock()
			f.failMode = tc.mode
			f.failOpens = tc.failOpens
			f.mu.Unlock()
			close(f.release)

			idx, err = p0.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, uint64(2), idx)
			returned[idx] = true
			for _, p := range pend {
				_, err := p.Wait(context.Background())
				require.ErrorIs(t, err, errInjectedWrite, "every waiter of the batch gets the error")
			}

			if tc.failOpens > 0 {
				_, err := submitWait(l, testRecord(200))
				require.ErrorIs(t, err, ErrUnavailable)
				require.ErrorIs(t, err, errInjectedOpen)
			}
			// The log was reopened and continues after whatever survived.
			want := 2 + tc.survivors + 1
			idx, err = submitWait(l, testRecord(300))
			require.NoError(t, err)
			require.Equal(t, want, idx)
			require.False(t, returned[idx], "index %d reused", idx)
			returned[idx] = true
			f.mu.Lock()
			require.Equal(t, 2+tc.failOpens, f.opens, "closed and reopened")
			f.mu.Unlock()
			if tc.mode == "torn" {
				require.Equal(t, 1, repairs, "the torn batch tail was cut on reopen")
			}

			// Replay tolerates the unacknowledged survivors of the batch.
			got := replayAll(t, l)
			require.Len(t, got, int(want))
			require.Equal(t, testRecord(1), got[1])
			require.Equal(t, testRecord(2), got[2])
			for i := uint64(0); i < tc.survivors; i++ {
				require.Equal(t, testRecord(100+i), got[3+i])
			}
			require.Equal(t, testRecord(300), got[want])
		})
	}
}

// TestCloseFailsQueued: Close lets the batch being written finish and
// fails every record still queued with ErrClosed.
func TestCloseFailsQueued(t *testing.T) {
	dir := t.TempDir()
	f := &faults{dir: dir, entered: make(chan struct{}), release: make(chan struct{}), gate: true}
	l, err := Open(Options{Dir: dir, openStore: f.open})
	require.NoError(t, err)
	p0 := l.Submit(testRecord(1))
	<-f.entered
	p1 := l.Submit(testRecord(2))
	closed := make(chan error)
	go func() { closed <- l.Close() }()
	for !l.isClosed() {
		// Close sets the flag before it waits for the committer.
		runtimeGosched()
	}
	close(f.release)
	require.NoError(t, <-closed)
	idx, err := p0.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(1), idx)
	_, err = p1.Wait(context.Background())
	require.ErrorIs(t, err, ErrClosed)
	_, err = l.Submit(testRecord(3)).Wait(context.Background())
	require.ErrorIs(t, err, ErrClosed)
}
