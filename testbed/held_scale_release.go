package testbed

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// release ends every root (each client sends its roots with an end time) and waits
// until every held span reached the backend; then checks each arrived. It also reads
// where the release's CPU went: the collector's (process CPU, and what it allocated)
// and this process's (the backend decoding every span and the senders), which share
// the machine's cores.
func (h *hsRun) release(be *Backend, workers int) {
	res := h.res
	_ = be.Reset("detail")
	want := res.HeldSpans
	cost0 := h.readReleaseCost()
	t0 := time.Now()
	go h.forClients(0, h.plan.clients(), workers, func(cl int, snd *Sender) {
		td, _ := h.plan.rootsRequest(cl, pcommon.NewTimestampFromTime(time.Now()), 2)
		h.send(snd, td)
	})
	limit := max(90*time.Second, time.Duration(want/20000)*time.Second)
	var st BackendStats
	for time.Since(t0) < limit {
		s, err := be.Stats()
		if err == nil {
			st = s
			if s.Spans-s.Snapshots >= want {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.ReleaseSpans = st.Spans - st.Snapshots
	h.releaseCost(cost0, h.readReleaseCost())
	end := time.Unix(0, st.LastRecv)
	if st.LastRecv == 0 || res.ReleaseSpans < want {
		end = time.Now()
	}
	res.ReleaseSec = round3(end.Sub(t0).Seconds())
	if res.ReleaseSec > 0 {
		res.ReleaseSpansPerSec = round1(float64(res.ReleaseSpans) / res.ReleaseSec)
	}
	// Let duplicates (if any) arrive, then check every span by its bit.
	_, _ = be.WaitQuiet(time.Second, time.Second, 30*time.Second)
	seen := make([]uint8, h.plan.total)
	first := int64(math.MaxInt64)
	err := h.streamRecords(be, func(rc Rec) {
		if rc.State == StateSnapshot {
			return
		}
		b := h.plan.bit(rc.Key)
		if b < 0 {
			return
		}
		first = min(first, rc.Recv)
		if rc.State != StatePlain {
			res.ReleaseNotPlain++
		}
		if seen[b] < 255 {
			seen[b]++
		}
	})
	if err != nil {
		h.r.logf("held_scale: backend records: %v", err)
		res.ReleaseMissing = want
		return
	}
	if first != math.MaxInt64 {
		res.ReleaseFirstSec = round3(time.Unix(0, first).Sub(t0).Seconds())
	}
	for _, n := range seen {
		switch {
		case n == 0:
			res.ReleaseMissing++
		case n > 1:
			res.ReleaseDuplicates += int64(n) - 1
		}
	}
	// Spans never acknowledged cannot arrive; count only what was acked.
	res.ReleaseMissing -= h.plan.total - want
	res.ReleaseMissing = max(res.ReleaseMissing, 0)
	res.ReleaseComplete = res.ReleaseSpans >= want
}

// releaseCostReading is the CPU used so far by the collector and by this process,
// and what the collector allocated.
type releaseCostReading struct {
	collectorCPU, testbedCPU, alloc float64
	ok                              bool
}

func (h *hsRun) readReleaseCost() releaseCostReading {
	st, err1 := h.c.Stat()
	alloc, err2 := h.c.Metric("otelcol_process_runtime_total_alloc_bytes")
	return releaseCostReading{collectorCPU: st.CPUSeconds, alloc: alloc,
		testbedCPU: harness.SelfCPU().Seconds(), ok: err1 == nil && err2 == nil}
}

// releaseCost records the release's cost per released span between two readings.
func (h *hsRun) releaseCost(before, after releaseCostReading) {
	res := h.res
	if !before.ok || !after.ok || res.ReleaseSpans == 0 {
		return
	}
	n := float64(res.ReleaseSpans)
	res.ReleaseCollectorCPUSec = round3(after.collectorCPU - before.collectorCPU)
	res.ReleaseCollectorCPUUsPerSpan = round3(res.ReleaseCollectorCPUSec / n * 1e6)
	res.ReleaseCollectorAllocPerSpan = round1((after.alloc - before.alloc) / n)
	res.ReleaseTestbedCPUSec = round3(after.testbedCPU - before.testbedCPU)
}

// streamRecords reads the backend's /records without holding them all.
func (h *hsRun) streamRecords(be *Backend, fn func(Rec)) error {
	resp, err := be.hc.Get(be.base + "/records")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	br := bufio.NewReaderSize(resp.Body, 1<<20)
	var buf [recSize]byte
	for {
		if _, err := io.ReadFull(br, buf[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		var r Rec
		copy(r.Key[:], buf[:24])
		r.Batch = binary.LittleEndian.Uint32(buf[24:])
		r.State, r.Reason = buf[28], buf[29]
		r.Recv = int64(binary.LittleEndian.Uint64(buf[30:]))
		fn(r)
	}
}
