package testbed

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// journalFigures measures journal_bytes, live_bytes and their ratio; past the target
// ratio it waits (bounded) for a checkpoint and measures again.
func (h *hsRun) journalFigures() {
	res, c := h.res, h.c
	measure := func() {
		res.JournalBytes = harness.DirBytes(c.Params.JournalDir)
		res.LiveBytes, res.LiveBytesSource = res.ClientBytes, "client: protobuf bytes of the acknowledged build requests (metric otelcol_spanjournal_live_bytes absent)"
		if m, err := harness.MetricByLabel(c.Params.MetricsPort, "otelcol_spanjournal_live_bytes", ""); err == nil && len(m) > 0 {
			res.LiveBytes, res.LiveBytesSource = int64(m[""]), "metric otelcol_spanjournal_live_bytes"
		}
		if v, err := c.Metric("otelcol_spanjournal_checkpoints"); err == nil {
			res.Checkpoints = v
		}
		res.JournalBytesWritten, _ = c.Metric("otelcol_spanjournal_bytes_written")
		res.JournalRecordsWritten, _ = c.Metric("otelcol_spanjournal_records_written")
		res.SnapshotsEmitted, _ = c.Metric("otelcol_longspan_snapshots_emitted")
		if res.LiveBytes > 0 {
			res.JournalRatio = round3(float64(res.JournalBytes) / float64(res.LiveBytes))
		}
	}
	measure()
	if res.JournalRatio > hsTargetJournal {
		t0, before := time.Now(), res.Checkpoints
		for time.Since(t0) < 75*time.Second && res.Checkpoints == before {
			time.Sleep(time.Second)
			measure()
		}
		res.CheckpointWaitSec = round1(time.Since(t0).Seconds())
	}
	h.r.logf("held_scale: journal %.1f MB, live %.1f MB (%s), ratio %.2f, %0.f checkpoints; written %.1f MB in %.0f records, %.0f snapshots emitted",
		mb(res.JournalBytes), mb(res.LiveBytes), res.LiveBytesSource, res.JournalRatio, res.Checkpoints,
		res.JournalBytesWritten/(1<<20), res.JournalRecordsWritten, res.SnapshotsEmitted)
}

