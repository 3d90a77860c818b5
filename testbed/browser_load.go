package testbed

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// browser_load (issue #21): the stock pipeline and longspan under the open-loop browser
// load of browser_load_gen.go. A step search finds the highest offered rate each
// configuration sustains (p99 acknowledgement ≤ 100 ms, nothing refused, the generator on
// time); then both run at one fixed rate they both sustain, for CPU per span and latency.

// browserConfig is one configuration browser_load measures.
type browserConfig string

const (
	browserStock     browserConfig = "stock"
	browserLongspan  browserConfig = "longspan"
	browserSyncNever browserConfig = "longspan_sync_never" // the journal's sync: never
)

// Limits of a sustained step, and the generator's own.
const (
	browserP99LimitMs = 100
	// A send dispatched more than browserLateAfter after its scheduled time (half the p99
	// budget gone before it left) is late. The generator was behind — it could not offer
	// the rate, and the step says nothing of the collector — when more than
	// browserLateBudget of the sends were late or it dispatched less than
	// browserSentShare of the offered spans/s. Shorter stalls (a 2-core machine's run
	// queue) stay in the latencies, which count from the scheduled time.
	browserLateAfter  = 50 * time.Millisecond
	browserLateBudget = 0.01
	browserSentShare  = 0.98
	browserIdle       = 2 * time.Minute
	browserSnapshot   = 10 * time.Second // the shipped config's snapshot interval and min_age
)

// Targets of issue #21, checked in the full run.
const (
	browserTargetRatioPct = 90
	browserTargetCPURatio = 1.25
	browserTargetP99Extra = 20 // ms over the stock pipeline's p99
)

// params is the collector of c: the testbed's compressed timings, except an idle_timeout
// far above a page's silence between posts, and the shipped snapshot timings.
func (c browserConfig) params() CollectorParams {
	p := CollectorParams{Mode: Longspan, IdleTimeout: browserIdle, SnapInterval: browserSnapshot, SnapMinAge: browserSnapshot}
	switch c {
	case browserStock:
		p.Mode = Baseline
	case browserSyncNever:
		p.Overlay = map[string]any{"extensions::spanjournal::sync": "never"}
	}
	return p
}

// browserSizes are the run's sizes: the full run searches, the quick one only smokes.
type browserSizes struct {
	Warmup, Measure time.Duration
	SmokeRate       float64 // quick: the one low rate of the smoke steps
	StartRate       float64 // full: the search's first step
	Precision       float64 // full: the search stops when its bracket's high/low is at most this
	MaxSteps        int
}

func (r *Runner) browserSizes() browserSizes {
	z := browserSizes{Warmup: 5 * time.Second, Measure: 20 * time.Second, StartRate: 2000, Precision: 1.15, MaxSteps: 9}
	if r.o.Quick {
		z = browserSizes{Warmup: time.Second, Measure: 4 * time.Second, SmokeRate: 1000}
	}
	if r.o.BrowserMeasure > 0 {
		z.Measure = r.o.BrowserMeasure
	}
	return z
}

// openLoopParams is the browser population at rate spans/s.
func (r *Runner) openLoopParams(rate float64) OpenLoopParams {
	z := r.browserSizes()
	return OpenLoopParams{Rate: rate, Pages: 1000, PagePeriod: 2 * time.Second, Addresses: 64, ConnsPerAddress: 2,
		Warmup: z.Warmup, Measure: z.Measure, MinSpans: 2, MaxSpans: 20, OpenEvery: 3, MinLife: 4, MaxLife: 12,
		LateAfter: browserLateAfter, MaxInFlight: 20000, Timeout: 15 * time.Second, EndRetry: Retry{MaxElapsed: 30 * time.Second}, Seed: r.o.Seed}
}

