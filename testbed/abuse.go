package testbed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// Scenario abuse (issue #12, "public browser endpoint under abuse"): the session mix from
// many client addresses while one address floods the collector with open spans, ten times
// the legit volume. The per-client, per-session, per-trace and no-session quotas of the
// longspan processor must refuse the attacker (429 / RESOURCE_EXHAUSTED) and nobody else.
//
// Two rounds, each a fresh collector and journal:
//   - direct: every client connects from its own loopback address (legit 127.0.1.x,
//     the attacker abuseAttackerIP); no client_address_header.
//   - proxy: everyone connects from abuseProxyIP; client_address_header: x-forwarded-for,
//     legit requests carry their own address, the attacker a spoofed address followed by
//     abuseAttackerIP (a proxy appends the peer it saw, so the right-most entry is true).

const (
	abuseAttackerIP     = "127.0.9.9"
	abuseProxyIP        = "127.0.0.2"
	abuseHeader         = "x-forwarded-for"
	abuseSessionsPerIP  = 10
	abuseRatio          = 10 // attacker spans offered per legit span offered
	abuseMaxReqSpans    = 50 // attacker request: up to 25 fresh traces × 2 open spans
	abuseSpansPerTrace  = 2
	abuseRotateEvery    = 3 // second half: a new session.id every 3 requests (150 spans)
	abuseWorkers        = 4
	abusePaddingBytes   = 256 // attribute on every attacker span
	abuseMinRatio       = 5   // asserted: the attack really was several times the legit volume
	abuseMinRefusedPct  = 50  // asserted per round
	abuseTargetAccepted = 99.9
)

// QuotaFigures is one quota of processors::longspan::quotas.
type QuotaFigures struct {
	MaxOpenSpans int   `json:"max_open_spans"`
	MaxHeldSpans int   `json:"max_held_spans"`
	MaxBytes     int64 `json:"max_bytes"`
}

// AbuseQuotas are the quotas the scenario runs with.
type AbuseQuotas struct {
	PerClient  QuotaFigures `json:"per_client"`
	PerSession QuotaFigures `json:"per_session"`
	PerTrace   QuotaFigures `json:"per_trace"`
	NoSession  QuotaFigures `json:"no_session"`
}

// abuseQuotas are the default config's quotas scaled to the testbed: idle_timeout is
// 3 s here, not 5 min, so an attacker's open spans are reconciled (and stop counting) a
// hundred times sooner, and the defaults (10,000 open per client) would never be reached
// by 10× the session mix. One legit address holds at most ~10 open spans, ~150 held and
// ~100 KB (10 sessions); one legit session 1 open span and ~20 held; a legit trace is a
// session. The attacker's first half (no session / one fixed session) meets no_session and
// per_session first; its second half, rotating session ids, only per_client.
var abuseQuotas = AbuseQuotas{
	PerClient:  QuotaFigures{MaxOpenSpans: 1000, MaxHeldSpans: 10000, MaxBytes: 1 << 20},
	PerSession: QuotaFigures{MaxOpenSpans: 200, MaxHeldSpans: 2000, MaxBytes: 1 << 20},
	PerTrace:   QuotaFigures{MaxOpenSpans: 100, MaxHeldSpans: 1000, MaxBytes: 512 << 10},
	NoSession:  QuotaFigures{MaxOpenSpans: 500, MaxHeldSpans: 5000, MaxBytes: 2 << 20},
}

