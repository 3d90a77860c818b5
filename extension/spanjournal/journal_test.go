package spanjournal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal/internal/metadata"
	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func startExtension(t testing.TB, dir string, mutate func(*Config)) *journalExtension {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Directory = dir
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	return ext.(*journalExtension)
}

func testSpan(trace byte, span byte, st SpanState) *Span {
	s := &Span{
		TraceID: pcommon.TraceID{trace, 1}, SpanID: pcommon.SpanID{span, 2}, ParentID: pcommon.SpanID{},
		State: st, Name: fmt.Sprintf("span-%d-%d", trace, span),
		IdleTimeout: 15 * time.Second, SnapshotSeq: 7,
	}
	s.SetOrigin(Origin{Service: "web-shop", SessionID: "s-1", Source: "otlp_open_span", Client: "127.0.0.9"})
	s.SetTimes(t0, t0.Add(time.Second), t0.Add(2*time.Second))
	s.SetPayload([]byte{1, 2, 3, span})
	return s
}

// encodeTestSpan encodes s with its in-memory payload.
func encodeTestSpan(s *Span) []byte {
	b, _ := encodeSpan(nil, s, s.inMemory())
	return b
}

func TestSpanEncodingRoundTrips(t *testing.T) {
	for _, st := range []SpanState{SpanOpen, SpanEnded, SpanReconciled} {
		in := testSpan(1, 2, st)
		got, err := decodeSpan(&decoder{b: encodeTestSpan(in)})
		require.NoError(t, err)
		assert.Equal(t, in, got)
	}
}

func TestSpanFormat2StillDecodes(t *testing.T) {
	in := testSpan(1, 2, SpanOpen)
	o := Origin{Service: in.Service(), SessionID: in.SessionID(), Client: in.Client(), ClockOffset: -8 * 24 * time.Hour}
	in.SetOrigin(o)
	b := encodeTestSpan(in)
	got, err := decodeSpan(&decoder{b: b})
	require.NoError(t, err)
	assert.Equal(t, -8*24*time.Hour, got.ClockOffset(), "format 3 keeps the offset")
	// Format 2 is format 3 without the trailing offset.
	b = b[:len(b)-len(binary.AppendVarint(nil, int64(o.ClockOffset)))]
	b[0] = spanFormat2
	got, err = decodeSpan(&decoder{b: b})
	require.NoError(t, err)
	assert.Zero(t, got.ClockOffset(), "not known")
	assert.Equal(t, in.Client(), got.Client())
	assert.Equal(t, in.inMemory(), got.inMemory())
}

func TestSpanFormat1StillDecodes(t *testing.T) {
	in := testSpan(1, 2, SpanOpen)
	b := encodeTestSpan(in)
	// Format 1 is format 3 without the trailing client and offset (zero: one byte).
	b = b[:len(b)-1-len(in.Client())-1]
	b[0] = spanFormat1
	got, err := decodeSpan(&decoder{b: b})
	require.NoError(t, err)
	assert.Empty(t, got.Client())
	assert.Equal(t, in.inMemory(), got.inMemory())
}

func TestUsageFollowsEveryChange(t *testing.T) {
	st := newState()
	open := testSpan(1, 1, SpanOpen)
	st.put(open, t0)
	other := testSpan(2, 1, SpanOpen)
	other.SetOrigin(Origin{Service: "web-shop"})
	st.put(other, t0)
	ended := *open
	ended.State = SpanEnded
	ended.SetPayload([]byte{1, 2, 3, 4, 5, 6})
	st.put(&ended, t0)

	tr := st.traces[open.TraceID]
	assert.Equal(t, Usage{Held: 1, Bytes: 6}, tr.Usage())
	assert.Equal(t, Usage{Held: 1, Bytes: 6}, *st.sessionUsage["s-1"])
	assert.Equal(t, Usage{Held: 1, Bytes: 6}, *st.clientUsage["127.0.0.9"])
	assert.Equal(t, Usage{Open: 1, Bytes: 4}, *st.sessionUsage[""], "spans without a session share the pool \"\"")
	assert.NotContains(t, st.clientUsage, "", "spans of unknown clients are not a client")

	st.release(tr, []pcommon.SpanID{ended.SpanID}, 1, t0, false)
	assert.NotContains(t, st.sessionUsage, "s-1", "a released span leaves its session's usage")
	assert.NotContains(t, st.clientUsage, "127.0.0.9")
}