// BrowserStep is one configuration at one offered rate, a fresh collector.
type BrowserStep struct {
	Config          string `json:"config"`
	Sustained       bool   `json:"sustained"`
	GeneratorBehind bool   `json:"generator_behind"`
	Why             string `json:"why,omitempty"` // what the step failed on
	OpenLoopResult
	CPUSecPerMSpan    float64 `json:"cpu_s_per_million_spans"`
	CollectorCPUCores float64 `json:"collector_cpu_cores"`
	PeakRSSMB         float64 `json:"peak_rss_mb"`
	// RecordsPerFsync and RequestsPerFsync (longspan) are the journal records and the
	// acknowledged requests per group commit (one write, one fsync; with sync: never, one
	// write) over the window, from otelcol_spanjournal_batch_records.
	RecordsPerFsync  *float64 `json:"records_per_fsync,omitempty"`
	RequestsPerFsync *float64 `json:"requests_per_fsync,omitempty"`
	FsyncsPerSec     *float64 `json:"fsyncs_per_s,omitempty"`
	// FsyncMsP50 and FsyncMsP99: one group commit's fsync (not its write), from
	// otelcol_spanjournal_fsync_duration's buckets over the window.
	FsyncMsP50 *float64    `json:"fsync_ms_p50,omitempty"`
	FsyncMsP99 *float64    `json:"fsync_ms_p99,omitempty"`
	Loss       *LossReport `json:"loss,omitempty"` // steps with a ledger
}

// judge says whether the step was sustained, and if not, why.
func (s *BrowserStep) judge() {
	var why []string
	if n := s.Refusals(); n > 0 {
		why = append(why, fmt.Sprintf("%d refused 429, %d refused 503, %d errors, %d dropped in flight", s.QuotaRefused, s.LimitRefused, s.Errors, s.DroppedInFlight))
	}
	if s.AckP99Ms > browserP99LimitMs {
		why = append(why, fmt.Sprintf("p99 ack %.1f ms > %d ms", s.AckP99Ms, browserP99LimitMs))
	}
	if float64(s.LateSends) > browserLateBudget*float64(s.Requests) || s.SentSpansPerSec < browserSentShare*s.OfferedSpansPerSec {
		s.GeneratorBehind = true
		why = append(why, fmt.Sprintf("generator behind: %d of %d sends dispatched > %v late, sent %.0f of %.0f spans/s",
			s.LateSends, s.Requests, browserLateAfter, s.SentSpansPerSec, s.OfferedSpansPerSec))
	}
	if s.Requests == 0 {
		why = append(why, "nothing sent")
	}
	s.Sustained, s.Why = len(why) == 0, strings.Join(why, "; ")
}

// BrowserSearch is one configuration's step search: doubling until a step is not
// sustained, then bisection.
type BrowserSearch struct {
	MaxSpansPerSec float64 `json:"max_spans_per_s"`
	// GeneratorBehindAt is the lowest rate whose step the generator could not offer: the
	// search cannot tell what the collector sustains above it.
	GeneratorBehindAt float64 `json:"generator_behind_at_spans_per_s,omitempty"`
	// LowerBound: the lowest failed step above the maximum failed because the generator
	// was behind, so the collector may sustain more than MaxSpansPerSec.
	LowerBound bool          `json:"max_is_lower_bound"`
	Steps      []BrowserStep `json:"steps"`
}

// atMax is the step of the highest sustained rate, if any.
func (s *BrowserSearch) atMax() *BrowserStep {
	for i := range s.Steps {
		if st := &s.Steps[i]; st.Sustained && st.OfferedSpansPerSec == s.MaxSpansPerSec {
			return st
		}
	}
	return nil
}

// BrowserFixedMode is one configuration at the fixed rate: medians over rounds.
type BrowserFixedMode struct {
	CPUSecPerMSpan   float64       `json:"cpu_s_per_million_spans_median"`
	P50AckMs         float64       `json:"p50_ack_ms_median"`
	P99AckMs         float64       `json:"p99_ack_ms_median"`
	RecordsPerFsync  *float64      `json:"records_per_fsync_median,omitempty"`
	RequestsPerFsync *float64      `json:"requests_per_fsync_median,omitempty"`
	Missing          int           `json:"acked_spans_missing"`
	Refusals         int64         `json:"refusals"`
	Rounds           []BrowserStep `json:"rounds"`
}