// overlay is the quotas block (and the receiver's include_metadata) as overlay paths.
func (q AbuseQuotas) overlay(header string) map[string]any {
	const pfx = "processors::longspan::quotas::"
	m := map[string]any{
		pfx + "client_address_header": header,
		// Headers reach the processor in both rounds: in the direct one the attacker's
		// spoofed x-forwarded-for must be ignored because no header is configured.
		"receivers::otlp::protocols::grpc::include_metadata": true,
		"receivers::otlp::protocols::http::include_metadata": true,
	}
	for scope, f := range map[string]QuotaFigures{"per_client": q.PerClient, "per_session": q.PerSession, "per_trace": q.PerTrace, "no_session": q.NoSession} {
		m[pfx+scope+"::max_open_spans"] = f.MaxOpenSpans
		m[pfx+scope+"::max_held_spans"] = f.MaxHeldSpans
		m[pfx+scope+"::max_bytes"] = f.MaxBytes
	}
	return m
}

// AbuseFigures are the figures of one round, or of both (overall).
type AbuseFigures struct {
	LegitSessions        int     `json:"legit_sessions"`
	LegitSpansOffered    int64   `json:"legit_spans_offered"`
	LegitSpansAcked      int64   `json:"legit_spans_acked"`
	LegitAcceptancePct   float64 `json:"legit_acceptance_pct"`
	LegitQuotaRefusals   int64   `json:"legit_quota_refusals"` // legit attempts answered 429 / RESOURCE_EXHAUSTED
	LegitLimitRefusals   int64   `json:"legit_limit_refusals"` // legit attempts answered 503 / UNAVAILABLE
	LegitAckedMissing    int     `json:"legit_acked_spans_missing"`
	LegitKept            int     `json:"legit_kept_traces"`
	LegitKeptCompletePct float64 `json:"legit_kept_traces_complete_pct"`
	LegitKeptInPart      int     `json:"legit_kept_in_part"`
	LegitAborted         int     `json:"legit_sessions_aborted"`
	LegitConnErrors      int64   `json:"legit_attempts_failed_unanswered"` // timeouts, connection errors (retried)
	// Legit acknowledgement latency, first attempt to acknowledgement (a timing: measured,
	// never asserted; each session waits for its acks, so a slow collector also lowers
	// legit_spans_offered).
	LegitAckP50Ms float64 `json:"legit_ack_p50_ms"`
	LegitAckP99Ms float64 `json:"legit_ack_p99_ms"`
	legitLats     []time.Duration

	AttackerSpansOffered  int64   `json:"attacker_spans_offered"`
	AttackerSpansAcked    int64   `json:"attacker_spans_acked"`
	AttackerSpansRefused  int64   `json:"attacker_spans_refused"`
	AttackerRefusedPct    float64 `json:"attacker_refused_pct"`
	AttackerQuotaRefusals int64   `json:"attacker_quota_refusals"` // requests answered 429 / RESOURCE_EXHAUSTED
	AttackerOtherFailures int64   `json:"attacker_requests_failed_otherwise"`
	AttackToLegitVolume   float64 `json:"attack_to_legit_volume"`

	RSSMBPeak          float64            `json:"rss_mb_peak"`
	JournalBytesPeak   int64              `json:"journal_bytes_peak"`
	AttackerBoundBytes int64              `json:"attacker_bound_bytes"`
	Crashes            int                `json:"crashes"`
	RefusalsByLimit    map[string]float64 `json:"refusals_by_limit"`
}

// AbuseRound is one round: direct or proxy.
type AbuseRound struct {
	Round               string `json:"round"`
	ClientAddressHeader string `json:"client_address_header"`
	LegitAddresses      int    `json:"legit_client_addresses"`
	ConnectsFrom        string `json:"connects_from"`
	// The attacker's two halves: spans without a session id or with one fixed id, then
	// spans whose session id changes every abuseRotateEvery requests.
	AttackerOfferedFixed    int64   `json:"attacker_spans_offered_no_or_fixed_session"`
	AttackerOfferedRotating int64   `json:"attacker_spans_offered_rotating_sessions"`
	DurationSec             float64 `json:"duration_s"`
	AbuseFigures
}

