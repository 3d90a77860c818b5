package spanjournal

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// BenchmarkHeldSpanMemory holds browser-shaped traces (an open page.session root and
// 300 ended children each, 600-byte payloads) and reports the heap each held span
// costs once its payload is on disk: the figure that decides how many held spans
// fit in a gateway's memory.
//
//	go test -run xxx -bench HeldSpanMemory -benchtime 1x ./extension/spanjournal/
func BenchmarkHeldSpanMemory(b *testing.B) {
	for _, spans := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(spans), func(b *testing.B) {
			for range b.N {
				benchHeldSpanMemory(b, spans)
			}
		})
	}
}

func benchHeldSpanMemory(b *testing.B, spans int) {
	dir := b.TempDir()
	e := startExtension(&testing.T{}, dir, func(c *Config) { c.Sync = "never" })
	payload := make([]byte, 600)
	const perTrace = 301
	before := heapInUse()
	start := time.Now()
	for n := 0; n < spans; {
		var trace pcommon.TraceID
		binary.BigEndian.PutUint64(trace[:], uint64(n))
		session := fmt.Sprintf("session-%d", n)
		require.NoError(b, e.journal.Update(context.Background(), func(tx *Tx) error {
			for i := 0; i < perTrace && n < spans; i, n = i+1, n+1 {
				s := &Span{TraceID: trace, State: SpanEnded, Name: "GET /api/items"}
				s.SetOrigin(Origin{Service: "web-shop", SessionID: session, Source: "otlp", Client: "127.0.1.1"})
				s.SetTimes(t0, t0, t0)
				binary.BigEndian.PutUint64(s.SpanID[:], uint64(i+1))
				if i == 0 {
					s.State, s.Name = SpanOpen, "page.session"
				} else {
					s.ParentID = pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 1}
				}
				s.SetPayload(payload)
				tx.Put(s, t0)
			}
			return nil
		}))
	}
	b.ReportMetric(float64(heapInUse()-before)/float64(spans), "heap-B/span")
	b.ReportMetric(float64(spans)/time.Since(start).Seconds(), "spans/s")
	require.NoError(b, e.Shutdown(context.Background()))
	e = nil
	before = heapInUse()
	start = time.Now()
	e = startExtension(&testing.T{}, dir, nil)
	b.ReportMetric(time.Since(start).Seconds(), "recovery-s")
	b.ReportMetric(float64(heapInUse()-before)/float64(spans), "recovered-heap-B/span")
	require.NoError(b, e.Shutdown(context.Background()))
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// The size of a held span's index entry, as extension/spanjournal/README.md and Span's
// comment give it: change them together.
func TestSpanLayoutIsWhatTheDocsSay(t *testing.T) {
	if got := unsafe.Sizeof(Span{}); got != 120 {
		t.Errorf("Span is %d bytes; the docs say 120", got)
	}
}