// BrowserWorkload describes the simulated browsers.
type BrowserWorkload struct {
	Transport         string  `json:"transport"`
	MinPages          int     `json:"min_pages"`
	PagePeriodSec     float64 `json:"page_post_period_s"`
	Addresses         int     `json:"client_addresses"`
	ConnsPerAddress   int     `json:"keepalive_connections_per_address"`
	SpansPerRequest   string  `json:"spans_per_request"`
	OpenShare         string  `json:"open_spans_per_request"`
	PageLifeRequests  string  `json:"page_life_requests"`
	WarmupSec         float64 `json:"warmup_s"`
	MeasureSec        float64 `json:"measure_s_per_step"`
	P99LimitMs        int     `json:"p99_ack_limit_ms"`
	LateAfterMs       float64 `json:"late_send_after_ms"`
	LateBudgetPct     float64 `json:"late_send_budget_pct"`
	IdleTimeoutSec    float64 `json:"idle_timeout_s"`
	SnapshotInterval  float64 `json:"snapshot_interval_s"`
	CollectorTimeouts string  `json:"collector"`
}

// BrowserLoadResult is throughput.browser_load in latest.json.
type BrowserLoadResult struct {
	StockMaxSpansPerSec     float64  `json:"stock_max_spans_per_s"`
	LongspanMaxSpansPerSec  float64  `json:"longspan_max_spans_per_s"`
	MaxRateRatioPct         float64  `json:"max_rate_ratio_pct"`
	FixedRateSpansPerSec    float64  `json:"fixed_rate_spans_per_s"`
	CPURatio                float64  `json:"cpu_s_per_million_spans_ratio"`
	StockP99AckMs           float64  `json:"stock_p99_ack_ms"`
	LongspanP99AckMs        float64  `json:"longspan_p99_ack_ms"`
	SyncNeverMaxSpansPerSec float64  `json:"sync_never_max_spans_per_s"`
	RecordsPerFsync         *float64 `json:"records_per_fsync"`
	RequestsPerFsync        *float64 `json:"requests_per_fsync"`
	RecordsPerFsyncAtMax    *float64 `json:"records_per_fsync_at_longspan_max"`
	RequestsPerFsyncAtMax   *float64 `json:"requests_per_fsync_at_longspan_max"`
	// GeneratorBehind: a search's maximum is a lower bound (BrowserSearch.LowerBound).
	GeneratorBehind bool             `json:"generator_behind"`
	Workload        BrowserWorkload  `json:"workload"`
	Stock           *BrowserSearch   `json:"search_stock,omitempty"`
	Longspan        *BrowserSearch   `json:"search_longspan,omitempty"`
	SyncNever       *BrowserSearch   `json:"search_longspan_sync_never,omitempty"`
	FixedStock      BrowserFixedMode `json:"fixed_rate_stock"`
	FixedLongspan   BrowserFixedMode `json:"fixed_rate_longspan"`
	// Checks are the targets, met or not (full run only).
	Checks []Check `json:"checks,omitempty"`
	Note   string  `json:"note"`
}

// windowReading is the collector's CPU and journal commits at one edge of the window.
type windowReading struct {
	at                    time.Time
	cpu                   float64
	batchRecords, batches float64
	fsync                 harness.Histogram
	journal               bool // the batch metric was read
}

func readWindow(c *Collector, journal bool) windowReading {
	w := windowReading{at: time.Now()}
	if st, err := c.Stat(); err == nil {
		w.cpu = st.CPUSeconds
	}
	if journal {
		sum, err1 := c.Metric("otelcol_spanjournal_batch_records_sum")
		n, err2 := c.Metric("otelcol_spanjournal_batch_records_count")
		w.batchRecords, w.batches, w.journal = sum, n, err1 == nil && err2 == nil
		_, w.fsync, _ = harness.HistogramAt(c.Params.MetricsPort, "otelcol_spanjournal_fsync_duration")
	}
	return w
}

