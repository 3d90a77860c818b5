package wal

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// testPayload is the deterministic payload of the record written as id.
func testPayload(id uint64, size int) []byte {
	p := make([]byte, size)
	copy(p, fmt.Sprintf("id=%d;", id))
	for i := len(fmt.Sprintf("id=%d;", id)); i < size; i++ {
		p[i] = byte(id*31 + uint64(i)*7)
	}
	return p
}

func testRecord(id uint64) Record {
	return Record{Type: byte(id % 251), Data: testPayload(id, 20+int(id%97))}
}

// submitWait submits recs and waits until they are durable, as the spanjournal
// extension writes.
func submitWait(l *Log, recs ...Record) (uint64, error) {
	return l.Submit(recs...).Wait(context.Background())
}

// writeTestLog writes n records (ids 1..n, so id == index) and closes.
func writeTestLog(t testing.TB, dir string, n int, segSize int) {
	t.Helper()
	l, err := Open(Options{Dir: dir, SegmentSize: segSize})
	require.NoError(t, err)
	for i := 1; i <= n; i++ {
		idx, err := submitWait(l, testRecord(uint64(i)))
		require.NoError(t, err)
		require.Equal(t, uint64(i), idx)
	}
	require.NoError(t, l.Close())
}

// replayAll returns the records of dir by index.
func replayAll(t testing.TB, l *Log) map[uint64]Record {
	t.Helper()
	got := map[uint64]Record{}
	var prev uint64
	require.NoError(t, l.Replay(func(i uint64, r Record, _ Location) error {
		if prev != 0 && i != prev+1 {
			return fmt.Errorf("index %d after %d", i, prev)
		}
		prev = i
		got[i] = Record{Type: r.Type, Data: bytes.Clone(r.Data)}
		return nil
	}))
	return got
}

// checkIDs asserts that records 1..n of a log written by writeTestLog are
// present and intact.
func checkIDs(t testing.TB, got map[uint64]Record, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		r, ok := got[i]
		require.Truef(t, ok, "record %d missing", i)
		require.Equal(t, testRecord(i), r, "record %d", i)
	}
}

func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o640))
	}
	return dst
}

func mustList(t testing.TB, dir string) []segmentFile {
	t.Helper()
	segs, err := listSegments(dir)
	require.NoError(t, err)
	return segs
}

// entryOffsets returns the byte offset of every entry in a segment file.
func entryOffsets(t testing.TB, path string) (offs []int, size int) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for off := 0; off < len(data); {
		_, n, err := decodeEntry(data[off:])
		require.NoError(t, err)
		offs = append(offs, off)
		off += n
	}
	return offs, len(data)
}

func filesWithInfix(t testing.TB, dir, infix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if bytes.Contains([]byte(e.Name()), []byte(infix)) {
			out = append(out, e.Name())
		}
	}
	return out
}

func runtimeGosched() { runtime.Gosched() }
