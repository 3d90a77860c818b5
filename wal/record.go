package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record is one journal entry: an owner-defined type and an opaque payload.
type Record struct {
	Type byte
	Data []byte
}

// Record header, see the package comment for the layout.
const (
	crcSize       = 4
	minRecordSize = crcSize + 2 // crc, flags, type
	batchEndSize  = 8           // first index of the batch, on batch-end records

	// flagBatchEnd marks the last record of a WriteBatch. Recovery uses it
	// to tell a torn final batch (cut it) from damage to a batch that was
	// followed by another one and so had been fsynced (refuse to start).
	flagBatchEnd byte = 1 << 0
	knownFlags        = flagBatchEnd
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is a decoded record plus the framing recovery needs.
type entry struct {
	Record
	// batchFirst is the index of the first record of the batch this record
	// ends; 0 if it does not end a batch.
	batchFirst uint64
}

// encodedLen is the size of r inside a tidwall entry (without tidwall's
// length prefix).
func encodedLen(r Record, batchFirst uint64) int {
	n := minRecordSize + len(r.Data)
	if batchFirst != 0 {
		n += batchEndSize
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// appendRecord appends the encoding of r (without tidwall's length prefix)
// to dst. A non-zero batchFirst marks r as the last record of the batch that
// starts at that index. The CRC covers everything after it; the length is
// covered implicitly because a shorter or longer slice has another CRC.
func appendRecord(dst []byte, r Record, batchFirst uint64) []byte {
	var hdr [minRecordSize + batchEndSize]byte
	h := hdr[:minRecordSize]
	if batchFirst != 0 {
		hdr[crcSize] = flagBatchEnd
		binary.LittleEndian.PutUint64(hdr[minRecordSize:], batchFirst)
		h = hdr[:]
	}
	hdr[crcSize+1] = r.Type
	crc := crc32.Update(0, castagnoli, h[crcSize:])
	crc = crc32.Update(crc, castagnoli, r.Data)
	binary.LittleEndian.PutUint32(hdr[:crcSize], crc)
	dst = append(dst, h...)
	return append(dst, r.Data...)
}

// decodeRecord decodes the body of one tidwall entry (what appendRecord
// produced). Data aliases b.
func decodeRecord(b []byte) (entry, error) {
	if len(b) < minRecordSize {
		return entry{}, fmt.Errorf("%w: %d bytes, a record needs at least %d", ErrTruncated, len(b), minRecordSize)
	}
	want := binary.LittleEndian.Uint32(b[:crcSize])
	if got := crc32.Checksum(b[crcSize:], castagnoli); got != want {
		return entry{}, fmt.Errorf("%w: stored %08x, computed %08x over %d bytes", ErrChecksum, want, got, len(b)-crcSize)
	}
	flags := b[crcSize]
	if flags&^knownFlags != 0 {
		return entry{}, fmt.Errorf("%w: unknown record flags %#02x (written by a newer version?)", ErrCorrupt, flags)
	}
	e := entry{Record: Record{Type: b[crcSize+1]}}
	body := b[minRecordSize:]
	if flags&flagBatchEnd != 0 {
		if len(body) < batchEndSize {
			return entry{}, fmt.Errorf("%w: batch-end record of %d bytes", ErrTruncated, len(b))
		}
		e.batchFirst = binary.LittleEndian.Uint64(body)
		if e.batchFirst == 0 {
			return entry{}, fmt.Errorf("%w: batch-end record names index 0", ErrCorrupt)
		}
		body = body[batchEndSize:]
	}
	e.Data = body
	return e, nil
}

// decodeEntry decodes one tidwall binary entry (uvarint length + body) from
// the front of buf and returns it and the number of bytes consumed. On error
// n is still the entry length when the length prefix itself was readable and
// fits in buf (so a scan can step over a bad record), else 0.
func decodeEntry(buf []byte) (e entry, n int, err error) {
	size, p := binary.Uvarint(buf)
	if p <= 0 {
		return entry{}, 0, fmt.Errorf("%w: unreadable length prefix", ErrTruncated)
	}
	if size > uint64(len(buf)-p) {
		return entry{}, 0, fmt.Errorf("%w: length prefix says %d bytes, only %d left in the segment", ErrTruncated, size, len(buf)-p)
	}
	n = p + int(size)
	e, err = decodeRecord(buf[p:n])
	return e, n, err
}

// appendEntry appends r in tidwall's binary entry framing. Used by tests and
// the fuzz target to build segment bytes without going through tidwall.
func appendEntry(dst []byte, r Record, batchFirst uint64) []byte {
	dst = binary.AppendUvarint(dst, uint64(encodedLen(r, batchFirst)))
	return appendRecord(dst, r, batchFirst)
}
