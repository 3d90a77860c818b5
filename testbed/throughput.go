package testbed

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"
)

// RoundFigures is one saturating round.
type RoundFigures struct {
	Round          int     `json:"round"`
	SpansPerSec    float64 `json:"accepted_spans_per_s"`
	CPUSecPerMSpan float64 `json:"cpu_s_per_million_spans"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	Refused        int64   `json:"refused_attempts"`
	Failed         int64   `json:"failed_requests"`
}

// ModeThroughput is one config on one workload.
type ModeThroughput struct {
	SpansPerSec    float64        `json:"accepted_spans_per_s_median"`
	CPUSecPerMSpan float64        `json:"cpu_s_per_million_spans_median"`
	PeakRSSMB      float64        `json:"peak_rss_mb_median"`
	HalfLoadRate   float64        `json:"half_load_offered_spans_per_s"`
	P50AckMs       float64        `json:"p50_ack_ms_half_load_median"`
	P99AckMs       float64        `json:"p99_ack_ms_half_load_median"`
	HalfLoadSpansS float64        `json:"half_load_accepted_spans_per_s_median"`
	Rounds         []RoundFigures `json:"rounds"`
	HalfP99Rounds  []float64      `json:"p99_ack_ms_half_load_rounds"`
}

// WorkloadThroughput is one workload, both configs.
type WorkloadThroughput struct {
	Baseline    ModeThroughput `json:"baseline"`
	Longspan    ModeThroughput `json:"longspan"`
	RatioPct    float64        `json:"longspan_vs_baseline_throughput_pct"`
	TargetPct   float64        `json:"target_pct"`
	TargetMet   bool           `json:"target_met"`
	SpansPerReq int            `json:"spans_per_request"`
	Workers     int            `json:"concurrent_clients"`
	MeasureSecs float64        `json:"measure_s_per_round"`
	Rounds      int            `json:"rounds"`
	// Diagnostic: longspan without the snapshot routing (saturated only).
	LongspanNoRouting *ModeThroughput `json:"longspan_without_snapshot_routing,omitempty"`
}

// ThroughputResult is the throughput scenario: the closed-loop rounds (a diagnostic since
// issue #21) and browser_load, the open-loop browser load (its own step, browser_load).
type ThroughputResult struct {
	PassThrough WorkloadThroughput `json:"pass_through"`
	Journaled   WorkloadThroughput `json:"journaled"`
	Note        string             `json:"note"`
	BrowserLoad *BrowserLoadResult `json:"browser_load,omitempty"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *Runner) bulkParams(kind BulkKind) BulkParams {
	return BulkParams{Kind: kind, Workers: r.o.Workers, TracesPerReq: 20, SpansPerTrace: 10,
		Retry: Retry{MaxElapsed: 10 * time.Second}, Gen: NewIDGen(uint32(time.Now().UnixNano()))}
}

// oneRound runs a fresh collector of mode on kind; rate 0 saturates.
func (r *Runner) oneRound(be *Backend, mode Mode, kind BulkKind, round int, rate float64) (BulkResult, RoundFigures, error) {
	return r.oneRoundP(be, mode, kind, round, rate, false)
}

func (r *Runner) oneRoundP(be *Backend, mode Mode, kind BulkKind, round int, rate float64, noRouting bool) (BulkResult, RoundFigures, error) {
	var rf RoundFigures
	_ = be.Reset("count")
	name := fmt.Sprintf("tput-%s-%s-%d-%v-%v", kind, mode, round, rate > 0, noRouting)
	rig, err := r.env.StartRig(name, CollectorParams{
		Mode: mode, NoRouting: noRouting, SnapInterval: 500 * time.Millisecond, IdleTimeout: 30 * time.Second,
		JournalDir: filepath.Join(r.env.WorkDir, name, "journal"),
	}, be)
	if err != nil {
		return BulkResult{}, rf, err
	}
	defer rig.Close()
	c, snd := rig.Collector, rig.Snd
	p := r.bulkParams(kind)
	p.Rate = rate
	// warm-up (connections, JIT of maps, first segment)
	p.Duration = r.o.Warmup
	RunBulk(context.Background(), snd, p)
	s0, err := c.Stat()
	if err != nil {
		return BulkResult{}, rf, err
	}
	p.Duration = r.o.Measure
	res := RunBulk(context.Background(), snd, p)
	s1, err := c.Stat()
	if err != nil {
		return BulkResult{}, rf, err
	}
	rf = RoundFigures{Round: round, SpansPerSec: round1(res.SpansPerSec()), PeakRSSMB: round1(float64(s1.HWMBytes) / (1 << 20)),
		Refused: res.RefusedAttempts, Failed: res.FailedRequests}
	if res.AckedSpansAll > 0 {
		rf.CPUSecPerMSpan = round3((s1.CPUSeconds - s0.CPUSeconds) / float64(res.AckedSpansAll) * 1e6)
	}
	return res, rf, nil
}

