package testbed

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// CrashFigures is scenario 3 for one mode.
type CrashFigures struct {
	Kills           int            `json:"kills"`
	Workload        string         `json:"workload"`
	Sessions        int            `json:"sessions"`
	LoadSeconds     float64        `json:"load_s"`
	Loss            LossReport     `json:"loss"`
	MissingByOrigin map[string]int `json:"missing_by_origin,omitempty"`
	MissingExamples []string       `json:"missing_examples,omitempty"`
	DuplicatePct    float64        `json:"duplicate_pct"`
	RestartP50Sec   float64        `json:"restart_to_ready_p50_s"`
	RestartMaxSec   float64        `json:"restart_to_ready_max_s"`
	ResentApprox    float64        `json:"spans_resent_approx"`
	ClientRetries   int64          `json:"client_attempts_refused_or_failed"`
	Unacked         int64          `json:"requests_never_acked"`
	EndOpen         int64          `json:"open_spans_left_at_end"`
	EndHeld         int64          `json:"held_spans_left_at_end"`
	Note            string         `json:"note"`
}

type CrashResult struct {
	Baseline CrashFigures `json:"baseline"`
	Longspan CrashFigures `json:"longspan"`
}

func (r *Runner) crashLoop(mode Mode, kills int) (CrashFigures, error) {
	f := CrashFigures{Kills: kills, MissingByOrigin: map[string]int{}}
	be, err := r.env.StartBackend("backend-crash-" + string(mode))
	if err != nil {
		return f, err
	}
	defer be.Stop()
	rig, err := r.env.StartRig("crash-"+string(mode), CollectorParams{
		Mode: mode, SnapInterval: 500 * time.Millisecond, IdleTimeout: 3 * time.Second,
	}, be)
	if err != nil {
		return f, err
	}
	defer rig.Close()
	c, snd := rig.Collector, rig.Snd
	ledger := NewLedger()
	rng := rand.New(rand.NewPCG(r.o.Seed, 99))
	// Expected load time: kills × mean uptime (1.75 s) + restart.
	loadFor := time.Duration(kills) * 2500 * time.Millisecond
	f.LoadSeconds = loadFor.Seconds()
	retry := Retry{MaxElapsed: 30 * time.Second, Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond}

	var wg sync.WaitGroup
	var sessions []*Session
	nSessions := int(loadFor.Seconds() * 8)
	f.Sessions = nSessions
	wg.Add(1)
	go func() {
		defer wg.Done()
		sessions = RunSessions(context.Background(), snd, SessionParams{
			Mode: mode, N: nSessions, StartWindow: loadFor,
			MinLife: 2 * time.Second, MaxLife: 5 * time.Second,
			ChildMin: 200 * time.Millisecond, ChildMax: 800 * time.Millisecond,
			SnapEvery: 500 * time.Millisecond, IdleTimeout: 3 * time.Second,
			Seed: r.o.Seed + 7, Retry: retry, Ledger: ledger,
		})
	}()
	bulkKind := Journaled
	f.Workload = "sessions (8/s, every trace has an open root in longspan mode) + journaled bulk traces (open root + 9 ended children, root ended by the next request), ~2000 spans/s"
	if mode == Baseline {
		bulkKind = PassThrough
		f.Workload = "the same sessions as stock SDKs send them (ended spans only) + ended bulk traces, ~2000 spans/s"
	}
	var bulk BulkResult
	bctx, bcancel := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := r.bulkParams(bulkKind)
		p.Workers, p.TracesPerReq, p.Rate, p.Retry, p.Ledger, p.HTTPEvery = 4, 5, 2000, retry, ledger, 3
		p.Duration = 10 * time.Minute
		bulk = RunBulk(bctx, snd, p)
	}()

	var restarts []float64
	var resent float64
	for k := 0; k < kills; k++ {
		up := time.Duration(500+rng.IntN(2500)) * time.Millisecond
		deadline := time.Now().Add(up)
		last := 0.0
		for time.Now().Before(deadline) {
			if v, err := c.Metric("otelcol_longspan_spans_resent"); err == nil {
				last = v
			}
			time.Sleep(200 * time.Millisecond)
		}
		resent += last
		c.Kill9()
		d, err := c.Start()
		if err != nil {
			bcancel()
			wg.Wait()
			return f, fmt.Errorf("restart %d: %w", k+1, err)
		}
		restarts = append(restarts, d.Seconds())
	}
	bcancel()
	wg.Wait()
	// Let reconciliation, release and tail_sampling finish, then wait for quiet.
	time.Sleep(3 * time.Second)
	if mode == Longspan {
		v := c.WaitDrained(60 * time.Second)
		f.EndOpen, f.EndHeld = v.TotalOpen, v.HeldSpans
	}
	if _, err := be.WaitQuiet(4*time.Second, 4*time.Second, 120*time.Second); err != nil {
		r.logf("crash/%s: %v", mode, err)
	}
	if v, err := c.Metric("otelcol_longspan_spans_resent"); err == nil {
		resent += v
	}
	recs, err := be.Records()
	if err != nil {
		return f, err
	}
	rep, missing := CompareLoss(ledger, recs)
	f.Loss = rep
	f.DuplicatePct = round3(pct(rep.Duplicates, rep.Acked))
	for i, k := range missing {
		f.MissingByOrigin[tagNames[ledger.Tag(k)]]++
		if i < 10 {
			f.MissingExamples = append(f.MissingExamples, hex.EncodeToString(k[:16])+"/"+hex.EncodeToString(k[16:]))
		}
	}
	f.RestartP50Sec = round3(median(restarts))
	for _, x := range restarts {
		if x > f.RestartMaxSec {
			f.RestartMaxSec = round3(x)
		}
	}
	f.ResentApprox = resent
	for _, s := range sessions {
		f.ClientRetries += int64(s.Refused + s.ConnErrs)
		f.Unacked += int64(s.Failed)
	}
	f.ClientRetries += bulk.RefusedAttempts + bulk.ConnErrors
	f.Unacked += bulk.FailedRequests
	if mode == Baseline {
		f.Note = "baseline: tail_sampling holds spans in memory for decision_wait; a kill -9 loses them (by design of the stock pipeline)"
	} else {
		f.Note = "longspan: every acknowledged span belongs to a trace with an open root, so it is journaled; released traces stay journaled for release_retention and are re-sent after restart"
	}
	r.logf("crash/%s: %d kills, acked %d, missing %d, duplicates %d (%.2f%%), restart p50 %.2fs", mode, kills, rep.Acked, rep.Missing, rep.Duplicates, f.DuplicatePct, f.RestartP50Sec)
	return f, nil
}

func (r *Runner) scenarioCrash() (*CrashResult, error) {
	res := &CrashResult{}
	var err error
	if res.Longspan, err = r.crashLoop(Longspan, r.o.Kills); err != nil {
		return nil, err
	}
	if res.Baseline, err = r.crashLoop(Baseline, r.o.BaselineKills); err != nil {
		return nil, err
	}
	l := res.Longspan
	r.check("crash loop: longspan loses no acknowledged span", l.Loss.Missing == 0 && l.Loss.Acked > 0,
		fmt.Sprintf("%d kills, %d acked, %d missing %v %v", l.Kills, l.Loss.Acked, l.Loss.Missing, l.MissingByOrigin, l.MissingExamples))
	return res, nil
}
