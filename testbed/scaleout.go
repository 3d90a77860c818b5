package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
	"github.com/otelcol-longspan/otelcol-longspan/internal/topology"
)

// ScaleOutResult is scenario scale_out: one front tier (load_balancing over a fixed set
// of shards, persistent queue) and 3 gateways, under the session mix and ended bulk
// traffic, through a gateway kill -9 of 3 × idle_timeout, a front-tier kill -9, and
// rescaling 3 → 4 → 3 gateways by moving shards with longspanctl.
type ScaleOutResult struct {
	Shards           int      `json:"shards"`
	GatewaysMax      int      `json:"gateways_max"`
	GatewayKills     int      `json:"gateway_kills"`
	GatewayOutageSec float64  `json:"gateway_outage_s"`
	Fronts           int      `json:"fronts"`
	FrontKills       int      `json:"front_kills"`
	FrontStalls      int      `json:"front_stalls"`
	FrontStallSec    float64  `json:"front_stall_s"`
	FrontQueuePeak   int      `json:"front_queue_peak_requests"`
	Moves            int      `json:"moves"`
	MoveSecMax       float64  `json:"move_s_max"`
	Sessions         int      `json:"sessions"`
	SessionsAborted  int      `json:"sessions_aborted"`
	AckedSpans       int      `json:"acked_spans"`
	MissingAcked     int      `json:"missing_acked_spans"`
	DuplicateSpans   int      `json:"spans_delivered_more_than_once"`
	FalseReconciled  int      `json:"false_reconciliations"`
	FalseExamples    []string `json:"false_reconciliation_examples,omitempty"`
	FrontDrainSecMax float64  `json:"front_queue_drain_s_max"`
	// suspects are the sessions of false reconciliations and split traces, for the
	// diagnostic file.
	suspects    []int
	SplitTraces int `json:"split_traces"`
	// TwiceInOneBatch counts spans that came out more than once in one export batch.
	TwiceInOneBatch int            `json:"spans_twice_in_one_batch"`
	TwiceExamples   []string       `json:"twice_in_one_batch_examples,omitempty"`
	SplitExamples   []string       `json:"split_examples,omitempty"`
	ReleasedAgain   int            `json:"traces_released_again_whole"`
	SeveralGateways int            `json:"traces_from_several_gateways"`
	KeptTraces      int            `json:"kept_traces"`
	KeptCompletePct float64        `json:"kept_traces_complete_pct"`
	Reconciled      map[string]int `json:"reconciled_by_reason"`
	SilentSessions  int            `json:"silent_sessions"`
	SilentChecked   int            `json:"silent_checked_outside_disruptions"`
	SilentLate      int            `json:"silent_reconciled_late"`
	SilentDelayP99  float64        `json:"silent_reconcile_delay_p99_s"`
	SilentDelayMax  float64        `json:"silent_reconcile_delay_max_s"`
	SilentAllowance float64        `json:"silent_reconcile_allowance_s"`
	EndOpen         int64          `json:"end_open_spans"`
	EndHeld         int64          `json:"end_held_spans"`
	Events          []string       `json:"events"`
	DurationSec     float64        `json:"duration_s"`
	// Runs and RunsPassed are set when the scenario ran more than once (-repeat):
	// the other fields are the last run's, RunSummaries one line per run.
	Runs         int      `json:"runs,omitempty"`
	RunsPassed   int      `json:"runs_passed,omitempty"`
	RunSummaries []string `json:"run_summaries,omitempty"`
}

// passed says whether the run kept the scenario's promises: nothing acknowledged
// lost, no false reconciliation, no trace in parts, every kept trace complete, never
// a span twice in one batch.
func (res *ScaleOutResult) passed() bool {
	return res.MissingAcked == 0 && res.FalseReconciled == 0 && res.SplitTraces == 0 && res.KeptCompletePct == 100 &&
		res.TwiceInOneBatch == 0 && res.KeptTraces > 0
}

