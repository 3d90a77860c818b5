package longspan

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// BenchmarkTickHolding measures one tick (the timed rules; nothing due) while the
// journal holds browser traces: one open page span and 300 ended children each, 100k
// and 1M held spans. The tick should not grow with what is held.
//
//	go test -run '^$' -bench BenchmarkTickHolding -benchtime 200x ./processor/longspan/
func BenchmarkTickHolding(b *testing.B) {
	const children = 300
	for _, held := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			clk := &manualClock{now: t0}
			h := newHarnessJournal(b, b.TempDir(), clk, func(c *Config) {
				c.Limits.MaxHeldSpans = 2 * held
				c.Limits.MaxOpenSpans = 2 * held
				c.Quotas.PerClient = Quota{}
				c.Quotas.PerSession = Quota{}
				c.Quotas.PerTrace = Quota{}
				c.Quotas.NoSession = Quota{}
			}, consumertest.NewNop(), func(j *spanjournal.Config) { j.Sync = wal.SyncNever })
			for n := range uint64(held / children) {
				var trace pcommon.TraceID
				binary.BigEndian.PutUint64(trace[:8], n+1)
				binary.BigEndian.PutUint64(trace[8:], (n+1)*0x9E3779B97F4A7C15)
				specs := make([]spanSpec, 0, children+1)
				specs = append(specs, spanSpec{trace: trace, id: rootID, name: "page.session", start: t0})
				for i := range uint64(children) {
					var id pcommon.SpanID
					binary.BigEndian.PutUint64(id[:], i+10)
					specs = append(specs, spanSpec{trace: trace, id: id, parent: rootID, name: "fetch", start: t0, end: t0.Add(time.Millisecond)})
				}
				h.mustConsume(traces(specs...))
			}
			h.advance(time.Second) // the first tick (indexes what is held)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				h.proc.tick(ctx)
			}
		})
	}
}