// AbuseResult is the abuse scenario.
type AbuseResult struct {
	Quotas  AbuseQuotas  `json:"quotas"`
	Direct  AbuseRound   `json:"direct"`
	Proxy   AbuseRound   `json:"proxy"`
	Overall AbuseFigures `json:"overall"`
	Volume  string       `json:"attack_volume"`
	Note    string       `json:"note"`
}

// legitIP is the address of legit client k: 127.0.1.1, 127.0.1.2, ...
func legitIP(k int) string { return fmt.Sprintf("127.0.%d.%d", 1+k/250, 1+k%250) }

// expectedSessionSpans estimates the spans a session mix offers: per session the open
// report, a child every mean child gap and a snapshot (or heartbeat) every SnapEvery over
// the mean life, and the end. Used only to split the attack in halves.
func expectedSessionSpans(p SessionParams) float64 {
	life := (p.MinLife + p.MaxLife).Seconds() / 2
	gap := (p.ChildMin + p.ChildMax).Seconds() / 2
	return float64(p.N) * (2 + life/gap + life/p.SnapEvery.Seconds())
}

// attack is the attacker of one round.
type attack struct {
	snd      *Sender
	gen      *IDGen
	legit    func() int64 // legit spans offered so far
	half     int64        // attacker spans of the first half
	reserved atomic.Int64
	requests atomic.Int64
	fixed    atomic.Int64 // spans offered in the first half
	rotating atomic.Int64
	other    atomic.Int64 // requests failed without a refusal
	padding  string
}

// build makes one request of n open spans in fresh traces, each an open root and an
// open child (the last trace of an odd n only a root).
func (a *attack) build(session string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "abuser")
	if session != "" {
		rs.Resource().Attributes().PutStr("session.id", session)
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("testbed-abuse")
	start := pcommon.NewTimestampFromTime(time.Now().Add(-time.Millisecond))
	for made := 0; made < n; {
		trace := a.gen.Trace()
		root := a.gen.Span()
		for c := 0; c < abuseSpansPerTrace && made < n; c++ {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(trace)
			if c == 0 {
				sp.SetSpanID(root)
			} else {
				sp.SetSpanID(a.gen.Span())
				sp.SetParentSpanID(root)
			}
			sp.SetName("attack.op") // not a session span name: no session_ended rule
			sp.SetStartTimestamp(start)
			sp.Attributes().PutStr("attack.padding", a.padding)
			made++
		}
	}
	return td
}

