package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// segmentWriter is the default store: it appends entries to the tail segment file
// itself, in tidwall/wal v1.2.1's binary format and with its segment rules (file
// names, where a new segment starts), so a journal stays readable by tidwall/wal and
// by a journal written with it (TestTidwallReadsOurSegments). It replaces tidwall's
// writer because tidwall keeps an in-memory copy of the whole tail segment that
// grows by append: with 10 GB written it allocated 62 GB (every growth copies the
// segment so far), half of the collector's allocations, which held RSS and CPU up.
// This writer keeps nothing but the open file and two counters.
//
// Only the committer goroutine uses it (and Close once the committer exited).
type segmentWriter struct {
	dir     string
	segSize int64
	f       *os.File // the tail segment, open for appending
	tail    uint64   // first index of the tail segment
	size    int64    // bytes in the tail segment
	last    uint64   // index of the last entry written; tail-1 when the tail is empty
}

// segmentPerms are tidwall's default file permissions.
const segmentPerms = 0o640

// openSegments opens the journal in dir, already repaired (recovery.run): it counts
// the entries of the last segment and appends to it, or creates the first segment,
// named 1, in an empty directory.
func openSegments(dir string, segmentSize int) (store, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	w := &segmentWriter{dir: dir, segSize: int64(segmentSize)}
	if len(segs) == 0 {
		return w, w.create(1)
	}
	tail := segs[len(segs)-1]
	data, err := os.ReadFile(tail.path)
	if err != nil {
		return nil, err
	}
	sc := scanSegment(data) // recovery verified it; this counts its records
	if sc.bad != nil {
		return nil, fmt.Errorf("segment %s: %w", tail.path, sc.bad)
	}
	if w.f, err = os.OpenFile(tail.path, os.O_WRONLY|os.O_APPEND, segmentPerms); err != nil {
		return nil, err
	}
	w.tail, w.size, w.last = tail.index, int64(len(data)), tail.index+uint64(sc.count)-1
	return w, nil
}

// create starts the segment whose first entry is index.
func (w *segmentWriter) create(index uint64) error {
	f, err := os.OpenFile(filepath.Join(w.dir, segmentName(index)), os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, segmentPerms)
	if err != nil {
		return err
	}
	w.f, w.tail, w.size, w.last = f, index, 0, index-1
	return nil
}

// cycle syncs and closes the tail segment and starts the next, as tidwall does.
func (w *segmentWriter) cycle() error {
	if err := w.f.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	w.f = nil
	return w.create(w.last + 1)
}

// entryStart is where an entry begins: its segment (by first index) and byte offset.
type entryStart struct {
	segment uint64
	offset  int64
}

// Write appends entries, the framed entries of records first.. in order; sizes
// holds each one's length. It appends where each entry starts to starts, and
// reports whether it started a new segment. Like tidwall, it starts a new segment
// before the batch when the tail is already past the segment size, and after any
// entry that brings the tail to the segment size or past it.
func (w *segmentWriter) Write(first uint64, entries []byte, sizes []int, starts []entryStart) ([]entryStart, bool, error) {
	if w.f == nil {
		return starts, false, errors.New("wal: segment writer is closed")
	}
	if first != w.last+1 {
		return starts, false, fmt.Errorf("wal: writing index %d after %d", first, w.last)
	}
	cycled := false
	if w.size > w.segSize {
		if err := w.cycle(); err != nil {
			return starts, cycled, err
		}
		cycled = true
	}
	begin, end := 0, 0
	for _, n := range sizes {
		starts = append(starts, entryStart{segment: w.tail, offset: w.size})
		end += n
		w.size += int64(n)
		w.last++
		if w.size >= w.segSize {
			if err := w.write(entries[begin:end]); err != nil {
				return starts, cycled, err
			}
			begin = end
			if err := w.cycle(); err != nil {
				return starts, cycled, err
			}
			cycled = true
		}
	}
	return starts, cycled, w.write(entries[begin:end])
}

func (w *segmentWriter) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := w.f.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}

func (w *segmentWriter) Sync() error {
	if w.f == nil {
		return errors.New("wal: segment writer is closed")
	}
	return w.f.Sync()
}

func (w *segmentWriter) LastIndex() (uint64, error) { return w.last, nil }

func (w *segmentWriter) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
