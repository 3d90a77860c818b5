package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Location is where a record's Data lies on disk: the segment that holds it
// (named by the segment's first index), the byte offset of Data in that
// segment file and its length. Submit's Pending.Locations and Replay hand
// them out, so that an owner can keep only the location of a large payload
// in memory and read it back with ReadAt while the record is still in the
// journal. A location goes stale when TruncateBefore removes its segment.
type Location struct {
	Segment uint64
	Offset  uint32
	Size    uint32
}

// Before orders locations as the records were written.
func (a Location) Before(b Location) bool {
	if a.Segment != b.Segment {
		return a.Segment < b.Segment
	}
	return a.Offset < b.Offset
}

// IsZero says whether a is the zero Location (no record).
func (a Location) IsZero() bool { return a == Location{} }

// Slice returns the location of n bytes at offset off within a's bytes.
func (a Location) Slice(off, n int) Location {
	return Location{Segment: a.Segment, Offset: a.Offset + uint32(off), Size: uint32(n)}
}

// readers keeps one read-only file per segment for ReadAt. Reads use pread on
// their own descriptor, never tidwall's (tidwall/wal issue #34), and the
// committer only appends, so bytes of a record already written never change
// under a reader.
type readers struct {
	mu    sync.Mutex
	files map[uint64]*os.File
}

func (r *readers) get(dir string, segment uint64) (*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.files[segment]; f != nil {
		return f, nil
	}
	f, err := os.Open(filepath.Join(dir, segmentName(segment)))
	if err != nil {
		return nil, err
	}
	if r.files == nil {
		r.files = map[uint64]*os.File{}
	}
	r.files[segment] = f
	return f, nil
}

// drop closes the descriptors of segments before first (removed by
// TruncateBefore), or of all segments when all is set (Close). A read still
// in flight on one of them finishes or fails with os.ErrClosed; the owner
// must not read locations it has moved off a truncated segment.
func (r *readers) drop(first uint64, all bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for seg, f := range r.files {
		if all || seg < first {
			_ = f.Close() // read-only: nothing to flush
			delete(r.files, seg)
		}
	}
}

// ReadAt returns a copy of the bytes at loc (a Location from
// Pending.Locations or Replay, or a Slice of one). It may run concurrently
// with Submit and with other reads. It does not verify the record's
// checksum: Open verified every record written before it, the rest were
// written by this process; a caller must treat the bytes as untrusted input.
func (l *Log) ReadAt(loc Location) ([]byte, error) {
	f, err := l.readers.get(l.dir, loc.Segment)
	if err != nil {
		return nil, fmt.Errorf("wal: reading segment %s: %w", segmentName(loc.Segment), err)
	}
	buf := make([]byte, loc.Size)
	if _, err := f.ReadAt(buf, int64(loc.Offset)); err != nil {
		return nil, fmt.Errorf("wal: reading %d bytes at offset %d of segment %s: %w", loc.Size, loc.Offset, segmentName(loc.Segment), err)
	}
	return buf, nil
}