func (r *Runner) scenarioThroughput() (*ThroughputResult, error) {
	out := &ThroughputResult{Note: "loopback, one 2-core machine shared by load generator, mock backend and collector; CPU per million spans counts the collector process only"}
	be, err := r.env.StartBackend("backend-throughput")
	if err != nil {
		return nil, err
	}
	defer be.Stop()
	for _, kind := range []BulkKind{PassThrough, Journaled} {
		w := WorkloadThroughput{Rounds: r.o.Rounds, Workers: r.o.Workers, SpansPerReq: 200, MeasureSecs: r.o.Measure.Seconds()}
		if kind == Journaled {
			w.SpansPerReq, w.TargetPct = 220, 80
		} else {
			w.TargetPct = 97
		}
		figs := map[Mode]*ModeThroughput{Baseline: &w.Baseline, Longspan: &w.Longspan}
		w.LongspanNoRouting = &ModeThroughput{}
		const noRouting Mode = "longspan_no_routing"
		for round := 1; round <= r.o.Rounds; round++ {
			order := []Mode{Baseline, Longspan, noRouting}
			if round%2 == 0 {
				order = []Mode{noRouting, Longspan, Baseline}
			}
			for _, mode := range order {
				var (
					res BulkResult
					rf  RoundFigures
					err error
				)
				if mode == noRouting {
					res, rf, err = r.oneRoundP(be, Longspan, kind, round, 0, true)
					if err == nil {
						w.LongspanNoRouting.Rounds = append(w.LongspanNoRouting.Rounds, rf)
					}
				} else {
					res, rf, err = r.oneRound(be, mode, kind, round, 0)
				}
				if err != nil {
					return nil, err
				}
				r.logf("throughput/%s/%s round %d: %.0f spans/s, %.2f CPU-s/M, peak RSS %.0f MB, refused %d, failed %d",
					kind, mode, round, rf.SpansPerSec, rf.CPUSecPerMSpan, rf.PeakRSSMB, res.RefusedAttempts, res.FailedRequests)
				if mode != noRouting {
					figs[mode].Rounds = append(figs[mode].Rounds, rf)
				}
			}
		}
		for _, m := range []*ModeThroughput{&w.Baseline, &w.Longspan, w.LongspanNoRouting} {
			var a, b, c []float64
			for _, rf := range m.Rounds {
				a, b, c = append(a, rf.SpansPerSec), append(b, rf.CPUSecPerMSpan), append(c, rf.PeakRSSMB)
			}
			m.SpansPerSec, m.CPUSecPerMSpan, m.PeakRSSMB = round1(median(a)), round3(median(b)), round1(median(c))
		}
		// Half load: the same offered rate for both, half the baseline's saturated median.
		half := w.Baseline.SpansPerSec / 2
		for _, m := range figs {
			m.HalfLoadRate = round1(half)
		}
		p50s := map[Mode][]float64{}
		acc := map[Mode][]float64{}
		for round := 1; round <= r.o.Rounds; round++ {
			order := []Mode{Baseline, Longspan}
			if round%2 == 0 {
				order = []Mode{Longspan, Baseline}
			}
			for _, mode := range order {
				res, _, err := r.oneRound(be, mode, kind, round, half)
				if err != nil {
					return nil, err
				}
				p99 := float64(res.P(0.99).Microseconds()) / 1000
				figs[mode].HalfP99Rounds = append(figs[mode].HalfP99Rounds, round3(p99))
				p50s[mode] = append(p50s[mode], float64(res.P(0.5).Microseconds())/1000)
				acc[mode] = append(acc[mode], res.SpansPerSec())
				r.logf("throughput/%s/%s half load %.0f spans/s round %d: accepted %.0f/s, p50 %.2f ms, p99 %.2f ms",
					kind, mode, half, round, res.SpansPerSec(), float64(res.P(0.5).Microseconds())/1000, p99)
			}
		}
		for mode, m := range figs {
			m.P99AckMs = round3(median(m.HalfP99Rounds))
			m.P50AckMs = round3(median(p50s[mode]))
			m.HalfLoadSpansS = round1(median(acc[mode]))
		}
		if w.Baseline.SpansPerSec > 0 {
			w.RatioPct = round1(100 * w.Longspan.SpansPerSec / w.Baseline.SpansPerSec)
		}
		w.TargetMet = w.RatioPct >= w.TargetPct
		if kind == PassThrough {
			out.PassThrough = w
		} else {
			out.Journaled = w
		}
	}
	return out, nil
}
