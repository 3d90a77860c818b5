package wal

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// store is the seam between the committer and the segment files: the handful of
// calls the committer makes. Tests wrap it to make Write or Sync fail (see
// Options.openStore).
type store interface {
	// Write appends entries, the framed entries (length prefix and record) of the
	// records first, first+1, ..., one per sizes element, sizes[i] long. It appends
	// where each entry starts to starts and says whether it started a segment: the
	// writer alone decides where segments begin.
	Write(first uint64, entries []byte, sizes []int, starts []entryStart) ([]entryStart, bool, error)
	Sync() error
	LastIndex() (uint64, error)
	Close() error
}

// openStoreFunc opens the segment files in dir. The default is openSegments.
type openStoreFunc func(dir string, segmentSize int) (store, error)

// segmentNameLen is the length of a tidwall segment file name: the first
// index as 20 zero-padded decimal digits.
const segmentNameLen = 20

func segmentName(index uint64) string { return fmt.Sprintf("%020d", index) }

// segmentFile is one segment file found in the journal directory.
type segmentFile struct {
	index uint64 // first index, from the file name
	path  string
	size  int64
}

func (s segmentFile) name() string { return filepath.Base(s.path) }

// listSegments returns the segment files in dir in index order. Files that
// are not exactly a 20-digit name (leftovers, saved cut bytes, LOCK) are
// ignored, the same rule tidwall/wal uses.
func listSegments(dir string) ([]segmentFile, error) {
	ents, err := os.ReadDir(dir) // sorted by name = by index (zero padded)
	if err != nil {
		return nil, err
	}
	var segs []segmentFile
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) != segmentNameLen {
			continue
		}
		idx, err := strconv.ParseUint(name, 10, 64)
		if err != nil || idx == 0 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		segs = append(segs, segmentFile{index: idx, path: filepath.Join(dir, name), size: info.Size()})
	}
	return segs, nil
}

// syncDir fsyncs a directory so that file creations, renames and removals in
// it survive a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFileSync writes data to a new file at path and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readSegment reads the segment file at path into buf, which it grows when the file
// is larger, and returns the file's bytes. Start-up reads every segment twice (Open
// verifies, Replay decodes): one buffer for all of them, instead of a new one per
// file, keeps a journal of gigabytes from being allocated (and collected) twice.
func readSegment(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := int(st.Size())
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return buf, nil
}
