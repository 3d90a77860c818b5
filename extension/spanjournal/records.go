package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// Journal record types. Every record is an idempotent change of state, so replaying a
// record twice (a checkpoint that overlaps the segments it did not drop, or the part of
// an unacknowledged batch that survived a crash) leaves the same state.
const (
	// recSpan puts one span (open, ended or reconciled), replacing any earlier copy.
	recSpan byte = 1
	// recRelease moves the named spans of a trace into a released batch.
	recRelease byte = 2
	// recForget drops a released batch: it is past tail sampling.
	recForget byte = 3
	// recCheckpoint starts a checkpoint: the records after it restate all live state,
	// and the segments before it may be dropped once it is durable.
	recCheckpoint byte = 4
	// recReleasedBatch restates a whole released batch, spans included (checkpoints).
	recReleasedBatch byte = 5
	// recReconciled remembers that a span open here was closed: reconciled, so that
	// its real end, if it ever arrives, supersedes the reconciled version instead of
	// opening it again; or ended by its client (a trailing byte), so that an older
	// snapshot of it delivered late does not open it again.
	recReconciled byte = 6
	// recSnapshotSeqs records the numbers of one round of snapshots (trace id, span
	// id, number), so that numbering never repeats after a restart or a shard move.
	// Replay keeps the higher of the number it holds and the recorded one.
	recSnapshotSeqs byte = 7
)

// spanFormat is the first byte of an encoded span, so the layout can evolve. Format 2
// appends the client after the payload, format 3 the client's clock offset after it;
// format 1 records (no client) and 2 (no offset) still replay.
const (
	spanFormat1 byte = 1
	spanFormat2 byte = 2
	spanFormat  byte = 3
)

var errShortRecord = errors.New("journal record too short")

// encodeSpan appends s with payload (its bytes, from memory or read back from the
// journal) and returns where in dst the payload starts.
func encodeSpan(dst []byte, s *Span, payload []byte) ([]byte, int) {
	dst = append(dst, spanFormat)
	dst = append(dst, s.TraceID[:]...)
	dst = append(dst, s.SpanID[:]...)
	dst = append(dst, s.ParentID[:]...)
	dst = append(dst, byte(s.State))
	dst = binary.AppendVarint(dst, s.start)
	dst = binary.AppendVarint(dst, s.firstSeen)
	dst = binary.AppendVarint(dst, s.lastSeen)
	dst = binary.AppendVarint(dst, int64(s.IdleTimeout))
	dst = binary.AppendUvarint(dst, uint64(s.SnapshotSeq))
	dst = appendString(dst, s.Name)
	o := s.origin0()
	dst = appendString(dst, o.Service)
	dst = appendString(dst, o.SessionID)
	dst = appendString(dst, o.Source)
	dst = binary.AppendUvarint(dst, uint64(len(payload)))
	off := len(dst)
	dst = append(dst, payload...)
	dst = appendString(dst, o.Client)
	return binary.AppendVarint(dst, int64(o.ClockOffset)), off
}

func decodeSpan(d *decoder) (*Span, error) {
	format := d.byte()
	if (format < spanFormat1 || format > spanFormat) && d.err == nil {
		return nil, fmt.Errorf("unknown span format %d", format)
	}
	s := &Span{}
	d.bytes(s.TraceID[:])
	d.bytes(s.SpanID[:])
	d.bytes(s.ParentID[:])
	s.State = SpanState(d.byte())
	s.start = d.varint()
	s.firstSeen = d.varint()
	s.lastSeen = d.varint()
	s.IdleTimeout = time.Duration(d.varint())
	s.SnapshotSeq = uint32(d.uvarint())
	s.Name = d.string()
	var o Origin
	o.Service = d.string()
	o.SessionID = d.string()
	o.Source = d.string()
	// Replay reads a whole segment into memory, which a long-lived span must not
	// keep alive: the span keeps where its payload lies, or a copy when the record
	// has no location (decoded outside replay).
	off := d.offset()
	if p := d.take(d.uvarint()); d.at.IsZero() {
		s.SetPayload(bytes.Clone(p))
	} else if d.err == nil {
		s.at = d.at.Slice(off+uvarintLen(len(p)), len(p))
	}
	if format >= spanFormat2 {
		o.Client = d.string()
	}
	if format >= spanFormat {
		o.ClockOffset = time.Duration(d.varint())
	}
	if o != (Origin{}) {
		s.origin = &o
	}
	if d.err != nil {
		return nil, d.err
	}
	if s.State < SpanOpen || s.State > SpanReconciled {
		return nil, fmt.Errorf("span %s/%s has unknown state %d", s.TraceID, s.SpanID, s.State)
	}
	return s, nil
}

// spanRecord encodes s with payload and returns where in the record's data the
// payload starts.
func spanRecord(s *Span, payload []byte) (wal.Record, int) {
	o := s.origin0()
	// Sized for all of it: a record that outgrows its buffer copies the payload again.
	size := 106 + len(s.Name) + len(payload) + len(o.Service) + len(o.SessionID) + len(o.Source) + len(o.Client)
	b, off := encodeSpan(make([]byte, 0, size), s, payload)
	return wal.Record{Type: recSpan, Data: b}, off
}

func uvarintLen(n int) int { return len(binary.AppendUvarint(nil, uint64(n))) }

// appendReleaseHeader encodes what recRelease and recReleasedBatch share: the trace,
// the batch, when and how it was released, and how many spans follow.
func appendReleaseHeader(b []byte, r *Released) []byte {
	b = append(b, r.TraceID[:]...)
	b = binary.AppendUvarint(b, r.Batch)
	b = appendTime(b, r.At)
	b = appendBool(b, r.Early)
	return binary.AppendUvarint(b, uint64(len(r.Spans)))
}

