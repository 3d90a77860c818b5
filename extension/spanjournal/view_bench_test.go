package spanjournal

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// BenchmarkView is GET /v1/open-spans's work at the default limit over 33,206 open
// spans (held_scale's at 10 M held spans), each trace holding 30 ended spans.
func BenchmarkView(b *testing.B) {
	e := startExtension(b, b.TempDir(), func(c *Config) { c.PayloadCacheBytes = 0 })
	defer func() { _ = e.Shutdown(context.Background()) }()
	const traces, ended = 33206, 30
	for lo := 0; lo < traces; lo += 1000 {
		_ = e.journal.Update(context.Background(), func(tx *Tx) error {
			for i := lo; i < min(lo+1000, traces); i++ {
				var id pcommon.TraceID
				binary.BigEndian.PutUint64(id[:], uint64(i)*0x9E3779B97F4A7C15)
				binary.BigEndian.PutUint64(id[8:], uint64(i))
				for j := 0; j <= ended; j++ {
					st := SpanEnded
					if j == 0 {
						st = SpanOpen
					}
					s := testSpan(0, byte(j), st)
					s.TraceID, s.SpanID = id, pcommon.SpanID{byte(j), 1, 2}
					at := t0.Add(time.Duration(i%1000) * time.Microsecond)
					s.SetTimes(at, at, at)
					s.SetPayload([]byte{1})
					tx.Put(s, t0)
				}
			}
			return nil
		})
	}
	var longest time.Duration
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		e.journal.view(defaultViewLimit, t0, func(d time.Duration) { longest = max(longest, d) })
	}
	b.ReportMetric(float64(longest.Microseconds()), "longest-hold-µs")
}
