package wal

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	tidwall "github.com/tidwall/wal"
)

const (
	fixtureRecords = 300
	fixtureSegSize = 4096
)

// fixture writes the standard corruption fixture: records 1..300 (index ==
// id) over several 4 KiB segments.
func fixture(t *testing.T) (dir string, segs []segmentFile) {
	t.Helper()
	dir = t.TempDir()
	writeTestLog(t, dir, fixtureRecords, fixtureSegSize)
	segs = mustList(t, dir)
	require.GreaterOrEqual(t, len(segs), 5)
	return dir, segs
}

type repairCount struct {
	n     int
	bytes int64
	saved []string
}

func openCounting(dir string, truncate bool, rc *repairCount) (*Log, error) {
	return Open(Options{Dir: dir, SegmentSize: fixtureSegSize, TruncateCorrupt: truncate, Hooks: Hooks{
		OnRepair: func(_ string, cut int64, saved string) { rc.n++; rc.bytes += cut; rc.saved = append(rc.saved, saved) },
	}})
}

// checkOpen opens dir and expects records 1..last intact, then appends one
// more record and checks it gets last+1, and that a second open repairs
// nothing.
func checkOpen(t *testing.T, dir string, truncate bool, last uint64, wantRepairs int) {
	t.Helper()
	var rc repairCount
	l, err := openCounting(dir, truncate, &rc)
	require.NoError(t, err)
	require.Equal(t, wantRepairs, rc.n)
	require.Equal(t, last, l.LastIndex())
	got := replayAll(t, l)
	require.Len(t, got, int(last))
	checkIDs(t, got, 1, last)
	idx, err := submitWait(l, testRecord(last+1))
	require.NoError(t, err)
	require.Equal(t, last+1, idx)
	require.NoError(t, l.Close())

	rc = repairCount{}
	l, err = openCounting(dir, false, &rc)
	require.NoError(t, err)
	require.Zero(t, rc.n, "second open must be clean")
	checkIDs(t, replayAll(t, l), 1, last+1)
	require.NoError(t, l.Close())
}

// TestTornTailEveryOffset cuts the last segment at every byte offset of its
// last record.
func TestTornTailEveryOffset(t *testing.T) {
	base, segs := fixture(t)
	tail := segs[len(segs)-1]
	offs, size := entryOffsets(t, tail.path)
	lastOff := offs[len(offs)-1]
	for cut := lastOff; cut < size; cut++ {
		dir := copyDir(t, base)
		require.NoError(t, os.Truncate(filepath.Join(dir, tail.name()), int64(cut)))
		repairs := 0
		if cut > lastOff {
			repairs = 1
		}
		checkOpen(t, dir, false, fixtureRecords-1, repairs)
		torn := filesWithInfix(t, dir, ".torn-")
		require.Len(t, torn, repairs)
		if repairs == 1 {
			b, err := os.ReadFile(filepath.Join(dir, torn[0]))
			require.NoError(t, err)
			require.Equal(t, cut-lastOff, len(b), "cut bytes are kept beside the segment")
		}
	}
}

// TestTornNewSegment: a segment that holds only part of its first record.
func TestTornNewSegment(t *testing.T) {
	dir, _ := fixture(t)
	next := filepath.Join(dir, segmentName(fixtureRecords+1))
	entry := appendEntry(nil, testRecord(fixtureRecords+1), fixtureRecords+1)
	require.NoError(t, os.WriteFile(next, entry[:len(entry)/2], 0o640))
	checkOpen(t, dir, false, fixtureRecords, 1)
}