// summary is one run's figures on a line.
func (res *ScaleOutResult) summary() string {
	dup := 0.0
	if res.AckedSpans > 0 {
		dup = 100 * float64(res.DuplicateSpans) / float64(res.AckedSpans)
	}
	return fmt.Sprintf("passed=%t acked=%d missing=%d false=%d split=%d complete=%.1f%% duplicates=%d (%.2f%%) twice_in_batch=%d released_again=%d front_queue_peak=%d drain_max=%.1fs",
		res.passed(), res.AckedSpans, res.MissingAcked, res.FalseReconciled, res.SplitTraces, res.KeptCompletePct,
		res.DuplicateSpans, dup, res.TwiceInOneBatch, res.ReleasedAgain, res.FrontQueuePeak, res.FrontDrainSecMax)
}

// scenarioScaleOutRepeated runs scale_out o.Repeat times (at least once), each a
// fresh deployment; the result is the last run's with every run's summary.
func (r *Runner) scenarioScaleOutRepeated() (*ScaleOutResult, error) {
	runs := max(r.o.Repeat, 1)
	var summaries []string
	passed := 0
	var res *ScaleOutResult
	for i := 1; i <= runs; i++ {
		var err error
		res, err = r.scenarioScaleOut(i)
		if err != nil {
			return res, fmt.Errorf("run %d of %d: %w", i, runs, err)
		}
		if res.passed() {
			passed++
		}
		summaries = append(summaries, fmt.Sprintf("run %d: %s", i, res.summary()))
		r.logf("scale_out: run %d of %d: %s", i, runs, res.summary())
	}
	if runs > 1 {
		res.Runs, res.RunsPassed, res.RunSummaries = runs, passed, summaries
		r.check("scale_out: every run kept its promises", passed == runs, fmt.Sprintf("%d of %d runs passed", passed, runs))
	}
	return res, nil
}

// scale-out timings: the testbed's usual compressed clock.
const (
	soIdle         = 3 * time.Second
	soTick         = 100 * time.Millisecond
	soSnapEvery    = 500 * time.Millisecond
	soDecisionWait = time.Second
	soProbeEvery   = 500 * time.Millisecond
)

// soNode is one collector process of the deployment: the front tier or a gateway.
type soNode struct {
	name, config, health, pidFile, log string
	env                                []string
	proc                               *harness.Proc
}

func (n *soNode) start(bin string) error {
	p, err := harness.StartProc(n.name, bin, []string{"--config", n.config}, n.env, n.log)
	if err != nil {
		return err
	}
	n.proc = p
	if n.pidFile != "" {
		if err := os.WriteFile(n.pidFile, []byte(strconv.Itoa(p.Pid())), 0o644); err != nil {
			return err
		}
	}
	_, err = harness.WaitHTTP200("http://"+n.health+"/", p, 60*time.Second, 20*time.Millisecond)
	return err
}

func (n *soNode) kill9() {
	if n.proc != nil {
		n.proc.Kill9()
	}
}

func (n *soNode) stop() {
	if n.proc != nil {
		n.proc.Stop(20 * time.Second)
	}
}

// disruption is a time window in which some shard could not be reached, or the front
// tier was still draining what queued up meanwhile.
type disruption struct{ from, to time.Time }

type queueSample struct {
	at   time.Time
	size int
}

// drainedQueue is the queue size (requests) below which the front tier is taken to
// have caught up: a few batches in flight.
const drainedQueue = 20

// drainedAfter returns when the front tier's queue was first back to drained after t.
func drainedAfter(queue []queueSample, t time.Time) time.Time {
	for _, q := range queue {
		if q.at.After(t) && q.size <= drainedQueue {
			return q.at
		}
	}
	return t
}

