package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// segmentScan is the result of decoding one segment file front to back.
type segmentScan struct {
	count    int   // checksum-valid records before the first bad one
	good     int   // byte offset just past those records
	maxEntry int   // largest valid entry seen, sizes the resync window
	bad      error // why decoding stopped at good; nil if the whole file is valid
}

func scanSegment(data []byte) segmentScan {
	var s segmentScan
	for s.good < len(data) {
		_, n, err := decodeEntry(data[s.good:])
		if err != nil {
			s.bad = err
			return s
		}
		s.good += n
		s.count++
		s.maxEntry = max(s.maxEntry, n)
	}
	return s
}

// minResyncWindow bounds how far past a bad record nextValid searches at
// unaligned offsets (a damaged length prefix hides the records behind it
// from the aligned walk).
const minResyncWindow = 1 << 20

// nextValid returns the offset of the first checksum-valid record at or
// after off, or -1. It first walks the length prefixes (a bit flip inside a
// record leaves its prefix intact), then tries every byte offset within
// window, accepting a candidate only if it ends the file or is followed by
// another valid record, so random bytes that happen to match a CRC do not
// count.
func nextValid(data []byte, off, window int) int {
	for o := off; o < len(data); {
		_, n, err := decodeEntry(data[o:])
		if err == nil {
			return o
		}
		if n == 0 {
			break
		}
		o += n
	}
	end := min(len(data), off+window)
	for o := off + 1; o < end; o++ {
		_, n, err := decodeEntry(data[o:])
		if err != nil {
			continue
		}
		if o+n == len(data) {
			return o
		}
		if _, _, err := decodeEntry(data[o+n:]); err == nil {
			return o
		}
	}
	return -1
}

// isTornTail decides whether the bad bytes of the last segment from offset
// good on (d is the index the first bad record has) are what an interrupted
// final batch left behind (cut them) or damage to a batch that had been
// fsynced (refuse to start).
//
// The committer writes a batch only after the previous batch's fsync
// returned, so only the final batch can be partly on disk, and after a
// power loss in any page order: holes, then valid records. Every batch ends
// with a record flagged as batch end that names the batch's first index.
// The damage is torn iff the valid records after it contain no batch end,
// or the first batch end closes a batch that began at or before d and no
// valid record follows it. Otherwise a later batch exists, so the damaged
// batch had been fsynced and acknowledged.
func isTornTail(data []byte, good int, d uint64, maxEntry int) bool {
	allZero := true
	for _, c := range data[good:] {
		if c != 0 {
			allZero = false
			break
		}
	}
	if allZero { // a power loss that extended the file but not its data
		return true
	}
	window := max(2*maxEntry, minResyncWindow)
	for off := nextValid(data, good, window); off >= 0; {
		e, n, _ := decodeEntry(data[off:])
		if e.batchFirst != 0 {
			if e.batchFirst > d {
				return false
			}
			return nextValid(data, off+n, window) < 0
		}
		off = nextValid(data, off+n, window)
	}
	return true
}

// recovery runs before tidwall/wal opens the directory: tidwall's Open
// fails on a torn last entry and never checks older segments at all.
type recovery struct {
	dir             string
	truncateCorrupt bool
	log             *zap.Logger
	onRepair        func(segment string, cutBytes int64, savedAs string)
	now             func() time.Time
}

func (rc *recovery) stamp() string {
	return rc.now().UTC().Format("20060102T150405.000000000Z")
}