// browserStep runs cfg at rate on a fresh collector. With a ledger, the backend keeps
// every record and the step ends with the loss comparison of crash_loop.
func (r *Runner) browserStep(be *Backend, cfg browserConfig, rate float64, tag string, ledger *Ledger) (BrowserStep, error) {
	st := BrowserStep{Config: string(cfg)}
	mode := "count"
	if ledger != nil {
		mode = "detail"
	}
	_ = be.Reset(mode)
	rig, err := r.env.StartRig(fmt.Sprintf("browser-%s-%s", cfg, tag), cfg.params(), be)
	if err != nil {
		return st, err
	}
	defer rig.Close()
	journal := cfg != browserStock
	var (
		edges         sync.WaitGroup
		before, after windowReading
	)
	p := r.openLoopParams(rate)
	p.Ledger = ledger
	p.OnWindow = func(open bool) { // off the scheduler: a scrape must not make sends late
		edges.Add(1)
		go func() {
			defer edges.Done()
			if open {
				before = readWindow(rig.Collector, journal)
			} else {
				after = readWindow(rig.Collector, journal)
			}
		}()
	}
	res, err := RunOpenLoop(context.Background(), rig.Params.GRPC, rig.Params.HTTP, p)
	edges.Wait()
	if err != nil {
		return st, err
	}
	st.OpenLoopResult = res
	if res.AckedSpans > 0 {
		st.CPUSecPerMSpan = round3((after.cpu - before.cpu) / float64(res.AckedSpans) * 1e6)
	}
	if wall := after.at.Sub(before.at).Seconds(); wall > 0 {
		st.CollectorCPUCores = round3((after.cpu - before.cpu) / wall)
		if n := after.batches - before.batches; before.journal && after.journal && n > 0 {
			rec, req, fps := round1((after.batchRecords-before.batchRecords)/n), round1(float64(res.AckedRequests)/n), round1(n/wall)
			st.RecordsPerFsync, st.RequestsPerFsync, st.FsyncsPerSec = &rec, &req, &fps
			st.FsyncMsP50, st.FsyncMsP99 = msOf(after.fsync.QuantileSince(before.fsync, 0.5)), msOf(after.fsync.QuantileSince(before.fsync, 0.99))
		}
	}
	if s, err := rig.Stat(); err == nil {
		st.PeakRSSMB = round1(float64(s.HWMBytes) / (1 << 20))
	}
	st.judge()
	if ledger != nil {
		if journal {
			rig.WaitDrained(60 * time.Second)
		}
		loss, _, err := r.lossWhenQuiet(be, ledger, "browser_load/"+string(cfg), 3*time.Second, 90*time.Second)
		if err != nil {
			return st, err
		}
		st.Loss = &loss
	}
	fsync := ""
	if st.RecordsPerFsync != nil {
		fsync = fmt.Sprintf(", %.1f records / %.1f requests per fsync, fsync p50/p99 %s/%s ms", *st.RecordsPerFsync, *st.RequestsPerFsync, fmtOpt(st.FsyncMsP50), fmtOpt(st.FsyncMsP99))
	}
	r.logf("browser_load/%s %s at %.0f spans/s (%d pages): sent %.0f/s, acked %d/%d requests, p50 %.1f ms, p99 %.1f ms, late %d, collector %.2f cores, %.2f CPU-s/M%s: sustained %v %s",
		cfg, tag, rate, res.Pages, res.SentSpansPerSec, res.AckedRequests, res.Requests, res.AckP50Ms, res.AckP99Ms, res.LateSends,
		st.CollectorCPUCores, st.CPUSecPerMSpan, fsync, st.Sustained, st.Why)
	return st, nil
}

// msOf is a quantile in seconds, as QuantileSince gives it, in milliseconds.
func msOf(v *float64, _ float64) *float64 {
	if v == nil {
		return nil
	}
	ms := round3(*v * 1000)
	return &ms
}

// browserSearch doubles the rate from StartRate until a step is not sustained (halves it
// while none is), then bisects until high/low ≤ Precision.
func (r *Runner) browserSearch(be *Backend, cfg browserConfig) (*BrowserSearch, error) {
	return searchMax(r.browserSizes(), func(rate float64, step int) (BrowserStep, error) {
		return r.browserStep(be, cfg, rate, fmt.Sprintf("step%d", step), nil)
	})
}

// searchMax is browserSearch's search over run, one step per call.
func searchMax(z browserSizes, run func(rate float64, step int) (BrowserStep, error)) (*BrowserSearch, error) {
	s := &BrowserSearch{}
	var lo, hi float64 // highest sustained, lowest not
	rate := z.StartRate
	for step := 1; step <= z.MaxSteps; step++ {
		st, err := run(rate, step)
		if err != nil {
			return s, err
		}
		s.Steps = append(s.Steps, st)
		if st.Sustained {
			lo = rate
		} else {
			hi = rate
			if st.GeneratorBehind && (s.GeneratorBehindAt == 0 || rate < s.GeneratorBehindAt) {
				s.GeneratorBehindAt = rate
			}
		}
		if lo > 0 && hi > 0 && hi/lo <= z.Precision {
			break
		}
		switch {
		case hi == 0:
			rate *= 2
		case lo == 0:
			rate /= 2
		default:
			rate = round1((lo + hi) / 2)
		}
	}
	s.MaxSpansPerSec = lo
	var above *BrowserStep // the lowest failed step above the maximum
	for i := range s.Steps {
		if st := &s.Steps[i]; !st.Sustained && st.OfferedSpansPerSec > lo && (above == nil || st.OfferedSpansPerSec < above.OfferedSpansPerSec) {
			above = st
		}
	}
	s.LowerBound = above != nil && above.GeneratorBehind
	return s, nil
}