func TestDecodeRejectsEveryTruncation(t *testing.T) {
	b := encodeTestSpan(testSpan(1, 2, SpanOpen))
	for n := 0; n < len(b); n++ {
		_, err := decodeSpan(&decoder{b: b[:n]})
		assert.Error(t, err, "a record cut at %d of %d bytes must not decode", n, len(b))
	}
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add(recSpan, encodeTestSpan(testSpan(1, 2, SpanOpen)))
	f.Add(recRelease, releaseRecord(&Released{TraceID: pcommon.TraceID{1}, Batch: 3, At: t0, Spans: []*Span{testSpan(1, 2, SpanEnded)}}).Data)
	batch, _ := releasedBatchRecord(&Released{TraceID: pcommon.TraceID{1}, Batch: 3, At: t0, Spans: []*Span{testSpan(1, 2, SpanEnded)}}, [][]byte{{1, 2}})
	f.Add(recReleasedBatch, batch.Data)
	f.Add(recForget, forgetRecord(pcommon.TraceID{1}, 9).Data)
	f.Fuzz(func(t *testing.T, typ byte, data []byte) {
		j := &Journal{st: newState()}
		_ = j.apply(walRecord(typ, data), wal.Location{}) // must not panic, whatever the bytes
		// Nor when replay keeps payload locations instead of copies.
		j = &Journal{st: newState()}
		_ = j.apply(walRecord(typ, data), wal.Location{Segment: 1, Offset: 100, Size: uint32(len(data))})
	})
}

// update runs one Update against the extension's journal.
func update(t *testing.T, e *journalExtension, fn func(tx *Tx)) {
	t.Helper()
	require.NoError(t, e.journal.Update(context.Background(), func(tx *Tx) error {
		fn(tx)
		return nil
	}))
}

