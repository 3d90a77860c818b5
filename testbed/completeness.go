package testbed

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// KindFigures is completeness per session ending.
type KindFigures struct {
	Sessions        int     `json:"sessions"`
	RootVisiblePct  float64 `json:"root_visible_pct"`
	Kept            int     `json:"kept_traces"`
	KeptCompletePct float64 `json:"kept_complete_pct"`
}

// CompletenessFigures is scenario 1 for one mode.
type CompletenessFigures struct {
	Sessions          int                  `json:"sessions"`
	Aborted           int                  `json:"sessions_aborted"`
	SamplePercent     float64              `json:"tail_sampling_probabilistic_pct"`
	RootVisiblePct    float64              `json:"root_visible_pct"`         // root seen at the backend in any form (incl. live snapshot)
	RootFinalPct      float64              `json:"root_final_visible_pct"`   // root seen as a finished span (plain/reconciled/superseding)
	RootVisibleP50Sec float64              `json:"root_first_visible_p50_s"` // session start → first sight of the root
	Kept              int                  `json:"kept_traces"`
	KeptWithRootPct   float64              `json:"kept_with_root_pct"`
	KeptCompletePct   float64              `json:"kept_complete_pct"`
	KeptPartial       int                  `json:"kept_in_part"`
	SplitTraces       int                  `json:"kept_split_over_batches"`
	LateSpans         int                  `json:"spans_after_decision"`
	Superseding       int                  `json:"superseding_roots"`
	Reconciled        map[string]int       `json:"reconciled_by_reason"`
	FalseReconciled   int                  `json:"false_reconciliations"`
	Snapshots         int                  `json:"snapshot_spans"`
	ByKind            map[Kind]KindFigures `json:"by_kind"`
	Duration          float64              `json:"duration_s"`
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// EvaluateCompleteness reads the backend's records against the sessions.
func EvaluateCompleteness(sessions []*Session, recs []Rec) CompletenessFigures {
	type traceRecs []Rec
	byTrace := map[[16]byte]traceRecs{}
	for _, r := range recs {
		var t [16]byte
		copy(t[:], r.Key[:16])
		byTrace[t] = append(byTrace[t], r)
	}
	f := CompletenessFigures{Sessions: len(sessions), Reconciled: map[string]int{}, ByKind: map[Kind]KindFigures{}}
	var firstSeen []float64
	kindCount := map[Kind]*struct{ n, vis, kept, complete int }{}
	for _, k := range AllKinds {
		kindCount[k] = &struct{ n, vis, kept, complete int }{}
	}
	rootVis, rootFinal, keptWithRoot, keptComplete := 0, 0, 0, 0
	for _, s := range sessions {
		kc := kindCount[s.Kind]
		kc.n++
		if s.Aborted {
			f.Aborted++
		}
		rs := byTrace[s.Trace]
		rootKey := s.key(s.Root)
		seen := map[SpanKey]bool{}
		batches := map[uint32]bool{}
		var first int64
		var rootFirst int64
		rootAny, rootFin := false, false
		firstBatchRecv := int64(0)
		var plainRecs []Rec
		for _, r := range rs {
			if r.Key == rootKey {
				rootAny = true
				if rootFirst == 0 || r.Recv < rootFirst {
					rootFirst = r.Recv
				}
			}
			if r.State == StateSnapshot {
				f.Snapshots++
				continue
			}
			if r.Key == rootKey {
				rootFin = true
				if r.State == StateReconciled {
					f.Reconciled[reasonNames[r.Reason]]++
					if s.Kind == KindNormal || s.Kind == KindHeartbeat || s.Kind == KindBackgrounded {
						f.FalseReconciled++
					}
				}
			}
			if r.State == StateSuperseding {
				f.Superseding++
				continue
			}
			seen[r.Key] = true
			batches[r.Batch] = true
			if first == 0 || r.Recv < first {
				first = r.Recv
			}
			plainRecs = append(plainRecs, r)
		}
		if rootAny {
			rootVis++
			kc.vis++
			firstSeen = append(firstSeen, time.Duration(rootFirst-s.Start.UnixNano()).Seconds())
		}
		if rootFin {
			rootFinal++
		}
		if len(seen) == 0 {
			continue
		}
		// kept
		f.Kept++
		kc.kept++
		if seen[rootKey] {
			keptWithRoot++
		}
		complete := seen[rootKey]
		for _, c := range s.Children {
			if !seen[s.key(c)] {
				complete = false
			}
		}
		if complete {
			keptComplete++
			kc.complete++
		} else {
			f.KeptPartial++
		}
		if len(batches) > 1 {
			f.SplitTraces++
			// spans after the first batch of the trace
			for _, r := range plainRecs {
				if r.Recv < firstBatchRecv || firstBatchRecv == 0 {
					firstBatchRecv = r.Recv
				}
			}
			var firstBatch uint32
			for _, r := range plainRecs {
				if r.Recv == firstBatchRecv {
					firstBatch = r.Batch
					break
				}
			}
			for _, r := range plainRecs {
				if r.Batch != firstBatch {
					f.LateSpans++
				}
			}
		}
	}
	f.RootVisiblePct = pct(rootVis, len(sessions))
	f.RootFinalPct = pct(rootFinal, len(sessions))
	f.KeptWithRootPct = pct(keptWithRoot, f.Kept)
	f.KeptCompletePct = pct(keptComplete, f.Kept)
	if len(firstSeen) > 0 {
		sort.Float64s(firstSeen)
		f.RootVisibleP50Sec = round3(firstSeen[len(firstSeen)/2])
	}
	for k, kc := range kindCount {
		f.ByKind[k] = KindFigures{Sessions: kc.n, RootVisiblePct: round1(pct(kc.vis, kc.n)), Kept: kc.kept, KeptCompletePct: round1(pct(kc.complete, kc.kept))}
	}
	f.RootVisiblePct, f.RootFinalPct = round1(f.RootVisiblePct), round1(f.RootFinalPct)
	f.KeptWithRootPct, f.KeptCompletePct = round1(f.KeptWithRootPct), round1(f.KeptCompletePct)
	return f
}

// CompletenessResult is scenario 1.
type CompletenessResult struct {
	Baseline CompletenessFigures `json:"baseline"`
	Longspan CompletenessFigures `json:"longspan"`
}

func (r *Runner) scenarioCompleteness() (*CompletenessResult, error) {
	res := &CompletenessResult{}
	be, err := r.env.StartBackend("backend-completeness")
	if err != nil {
		return nil, err
	}
	defer be.Stop()
	for _, mode := range []Mode{Baseline, Longspan} {
		t0 := time.Now()
		_ = be.Reset("detail")
		rig, err := r.env.StartRig("completeness-"+string(mode), CollectorParams{
			Mode: mode, SamplePercent: 50, SnapInterval: 500 * time.Millisecond, IdleTimeout: 3 * time.Second,
		}, be)
		if err != nil {
			return nil, err
		}
		c, snd := rig.Collector, rig.Snd
		r.logf("completeness/%s: %d sessions over %v", mode, r.o.Sessions, r.o.SessionWindow)
		ctx, cancel := context.WithTimeout(context.Background(), r.o.SessionWindow+2*time.Minute)
		sessions := RunSessions(ctx, snd, SessionParams{
			Mode: mode, N: r.o.Sessions, StartWindow: r.o.SessionWindow,
			MinLife: 2 * time.Second, MaxLife: 6 * time.Second,
			ChildMin: 200 * time.Millisecond, ChildMax: 900 * time.Millisecond,
			SnapEvery: 500 * time.Millisecond, IdleTimeout: 3 * time.Second,
			Seed: r.o.Seed, Retry: Retry{MaxElapsed: 20 * time.Second},
		})
		cancel()
		snd.Close()
		// reconciliation (3s) + decision_wait (1s) + ticks, then quiet.
		if _, err := be.WaitQuiet(3*time.Second, 5*time.Second, 90*time.Second); err != nil {
			r.logf("completeness/%s: %v", mode, err)
		}
		recs, err := be.Records()
		c.Stop()
		if err != nil {
			return nil, err
		}
		fig := EvaluateCompleteness(sessions, recs)
		fig.SamplePercent = 50
		fig.Duration = round1(time.Since(t0).Seconds())
		if mode == Baseline {
			res.Baseline = fig
		} else {
			res.Longspan = fig
		}
	}
	l := res.Longspan
	r.check("completeness: longspan keeps no trace in part", l.KeptPartial == 0, fmt.Sprintf("kept_in_part=%d of %d kept", l.KeptPartial, l.Kept))
	r.check("completeness: longspan kept traces arrive in one batch", l.SplitTraces == 0, fmt.Sprintf("split=%d, spans after decision=%d", l.SplitTraces, l.LateSpans))
	r.check("completeness: longspan kept traces all have their root", l.KeptWithRootPct == 100, fmt.Sprintf("%.1f%%", l.KeptWithRootPct))
	r.check("completeness: no session aborted", l.Aborted == 0 && res.Baseline.Aborted == 0, fmt.Sprintf("baseline %d, longspan %d", res.Baseline.Aborted, l.Aborted))
	r.check("completeness: sampling kept some and dropped some", l.Kept > 0 && l.Kept < l.Sessions, fmt.Sprintf("kept %d of %d", l.Kept, l.Sessions))
	return res, nil
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