// browserFixed runs stock and longspan at rate, rounds alternating their order, each
// round with a ledger and the loss comparison.
func (r *Runner) browserFixed(be *Backend, res *BrowserLoadResult, rate float64) error {
	res.FixedRateSpansPerSec = rate
	for round := 1; round <= r.o.Rounds; round++ {
		order := []browserConfig{browserStock, browserLongspan}
		if round%2 == 0 {
			order = []browserConfig{browserLongspan, browserStock}
		}
		for _, cfg := range order {
			st, err := r.browserStep(be, cfg, rate, fmt.Sprintf("fixed%d", round), NewLedger())
			if err != nil {
				return err
			}
			m := &res.FixedStock
			if cfg == browserLongspan {
				m = &res.FixedLongspan
			}
			m.Rounds = append(m.Rounds, st)
		}
	}
	for _, m := range []*BrowserFixedMode{&res.FixedStock, &res.FixedLongspan} {
		var cpu, p50, p99, rec, req []float64
		for _, st := range m.Rounds {
			cpu, p50, p99 = append(cpu, st.CPUSecPerMSpan), append(p50, st.AckP50Ms), append(p99, st.AckP99Ms)
			if st.RecordsPerFsync != nil {
				rec, req = append(rec, *st.RecordsPerFsync), append(req, *st.RequestsPerFsync)
			}
			m.Missing += st.Loss.Missing
			m.Refusals += st.Refusals()
		}
		m.CPUSecPerMSpan, m.P50AckMs, m.P99AckMs = round3(median(cpu)), round3(median(p50)), round3(median(p99))
		if len(rec) > 0 {
			a, b := round1(median(rec)), round1(median(req))
			m.RecordsPerFsync, m.RequestsPerFsync = &a, &b
		}
	}
	res.StockP99AckMs, res.LongspanP99AckMs = res.FixedStock.P99AckMs, res.FixedLongspan.P99AckMs
	res.RecordsPerFsync, res.RequestsPerFsync = res.FixedLongspan.RecordsPerFsync, res.FixedLongspan.RequestsPerFsync
	if res.FixedStock.CPUSecPerMSpan > 0 {
		res.CPURatio = round3(res.FixedLongspan.CPUSecPerMSpan / res.FixedStock.CPUSecPerMSpan)
	}
	return nil
}