func TestReplayRestoresOpenHeldAndReleasedState(t *testing.T) {
	dir := t.TempDir()
	e := startExtension(t, dir, nil)
	update(t, e, func(tx *Tx) {
		tx.Put(testSpan(1, 1, SpanOpen), t0)
		tx.Put(testSpan(1, 2, SpanEnded), t0)
		tx.Put(testSpan(2, 1, SpanEnded), t0)
	})
	update(t, e, func(tx *Tx) {
		t2 := tx.Trace(pcommon.TraceID{2, 1})
		r := tx.Release(t2, []*Span{t2.Spans[pcommon.SpanID{1, 2}]}, t0, false)
		require.True(t, tx.Take(r))
		tx.Delivered(r, t0.Add(time.Minute))
	})
	require.NoError(t, e.Shutdown(context.Background()))

	e = startExtension(t, dir, nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	open, held, released, traces := e.journal.counts()
	assert.Equal(t, []int{1, 1, 1, 1}, []int{open, held, released, traces})
	update(t, e, func(tx *Tx) {
		due := tx.TakeDue(t0)
		require.Len(t, due, 1, "a released batch is delivered again after a restart")
		assert.True(t, due[0].Replayed)
		assert.Equal(t, "span-2-1", due[0].Spans[0].Name)
		s := tx.Trace(pcommon.TraceID{1, 1}).Spans[pcommon.SpanID{1, 2}]
		assert.Equal(t, uint32(7), s.SnapshotSeq)
		assert.Equal(t, t0.Add(2*time.Second).UnixNano(), s.LastSeen().UnixNano())
		assert.Len(t, tx.SessionSpans("s-1"), 1, "the session index is rebuilt")
	})
}

func TestCheckpointDropsOldSegmentsAndKeepsState(t *testing.T) {
	dir := t.TempDir()
	e := startExtension(t, dir, func(c *Config) { c.SegmentBytes = 64 << 10 })
	longLived := testSpan(9, 9, SpanOpen)
	update(t, e, func(tx *Tx) { tx.Put(longLived, t0) })
	// Churn: many short traces come and go, filling several segments.
	for i := 0; i < 400; i++ {
		update(t, e, func(tx *Tx) {
			s := testSpan(byte(i), 200, SpanEnded)
			s.TraceID[2] = byte(i >> 8)
			s.SetPayload(make([]byte, 1024))
			tx.Put(s, t0)
			r := tx.Release(tx.Trace(s.TraceID), []*Span{s}, t0, false)
			tx.Take(r)
			tx.Delivered(r, t0)
			tx.ForgetExpired(t0)
		})
	}
	before := e.log.Size()
	removed, err := e.journal.checkpoint(context.Background())
	require.NoError(t, err)
	assert.Positive(t, removed, "segments holding only dead records go")
	assert.Less(t, e.log.Size(), before/2, "the week-old open span does not pin the journal")
	require.NoError(t, e.Shutdown(context.Background()))

	e = startExtension(t, dir, nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	open, held, released, traces := e.journal.counts()
	assert.Equal(t, []int{1, 0, 0, 1}, []int{open, held, released, traces})
}

func TestOpenSpansView(t *testing.T) {
	addr := freeAddr(t)
	e := startExtension(t, t.TempDir(), func(c *Config) {
		require.NoError(t, confmap.NewFromStringMap(map[string]any{"http": map[string]any{"endpoint": addr}}).Unmarshal(c))
	})
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	update(t, e, func(tx *Tx) {
		tx.Put(testSpan(1, 1, SpanOpen), t0)
		older := testSpan(2, 1, SpanOpen)
		older.SetTimes(t0.Add(-time.Hour), older.FirstSeen(), older.LastSeen())
		tx.Put(older, t0)
		tx.Put(testSpan(1, 2, SpanEnded), t0)
	})

	resp, err := http.Get("http://" + addr + "/v1/open-spans?limit=1")
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(body, &v))
	assert.EqualValues(t, 1, v["held_spans"])
	assert.EqualValues(t, 2, v["held_traces"])
	assert.EqualValues(t, true, v["truncated"])
	rows := v["open_spans"].([]any)
	require.Len(t, rows, 1)
	row := rows[0].(map[string]any)
	assert.Equal(t, "span-2-1", row["name"], "oldest first")
	assert.Equal(t, "web-shop", row["service"])
	assert.Equal(t, "s-1", row["session_id"])
	assert.Equal(t, t0.Add(-time.Hour).Format(time.RFC3339), row["open_since"])
	assert.Equal(t, t0.Add(2*time.Second).Format(time.RFC3339), row["last_seen"])
	assert.Equal(t, "otlp_open_span", row["source"])
	assert.EqualValues(t, 7, row["snapshots"])
	for _, k := range []string{"trace_id", "span_id"} {
		assert.NotEmpty(t, row[k])
	}

	bad, err := http.Get("http://" + addr + "/v1/open-spans?limit=x")
	require.NoError(t, err)
	require.NoError(t, bad.Body.Close())
	assert.Equal(t, http.StatusBadRequest, bad.StatusCode)
}

func TestJournalFullRefusesAndSecondOpenOfDirFails(t *testing.T) {
	dir := t.TempDir()
	e := startExtension(t, dir, func(c *Config) {
		c.SegmentBytes = 64 << 10
		c.MaxBytes = 256 << 10
	})
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	full := false
	for i := 0; i < 1000 && !full; i++ {
		update(t, e, func(tx *Tx) {
			s := testSpan(byte(i), byte(i>>8), SpanOpen)
			s.SetPayload(make([]byte, 1024))
			tx.Put(s, t0)
			full = tx.JournalFull()
		})
	}
	assert.True(t, full, "max_bytes is reported once passed")

	cfg := createDefaultConfig().(*Config)
	cfg.Directory = dir
	other, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = other.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err, "two collectors must not share one journal directory")
	assert.Contains(t, err.Error(), dir)
}