// decodeReleaseHeader reads what appendReleaseHeader wrote; n is the span count, checked
// against what is left at minSpan bytes per span.
func decodeReleaseHeader(d *decoder, r *Released, minSpan int) (n int) {
	d.bytes(r.TraceID[:])
	r.Batch = d.uvarint()
	r.At = d.time()
	r.Early = d.bool()
	return d.count(minSpan)
}

func releaseRecord(r *Released) wal.Record {
	b := appendReleaseHeader(make([]byte, 0, 40+8*len(r.Spans)), r)
	for _, s := range r.Spans {
		b = append(b, s.SpanID[:]...)
	}
	return wal.Record{Type: recRelease, Data: b}
}

// releaseOp is a decoded recRelease: the batch header and the ids of its spans.
type releaseOp struct {
	Released
	spans []pcommon.SpanID
}

func decodeRelease(d *decoder) (releaseOp, error) {
	var op releaseOp
	op.spans = make([]pcommon.SpanID, decodeReleaseHeader(d, &op.Released, 8))
	for i := range op.spans {
		d.bytes(op.spans[i][:])
	}
	return op, d.err
}

func forgetRecord(id pcommon.TraceID, batch uint64) wal.Record {
	b := make([]byte, 0, 26)
	b = append(b, id[:]...)
	b = binary.AppendUvarint(b, batch)
	return wal.Record{Type: recForget, Data: b}
}

func decodeForget(d *decoder) (pcommon.TraceID, uint64, error) {
	var id pcommon.TraceID
	d.bytes(id[:])
	batch := d.uvarint()
	return id, batch, d.err
}

// closedRecord encodes a closed span. A span its client ended carries one more byte
// (1); a reconciled one has none, as every recReconciled record before there were
// ended ones.
func closedRecord(k SpanKey, c Closed) wal.Record {
	b := make([]byte, 0, 35)
	b = append(b, k.Trace[:]...)
	b = append(b, k.Span[:]...)
	b = appendTime(b, c.At)
	if c.Ended {
		b = appendBool(b, true)
	}
	return wal.Record{Type: recReconciled, Data: b}
}

func decodeClosed(d *decoder) (SpanKey, Closed, error) {
	var k SpanKey
	var c Closed
	d.bytes(k.Trace[:])
	d.bytes(k.Span[:])
	c.At = d.time()
	if d.err == nil && len(d.b) > 0 {
		c.Ended = d.bool()
	}
	return k, c, d.err
}

// snapshotSeq is one span's latest snapshot number.
type snapshotSeq struct {
	key SpanKey
	seq uint32
}

func snapshotSeqsRecord(seqs []snapshotSeq) wal.Record {
	b := binary.AppendUvarint(make([]byte, 0, 8+len(seqs)*27), uint64(len(seqs)))
	for _, s := range seqs {
		b = append(b, s.key.Trace[:]...)
		b = append(b, s.key.Span[:]...)
		b = binary.AppendUvarint(b, uint64(s.seq))
	}
	return wal.Record{Type: recSnapshotSeqs, Data: b}
}

func decodeSnapshotSeqs(d *decoder) ([]snapshotSeq, error) {
	n := d.count(25)
	out := make([]snapshotSeq, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var s snapshotSeq
		d.bytes(s.key.Trace[:])
		d.bytes(s.key.Span[:])
		v := d.uvarint()
		if v > 1<<32-1 {
			d.fail()
		}
		s.seq = uint32(v)
		out = append(out, s)
	}
	return out, d.err
}

func checkpointRecord(at time.Time) wal.Record {
	return wal.Record{Type: recCheckpoint, Data: appendTime(nil, at)}
}

// releasedBatchRecord encodes r with the payloads of its spans and returns where in
// the record's data each payload starts.
func releasedBatchRecord(r *Released, payloads [][]byte) (wal.Record, []int) {
	b := appendReleaseHeader(make([]byte, 0, 64), r)
	offs := make([]int, len(r.Spans))
	for i, s := range r.Spans {
		b, offs[i] = encodeSpan(b, s, payloads[i])
	}
	return wal.Record{Type: recReleasedBatch, Data: b}, offs
}

func decodeReleasedBatch(d *decoder) (*Released, error) {
	r := &Released{}
	n := decodeReleaseHeader(d, r, 40)
	for i := 0; i < n && d.err == nil; i++ {
		s, err := decodeSpan(d)
		if err != nil {
			return nil, err
		}
		r.Spans = append(r.Spans, s)
	}
	return r, d.err
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// decoder reads the fields of one record; the first error sticks and every later read
// returns a zero value, so a decode function checks err once at the end.
type decoder struct {
	b   []byte
	err error
	// at is where the record's data lies in the journal (zero when unknown), and n
	// its length: payloads decoded from it are kept as locations, not copies.
	at wal.Location
	n  int
	// strings, when set, shares the strings decoded (replay: see internTable).
	strings *internTable
}

func newDecoder(b []byte, at wal.Location) *decoder { return &decoder{b: b, at: at, n: len(b)} }

// offset is how many bytes of the record have been read.
func (d *decoder) offset() int { return d.n - len(d.b) }

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShortRecord
	}
	d.b = nil
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil || uint64(len(d.b)) < n {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(dst []byte) { copy(dst, d.take(uint64(len(dst)))) }

func (d *decoder) byte() byte {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) bool() bool { return d.byte() != 0 }

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads an element count and rejects one that cannot fit in what is left, so a
// corrupt count never makes a huge allocation.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minSize) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) time() time.Time {
	v := d.varint()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

func (d *decoder) string() string {
	b := d.take(d.uvarint())
	if d.strings != nil {
		return d.strings.of(b)
	}
	return string(b)
}
