package wal

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// SyncPolicy says when a batch counts as durable. See the package comment
// for the trade-off.
type SyncPolicy string

const (
	// SyncAlways fsyncs every batch before its callers return (default).
	SyncAlways SyncPolicy = "always"
	// SyncNever returns once the batch is written to the OS: it survives a
	// process crash, but not an OS crash or power loss.
	SyncNever SyncPolicy = "never"
)

// DefaultSegmentSize is tidwall/wal's default segment size (20 MiB).
const DefaultSegmentSize = 20 << 20

// Hooks receive self-telemetry. Both are optional. OnCommit runs on the
// committer goroutine, OnRepair inside Open (and inside the reopen after a
// write error). They must be fast: a slow OnCommit delays the next batch.
type Hooks struct {
	// OnCommit is called once per batch written.
	OnCommit func(Commit)
	// OnRepair is called for every cut made at open: the segment, how many
	// bytes were cut from it and the file the cut bytes were saved to.
	OnRepair func(segment string, cutBytes int64, savedAs string)
}

// Commit describes one group-committed batch (one write, and one fsync under
// SyncAlways) for Hooks.OnCommit.
type Commit struct {
	// Records and Submits are the records in the batch and the Submit calls
	// that queued them.
	Records, Submits int
	// Bytes is what the batch took on disk, framing included.
	Bytes int
	// Fsync is how long its fsync took (0 under SyncNever).
	Fsync time.Duration
	// Held is how long the committer held the batch back for
	// MinSyncInterval before writing it (0 when it did not).
	Held time.Duration
}

// Options configure Open.
type Options struct {
	// Dir holds the segment files; it is created if missing.
	Dir string
	// Sync is the durability policy; empty means SyncAlways.
	Sync SyncPolicy
	// MinSyncInterval, under SyncAlways, is the shortest time between the
	// starts of two fsyncs: a batch whose first record comes sooner after the
	// previous fsync began is held until then, and the records submitted
	// meanwhile share its fsync. Each fsync costs kernel CPU (0.1-0.3 ms here)
	// however few records it makes durable, so under an open load (many
	// clients, none waiting for another, such as browsers) this bounds the
	// fsyncs to 1/MinSyncInterval per second whatever the request rate. The
	// price: a Submit waits at most this much longer, so a caller that
	// submits one record at a time and waits for each gets at most
	// 1/MinSyncInterval per second; callers with several Submits in flight
	// share each fsync. A batch that starts later than MinSyncInterval after
	// the previous fsync began is written at once. 0 (the default) writes
	// each batch as soon as the previous one is done.
	MinSyncInterval time.Duration
	// SegmentSize is the target segment file size; 0 means 20 MiB.
	SegmentSize int
	// TruncateCorrupt makes Open cut the journal at a bad record found before
	// the tail (losing every later record) instead of failing.
	TruncateCorrupt bool
	// Logger receives repair and error reports; nil means zap.NewNop().
	Logger *zap.Logger
	// Hooks receive self-telemetry.
	Hooks Hooks

	// openStore is the fault-injection seam: tests wrap the segment writer to
	// make Write, Sync or the reopen fail. nil means openSegments.
	openStore openStoreFunc
	// now stamps the names of files holding cut bytes and times the fsyncs
	// (MinSyncInterval); nil means time.Now. after waits for the rest of a
	// MinSyncInterval; nil means time.After.
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
}

// Log is a write-ahead journal of Records with group commit. All methods
// are safe for concurrent use.
type Log struct {
	opts   Options
	dir    string
	logger *zap.Logger
	lock   *os.File

	mu           sync.Mutex // guards cur, closed and gatherTarget
	cur          *batch     // records queued for the next WriteBatch
	closed       bool
	gatherTarget int // callers the committer waits for; 0 if not waiting

	gathered chan struct{} // cap 1: cur reached gatherTarget callers

	kick chan struct{} // cap 1: the first record of a new batch arrived
	quit chan struct{}
	done chan struct{} // closed when the committer exits

	// Owned by the committer goroutine (and by Close once it has exited).
	st          store
	broken      error // last write error while the log is not reopened
	next        uint64
	entries     []byte       // the batch being written, framed; reused
	sizes       []int        // each entry's length
	starts      []entryStart // where each entry went
	spare       []Record
	prevCallers int
	lastSync    time.Time // when the last fsync began (MinSyncInterval)

	first atomic.Uint64
	last  atomic.Uint64
	size  atomic.Int64

	truncMu sync.Mutex // serializes TruncateBefore and Replay

	readers readers // ReadAt's descriptors
}