func (r *Runner) scenarioScaleOut(run int) (*ScaleOutResult, error) {
	t0 := time.Now()
	shards, window, sessions, gapScale := 16, 45*time.Second, 300, 1.0
	if !r.o.Quick {
		shards, window, sessions, gapScale = 32, 150*time.Second, 1500, 3.0
	}
	res := &ScaleOutResult{Shards: shards, GatewaysMax: 3, Reconciled: map[string]int{}}
	work := filepath.Join(r.env.WorkDir, "scale_out")
	if run > 1 {
		work = filepath.Join(r.env.WorkDir, fmt.Sprintf("scale_out-%d", run))
	}
	// A fresh deployment every time: journals or front queues left in a reused -workdir
	// would replay another run's sessions, which have the same trace ids.
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	ctl := os.Getenv("LONGSPANCTL")
	if ctl == "" {
		ctl = filepath.Join(filepath.Dir(r.env.Bin), "longspanctl")
	}
	if _, err := os.Stat(ctl); err != nil {
		return nil, fmt.Errorf("longspanctl: %w (make build writes it next to the collector; or set LONGSPANCTL)", err)
	}

	be, err := r.env.StartBackend("backend-scale-out")
	if err != nil {
		return nil, err
	}
	defer be.Stop()
	_ = be.Reset("detail")

	d, nodes, err := r.scaleOutDeployment(work, shards, be.GRPC)
	if err != nil {
		return nil, err
	}
	deployPath := filepath.Join(work, "deploy.yaml")
	if err := d.Save(deployPath); err != nil {
		return nil, err
	}
	if out, err := exec.Command(ctl, "config", "-d", deployPath, "-bin", r.env.Bin).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("longspanctl config: %v: %s", err, out)
	}
	var events []string
	var evMu sync.Mutex
	event := func(format string, args ...any) {
		msg := fmt.Sprintf("+%.1fs ", time.Since(t0).Seconds()) + fmt.Sprintf(format, args...)
		evMu.Lock()
		events = append(events, msg)
		evMu.Unlock()
		r.logf("scale_out: %s", msg)
	}
	fronts := d.FrontInstances()
	res.Fronts = len(fronts)
	starting := []string{"gw-a", "gw-b", "gw-c"}
	for i := range fronts {
		starting = append(starting, frontNode(i))
	}
	for _, name := range starting {
		if err := nodes[name].start(r.env.Bin); err != nil {
			return nil, err
		}
	}
	defer func() {
		for _, n := range nodes {
			n.stop()
		}
	}()
	event("%d front-tier instances + 3 gateways up, %d shards", len(fronts), shards)

	var grpcAddrs, httpAddrs []string
	for _, in := range fronts {
		grpcAddrs, httpAddrs = append(grpcAddrs, in.GRPC), append(httpAddrs, in.HTTP)
	}
	snd, err := NewSpreadSender(grpcAddrs, httpAddrs, SenderOptions{})
	if err != nil {
		return nil, err
	}
	// A request to a stalled instance is given up after this and retried on the other
	// (what the stalled one had read may be delivered, late, when it resumes): a client
	// whose reports reach no instance for idle_timeout is silent, whatever it meant to
	// send, so the attempt must fail over well inside idle_timeout.
	snd.Timeout = soIdle / 3
	defer snd.Close()
	ledger := NewLedger()
	retry := Retry{MaxElapsed: 2 * time.Minute, Initial: 50 * time.Millisecond, Max: time.Second}
	loadStart := time.Now()
	var wg sync.WaitGroup
	var sess []*Session
	wg.Add(1)
	go func() {
		defer wg.Done()
		sess = RunSessions(context.Background(), snd, SessionParams{
			Mode: Longspan, N: sessions, StartWindow: window,
			MinLife: 2 * time.Second, MaxLife: 6 * time.Second,
			ChildMin: 200 * time.Millisecond, ChildMax: 900 * time.Millisecond,
			SnapEvery: soSnapEvery, IdleTimeout: soIdle,
			Seed: r.o.Seed + 31, Retry: retry, Ledger: ledger,
		})
	}()
	bctx, bcancel := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := r.bulkParams(PassThrough)
		p.Workers, p.TracesPerReq, p.Rate, p.Retry, p.Ledger, p.HTTPEvery = 2, 5, 400, retry, ledger, 3
		p.Duration = window + 10*time.Second
		RunBulk(bctx, snd, p)
	}()

	// The disruptions, each at a fixed offset into the load.
	var disruptions []disruption
	at := func(offset time.Duration) {
		time.Sleep(time.Until(loadStart.Add(time.Duration(float64(offset) * gapScale))))
	}
	timeline := func() error {
		at(4 * time.Second)
		outage := 3 * soIdle
		from := time.Now()
		nodes["gw-b"].kill9()
		res.GatewayKills++
		event("kill -9 gw-b (shards %v) for %s", d.Gateways["gw-b"].Shards, outage)
		time.Sleep(outage)
		if err := nodes["gw-b"].start(r.env.Bin); err != nil {
			return fmt.Errorf("restart gw-b: %w", err)
		}
		res.GatewayOutageSec = round1(time.Since(from).Seconds())
		disruptions = append(disruptions, disruption{from, time.Now()})
		event("gw-b back after %.1fs", res.GatewayOutageSec)

		at(18 * time.Second)
		from = time.Now()
		nodes["front"].kill9()
		res.FrontKills++
		event("kill -9 front")
		if err := nodes["front"].start(r.env.Bin); err != nil {
			return fmt.Errorf("restart front: %w", err)
		}
		disruptions = append(disruptions, disruption{from, time.Now()})
		event("front back after %.1fs", time.Since(from).Seconds())

		at(22 * time.Second)
		if err := nodes["gw-d"].start(r.env.Bin); err != nil {
			return fmt.Errorf("start gw-d: %w", err)
		}
		res.GatewaysMax = 4
		event("gw-d up (no shards)")
		// 3 → 4: gw-d takes a quarter of the shards, round robin from the others.
		cur, _ := topology.Load(deployPath)
		var moved []int
		origin := map[int]string{}
		for i := 0; len(moved) < shards/4; i++ {
			g := []string{"gw-a", "gw-b", "gw-c"}[i%3]
			own := cur.Gateways[g].Shards
			if len(own) <= i/3 {
				continue
			}
			s := own[len(own)-1-i/3]
			moved = append(moved, s)
			origin[s] = g
		}
		move := func(s int, to string) error {
			from := time.Now()
			out, err := exec.Command(ctl, "move", "-d", deployPath, "-bin", r.env.Bin, "-shard", strconv.Itoa(s), "-to", to).CombinedOutput()
			if err != nil {
				return fmt.Errorf("longspanctl move -shard %d -to %s: %v: %s", s, to, err, out)
			}
			took := time.Since(from)
			disruptions = append(disruptions, disruption{from, time.Now()})
			res.Moves++
			res.MoveSecMax = max(res.MoveSecMax, round3(took.Seconds()))
			event("moved shard %d to %s in %s", s, to, took.Round(time.Millisecond))
			return nil
		}
		for _, s := range moved {
			if err := move(s, "gw-d"); err != nil {
				return err
			}
		}
		at(30 * time.Second)
		// 4 → 3: gw-d's shards go back, then gw-d stops.
		for _, s := range moved {
			if err := move(s, origin[s]); err != nil {
				return err
			}
		}
		nodes["gw-d"].stop()
		event("gw-d stopped; it serves no shard")

		if len(fronts) > 1 {
			at(36 * time.Second)
			stall := 3 * soIdle / 2
			from = time.Now()
			if err := nodes[frontNode(1)].proc.Pause(); err != nil {
				return fmt.Errorf("SIGSTOP %s: %w", frontNode(1), err)
			}
			res.FrontStalls++
			event("SIGSTOP %s for %s (longer than idle_timeout)", frontNode(1), stall)
			time.Sleep(stall)
			if err := nodes[frontNode(1)].proc.Resume(); err != nil {
				return fmt.Errorf("SIGCONT %s: %w", frontNode(1), err)
			}
			res.FrontStallSec = round1(time.Since(from).Seconds())
			disruptions = append(disruptions, disruption{from, time.Now()})
			event("SIGCONT %s after %.1fs", frontNode(1), res.FrontStallSec)
		}
		return nil
	}
	// The front tier's queue, sampled: how far behind the gateways it fell.
	qctx, qstop := context.WithCancel(context.Background())
	qdone := make(chan struct{})
	var queue []queueSample
	go func() {
		defer close(qdone)
		for qctx.Err() == nil {
			// The queues of every instance that answers (a stalled one does not).
			size, answered := 0, false
			for _, in := range fronts {
				if v, err := harness.MetricAt(in.Metrics, "otelcol_exporter_queue_size"); err == nil {
					size, answered = size+int(v), true
				}
			}
			if answered {
				res.FrontQueuePeak = max(res.FrontQueuePeak, size)
				queue = append(queue, queueSample{time.Now(), size})
			}
			select {
			case <-qctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	tlErr := timeline()
	bcancel()
	wg.Wait()
	qstop()
	<-qdone
	event("load done: %d sessions, %d acknowledged spans", len(sess), ledger.Len())
	if tlErr != nil {
		return res, tlErr
	}

	// Let reconciliation, release and tail sampling finish: every shard empty, then quiet.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res.EndOpen, res.EndHeld = 0, 0
		var viewErr error
		for s := 0; s < shards; s++ {
			v, err := harness.OpenSpansAt(d.ViewEndpoint(s), 1)
			if err != nil {
				viewErr = err
				continue
			}
			res.EndOpen += v.TotalOpen
			res.EndHeld += v.HeldSpans
		}
		if viewErr == nil && res.EndOpen == 0 && res.EndHeld == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.logf("scale_out: shards not empty after 2m: open %d held %d (%v)", res.EndOpen, res.EndHeld, viewErr)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if _, err := be.WaitQuiet(3*time.Second, 3*time.Second, 90*time.Second); err != nil {
		r.logf("scale_out: %v", err)
	}
	recs, err := be.Records()
	if err != nil {
		return res, err
	}
	res.Events = events
	// A disruption lasts until the front tier's queue has drained the backlog it left.
	for i := range disruptions {
		end := drainedAfter(queue, disruptions[i].to)
		res.FrontDrainSecMax = max(res.FrontDrainSecMax, round1(end.Sub(disruptions[i].to).Seconds()))
		disruptions[i].to = end
	}
	evaluateScaleOut(res, sess, ledger, recs, disruptions)
	if err := writeSessionRecords(filepath.Join(work, "suspect_sessions.txt"), res.suspects, sess, recs); err != nil {
		r.logf("scale_out: %v", err)
	}
	res.DurationSec = round1(time.Since(t0).Seconds())

	r.check("scale_out: no acknowledged span lost", res.MissingAcked == 0, fmt.Sprintf("%d missing of %d acknowledged", res.MissingAcked, res.AckedSpans))
	r.check("scale_out: no false reconciliation", res.FalseReconciled == 0, fmt.Sprintf("%d (reconciled by reason %v)", res.FalseReconciled, res.Reconciled))
	r.check("scale_out: no trace reaches tail sampling in parts", res.SplitTraces == 0, fmt.Sprintf("split %d; released again whole %d; from several gateways %d", res.SplitTraces, res.ReleasedAgain, res.SeveralGateways))
	r.check("scale_out: never a span twice in one batch", res.TwiceInOneBatch == 0, fmt.Sprintf("%d", res.TwiceInOneBatch))
	r.check("scale_out: every kept trace complete", res.KeptCompletePct == 100, fmt.Sprintf("%.1f%% of %d", res.KeptCompletePct, res.KeptTraces))
	// How soon silent clients were reconciled is a timing: a target (runner.targets),
	// not an invariant. That some were checked at all is one.
	r.check("scale_out: silent clients were checked", res.SilentChecked > 0, fmt.Sprintf("%d of %d silent", res.SilentChecked, res.SilentSessions))
	r.check("scale_out: shards empty at the end", res.EndOpen == 0 && res.EndHeld == 0, fmt.Sprintf("open %d, held %d", res.EndOpen, res.EndHeld))
	r.check("scale_out: rescaled 3 → 4 → 3 by moving shards", res.GatewaysMax == 4 && res.Moves == shards/4*2, fmt.Sprintf("%d moves", res.Moves))
	r.check("scale_out: no session aborted", res.SessionsAborted == 0, fmt.Sprintf("%d of %d", res.SessionsAborted, res.Sessions))
	return res, nil
}

// scaleOutDeployment describes the deployment: 3 gateways sharing the shards, a fourth
// declared without shards, the front tier; and the processes that run them.
func (r *Runner) scaleOutDeployment(work string, shards int, backend string) (*topology.Deployment, map[string]*soNode, error) {
	base, err := harness.FreePortRange(2 * shards)
	if err != nil {
		return nil, nil, err
	}
	addrs, err := harness.FreeAddrs(14)
	if err != nil {
		return nil, nil, err
	}
	d := &topology.Deployment{
		Shards: shards, BasePort: base, ViewBasePort: base + shards,
		Endpoint: "127.0.0.1:{port}", Listen: "127.0.0.1:{port}",
		JournalRoot: filepath.Join(work, "journals"),
		Gateways:    map[string]*topology.GatewaySpec{},
		Front: topology.FrontSpec{
			GRPC: addrs[0], HTTP: addrs[1], Health: addrs[2],
			QueueDirectory: filepath.Join(work, "front-queue"), Config: filepath.Join(work, "front.yaml"),
			ProbeInterval: soProbeEvery.String(), ProbeSpans: 4 * shards, RetryMaxInterval: "1s",
			Metrics: harness.PortOf(addrs[9]),
			// A second instance with the same ring: clients send each request to either.
			Instances: []topology.FrontInstance{{
				GRPC: addrs[10], HTTP: addrs[11], Health: addrs[12],
				QueueDirectory: filepath.Join(work, "front-1-queue"), Config: filepath.Join(work, "front-1.yaml"),
				Metrics: harness.PortOf(addrs[13]),
			}},
		},
		Longspan: map[string]any{
			"idle_timeout": soIdle.String(), "max_duration": "168h", "max_trace_hold": "1h",
			"session_attribute": "session.id", "release_retention": "5s", "tick_interval": soTick.String(),
			"snapshot": map[string]any{"interval": soSnapEvery.String(), "min_age": soSnapEvery.String()},
		},
		TailSampling: map[string]any{
			"decision_wait": soDecisionWait.String(), "num_traces": 200000,
			"decision_cache": map[string]any{"sampled_cache_size": 200000, "non_sampled_cache_size": 200000},
			"policies":       []any{map[string]any{"name": "keep-everything", "type": "always_sample"}},
		},
		// The backend exporter has no queue: accepted means delivered.
		LongspanAck: map[string]any{"delay": "0s"},
		Exporters: map[string]any{"otlp_grpc/backend": map[string]any{
			"endpoint": backend, "tls": map[string]any{"insecure": true}, "compression": "none",
			"headers":          map[string]any{GatewayHeader: "${env:LONGSPAN_GATEWAY}"},
			"sending_queue":    map[string]any{"enabled": false},
			"retry_on_failure": map[string]any{"enabled": true, "max_elapsed_time": "60s"},
		}},
		Sampled:   []string{"otlp_grpc/backend"},
		Live:      []string{"otlp_grpc/backend"},
		Telemetry: map[string]any{"logs": map[string]any{"level": "info"}},
	}
	nodes := map[string]*soNode{}
	for i, in := range d.FrontInstances() {
		nodes[frontNode(i)] = &soNode{name: "so-" + frontNode(i), config: in.Config, health: in.Health, log: filepath.Join(work, frontNode(i)+".log")}
	}
	names := []string{"gw-a", "gw-b", "gw-c", "gw-d"}
	for i, name := range names {
		g := &topology.GatewaySpec{Health: addrs[3+i], Config: filepath.Join(work, name+".yaml"), PIDFile: filepath.Join(work, name+".pid")}
		if i < 3 {
			for s := i; s < shards; s += 3 {
				g.Shards = append(g.Shards, s)
			}
		}
		d.Gateways[name] = g
		nodes[name] = &soNode{name: "so-" + name, config: g.Config, health: g.Health, pidFile: g.PIDFile,
			log: filepath.Join(work, name+".log"), env: []string{"LONGSPAN_GATEWAY=" + strconv.Itoa(i+1)}}
	}
	return d, nodes, d.Validate()
}

// frontNode names front-tier instance i among the scenario's processes.
func frontNode(i int) string {
	if i == 0 {
		return "front"
	}
	return fmt.Sprintf("front-%d", i)
}

// evaluateScaleOut reads the backend's records against the clients' own logs.
func evaluateScaleOut(res *ScaleOutResult, sess []*Session, ledger *Ledger, recs []Rec, disruptions []disruption) {
	loss, _ := CompareLoss(ledger, recs)
	res.AckedSpans, res.MissingAcked, res.DuplicateSpans = loss.Acked, loss.Missing, loss.SpansDuplicate
	res.Sessions = len(sess)

	// A trace is split when no single export batch holds every span of it that
	// reached the backend (snapshots and superseding real ends, which come later by
	// design, aside). A whole trace delivered twice is a duplicate, not a split.
	type group struct {
		gateway uint8
		batch   uint32
	}
	byTrace := map[[16]byte]map[group]map[SpanKey]bool{}
	for _, rec := range recs {
		if rec.State == StateSnapshot || rec.State == StateSuperseding {
			continue
		}
		var t [16]byte
		copy(t[:], rec.Key[:16])
		gs := byTrace[t]
		if gs == nil {
			gs = map[group]map[SpanKey]bool{}
			byTrace[t] = gs
		}
		g := group{rec.Gateway, rec.Batch}
		if gs[g] == nil {
			gs[g] = map[SpanKey]bool{}
		}
		if gs[g][rec.Key] {
			res.TwiceInOneBatch++
			if len(res.TwiceExamples) < 5 {
				res.TwiceExamples = append(res.TwiceExamples, fmt.Sprintf("span %x of trace %x: gateway %d batch %d, at the backend %s",
					rec.Key[16:], rec.Key[:16], rec.Gateway, rec.Batch, time.Unix(0, rec.Recv).Format("15:04:05.000")))
			}
		}
		gs[g][rec.Key] = true
	}
	for t, gs := range byTrace {
		all := map[SpanKey]bool{}
		gateways := map[uint8]bool{}
		for g, keys := range gs {
			gateways[g.gateway] = true
			for k := range keys {
				all[k] = true
			}
		}
		whole := 0
		for _, keys := range gs {
			if len(keys) == len(all) {
				whole++
			}
		}
		switch {
		case whole == 0:
			res.SplitTraces++
			for _, s := range sess {
				if s.Trace == t {
					res.suspects = append(res.suspects, s.Idx)
				}
			}
			if len(res.SplitExamples) < 5 {
				res.SplitExamples = append(res.SplitExamples, describeSplit(t, gs, sess))
			}
		case len(gs) > 1:
			res.ReleasedAgain++
		}
		if len(gateways) > 1 {
			res.SeveralGateways++
		}
	}

	comp := EvaluateCompleteness(sess, recs)
	res.KeptTraces, res.KeptCompletePct, res.SessionsAborted = comp.Kept, comp.KeptCompletePct, comp.Aborted
	res.Reconciled = comp.Reconciled
	// False reconciliation: a client that never went quiet (the kinds that end their
	// root themselves), or a reconciled span whose last-seen time is before the
	// client's last acknowledged report (the collector closed it without having seen
	// a report the front tier had already accepted).
	res.FalseReconciled = comp.FalseReconciled
	// Silence is measured at the backend: after idle_timeout, up to one tick and one
	// probe interval of the watermark's lag, then tail_sampling's decision_wait
	// (subtracted below) on its own 1 s decision ticker, plus up to 1 s for the front
	// queue, its batching and the exports.
	allowance := soIdle + soTick + soProbeEvery + 2*time.Second
	res.SilentAllowance = round3(allowance.Seconds())
	var delays []float64
	for _, s := range sess {
		root := s.key(s.Root)
		var rec *Rec
		for i := range recs {
			if recs[i].Key == root && recs[i].State == StateReconciled {
				if rec == nil || recs[i].Recv < rec.Recv {
					rec = &recs[i]
				}
			}
		}
		if rec == nil {
			continue
		}
		quiet := reasonNames[rec.Reason] == "idle_timeout" || reasonNames[rec.Reason] == "session_ended"
		stillReporting := s.Kind == KindNormal || s.Kind == KindHeartbeat || s.Kind == KindBackgrounded
		missedReport := quiet && missedReport(s.Reports, time.Unix(0, rec.LastSeen), soIdle)
		if missedReport && !stillReporting {
			res.FalseReconciled++
		}
		if missedReport || stillReporting {
			res.suspects = append(res.suspects, s.Idx)
		}
		if (missedReport || stillReporting) && len(res.FalseExamples) < 8 {
			res.FalseExamples = append(res.FalseExamples, fmt.Sprintf("session %d (%s) %s: started %s, last report %s, reconciled with last seen %s, at the backend %s",
				s.Idx, s.Kind, reasonNames[rec.Reason], s.Start.Format("15:04:05.000"), s.LastReport.Format("15:04:05.000"),
				time.Unix(0, rec.LastSeen).Format("15:04:05.000"), time.Unix(0, rec.Recv).Format("15:04:05.000")))
		}
		if s.Kind != KindBrowserKilled || s.LastReport.IsZero() {
			continue
		}
		res.SilentSessions++
		silence := disruption{s.LastReport, s.LastReport.Add(allowance + soDecisionWait)}
		if slices.ContainsFunc(disruptions, func(d disruption) bool { return d.from.Before(silence.to) && d.to.After(silence.from) }) {
			continue
		}
		res.SilentChecked++
		// The backend receives the reconciled span after tail sampling's decision_wait.
		delay := time.Duration(rec.Recv-s.LastReport.UnixNano()) - soDecisionWait
		delays = append(delays, delay.Seconds())
		if delay > allowance {
			res.SilentLate++
		}
	}
	if len(delays) > 0 {
		sort.Float64s(delays)
		res.SilentDelayP99 = round3(delays[(len(delays)*99)/100])
		res.SilentDelayMax = round3(delays[len(delays)-1])
	}
}

// missedReport says whether a span reconciled for silence with last seen lastSeen
// missed a report the front tier had acknowledged (reports: the client's
// acknowledgements, in order): the client's next acknowledged report after lastSeen
// came less than idle after the last one acknowledged by then. (A client whose
// requests no front-tier instance acknowledged for idle was silent, whatever it tried
// to send: e.g. each of two requests in a row hung on a stalled instance until its
// timeout.) 200 ms of slack covers the clocks of the acknowledgement and the receipt.
func missedReport(reports []time.Time, lastSeen time.Time, idle time.Duration) bool {
	const slack = 200 * time.Millisecond
	i := sort.Search(len(reports), func(i int) bool { return reports[i].After(lastSeen.Add(slack)) })
	switch {
	case i == len(reports):
		return false // the collector saw the last report
	case i == 0:
		return true // every report was acknowledged after what the collector saw
	}
	return reports[i].Sub(reports[i-1]) < idle-slack
}

// describeSplit says what reached the backend of a split trace: the session kind (or
// bulk) and each export batch's gateway, batch number and span count.
func describeSplit[G comparable](t [16]byte, gs map[G]map[SpanKey]bool, sess []*Session) string {
	what := "bulk"
	for _, s := range sess {
		if s.Trace == t {
			what = fmt.Sprintf("session %d (%s, %d children acked)", s.Idx, s.Kind, len(s.Children))
		}
	}
	parts := make([]string, 0, len(gs))
	for g, keys := range gs {
		parts = append(parts, fmt.Sprintf("%+v:%d spans", g, len(keys)))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%x %s: %s", t[:4], what, strings.Join(parts, ", "))
}

// writeSessionRecords writes, for each session listed, every record of its trace the
// backend holds: a diagnostic for a failed run, kept in the work directory.
func writeSessionRecords(path string, idx []int, sess []*Session, recs []Rec) error {
	if len(idx) == 0 {
		return nil
	}
	var b strings.Builder
	for _, i := range idx {
		s := sess[i]
		fmt.Fprintf(&b, "session %d %s trace %x start %s last report %s\n", s.Idx, s.Kind, s.Trace, s.Start.Format("15:04:05.000"), s.LastReport.Format("15:04:05.000"))
		for _, r := range recs {
			if [16]byte(r.Key[:16]) != s.Trace {
				continue
			}
			fmt.Fprintf(&b, "  span %x state %d reason %s gateway %d batch %d recv %s last_seen %s\n", r.Key[16:], r.State, reasonNames[r.Reason],
				r.Gateway, r.Batch, time.Unix(0, r.Recv).Format("15:04:05.000"), time.Unix(0, r.LastSeen).Format("15:04:05.000"))
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
