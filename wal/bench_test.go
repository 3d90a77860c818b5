package wal

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tidwall "github.com/tidwall/wal"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
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
// always: what group commit makes of N concurrent callers (a closed loop), with
// MinSyncInterval 0 and 5ms (size 512 only: the interval, not the size, decides).
func BenchmarkSubmitWait(b *testing.B) {
	for _, g := range []int{1, 8, 64} {
		for _, size := range benchSizes {
			for _, interval := range []time.Duration{0, 5 * time.Millisecond} {
				if interval > 0 && size != 512 {
					continue
				}
				b.Run(fmt.Sprintf("goroutines=%d/size=%d/min_sync_interval=%s", g, size, interval), func(b *testing.B) {
					benchSubmitWait(b, g, size, interval)
				})
			}
		}
	}
}

func benchSubmitWait(b *testing.B, g, size int, interval time.Duration) {
	var batches, records, fsyncNs atomic.Int64
	l, err := Open(Options{Dir: b.TempDir(), Sync: SyncAlways, MinSyncInterval: interval, Hooks: Hooks{
		OnCommit: func(c Commit) {
			batches.Add(1)
			records.Add(int64(c.Records))
			fsyncNs.Add(int64(c.Fsync))
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
}

// BenchmarkSubmitOpenLoop: Submits arriving at a fixed rate, each on its own
// goroutine whatever the earlier ones' progress (an open population such as
// browsers behind a gateway; one op is one Submit of 16 records of 256 bytes,
// about one browser request), with MinSyncInterval 0 and 5ms. It reports the
// Submits per fsync, the fsyncs per second, the process's CPU per Submit (user
// and system: the kernel's fsyncs included) and the time from a Submit to its
// acknowledgement, which MinSyncInterval lengthens by at most the interval.
func BenchmarkSubmitOpenLoop(b *testing.B) {
	for _, rate := range []int{400, 2000} {
		for _, interval := range []time.Duration{0, 5 * time.Millisecond} {
			b.Run(fmt.Sprintf("submits_per_s=%d/min_sync_interval=%s", rate, interval), func(b *testing.B) {
				benchSubmitOpenLoop(b, rate, interval)
			})
		}
	}
}

func benchSubmitOpenLoop(b *testing.B, rate int, interval time.Duration) {
	var batches, submits atomic.Int64
	l, err := Open(Options{Dir: b.TempDir(), MinSyncInterval: interval, Hooks: Hooks{
		OnCommit: func(c Commit) {
			batches.Add(1)
			submits.Add(int64(c.Submits))
		},
	}})
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]Record, 16)
	for i := range recs {
		recs[i] = Record{Type: 1, Data: benchPayload(256)}
	}
	acks := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	ticker := time.NewTicker(time.Second / time.Duration(rate))
	defer ticker.Stop()
	b.ResetTimer()
	cpu0 := harness.SelfCPU()
	for i := range b.N {
		<-ticker.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			if _, err := submitWait(l, recs...); err != nil {
				b.Error(err)
			}
			acks[i] = time.Since(sent)
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := harness.SelfCPU() - cpu0
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	slices.Sort(acks)
	b.ReportMetric(float64(submits.Load())/float64(batches.Load()), "submits/fsync")
	b.ReportMetric(float64(batches.Load())/b.Elapsed().Seconds(), "fsyncs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/submit")
	b.ReportMetric(float64(acks[b.N/2])/1e6, "ack-ms-p50")
	b.ReportMetric(float64(acks[b.N*99/100])/1e6, "ack-ms-p99")
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