func TestCorruption(t *testing.T) {
	flip := func(path string, off int, mask byte) func(t *testing.T) {
		return func(t *testing.T) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[off] ^= mask
			require.NoError(t, os.WriteFile(path, b, 0o640))
		}
	}
	for _, tc := range []struct {
		name string
		// corrupt damages dir (a copy of the fixture); segs/offs describe it.
		corrupt func(t *testing.T, dir string, segs []segmentFile)
		// For a repairable tail: records left and repairs. For corruption
		// before the tail (wantCorrupt): records left with TruncateCorrupt.
		last        uint64
		repairs     int
		wantCorrupt bool
	}{
		{
			name: "zero-filled tail",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				f, err := os.OpenFile(segs[len(segs)-1].path, os.O_APPEND|os.O_WRONLY, 0)
				require.NoError(t, err)
				_, err = f.Write(make([]byte, 8192))
				require.NoError(t, err)
				require.NoError(t, f.Close())
			},
			last: fixtureRecords, repairs: 1,
		},
		{
			name: "last record zeroed in place",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				p := segs[len(segs)-1].path
				offs, size := entryOffsets(t, p)
				b, _ := os.ReadFile(p)
				clear(b[offs[len(offs)-1]:size])
				require.NoError(t, os.WriteFile(p, b, 0o640))
			},
			last: fixtureRecords - 1, repairs: 1,
		},
		{
			name: "garbage tail",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				g := make([]byte, 3000)
				r := rand.New(rand.NewPCG(1, 2))
				for i := range g {
					g[i] = byte(r.Uint32())
				}
				f, err := os.OpenFile(segs[len(segs)-1].path, os.O_APPEND|os.O_WRONLY, 0)
				require.NoError(t, err)
				_, err = f.Write(g)
				require.NoError(t, err)
				require.NoError(t, f.Close())
			},
			last: fixtureRecords, repairs: 1,
		},
		{
			name: "bit flip in last record",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				p := segs[len(segs)-1].path
				_, size := entryOffsets(t, p)
				flip(p, size-1, 0x01)(t)
			},
			last: fixtureRecords - 1, repairs: 1,
		},
		{
			// A power loss persisted the final (never fsynced, never
			// acknowledged) batch out of order: a hole, then its end.
			name: "hole in the unacknowledged final batch",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				p := segs[len(segs)-1].path
				offs := appendBatch(t, p, fixtureRecords+1, 5)
				zeroEntry(t, p, offs[1])
			},
			last: fixtureRecords + 1, repairs: 1,
		},
		{
			name: "hole in a batch that another batch followed",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				p := segs[len(segs)-1].path
				offs := appendBatch(t, p, fixtureRecords+1, 3)
				appendBatch(t, p, fixtureRecords+4, 2)
				zeroEntry(t, p, offs[1])
			},
			last: fixtureRecords + 1, wantCorrupt: true,
		},
		{
			name: "damaged batch end before the final batch",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				p := segs[len(segs)-1].path
				offs := appendBatch(t, p, fixtureRecords+1, 2)
				appendBatch(t, p, fixtureRecords+3, 2)
				zeroEntry(t, p, offs[1])
			},
			last: fixtureRecords + 1, wantCorrupt: true,
		},
		{
			name: "bit flip mid last segment",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				p := segs[len(segs)-1].path
				offs, _ := entryOffsets(t, p)
				require.Greater(t, len(offs), 4)
				flip(p, offs[2]+7, 0x20)(t) // inside the payload of the third record
			},
			last: segs0(t).tailIndex + 1, wantCorrupt: true,
		},
		{
			name: "flipped length prefix mid last segment",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				p := segs[len(segs)-1].path
				offs, _ := entryOffsets(t, p)
				flip(p, offs[2], 0x40)(t)
			},
			last: segs0(t).tailIndex + 1, wantCorrupt: true,
		},
		{
			name: "length prefix grown past the end of the file",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				p := segs[len(segs)-1].path
				offs, _ := entryOffsets(t, p)
				flip(p, offs[2], 0x80)(t) // now a multi-byte uvarint: a huge length
			},
			last: segs0(t).tailIndex + 1, wantCorrupt: true,
		},
		{
			name: "bit flip mid older segment",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				offs, _ := entryOffsets(t, segs[1].path)
				flip(segs[1].path, offs[3]+9, 0x80)(t)
			},
			last: segs0(t).seg1Index + 2, wantCorrupt: true,
		},
		{
			name: "truncated older segment",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				require.NoError(t, os.Truncate(segs[1].path, segs[1].size-10))
			},
			last: segs0(t).seg2Index - 2, wantCorrupt: true,
		},
		{
			name: "older segment missing its last record",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				offs, _ := entryOffsets(t, segs[1].path)
				require.NoError(t, os.Truncate(segs[1].path, int64(offs[len(offs)-1])))
			},
			last: segs0(t).seg2Index - 2, wantCorrupt: true,
		},
		{
			name: "missing middle segment",
			corrupt: func(t *testing.T, dir string, segs []segmentFile) {
				require.NoError(t, os.Remove(segs[2].path))
			},
			last: segs0(t).seg2Index - 1, wantCorrupt: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, segs := fixture(t)
			dir := copyDir(t, base)
			local := mustList(t, dir)
			require.Len(t, local, len(segs))
			tc.corrupt(t, dir, local)
			if !tc.wantCorrupt {
				checkOpen(t, dir, false, tc.last, tc.repairs)
				return
			}
			_, err := Open(Options{Dir: dir, SegmentSize: fixtureSegSize})
			require.ErrorIs(t, err, ErrCorruptRecord)
			require.ErrorContains(t, err, "TruncateCorrupt")
			require.NotContains(t, err.Error(), "truncate_corrupt", "the extension names its own configuration")
			require.ErrorContains(t, err, dir)
			t.Logf("operator sees: %v", err)
			// Opt in: the journal is cut there and everything later kept aside.
			var rc repairCount
			l, err := openCounting(dir, true, &rc)
			require.NoError(t, err)
			require.Equal(t, tc.last, l.LastIndex())
			checkIDs(t, replayAll(t, l), 1, tc.last)
			require.NotZero(t, rc.n)
			require.Len(t, filesWithInfix(t, dir, ".corrupt-"), rc.n)
			require.NoError(t, l.Close())
			checkOpen(t, dir, false, tc.last, 0)
		})
	}
}