func TestCorruptJournalStopsStartWithTheHint(t *testing.T) {
	dir := t.TempDir()
	small := func(c *Config) { c.SegmentBytes = 64 << 10 }
	e := startExtension(t, dir, small)
	for i := 0; i < 100; i++ {
		update(t, e, func(tx *Tx) {
			s := testSpan(byte(i), 1, SpanOpen)
			s.SetPayload(make([]byte, 2048))
			tx.Put(s, t0)
		})
	}
	require.NoError(t, e.Shutdown(context.Background()))
	segs, err := filepath.Glob(filepath.Join(dir, "0000*"))
	require.NoError(t, err)
	require.Greater(t, len(segs), 1, "the damage must be before the last segment, not a torn tail")
	b, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(segs[0], b, 0o600))

	cfg := createDefaultConfig().(*Config)
	cfg.Directory = dir
	small(cfg)
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = ext.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorIs(t, err, wal.ErrCorruptRecord)
	require.ErrorContains(t, err, "truncate_corrupt: true")
	require.ErrorContains(t, err, dir)
	t.Logf("operator sees: %v", err)

	e = startExtension(t, dir, func(c *Config) {
		small(c)
		c.TruncateCorrupt = true
	})
	require.NoError(t, e.Shutdown(context.Background()))
}

func TestFailedWriteForcesACheckpoint(t *testing.T) {
	dir := t.TempDir()
	e := startExtension(t, dir, nil)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	require.False(t, e.checkpointDue(), "a small journal does not checkpoint")

	// The write fails (here: the log is gone); the change stays in memory.
	require.NoError(t, e.log.Close())
	err := e.journal.Update(context.Background(), func(tx *Tx) error {
		tx.Put(testSpan(1, 1, SpanOpen), t0)
		return nil
	})
	require.ErrorIs(t, err, wal.ErrClosed)
	open, _, _, _ := e.journal.counts()
	require.Equal(t, 1, open, "the change is not undone")
	assert.True(t, e.checkpointDue(), "the journal is behind memory: checkpoint whatever its size")

	// Once the log works again, the checkpoint writes what the failed write held.
	l, err := wal.Open(wal.Options{Dir: dir})
	require.NoError(t, err)
	e.log, e.journal.log = l, l
	e.runCheckpoint()
	assert.False(t, e.checkpointDue())
	require.NoError(t, e.Shutdown(context.Background()))
	e = startExtension(t, dir, nil)
	open, _, _, _ = e.journal.counts()
	assert.Equal(t, 1, open, "the span whose write failed is journaled by the checkpoint")
}

func walRecord(typ byte, data []byte) wal.Record { return wal.Record{Type: typ, Data: data} }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestCheckpointRunsOnceTheJournalDoubled(t *testing.T) {
	e := startExtension(t, t.TempDir(), func(c *Config) { c.SegmentBytes = 64 << 10 })
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	s := testSpan(1, 1, SpanOpen)
	s.SetPayload(make([]byte, 4096))
	for i := 0; !e.checkpointDue(); i++ {
		require.Less(t, i, 100, "two segments of updates make a checkpoint due")
		update(t, e, func(tx *Tx) { tx.Put(s, t0) })
	}
	e.runCheckpoint()
	assert.False(t, e.checkpointDue(), "after a checkpoint the journal must double again")
	assert.Less(t, e.log.Size(), int64(2*64<<10))
}
