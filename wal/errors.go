package wal

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these with %w
// and add the segment file, index and byte offset an operator needs.
var (
	// ErrClosed is returned by calls on a closed Log and to every waiter
	// whose records were still queued when Close ran.
	ErrClosed = errors.New("wal: log closed")

	// ErrCorrupt means the journal holds a bad record (or a gap between
	// segments) somewhere other than the torn tail that Open repairs by
	// itself. Open refuses to start rather than silently drop records.
	ErrCorrupt = errors.New("wal: journal corrupt")

	// ErrCorruptRecord is the ErrCorrupt of a bad record or of a gap between
	// segments: damage that Open with Options.TruncateCorrupt cuts off
	// (errors.Is matches both). The other ErrCorrupt errors, such as
	// conflicting truncation leftovers, need an operator whatever the
	// options. An owner that lets operators set TruncateCorrupt tests for
	// it to tell them how, in its own configuration's terms.
	ErrCorruptRecord = fmt.Errorf("%w at a record", ErrCorrupt)

	// ErrChecksum means a record's CRC-32C does not match its bytes.
	ErrChecksum = errors.New("wal: record checksum mismatch")

	// ErrTruncated means a record is shorter than its header or runs past the
	// end of its segment file.
	ErrTruncated = errors.New("wal: record truncated")

	// ErrUnavailable is returned for batches that could not be written
	// because the log failed earlier and could not be reopened yet. Every
	// later batch retries the reopen.
	ErrUnavailable = errors.New("wal: log unavailable after a write error")

	// ErrLocked means another process (or another Log in this process) has
	// the journal directory open.
	ErrLocked = errors.New("wal: journal directory is locked by another process")
)