// Open repairs the journal in opts.Dir if needed (see the package comment),
// opens it and starts the committer.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("wal: Options.Dir is empty")
	}
	switch opts.Sync {
	case "":
		opts.Sync = SyncAlways
	case SyncAlways, SyncNever:
	default:
		return nil, fmt.Errorf("wal: unknown sync policy %q (want %q or %q)", opts.Sync, SyncAlways, SyncNever)
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.openStore == nil {
		opts.openStore = openSegments
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	if opts.after == nil {
		opts.after = time.After
	}
	if opts.MinSyncInterval < 0 {
		return nil, fmt.Errorf("wal: Options.MinSyncInterval %s is negative", opts.MinSyncInterval)
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("wal: creating journal directory: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	l := &Log{
		opts:     opts,
		dir:      opts.Dir,
		logger:   opts.Logger,
		lock:     lock,
		kick:     make(chan struct{}, 1),
		gathered: make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if err := l.openStore(true); err != nil {
		_ = unlockDir(lock) // the open error is what the caller needs
		return nil, err
	}
	l.cur = &batch{done: make(chan struct{})}
	go l.run()
	return l, nil
}

func (l *Log) recovery() *recovery {
	return &recovery{
		dir:             l.dir,
		truncateCorrupt: l.opts.TruncateCorrupt,
		log:             l.logger,
		onRepair:        l.opts.Hooks.OnRepair,
		now:             l.opts.now,
	}
}

// openStore repairs the directory (every segment with full, else only the
// tail), opens the segment writer on it and re-reads the indexes from disk.
func (l *Log) openStore(full bool) error {
	segs, err := l.recovery().run(full)
	if err != nil {
		return err
	}
	st, err := l.opts.openStore(l.dir, l.opts.SegmentSize)
	if err != nil {
		return fmt.Errorf("wal: opening journal in %s: %w", l.dir, err)
	}
	last, err := st.LastIndex()
	if err != nil {
		_ = st.Close() // the read error is what the caller needs
		return fmt.Errorf("wal: reading last index of %s: %w", l.dir, err)
	}
	var total int64
	for _, s := range segs {
		total += s.size
	}
	if full {
		first := uint64(1)
		if len(segs) > 0 {
			first = segs[0].index
		}
		l.first.Store(first)
	}
	l.st = st
	l.next = last + 1
	l.last.Store(last)
	l.size.Store(total)
	return nil
}

// FirstIndex is the index of the oldest record still in the journal. On an
// empty journal it is LastIndex()+1.
func (l *Log) FirstIndex() uint64 { return l.first.Load() }

// LastIndex is the index of the newest record written; 0 for a new journal.
func (l *Log) LastIndex() uint64 { return l.last.Load() }

// Size is the bytes on disk of all segments (maintained incrementally).
func (l *Log) Size() int64 { return l.size.Load() }

// Replay calls fn for every record in index order from the calling
// goroutine, reading the segment files directly (never concurrently: see
// tidwall/wal issue #34), with the Location of the record's Data. It delivers the records up to LastIndex at the
// time of the call; records appended meanwhile are not delivered. Call it
// before the first Submit to rebuild state. r.Data aliases a buffer
// holding the whole segment, reused for the next segment: copy it if you keep it
// past fn. Because TruncateBefore
// drops only whole segments, and a failed batch may have partly survived,
// Replay can deliver records the owner has already folded into a checkpoint
// or that were never acknowledged: records must be idempotent.
// An error from fn stops the replay and is returned as is. fn must not call
// Replay or TruncateBefore (they share a lock); Submit is fine.
func (l *Log) Replay(fn func(index uint64, r Record, at Location) error) error {
	if l.isClosed() {
		return ErrClosed
	}
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	last := l.last.Load()
	segs, err := listSegments(l.dir)
	if err != nil {
		return fmt.Errorf("wal: replay: listing %s: %w", l.dir, err)
	}
	var next uint64
	var data []byte // one buffer for every segment: fn copies what it keeps
	for i, s := range segs {
		if i > 0 && s.index != next {
			return fmt.Errorf("%w: replay: segment %s should start at index %d", ErrCorruptRecord, s.path, next)
		}
		next = s.index
		if s.index > last {
			break
		}
		data, err = readSegment(data, s.path)
		if err != nil {
			return fmt.Errorf("wal: replay: %w", err)
		}
		for off := 0; off < len(data) && next <= last; {
			e, n, err := decodeEntry(data[off:])
			if err != nil {
				return fmt.Errorf("%w: replay: segment %s: record at index %d (byte offset %d): %w; "+
					"the file changed after Open verified it: check the disk; opening with TruncateCorrupt cuts the journal here",
					ErrCorruptRecord, s.path, next, off, err)
			}
			at := Location{Segment: s.index, Offset: uint32(off + n - len(e.Data)), Size: uint32(len(e.Data))}
			if err := fn(next, e.Record, at); err != nil {
				return err
			}
			off += n
			next++
		}
	}
	if len(segs) > 0 && next <= last {
		return fmt.Errorf("%w: replay: records %d..%d are missing from %s", ErrCorruptRecord, next, last, l.dir)
	}
	return nil
}

// TruncateBefore drops the whole segments that hold only records with
// index < idx and returns how many went. It never rewrites a segment, so
// records < idx in the segment that contains idx stay and are replayed
// again. It deletes files oldest first without touching the tail segment
// the committer writes to, so it does not pause the committer at all; a crash half
// way leaves a shorter but contiguous journal.
func (l *Log) TruncateBefore(idx uint64) (removed int, err error) {
	if l.isClosed() {
		return 0, ErrClosed
	}
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	segs, err := listSegments(l.dir)
	if err != nil {
		return 0, fmt.Errorf("wal: truncate: listing %s: %w", l.dir, err)
	}
	// keep is the segment that contains idx (or the last one); everything
	// before it holds only records < idx. The last listed segment is never
	// removed: it is the committer's open tail.
	keep := 0
	for k := 1; k < len(segs) && segs[k].index <= idx; k++ {
		keep = k
	}
	var freed int64
	for _, s := range segs[:keep] {
		if err = os.Remove(s.path); err != nil {
			err = fmt.Errorf("wal: truncate: removing segment %s: %w", s.path, err)
			break
		}
		removed++
		freed += s.size
	}
	if removed == 0 {
		return 0, err
	}
	l.first.Store(segs[removed].index)
	l.readers.drop(segs[removed].index, false)
	l.size.Add(-freed)
	if serr := syncDir(l.dir); err == nil && serr != nil {
		err = fmt.Errorf("wal: truncate: syncing %s: %w", l.dir, serr)
	}
	return removed, err
}

func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Close stops the committer after the batch it is writing, fails every
// record still queued with ErrClosed and closes the files. It is
// idempotent; only the first call can return an error.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()

	close(l.quit)
	<-l.done

	l.mu.Lock()
	b := l.cur
	l.cur = nil
	l.mu.Unlock()
	if b != nil {
		b.err = ErrClosed
		close(b.done)
	}
	var err error
	if l.st != nil {
		if cerr := l.st.Close(); cerr != nil {
			err = fmt.Errorf("wal: closing %s: %w", l.dir, cerr)
		}
		l.st = nil
	}
	l.readers.drop(0, true)
	if uerr := unlockDir(l.lock); err == nil && uerr != nil {
		err = uerr
	}
	return err
}