func (r *Runner) scenarioBrowserLoad() (*BrowserLoadResult, error) {
	z := r.browserSizes()
	p := r.openLoopParams(0)
	res := &BrowserLoadResult{
		Workload: BrowserWorkload{Transport: "OTLP/HTTP JSON (Content-Type application/json), HTTP/1.1 keep-alive, one attempt per request",
			MinPages: p.Pages, PagePeriodSec: p.PagePeriod.Seconds(), Addresses: p.Addresses, ConnsPerAddress: p.ConnsPerAddress,
			SpansPerRequest: fmt.Sprintf("%d-%d uniform", p.MinSpans, p.MaxSpans), OpenShare: fmt.Sprintf("1/%d (the root's snapshot and long-running operations), none in a page's last request", p.OpenEvery),
			PageLifeRequests: fmt.Sprintf("%d-%d", p.MinLife, p.MaxLife), WarmupSec: z.Warmup.Seconds(), MeasureSec: z.Measure.Seconds(),
			P99LimitMs: browserP99LimitMs, LateAfterMs: float64(browserLateAfter.Milliseconds()), LateBudgetPct: 100 * browserLateBudget,
			IdleTimeoutSec: browserIdle.Seconds(), SnapshotInterval: browserSnapshot.Seconds(),
			CollectorTimeouts: "a fresh collector per step; testbed timings otherwise (tick 100ms, decision_wait 1s, release_retention 5s, sync: always)"},
		Note: "one 2-core machine shared by the load generator, the mock backend and the collector; CPU per million spans counts the collector process only (/proc/<pid>/stat over the measured window)",
	}
	be, err := r.env.StartBackend("backend-browser-load")
	if err != nil {
		return nil, err
	}
	defer be.Stop()
	if r.o.Quick {
		// A smoke: one short step each at a low rate, asserting zero loss and no refusal.
		res.Note += "; quick run: one short smoke step per configuration at a low rate, no step search"
		if err := r.browserFixed(be, res, z.SmokeRate); err != nil {
			return res, err
		}
	} else {
		for _, x := range []struct {
			cfg browserConfig
			dst **BrowserSearch
		}{{browserStock, &res.Stock}, {browserLongspan, &res.Longspan}, {browserSyncNever, &res.SyncNever}} {
			s, err := r.browserSearch(be, x.cfg)
			*x.dst = s
			if err != nil {
				return res, err
			}
			res.GeneratorBehind = res.GeneratorBehind || s.LowerBound
		}
		res.StockMaxSpansPerSec, res.LongspanMaxSpansPerSec = res.Stock.MaxSpansPerSec, res.Longspan.MaxSpansPerSec
		res.SyncNeverMaxSpansPerSec = res.SyncNever.MaxSpansPerSec
		if res.StockMaxSpansPerSec > 0 {
			res.MaxRateRatioPct = round1(100 * res.LongspanMaxSpansPerSec / res.StockMaxSpansPerSec)
		}
		if st := res.Longspan.atMax(); st != nil {
			res.RecordsPerFsyncAtMax, res.RequestsPerFsyncAtMax = st.RecordsPerFsync, st.RequestsPerFsync
		}
		// The fixed rate: half the lower of the two maxima, which both sustained.
		if low := min(res.StockMaxSpansPerSec, res.LongspanMaxSpansPerSec); low > 0 {
			if err := r.browserFixed(be, res, round1(low/2)); err != nil {
				return res, err
			}
		}
		res.Checks = browserChecks(res)
	}
	for _, x := range []struct {
		name string
		m    BrowserFixedMode
	}{{"stock", res.FixedStock}, {"longspan", res.FixedLongspan}} {
		if len(x.m.Rounds) == 0 {
			continue
		}
		r.check("browser_load: "+x.name+" refuses nothing at the fixed rate", x.m.Refusals == 0,
			fmt.Sprintf("%d refused or failed at %.0f spans/s", x.m.Refusals, res.FixedRateSpansPerSec))
		acked := 0
		for _, st := range x.m.Rounds {
			acked += st.Loss.Acked
		}
		r.check("browser_load: "+x.name+" loses no acknowledged span", x.m.Missing == 0 && acked > 0,
			fmt.Sprintf("%d acked, %d missing", acked, x.m.Missing))
	}
	return res, nil
}

// browserChecks are the targets against the full run's figures.
func browserChecks(res *BrowserLoadResult) []Check {
	fixed := len(res.FixedLongspan.Rounds) > 0 && len(res.FixedStock.Rounds) > 0
	return []Check{
		{"browser_load: longspan's max rate >= 90% of stock's", res.StockMaxSpansPerSec > 0 && res.MaxRateRatioPct >= browserTargetRatioPct,
			fmt.Sprintf("%.1f%% (%.0f / %.0f spans/s)", res.MaxRateRatioPct, res.LongspanMaxSpansPerSec, res.StockMaxSpansPerSec)},
		{"browser_load: CPU-s per million spans longspan / stock <= 1.25 at the fixed rate", fixed && res.CPURatio <= browserTargetCPURatio,
			fmt.Sprintf("%.3f (%.2f / %.2f at %.0f spans/s)", res.CPURatio, res.FixedLongspan.CPUSecPerMSpan, res.FixedStock.CPUSecPerMSpan, res.FixedRateSpansPerSec)},
		{"browser_load: longspan p99 ack <= stock p99 + 20 ms at the fixed rate", fixed && res.LongspanP99AckMs <= res.StockP99AckMs+browserTargetP99Extra,
			fmt.Sprintf("%.1f ms vs %.1f ms at %.0f spans/s", res.LongspanP99AckMs, res.StockP99AckMs, res.FixedRateSpansPerSec)},
	}
}