// run makes the directory safe for tidwall/wal to open. With full it
// verifies every record of every segment (Open); otherwise only the last
// segment (reopen after a write error). It returns the segment list after
// repair.
func (rc *recovery) run(full bool) ([]segmentFile, error) {
	if err := resolveLeftovers(rc.dir, rc.log); err != nil {
		return nil, err
	}
	segs, err := listSegments(rc.dir)
	if err != nil || len(segs) == 0 {
		return segs, err
	}
	start := len(segs) - 1
	if full {
		start = 0
	}
	maxEntry := 0
	expected := segs[start].index
	var data []byte // one buffer for every segment (readSegment)
	for i := start; i < len(segs); i++ {
		seg := segs[i]
		if seg.index != expected {
			prev := segs[i-1]
			cause := fmt.Errorf("segment %s should start at index %d (the previous segment %s holds %d..%d)",
				seg.name(), expected, prev.name(), prev.index, expected-1)
			if err := rc.corrupt(segs, i-1, int(prev.size), nil, expected, cause); err != nil {
				return nil, err
			}
			return segs[:i], nil
		}
		data, err = readSegment(data, seg.path)
		if err != nil {
			return nil, err
		}
		sc := scanSegment(data)
		maxEntry = max(maxEntry, sc.maxEntry)
		if sc.bad == nil {
			expected = seg.index + uint64(sc.count)
			continue
		}
		if i == len(segs)-1 && isTornTail(data, sc.good, seg.index+uint64(sc.count), maxEntry) {
			if err := rc.cutTail(&segs[i], data, sc.good, seg.index+uint64(sc.count), sc.bad); err != nil {
				return nil, err
			}
			return segs, nil
		}
		if err := rc.corrupt(segs, i, sc.good, data, seg.index+uint64(sc.count), sc.bad); err != nil {
			return nil, err
		}
		segs[i].size = int64(sc.good)
		return segs[:i+1], nil
	}
	return segs, nil
}

// cutTail cuts the last segment back to its last complete, checksum-valid
// record. The cut bytes are written (and fsynced) beside the segment before
// the segment is shortened, so nothing is destroyed.
func (rc *recovery) cutTail(seg *segmentFile, data []byte, good int, firstLost uint64, cause error) error {
	saved := seg.path + ".torn-" + rc.stamp()
	if err := rc.cut(seg.path, data, good, saved); err != nil {
		return fmt.Errorf("wal: repairing torn tail of segment %s at byte offset %d: %w", seg.path, good, err)
	}
	cutBytes := int64(len(data) - good)
	rc.log.Warn("wal: cut torn tail of the journal (an interrupted write, expected after a crash or kill -9)",
		zap.String("segment", seg.path),
		zap.Int("offset", good),
		zap.Int64("cut_bytes", cutBytes),
		zap.Uint64("first_cut_index", firstLost),
		zap.String("saved_as", saved),
		zap.NamedError("cause", cause))
	if rc.onRepair != nil {
		rc.onRepair(seg.path, cutBytes, saved)
	}
	seg.size = int64(good)
	return nil
}

// corrupt handles a bad record (or a gap) before the tail: an error unless
// the operator opted into truncating there. With truncateCorrupt segment i
// is cut at offset good and every later segment is renamed aside.
func (rc *recovery) corrupt(segs []segmentFile, i, good int, data []byte, index uint64, cause error) error {
	seg := segs[i]
	if !rc.truncateCorrupt {
		return fmt.Errorf("%w: segment %s: cannot read the record at index %d (byte offset %d): %w; "+
			"the records from index %d on cannot be recovered automatically. "+
			"Opening with TruncateCorrupt cuts the journal at this record, "+
			"keeps the cut bytes and later segments in the same directory with a .corrupt-<time> suffix, "+
			"and loses everything from index %d on",
			ErrCorruptRecord, seg.path, index, good, cause, index, index)
	}
	ts := rc.stamp()
	if data != nil && good < len(data) {
		saved := seg.path + ".corrupt-" + ts
		if err := rc.cut(seg.path, data, good, saved); err != nil {
			return fmt.Errorf("wal: truncating corrupt segment %s at byte offset %d: %w", seg.path, good, err)
		}
		rc.report(seg.path, int64(len(data)-good), saved, index, good, cause)
	}
	for _, later := range segs[i+1:] {
		saved := later.path + ".corrupt-" + ts
		if err := os.Rename(later.path, saved); err != nil {
			return fmt.Errorf("wal: moving segment %s aside after corruption in %s: %w", later.path, seg.path, err)
		}
		rc.report(later.path, later.size, saved, index, good, cause)
	}
	return syncDir(rc.dir)
}