// ackProbe sends small traces of ended spans (released at once) at hsAckRate requests/s
// for d and returns their acknowledgement latencies.
func (h *hsRun) ackProbe(d time.Duration, held int64) HSAck {
	out := HSAck{HeldSpans: held}
	snd, err := NewSender(h.c.Params.GRPC, h.c.Params.HTTP)
	if err != nil {
		return out
	}
	defer snd.Close()
	p := h.r.bulkParams(PassThrough)
	p.TracesPerReq, p.SpansPerTrace = 1, 5
	const lanes = 4
	interval := time.Duration(float64(time.Second) * lanes / hsAckRate)
	var mu sync.Mutex
	var lats []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for l := 0; l < lanes; l++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now().Add(time.Duration(l) * interval / lanes)
			for time.Now().Before(stop) {
				time.Sleep(time.Until(next))
				next = next.Add(interval)
				td, _, _ := buildBulk(p, nil)
				res := snd.SendTraces(context.Background(), td, false, Retry{})
				if !res.Acked {
					failed.Add(1)
					continue
				}
				mu.Lock()
				lats = append(lats, res.Latency)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	out.Requests, out.Failed = len(lats), int(failed.Load())
	if len(lats) > 0 {
		q := func(x float64) float64 {
			return round3(float64(lats[int(x*float64(len(lats)-1))].Microseconds()) / 1000)
		}
		out.P50Ms, out.P99Ms = q(0.5), q(0.99)
	}
	return out
}

// The tick histogram and the part of a tick under the journal lock; the exporter may
// add a unit to the names (harness.HistogramAt finds them).
const (
	hsTickMetric      = "otelcol_longspan_tick_duration"
	hsTickRulesMetric = "otelcol_longspan_tick_rules_duration"
	hsTickLockMetric  = "otelcol_longspan_tick_lock_wait_duration"
	hsTickWriteMetric = "otelcol_longspan_tick_write_wait_duration"
	hsViewLockMetric  = "otelcol_spanjournal_view_lock_duration"
	hsFsyncMetric     = "otelcol_spanjournal_fsync_duration" // seconds
)

// tickMetric finds the full name of the tick-duration histogram ("" if absent).
func (h *hsRun) tickMetric() string {
	name, _, _ := harness.HistogramAt(h.c.Params.MetricsPort, hsTickMetric)
	return name
}

// scrapeTick scrapes the tick histogram (full name), its parts (the longest hold of the
// lock, the wait for the lock, the wait for the writes) and the journal's fsyncs.
func (h *hsRun) scrapeTick(name string) [5]harness.Histogram {
	if name == "" {
		return [5]harness.Histogram{}
	}
	var out [5]harness.Histogram
	for i, metric := range []string{hsTickMetric, hsTickRulesMetric, hsTickLockMetric, hsTickWriteMetric} {
		_, out[i], _ = harness.HistogramAt(h.c.Params.MetricsPort, strings.Replace(name, hsTickMetric, metric, 1))
	}
	_, out[4], _ = harness.HistogramAt(h.c.Params.MetricsPort, hsFsyncMetric)
	return out
}

// p99Ms is the p99 of the observations between two scrapes of a histogram in
// milliseconds, rounded to the microsecond, and how many there were.
func p99Ms(before, after harness.Histogram) (*float64, float64) {
	v, n := after.QuantileSince(before, 0.99)
	if v != nil {
		r := round3(*v)
		v = &r
	}
	return v, n
}

func (h *hsRun) tickFrom(name string, before [5]harness.Histogram, window time.Duration) HSTick {
	t := HSTick{WindowSec: window.Seconds()}
	if name == "" {
		return t
	}
	after := h.scrapeTick(name)
	t.P99Ms, t.Ticks = p99Ms(before[0], after[0])
	t.RulesP99Ms, _ = p99Ms(before[1], after[1])
	t.LockWaitP99Ms, _ = p99Ms(before[2], after[2])
	t.WriteWaitP99Ms, _ = p99Ms(before[3], after[3])
	if v, n := after[4].QuantileSince(before[4], 0.99); v != nil {
		ms := round3(*v * 1e3)
		t.FsyncP99Ms, t.Fsyncs = &ms, n
	}
	if v := after[4].MaxSince(before[4]); v != nil && !math.IsInf(*v, 1) {
		ms := *v * 1e3
		t.FsyncMaxMs = &ms
	}
	return t
}

// tickDuringReReport measures the tick while every open root of clients [0, hi) is
// reported again (the burst that moves every idle deadline at once: issue #21), from
// before the burst until window after its start or two ticks after its end, whichever
// is later, so the ticks that follow the burst's changes count. It returns the roots
// re-reported too.
func (h *hsRun) tickDuringReReport(name string, hi, workers, beat int, window time.Duration) (HSTick, int64) {
	before := h.scrapeTick(name)
	began := time.Now()
	var n atomic.Int64
	h.forClients(0, hi, workers, func(cl int, snd *Sender) {
		td, k := h.plan.rootsRequest(cl, 0, beat)
		if h.send(snd, td) {
			n.Add(int64(k))
		}
	})
	time.Sleep(max(time.Until(began.Add(window)), 2*h.shipped.Tick))
	t := h.tickFrom(name, before, time.Since(began))
	t.HeldSpans = h.acked.Load()
	return t, n.Load()
}

// viewProbe asks for the open-span view (its default limit) n times, one after the
// other: the p99 of its latency at the client, and the longest journal lock hold one
// view caused, as the upper bound of the extension's histogram bucket that holds every
// view's longest hold (spanjournal_view_lock_duration, scraped before and after).
func (h *hsRun) viewProbe(n int) {
	res, port := h.res, h.c.Params.MetricsPort
	_, before, _ := harness.HistogramAt(port, hsViewLockMetric)
	lats := make([]time.Duration, 0, n)
	for range n {
		v, took, err := harness.OpenSpansTimed(h.c.Params.JournalHTTP, 0)
		if err != nil {
			h.r.logf("held_scale: open-span view: %v", err)
			continue
		}
		lats = append(lats, took)
		res.OpenSpansViewRows = len(v.OpenSpans)
	}
	res.OpenSpansViews = len(lats)
	if len(lats) > 0 {
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		q := func(x float64) *float64 {
			v := round3(float64(lats[int(x*float64(len(lats)-1))].Microseconds()) / 1000)
			return &v
		}
		res.OpenSpansViewMsP50, res.OpenSpansViewMsP99 = q(0.5), q(0.99)
	}
	if _, after, err := harness.HistogramAt(port, hsViewLockMetric); err == nil {
		if m := after.MaxSince(before); m != nil {
			ms := *m * 1000
			res.OpenSpansViewLockMsMax = &ms
		}
	}
}

func fmtMs(v *float64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%.2f ms", *v)
}
