package wal

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	tidwall "github.com/tidwall/wal"
)

// TestTidwallReadsOurSegments: the segment writer keeps tidwall/wal's binary format
// and segment rules. The same batches written by tidwall and by us give the same
// files, name for name and byte for byte; tidwall reads every record of a journal we
// wrote; and we open and append to one tidwall wrote.
func TestTidwallReadsOurSegments(t *testing.T) {
	const segSize = 1000
	batches := [][]uint64{{1}, {2, 3, 4}, {5}}
	for i := uint64(6); i <= 120; i++ {
		batches = append(batches, []uint64{i})
		if i%9 == 0 { // a batch that crosses the segment size mid-way
			batches[len(batches)-1] = append(batches[len(batches)-1], i+1000, i+2000)
		}
	}
	ours := t.TempDir()
	l, err := Open(Options{Dir: ours, SegmentSize: segSize})
	require.NoError(t, err)
	theirs := t.TempDir()
	tl, err := tidwall.Open(theirs, &tidwall.Options{SegmentSize: segSize, LogFormat: tidwall.Binary, NoSync: true})
	require.NoError(t, err)
	var want [][]byte
	idx := uint64(1)
	for _, ids := range batches {
		recs := make([]Record, len(ids))
		var tb tidwall.Batch
		first := idx
		for i, id := range ids {
			recs[i] = testRecord(id)
			var end uint64
			if i == len(ids)-1 {
				end = first
			}
			body := appendRecord(nil, recs[i], end)
			tb.Write(idx, body)
			want = append(want, body)
			idx++
		}
		_, err := submitWait(l, recs...)
		require.NoError(t, err)
		require.NoError(t, tl.WriteBatch(&tb))
	}
	require.NoError(t, l.Close())
	require.NoError(t, tl.Close())

	a, b := mustList(t, ours), mustList(t, theirs)
	require.Greater(t, len(a), 5, "several segments")
	require.Len(t, a, len(b))
	for i := range a {
		require.Equal(t, b[i].name(), a[i].name())
		require.Equal(t, readFile(t, b[i].path), readFile(t, a[i].path), "segment %s", a[i].name())
	}

	tl, err = tidwall.Open(ours, &tidwall.Options{SegmentSize: segSize, LogFormat: tidwall.Binary, NoSync: true})
	require.NoError(t, err)
	last, err := tl.LastIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(len(want)), last)
	for i, body := range want {
		got, err := tl.Read(uint64(i) + 1)
		require.NoError(t, err)
		require.Equal(t, body, got, "record %d", i+1)
	}
	require.NoError(t, tl.Close())

	l, err = Open(Options{Dir: theirs, SegmentSize: segSize})
	require.NoError(t, err)
	require.Len(t, replayAll(t, l), len(want))
	next, err := submitWait(l, testRecord(9999))
	require.NoError(t, err)
	require.Equal(t, uint64(len(want))+1, next)
	require.NoError(t, l.Close())
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