func (rc *recovery) report(path string, cutBytes int64, saved string, index uint64, good int, cause error) {
	rc.log.Error("wal: TruncateCorrupt is set: cut the journal at a corrupt record; records from first_lost_index on are lost",
		zap.String("segment", path),
		zap.Int("offset", good),
		zap.Uint64("first_lost_index", index),
		zap.Int64("cut_bytes", cutBytes),
		zap.String("saved_as", saved),
		zap.NamedError("cause", cause))
	if rc.onRepair != nil {
		rc.onRepair(path, cutBytes, saved)
	}
}

// cut saves data[good:] to saved, then shortens path to good bytes.
func (rc *recovery) cut(path string, data []byte, good int, saved string) error {
	if err := writeFileSync(saved, data[good:]); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err = f.Truncate(int64(good)); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return syncDir(rc.dir)
}

// resolveLeftovers finishes a tidwall/wal TruncateFront or TruncateBack that
// was interrupted, with exactly the rules tidwall/wal v1.2.1 applies in its
// load(): a NAME.START file holds the new first segment, so every segment
// before it goes and it is renamed to NAME; a NAME.END file holds the new last
// segment, so every segment after it goes and it is renamed to NAME. Doing it
// here, before our own scan, means we verify the files tidwall will use. A
// .TEMP file is a START/END that was never completed; it is removed.
// This package itself never creates START/END files (TruncateBefore only
// deletes whole segments), but a journal written by plain tidwall/wal or an
// older version may have them.
func resolveLeftovers(dir string, log *zap.Logger) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type entry struct{ name string }
	var list []entry
	startIdx, endIdx := -1, -1
	changed := false
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) < segmentNameLen {
			continue
		}
		if idx, err := strconv.ParseUint(name[:segmentNameLen], 10, 64); err != nil || idx == 0 {
			continue
		}
		if strings.HasSuffix(name, ".START.TEMP") || strings.HasSuffix(name, ".END.TEMP") {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
			log.Warn("wal: removed an incomplete front/back truncation file", zap.String("file", name))
			changed = true
			continue
		}
		isStart := len(name) == segmentNameLen+6 && strings.HasSuffix(name, ".START")
		isEnd := len(name) == segmentNameLen+4 && strings.HasSuffix(name, ".END")
		if len(name) != segmentNameLen && !isStart && !isEnd {
			continue
		}
		if isStart {
			startIdx = len(list)
		} else if isEnd && endIdx == -1 {
			endIdx = len(list)
		}
		list = append(list, entry{name})
	}
	if startIdx != -1 && endIdx != -1 {
		return fmt.Errorf("%w: %s has both a .START file (%s) and an .END file (%s) from interrupted truncations; "+
			"this cannot be resolved automatically: keep the .START file if the front truncation should win, or the .END file otherwise, and remove the other",
			ErrCorrupt, dir, list[startIdx].name, list[endIdx].name)
	}
	finish := func(leftover string, remove []entry) error {
		for _, e := range remove {
			if err := os.Remove(filepath.Join(dir, e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		final := leftover[:segmentNameLen]
		if err := os.Rename(filepath.Join(dir, leftover), filepath.Join(dir, final)); err != nil {
			return err
		}
		log.Warn("wal: finished an interrupted truncation", zap.String("file", leftover), zap.Int("segments_removed", len(remove)))
		changed = true
		return nil
	}
	if startIdx != -1 {
		if err := finish(list[startIdx].name, list[:startIdx]); err != nil {
			return err
		}
	}
	if endIdx != -1 {
		if err := finish(list[endIdx].name, list[endIdx+1:]); err != nil {
			return err
		}
	}
	if changed {
		return syncDir(dir)
	}
	return nil
}
