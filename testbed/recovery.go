package testbed

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// RecoveryResult is scenario 4.
type RecoveryResult struct {
	OpenSpans         int64   `json:"open_spans_target"`
	Acked             int64   `json:"open_spans_acked"`
	IngestSec         float64 `json:"ingest_s"`
	IngestSpansPerSec float64 `json:"ingest_open_spans_per_s"`
	RSSBeforeKillMB   float64 `json:"rss_before_kill_mb"`
	JournalBytes      int64   `json:"journal_bytes_on_disk"`
	JournalMB         float64 `json:"journal_mb_on_disk"`
	ReadySec          float64 `json:"restart_to_ready_s"`
	RecoveredOpen     int64   `json:"open_spans_after_recovery"`
	RSSAfterMB        float64 `json:"rss_after_recovery_mb"`
	PeakRSSAfterMB    float64 `json:"peak_rss_during_recovery_mb"`
	BaselineReadySec  float64 `json:"baseline_start_to_ready_s"`
	TargetSec         float64 `json:"target_s"`
	TargetMet         bool    `json:"target_met"`
}

func (r *Runner) scenarioRecovery() (*RecoveryResult, error) {
	res := &RecoveryResult{OpenSpans: r.o.RecoverySpans, TargetSec: 10}
	be, err := r.env.StartBackend("backend-recovery")
	if err != nil {
		return nil, err
	}
	defer be.Stop()
	_ = be.Reset("count")
	// Reference: how long the stock config takes to become ready.
	bc, err := r.env.NewCollector("recovery-baseline", CollectorParams{Mode: Baseline}, be.GRPC)
	if err != nil {
		return nil, err
	}
	d, err := bc.Start()
	if err != nil {
		return nil, err
	}
	res.BaselineReadySec = round3(d.Seconds())
	bc.Stop()

	rig, err := r.env.StartRig("recovery-longspan", CollectorParams{
		Mode: Longspan, SnapInterval: 0, IdleTimeout: time.Hour,
		MaxOpen: int(r.o.RecoverySpans) * 2, MaxHeld: int(r.o.RecoverySpans) * 2,
		Overlay: quotasOff(),
	}, be)
	if err != nil {
		return nil, err
	}
	defer rig.Close()
	c, snd := rig.Collector, rig.Snd
	p := r.bulkParams(OpenOnly)
	// 4 open spans per trace (a session with three open children), 500 traces a request.
	p.Workers, p.TracesPerReq, p.SpansPerTrace, p.TotalSpans = 6, 500, 4, r.o.RecoverySpans
	p.Retry = Retry{MaxElapsed: 60 * time.Second}
	t0 := time.Now()
	br := RunBulk(context.Background(), snd, p)
	res.IngestSec = round3(time.Since(t0).Seconds())
	res.Acked = br.AckedSpansAll
	res.IngestSpansPerSec = round1(float64(br.AckedSpansAll) / res.IngestSec)
	r.logf("recovery: %d open spans acked in %.1fs (%.0f/s), %d failed requests", br.AckedSpansAll, res.IngestSec, res.IngestSpansPerSec, br.FailedRequests)
	if v, err := c.OpenSpans(); err == nil && v.TotalOpen != br.AckedSpansAll {
		r.logf("recovery: view says total_open=%d, acked %d", v.TotalOpen, br.AckedSpansAll)
	}
	if st, err := c.Stat(); err == nil {
		res.RSSBeforeKillMB = round1(float64(st.RSSBytes) / (1 << 20))
	}
	c.Kill9()
	res.JournalBytes = harness.DirBytes(c.Params.JournalDir)
	res.JournalMB = round1(float64(res.JournalBytes) / (1 << 20))
	d, err = c.Start()
	if err != nil {
		return nil, err
	}
	res.ReadySec = round3(d.Seconds())
	if v, err := c.OpenSpans(); err == nil {
		res.RecoveredOpen = v.TotalOpen
	}
	time.Sleep(2 * time.Second)
	if st, err := c.Stat(); err == nil {
		res.RSSAfterMB = round1(float64(st.RSSBytes) / (1 << 20))
		res.PeakRSSAfterMB = round1(float64(st.HWMBytes) / (1 << 20))
	}
	res.TargetMet = res.ReadySec <= res.TargetSec && res.RecoveredOpen == res.Acked
	r.logf("recovery: ready %.2fs after restart, %d open recovered, RSS %.0f MB, journal %.0f MB", res.ReadySec, res.RecoveredOpen, res.RSSAfterMB, res.JournalMB)
	r.check("recovery: every acknowledged open span is open again after kill -9", res.RecoveredOpen == res.Acked && res.Acked > 0,
		fmt.Sprintf("acked %d, recovered %d", res.Acked, res.RecoveredOpen))
	return res, nil
}

// OverloadFigures is scenario 5 for one mode.
type OverloadFigures struct {
	MaxOpenSpans     int     `json:"limits_max_open_spans"`
	Offered          int64   `json:"open_spans_offered"`
	Acked            int64   `json:"open_spans_acked"`
	RefusedRequests  int64   `json:"requests_refused_retryable"`
	RefusedSpans     int64   `json:"spans_refused"`
	OtherFailures    int64   `json:"requests_failed_otherwise"`
	CollectorRefused float64 `json:"collector_metric_requests_refused"`
	PeakRSSMB        float64 `json:"peak_rss_mb"`
	IdleRSSMB        float64 `json:"rss_before_load_mb"`
	Missing          int     `json:"acked_missing_at_backend"`
	Delivered        int     `json:"acked_delivered"`
}

