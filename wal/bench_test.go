package wal

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tidwall "github.com/tidwall/wal"
)

var benchSizes = []int{512, 2048}

func benchPayload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

func reportRecords(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSubmitWait: N goroutines each submitting one record and waiting for it, sync
// always: what group commit makes of N concurrent callers.
func BenchmarkSubmitWait(b *testing.B) {
	for _, g := range []int{1, 8, 64} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("goroutines=%d/size=%d", g, size), func(b *testing.B) {
				var batches, records, fsyncNs atomic.Int64
				l, err := Open(Options{Dir: b.TempDir(), Sync: SyncAlways, Hooks: Hooks{
					OnCommit: func(n, _ int, d time.Duration) {
						batches.Add(1)
						records.Add(int64(n))
						fsyncNs.Add(int64(d))
					},
				}})
				if err != nil {
					b.Fatal(err)
				}
				rec := Record{Type: 1, Data: benchPayload(size)}
				b.SetBytes(int64(size))
				b.ResetTimer()
				var wg sync.WaitGroup
				for i := 0; i < g; i++ {
					n := b.N / g
					if i < b.N%g {
						n++
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := 0; j < n; j++ {
							if _, err := submitWait(l, rec); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				reportRecords(b, b.N)
				if n := batches.Load(); n > 0 {
					b.ReportMetric(float64(records.Load())/float64(n), "records/batch")
					b.ReportMetric(float64(fsyncNs.Load())/float64(n)/1e3, "fsync-µs/batch")
					b.ReportMetric(float64(fsyncNs.Load())/float64(b.Elapsed()), "fsync-share")
				}
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkRawWriteBatch: tidwall WriteBatch of 256 records plus one fsync,
// from one goroutine: the ceiling for group commit.
func BenchmarkRawWriteBatch(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			tl, err := tidwall.Open(b.TempDir(), &tidwall.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			data := benchPayload(size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			var batch tidwall.Batch
			idx := uint64(1)
			for done := 0; done < b.N; {
				n := min(256, b.N-done)
				for i := 0; i < n; i++ {
					batch.Write(idx, data)
					idx++
				}
				if err := tl.WriteBatch(&batch); err != nil {
					b.Fatal(err)
				}
				if err := tl.Sync(); err != nil {
					b.Fatal(err)
				}
				done += n
			}
			b.StopTimer()
			reportRecords(b, b.N)
			if err := tl.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkRawWritePerRecord: one tidwall Write plus fsync per record: the
// floor, what concurrent writers get from tidwall alone.
func BenchmarkRawWritePerRecord(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			tl, err := tidwall.Open(b.TempDir(), &tidwall.Options{NoSync: false})
			if err != nil {
				b.Fatal(err)
			}
			data := benchPayload(size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := tl.Write(uint64(i+1), data); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportRecords(b, b.N)
			if err := tl.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