type fixtureIndexes struct{ tailIndex, seg1Index, seg2Index uint64 }

// segs0 gives the first indexes of the fixture's segments (the fixture is
// deterministic) so the table can state expected results.
var fixtureIdx *fixtureIndexes

func segs0(t *testing.T) fixtureIndexes {
	if fixtureIdx == nil {
		dir := t.TempDir()
		writeTestLog(t, dir, fixtureRecords, fixtureSegSize)
		segs := mustList(t, dir)
		fixtureIdx = &fixtureIndexes{tailIndex: segs[len(segs)-1].index, seg1Index: segs[1].index, seg2Index: segs[2].index}
	}
	return *fixtureIdx
}

// TestFrontTruncationCrash recreates the states tidwall's TruncateFront
// and TruncateBack leave when the process dies half way.
func TestFrontTruncationCrash(t *testing.T) {
	base, segs := fixture(t)
	x := segs[2].index + 3 // new first index, inside segment 2
	offs, _ := entryOffsets(t, segs[2].path)
	seg2, err := os.ReadFile(segs[2].path)
	require.NoError(t, err)
	startData := seg2[offs[3]:]
	startName := segmentName(x) + ".START"

	// The START content we fake is what tidwall itself writes.
	{
		dir := copyDir(t, base)
		tl, err := tidwall.Open(dir, &tidwall.Options{SegmentSize: fixtureSegSize, NoSync: true})
		require.NoError(t, err)
		require.NoError(t, tl.TruncateFront(x))
		require.NoError(t, tl.Close())
		got, err := os.ReadFile(filepath.Join(dir, segmentName(x)))
		require.NoError(t, err)
		require.Equal(t, startData, got)
	}

	write := func(t *testing.T, dir, name string, b []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o640))
	}
	remove := func(t *testing.T, dir string, ss ...segmentFile) {
		for _, s := range ss {
			require.NoError(t, os.Remove(filepath.Join(dir, s.name())))
		}
	}
	for _, tc := range []struct {
		name        string
		setup       func(t *testing.T, dir string)
		first, last uint64
		wantErr     bool
	}{
		{"START written, nothing removed", func(t *testing.T, dir string) {
			write(t, dir, startName, startData)
		}, x, fixtureRecords, false},
		{"START written, first segment removed", func(t *testing.T, dir string) {
			write(t, dir, startName, startData)
			remove(t, dir, segs[0])
		}, x, fixtureRecords, false},
		{"START written, all older segments removed", func(t *testing.T, dir string) {
			write(t, dir, startName, startData)
			remove(t, dir, segs[0], segs[1], segs[2])
		}, x, fixtureRecords, false},
		{"START.TEMP only (crash while writing START)", func(t *testing.T, dir string) {
			write(t, dir, startName+".TEMP", startData[:len(startData)/2])
		}, 1, fixtureRecords, false},
		{"END written, later segments partly removed", func(t *testing.T, dir string) {
			offs, _ := entryOffsets(t, segs[2].path)
			write(t, dir, segs[2].name()+".END", seg2[:offs[3]])
			remove(t, dir, segs[len(segs)-1])
		}, 1, segs[2].index + 2, false},
		{"START and END", func(t *testing.T, dir string) {
			write(t, dir, startName, startData)
			write(t, dir, segs[3].name()+".END", nil)
		}, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, base)
			tc.setup(t, dir)
			l, err := Open(Options{Dir: dir, SegmentSize: fixtureSegSize})
			if tc.wantErr {
				require.ErrorIs(t, err, ErrCorrupt)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.first, l.FirstIndex())
			require.Equal(t, tc.last, l.LastIndex())
			got := replayAll(t, l)
			require.Len(t, got, int(tc.last-tc.first+1))
			checkIDs(t, got, tc.first, tc.last)
			require.NoError(t, l.Close())
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			for _, e := range ents {
				require.False(t, strings.Contains(e.Name(), ".START") || strings.Contains(e.Name(), ".END"), e.Name())
			}
		})
	}
}

// appendBatch appends records first..first+n-1 to a segment file the way the
// committer writes one batch, and returns their offsets.
func appendBatch(t *testing.T, path string, first uint64, n int) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var offs []int
	for i := 0; i < n; i++ {
		var end uint64
		if i == n-1 {
			end = first
		}
		offs = append(offs, len(b))
		b = appendEntry(b, testRecord(first+uint64(i)), end)
	}
	require.NoError(t, os.WriteFile(path, b, 0o640))
	return offs
}

// zeroEntry zeroes the entry at off in place, length prefix included.
func zeroEntry(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	_, n, err := decodeEntry(b[off:])
	require.NoError(t, err)
	clear(b[off : off+n])
	require.NoError(t, os.WriteFile(path, b, 0o640))
}