type OverloadResult struct {
	Baseline OverloadFigures `json:"baseline"`
	Longspan OverloadFigures `json:"longspan"`
	Note     string          `json:"note"`
}

func (r *Runner) overload(mode Mode) (OverloadFigures, error) {
	f := OverloadFigures{MaxOpenSpans: r.o.OverloadLimit}
	be, err := r.env.StartBackend("backend-overload-" + string(mode))
	if err != nil {
		return f, err
	}
	defer be.Stop()
	rig, err := r.env.StartRig("overload-"+string(mode), CollectorParams{
		Mode: mode, SnapInterval: 0, IdleTimeout: time.Hour, MaxOpen: r.o.OverloadLimit,
		Overlay: quotasOff(),
	}, be)
	if err != nil {
		return f, err
	}
	defer rig.Close()
	c, snd := rig.Collector, rig.Snd
	if st, err := c.Stat(); err == nil {
		f.IdleRSSMB = round1(float64(st.RSSBytes) / (1 << 20))
	}
	ledger := NewLedger()
	p := r.bulkParams(OpenOnly)
	p.Workers, p.TracesPerReq, p.SpansPerTrace = 4, 250, 2
	p.TotalSpans = int64(10 * r.o.OverloadLimit)
	p.Retry = Retry{} // one attempt: the surplus is refused and counted, not retried here
	p.Ledger = ledger
	p.HTTPEvery = 2
	br := RunBulk(context.Background(), snd, p)
	f.Offered = br.Requests * int64(p.TracesPerReq*p.SpansPerTrace)
	f.Acked = br.AckedSpansAll
	f.RefusedRequests, f.RefusedSpans = br.RefusedRequests, br.RefusedSpans
	f.OtherFailures = br.FailedRequests - br.RefusedRequests
	if v, err := c.Metric("otelcol_longspan_requests_refused"); err == nil {
		f.CollectorRefused = v
	}
	if st, err := c.Stat(); err == nil {
		f.PeakRSSMB = round1(float64(st.HWMBytes) / (1 << 20))
	}
	// Now end every acknowledged open span (the clients finish their sessions) and check
	// that each one reaches the backend.
	keys := ledger.Keys()
	var ends []openRoot
	for _, k := range keys {
		var o openRoot
		copy(o.trace[:], k[:16])
		copy(o.span[:], k[16:])
		o.start = pcommon.NewTimestampFromTime(time.Now().Add(-2 * time.Second))
		ends = append(ends, o)
	}
	for i := 0; i < len(ends); i += 1000 {
		j := min(i+1000, len(ends))
		ep := p
		ep.TracesPerReq = 0
		td, _, _ := buildBulk(ep, ends[i:j])
		snd.SendTraces(context.Background(), td, false, Retry{MaxElapsed: 60 * time.Second})
	}
	rep, _, err := r.lossWhenQuiet(be, ledger, "overload/"+string(mode), 3*time.Second, 90*time.Second)
	if err != nil {
		return f, err
	}
	f.Missing, f.Delivered = rep.Missing, rep.Acked-rep.Missing
	r.logf("overload/%s: offered %d, acked %d, refused %d requests (%d spans), collector refused metric %.0f, peak RSS %.0f MB, missing %d",
		mode, f.Offered, f.Acked, f.RefusedRequests, f.RefusedSpans, f.CollectorRefused, f.PeakRSSMB, f.Missing)
	return f, nil
}

func (r *Runner) scenarioOverload() (*OverloadResult, error) {
	res := &OverloadResult{Note: "open spans only (2 per trace), offered 10 × limits.max_open_spans, one attempt per request; then every acked span is ended and must reach the backend. Baseline has no limit: it accepts everything (open spans pass through tail_sampling as zero-end spans)."}
	var err error
	if res.Longspan, err = r.overload(Longspan); err != nil {
		return nil, err
	}
	if res.Baseline, err = r.overload(Baseline); err != nil {
		return nil, err
	}
	l := res.Longspan
	r.check("overload: surplus refused with a retryable error", l.RefusedRequests > 0 && l.OtherFailures == 0,
		fmt.Sprintf("refused %d requests, other failures %d", l.RefusedRequests, l.OtherFailures))
	r.check("overload: open spans held stay within the limit", l.Acked <= int64(l.MaxOpenSpans),
		fmt.Sprintf("acked %d, limit %d", l.Acked, l.MaxOpenSpans))
	r.check("overload: nothing acknowledged is lost", l.Missing == 0 && l.Acked > 0, fmt.Sprintf("acked %d, missing %d", l.Acked, l.Missing))
	return res, nil
}

// quotasOff switches the processor's quotas off for scenarios whose one load generator
// stands for many clients at volumes no single client reaches (recovery: a million open
// spans without sessions; overload: the global limits themselves). The abuse scenario
// measures the quotas.
func quotasOff() map[string]any {
	o := map[string]any{}
	for _, scope := range []string{"per_client", "per_session", "per_trace", "no_session"} {
		for _, bound := range []string{"max_open_spans", "max_held_spans", "max_bytes"} {
			o["processors::longspan::quotas::"+scope+"::"+bound] = 0
		}
	}
	return o
}