// run sends until ctx ends, keeping the attacker's offered spans at abuseRatio × the
// legit spans offered so far (a request is sent once the legit volume allows it). Each
// worker is greedy: a quota refusal halves its request size (down to one span), an
// acknowledgement doubles it (up to abuseMaxReqSpans), so the attacker takes every bit
// of headroom its quotas leave and a legit request sharing them would be refused.
func (a *attack) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range abuseWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			size := int64(abuseMaxReqSpans)
			for ctx.Err() == nil {
				cur := a.reserved.Load()
				if cur+size > abuseRatio*a.legit() {
					select { // pace: wait for the legit volume to grow
					case <-tick.C:
					case <-ctx.Done():
					}
					continue
				}
				if !a.reserved.CompareAndSwap(cur, cur+size) {
					continue
				}
				req := a.requests.Add(1) - 1
				session := ""
				if cur < a.half {
					a.fixed.Add(size)
					if req%2 == 1 {
						session = "attacker-fixed-session"
					}
				} else {
					a.rotating.Add(size)
					session = fmt.Sprintf("attacker-%d", req/abuseRotateEvery)
				}
				// One attempt: a refusal is counted, not retried.
				r := a.snd.SendTraces(ctx, a.build(session, int(size)), req%4 == 3, Retry{})
				switch {
				case r.Acked:
					size = min(2*size, abuseMaxReqSpans)
				case r.QuotaRefused > 0:
					size = max(size/2, 1)
				case r.Refused == 0:
					a.other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
}

// peaks samples the collector's VmHWM and journal size, and notices it exiting.
type peaks struct {
	mu      sync.Mutex
	hwm     int64
	journal int64
	exited  bool
}

func (pk *peaks) sample(c *Collector) {
	var st harness.ProcStat
	var err error
	exited := c.Proc.Exited()
	if !exited {
		st, err = c.Stat()
	}
	j := harness.DirBytes(c.Params.JournalDir)
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if err == nil && st.HWMBytes > pk.hwm {
		pk.hwm = st.HWMBytes
	}
	pk.journal = max(pk.journal, j)
	pk.exited = pk.exited || exited
}

func (pk *peaks) loop(ctx context.Context, c *Collector) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		pk.sample(c)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (r *Runner) abuseRound(be *Backend, round string) (AbuseRound, error) {
	t0 := time.Now()
	proxy := round == "proxy"
	res := AbuseRound{Round: round, ConnectsFrom: "own address (legit 127.0.1.x, attacker " + abuseAttackerIP + ")"}
	if proxy {
		res.ClientAddressHeader = abuseHeader
		res.ConnectsFrom = "everyone from the proxy address " + abuseProxyIP
	}
	n := r.o.AbuseSessions
	f := &res.AbuseFigures
	f.LegitSessions = n
	f.AttackerBoundBytes = abuseQuotas.PerClient.MaxBytes
	_ = be.Reset("detail")
	c, err := r.env.NewCollector("abuse-"+round, CollectorParams{
		Mode: Longspan, SnapInterval: 500 * time.Millisecond, IdleTimeout: 3 * time.Second,
		Overlay: abuseQuotas.overlay(res.ClientAddressHeader),
	}, be.GRPC)
	if err != nil {
		return res, err
	}
	if _, err := c.Start(); err != nil {
		return res, err
	}
	defer c.Stop()

	// Legit clients: abuseSessionsPerIP consecutive sessions per address.
	nAddr := (n + abuseSessionsPerIP - 1) / abuseSessionsPerIP
	res.LegitAddresses = nAddr
	legit := make([]*Sender, nAddr)
	defer func() {
		for _, s := range legit {
			if s != nil {
				s.Close()
			}
		}
	}()
	for k := range legit {
		o := SenderOptions{LocalIP: legitIP(k), KeepLatencies: true}
		if proxy {
			hdr := map[string]string{abuseHeader: legitIP(k)}
			o = SenderOptions{LocalIP: abuseProxyIP, Headers: func() map[string]string { return hdr }, KeepLatencies: true}
		}
		if legit[k], err = NewSenderWith(c.Params.GRPC, c.Params.HTTP, o); err != nil {
			return res, err
		}
	}
	legitOffered := func() int64 {
		var s int64
		for _, snd := range legit {
			s += snd.Stats.SpansOffered.Load()
		}
		return s
	}
	// The attacker: a spoofed address in the header, then (behind the proxy) its own.
	spoofed := func() string {
		return fmt.Sprintf("%d.%d.%d.%d", 1+rand.IntN(223), rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
	}
	ao := SenderOptions{LocalIP: abuseAttackerIP, Headers: func() map[string]string {
		return map[string]string{abuseHeader: spoofed()}
	}}
	if proxy {
		ao = SenderOptions{LocalIP: abuseProxyIP, Headers: func() map[string]string {
			return map[string]string{abuseHeader: spoofed() + ", " + abuseAttackerIP}
		}}
	}
	asnd, err := NewSenderWith(c.Params.GRPC, c.Params.HTTP, ao)
	if err != nil {
		return res, err
	}
	defer asnd.Close()
	sp := SessionParams{
		Mode: Longspan, N: n, StartWindow: r.o.AbuseWindow,
		MinLife: 2 * time.Second, MaxLife: 6 * time.Second,
		ChildMin: 200 * time.Millisecond, ChildMax: 900 * time.Millisecond,
		SnapEvery: 500 * time.Millisecond, IdleTimeout: 3 * time.Second,
		Seed: r.o.Seed + 12, Retry: Retry{MaxElapsed: 20 * time.Second}, Ledger: NewLedger(),
		SenderFor: func(i int) *Sender { return legit[i/abuseSessionsPerIP] },
	}
	atk := &attack{snd: asnd, gen: NewIDGen(0xab05e000 + uint32(len(round))), legit: legitOffered,
		half: int64(abuseRatio * expectedSessionSpans(sp) / 2), padding: strings.Repeat("x", abusePaddingBytes)}

	pk := &peaks{}
	sctx, scancel := context.WithCancel(context.Background())
	var swg sync.WaitGroup
	swg.Add(1)
	go func() { defer swg.Done(); pk.loop(sctx, c) }()
	defer func() { scancel(); swg.Wait() }()

	r.logf("abuse/%s: %d sessions from %d addresses over %v, attacker at %d× their volume", round, n, nAddr, r.o.AbuseWindow, abuseRatio)
	actx, acancel := context.WithCancel(context.Background())
	var awg sync.WaitGroup
	awg.Add(1)
	go func() { defer awg.Done(); atk.run(actx) }()
	ctx, cancel := context.WithTimeout(context.Background(), r.o.AbuseWindow+2*time.Minute)
	sessions := RunSessions(ctx, nil, sp)
	cancel()
	acancel()
	awg.Wait()
	r.logf("abuse/%s: load done after %.0fs; waiting for the collector to drain", round, time.Since(t0).Seconds())

	// Every open span reconciled and released, then the backend quiet.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !c.Proc.Exited() {
		if v, err := c.OpenSpans(); err == nil && v.TotalOpen == 0 && v.HeldSpans == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if _, err := be.WaitQuiet(3*time.Second, 4*time.Second, 90*time.Second); err != nil {
		r.logf("abuse/%s: %v", round, err)
	}
	scancel()
	swg.Wait()
	pk.sample(c)
	if pk.exited {
		f.Crashes = 1
		r.logf("abuse/%s: the collector exited during the round: %v (log %s)", round, c.Proc.Err(), c.Proc.LogPath)
	} else if byLimit, err := harness.MetricByLabel(c.Params.MetricsPort, "otelcol_longspan_requests_refused", "limit"); err == nil {
		f.RefusalsByLimit = byLimit
	} else {
		r.logf("abuse/%s: scraping requests_refused: %v", round, err)
	}
	f.RSSMBPeak = round1(float64(pk.hwm) / (1 << 20))
	f.JournalBytesPeak = pk.journal
	recs, err := be.Records()
	if err != nil {
		return res, err
	}

	for _, s := range legit {
		f.LegitSpansOffered += s.Stats.SpansOffered.Load()
		f.LegitSpansAcked += s.Stats.SpansAcked.Load()
		f.LegitQuotaRefusals += s.Stats.QuotaRefused.Load()
		f.LegitLimitRefusals += s.Stats.LimitRefused.Load()
		f.LegitConnErrors += s.Stats.ConnErrs.Load()
		f.legitLats = append(f.legitLats, s.Latencies()...)
	}
	cf := EvaluateCompleteness(sessions, recs)
	f.LegitKept, f.LegitKeptCompletePct, f.LegitKeptInPart, f.LegitAborted = cf.Kept, cf.KeptCompletePct, cf.KeptPartial, cf.Aborted
	loss, _ := CompareLoss(sp.Ledger, recs)
	f.LegitAckedMissing = loss.Missing
	as := &asnd.Stats
	f.AttackerSpansOffered, f.AttackerSpansAcked, f.AttackerSpansRefused = as.SpansOffered.Load(), as.SpansAcked.Load(), as.SpansRefused.Load()
	f.AttackerQuotaRefusals, f.AttackerOtherFailures = as.QuotaRefused.Load(), atk.other.Load()
	res.AttackerOfferedFixed, res.AttackerOfferedRotating = atk.fixed.Load(), atk.rotating.Load()
	f.finish()
	res.DurationSec = round1(time.Since(t0).Seconds())
	r.logf("abuse/%s: legit %d/%d spans acked (%.2f%%), %d quota refusals, kept complete %.1f%%, %d missing; attacker %d offered, %.1f%% refused; RSS peak %.0f MB, journal peak %.1f MB; refusals %v",
		round, f.LegitSpansAcked, f.LegitSpansOffered, f.LegitAcceptancePct, f.LegitQuotaRefusals, f.LegitKeptCompletePct, f.LegitAckedMissing,
		f.AttackerSpansOffered, f.AttackerRefusedPct, f.RSSMBPeak, float64(f.JournalBytesPeak)/(1<<20), f.RefusalsByLimit)
	return res, nil
}

// finish computes the percentages and latency quantiles of f from its counts.
func (f *AbuseFigures) finish() {
	if len(f.legitLats) > 0 {
		br := BulkResult{Latencies: f.legitLats}
		f.LegitAckP50Ms = round3(float64(br.P(0.5)) / 1e6)
		f.LegitAckP99Ms = round3(float64(br.P(0.99)) / 1e6)
	}
	f.LegitAcceptancePct = round3(pct(int(f.LegitSpansAcked), int(f.LegitSpansOffered)))
	f.AttackerRefusedPct = round1(pct(int(f.AttackerSpansRefused), int(f.AttackerSpansOffered)))
	if f.LegitSpansOffered > 0 {
		f.AttackToLegitVolume = round1(float64(f.AttackerSpansOffered) / float64(f.LegitSpansOffered))
	}
}

// add sums a round into the overall figures.
func (f *AbuseFigures) add(g AbuseFigures) {
	keptComplete := f.LegitKeptCompletePct*float64(f.LegitKept)/100 + g.LegitKeptCompletePct*float64(g.LegitKept)/100
	f.LegitSessions += g.LegitSessions
	f.LegitSpansOffered += g.LegitSpansOffered
	f.LegitSpansAcked += g.LegitSpansAcked
	f.LegitQuotaRefusals += g.LegitQuotaRefusals
	f.LegitLimitRefusals += g.LegitLimitRefusals
	f.LegitAckedMissing += g.LegitAckedMissing
	f.LegitKept += g.LegitKept
	f.LegitKeptInPart += g.LegitKeptInPart
	f.LegitAborted += g.LegitAborted
	f.LegitConnErrors += g.LegitConnErrors
	f.legitLats = append(f.legitLats, g.legitLats...)
	f.LegitKeptCompletePct = round1(100 * keptComplete / float64(max(f.LegitKept, 1)))
	f.AttackerSpansOffered += g.AttackerSpansOffered
	f.AttackerSpansAcked += g.AttackerSpansAcked
	f.AttackerSpansRefused += g.AttackerSpansRefused
	f.AttackerQuotaRefusals += g.AttackerQuotaRefusals
	f.AttackerOtherFailures += g.AttackerOtherFailures
	f.RSSMBPeak = max(f.RSSMBPeak, g.RSSMBPeak)
	f.JournalBytesPeak = max(f.JournalBytesPeak, g.JournalBytesPeak)
	f.AttackerBoundBytes = g.AttackerBoundBytes
	f.Crashes += g.Crashes
	if f.RefusalsByLimit == nil {
		f.RefusalsByLimit = map[string]float64{}
	}
	for k, v := range g.RefusalsByLimit {
		f.RefusalsByLimit[k] += v
	}
	f.finish()
}

// quotaRefusals sums the refusals by a quota whose limit name starts with prefix
// ("quota_", "quota_per_client_").
func (f *AbuseFigures) quotaRefusals(prefix string) float64 {
	var s float64
	for k, v := range f.RefusalsByLimit {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

// limitsString prints refusals_by_limit sorted by name.
func limitsString(m map[string]float64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%.0f", k, m[k])
	}
	return strings.Join(parts, " ")
}

func (r *Runner) scenarioAbuse() (*AbuseResult, error) {
	res := &AbuseResult{Quotas: abuseQuotas,
		Volume: fmt.Sprintf("paced live: the attacker sends a request (1 to %d open spans) whenever its spans offered stay within %d× the legit spans offered so far (counted by the legit senders), so the attack is concurrent with the sessions and ends with them; its halves split at %d× the legit volume estimated from the session params / 2",
			abuseMaxReqSpans, abuseRatio, abuseRatio),
		Note: "quotas scaled to the testbed's 3 s idle_timeout (see abuseQuotas); the attacker makes one attempt per request (no retries), halves its request size on a quota refusal (down to 1 span) and doubles it when acknowledged (up to 50), alternates no session.id and one fixed session.id in its first half and changes session.id every 3 requests in its second; legit sessions retry refusals for up to 20 s; include_metadata is on in both rounds (in the direct one the attacker's spoofed x-forwarded-for must be ignored)",
	}
	be, err := r.env.StartBackend("backend-abuse")
	if err != nil {
		return nil, err
	}
	defer be.Stop()
	for _, round := range []string{"direct", "proxy"} {
		rd, err := r.abuseRound(be, round)
		if err != nil {
			return nil, fmt.Errorf("round %s: %w", round, err)
		}
		if round == "direct" {
			res.Direct = rd
		} else {
			res.Proxy = rd
		}
		res.Overall.add(rd.AbuseFigures)
		f := rd.AbuseFigures
		name := "abuse/" + round + ": "
		r.check(name+"legit spans acknowledged >= 99.9%", f.LegitAcceptancePct >= abuseTargetAccepted && f.LegitSpansOffered > 0,
			fmt.Sprintf("%d of %d (%.3f%%), %d sessions aborted", f.LegitSpansAcked, f.LegitSpansOffered, f.LegitAcceptancePct, f.LegitAborted))
		r.check(name+"no legit request refused by a quota", f.LegitQuotaRefusals == 0,
			fmt.Sprintf("%d legit attempts answered 429 / RESOURCE_EXHAUSTED (%d answered 503 / UNAVAILABLE)", f.LegitQuotaRefusals, f.LegitLimitRefusals))
		r.check(name+"legit kept traces complete, no acknowledged legit span missing",
			f.LegitKept > 0 && f.LegitKeptCompletePct == 100 && f.LegitAckedMissing == 0,
			fmt.Sprintf("%d kept, %.1f%% complete, %d in part, %d acked spans missing", f.LegitKept, f.LegitKeptCompletePct, f.LegitKeptInPart, f.LegitAckedMissing))
		r.check(name+"collector did not crash", f.Crashes == 0, fmt.Sprintf("%d crashes", f.Crashes))
		r.check(name+fmt.Sprintf("attacker (>= %d× the legit volume) refused >= %d%%", abuseMinRatio, abuseMinRefusedPct),
			f.AttackerSpansRefused > 0 && f.AttackerRefusedPct >= abuseMinRefusedPct && f.AttackToLegitVolume >= abuseMinRatio,
			fmt.Sprintf("%d of %d spans refused (%.1f%%), %.1f× the legit volume, %d requests failed otherwise",
				f.AttackerSpansRefused, f.AttackerSpansOffered, f.AttackerRefusedPct, f.AttackToLegitVolume, f.AttackerOtherFailures))
		r.check(name+"refusals are by quota, per_client among them", f.quotaRefusals("quota_per_client_") > 0 && f.AttackerQuotaRefusals > 0,
			fmt.Sprintf("requests_refused %s; attacker saw %d quota refusals", limitsString(f.RefusalsByLimit), f.AttackerQuotaRefusals))
	}
	return res, nil
}
