package wal

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLocationsReadBack checks that the locations Submit and Replay hand out
// name each record's Data exactly, across segment cycles (before and inside a
// batch), a reopen and a truncation.
func TestLocationsReadBack(t *testing.T) {
	dir := t.TempDir()
	const segSize = 4096
	l, err := Open(Options{Dir: dir, SegmentSize: segSize})
	require.NoError(t, err)
	want := map[uint64]Location{}
	id := uint64(0)
	for batch := 1; batch <= 60; batch++ {
		recs := make([]Record, 1+batch%7)
		for i := range recs {
			id++
			recs[i] = testRecord(id)
			recs[i].Data = testPayload(id, 20+int(id*37%400))
		}
		p := l.Submit(recs...)
		last, err := p.Wait(context.Background())
		require.NoError(t, err)
		locs := p.Locations()
		require.Len(t, locs, len(recs))
		for i, loc := range locs {
			got, err := l.ReadAt(loc)
			require.NoError(t, err)
			require.Equal(t, recs[i].Data, got, "record %d", last-uint64(len(recs)-1-i))
			want[last-uint64(len(recs)-1-i)] = loc
		}
	}
	segs, err := listSegments(dir)
	require.NoError(t, err)
	require.Greater(t, len(segs), 3, "the test must cross segments")
	require.NoError(t, l.Close())

	l, err = Open(Options{Dir: dir, SegmentSize: segSize})
	require.NoError(t, err)
	defer func() { require.NoError(t, l.Close()) }()
	n := 0
	require.NoError(t, l.Replay(func(i uint64, r Record, at Location) error {
		require.Equal(t, want[i], at, "record %d", i)
		got, err := l.ReadAt(at)
		require.NoError(t, err)
		require.Equal(t, r.Data, got)
		n++
		return nil
	}))
	require.Equal(t, int(id), n)

	// Appending after the reopen continues the tail segment's offsets.
	p := l.Submit(testRecord(id + 1))
	_, err = p.Wait(context.Background())
	require.NoError(t, err)
	got, err := l.ReadAt(p.Locations()[0])
	require.NoError(t, err)
	require.Equal(t, testRecord(id+1).Data, got)

	// A truncated segment's locations fail to read; later ones still read.
	_, err = l.TruncateBefore(id)
	require.NoError(t, err)
	_, err = l.ReadAt(want[1])
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrClosed), "%v", err)
	got, err = l.ReadAt(want[id])
	require.NoError(t, err)
	require.Equal(t, testPayload(id, 20+int(id*37%400)), got)
}
