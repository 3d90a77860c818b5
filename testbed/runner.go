package testbed

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// Options size a run.
type Options struct {
	Quick         bool
	Bin           string // collector binary
	OutDir        string // results/ directory
	WorkDir       string // temp dir for configs, journals, logs ("" = make one)
	Seed          uint64
	Only          []string // scenario names to run (empty = all)
	Sessions      int
	SessionWindow time.Duration
	Workers       int
	Rounds        int
	Warmup        time.Duration
	Measure       time.Duration
	Kills         int
	BaselineKills int
	RecoverySpans int64
	OverloadLimit int
	AbuseSessions int           // abuse: legit sessions per round
	AbuseWindow   time.Duration // abuse: the legit sessions start over this window
	HeldSpans     int64         // held_scale: held spans to build (open roots + ended children)
	Repeat        int           // scale_out: runs, each a fresh deployment (0 or 1: one)
	Log           io.Writer

	// BrowserMeasure is browser_load's measured window per step (0: 20 s full, 4 s quick).
	BrowserMeasure time.Duration
	// mobile: app sessions, the window they start over, and idle_timeout
	// (background_timeout is 3 ×).
	MobileSessions int
	MobileWindow   time.Duration
	MobileIdle     time.Duration
}

func QuickOptions() Options {
	return Options{Quick: true, Seed: 6, Sessions: 240, SessionWindow: 12 * time.Second, Workers: 8, Rounds: 1,
		Warmup: time.Second, Measure: 4 * time.Second, Kills: 8, BaselineKills: 4, RecoverySpans: 50000, OverloadLimit: 5000,
		AbuseSessions: 150, AbuseWindow: 10 * time.Second, HeldSpans: 200000,
		MobileSessions: 90, MobileWindow: 12 * time.Second, MobileIdle: 3 * time.Second}
}

func FullOptions() Options {
	return Options{Seed: 6, Sessions: 1500, SessionWindow: 60 * time.Second, Workers: 8, Rounds: 3,
		Warmup: 2 * time.Second, Measure: 15 * time.Second, Kills: 25, BaselineKills: 20, RecoverySpans: 1000000, OverloadLimit: 20000,
		AbuseSessions: 500, AbuseWindow: 30 * time.Second, HeldSpans: 10000000,
		MobileSessions: 540, MobileWindow: 60 * time.Second, MobileIdle: 10 * time.Second}
}

// Check is one invariant of the run.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Machine describes where the run happened.
type Machine struct {
	Cores     int     `json:"cores"`
	MemoryGiB float64 `json:"memory_gib"`
	GoVersion string  `json:"go_version"`
	OS        string  `json:"os"`
	CPU       string  `json:"cpu_model"`
	Date      string  `json:"date"`
	Binary    string  `json:"collector_binary"`
	Version   string  `json:"collector_version"`
}

// Results is latest.json.
type Results struct {
	Run          string              `json:"run"` // quick | full
	Machine      Machine             `json:"machine"`
	DurationSec  float64             `json:"duration_s"`
	Completeness *CompletenessResult `json:"completeness,omitempty"`
	Throughput   *ThroughputResult   `json:"throughput,omitempty"`
	CrashLoop    *CrashResult        `json:"crash_loop,omitempty"`
	Recovery     *RecoveryResult     `json:"recovery,omitempty"`
	Overload     *OverloadResult     `json:"overload,omitempty"`
	ScaleOut     *ScaleOutResult     `json:"scale_out,omitempty"`
	Abuse        *AbuseResult        `json:"abuse,omitempty"`
	HeldScale    *HeldScaleResult    `json:"held_scale,omitempty"`
	Mobile       *MobileResult       `json:"mobile,omitempty"`
	Checks       []Check             `json:"invariants"`
	Errors       []string            `json:"errors,omitempty"`
	Targets      []Check             `json:"targets"`
}

type Runner struct {
	o   Options
	env *Env
	res *Results
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (r *Runner) check(name string, ok bool, detail string) {
	r.res.Checks = append(r.res.Checks, Check{Name: name, OK: ok, Detail: detail})
	st := "ok"
	if !ok {
		st = "FAILED"
	}
	r.logf("invariant %s: %s (%s)", st, name, detail)
}

func (r *Runner) want(name string) bool {
	if len(r.o.Only) == 0 {
		return true
	}
	for _, n := range r.o.Only {
		if n == name {
			return true
		}
	}
	return false
}

func machine(bin string) Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Date: time.Now().UTC().Format(time.RFC3339), Binary: bin}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(strings.SplitN(string(raw), "\n", 2)[0], "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = round1(float64(kb) / (1 << 20))
		}
	}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.Index(l, ":"); i >= 0 {
					m.CPU = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	if out, err := exec.Command(bin, "--version").Output(); err == nil {
		m.Version = strings.TrimSpace(string(out))
	}
	return m
}

// Run runs the scenarios and writes OutDir/latest.json. It returns the results even
// when an invariant failed (see Results.Checks); err is for the run itself breaking.
func Run(o Options) (*Results, error) {
	if o.Log == nil {
		o.Log = os.Stderr
	}
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("collector binary %s: %w (run `make build` or set LONGSPAN_BINARY)", bin, err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	work := o.WorkDir
	madeWork := work == ""
	if madeWork {
		if work, err = os.MkdirTemp("", "longspan-testbed-"); err != nil {
			return nil, err
		}
	}
	run := "full"
	if o.Quick {
		run = "quick"
	}
	r := &Runner{o: o, res: &Results{Run: run, Machine: machine(bin)}}
	r.env = &Env{Bin: bin, Self: self, WorkDir: work, Log: r.logf}
	r.logf("testbed %s run: binary %s, work dir %s", run, bin, work)
	start := time.Now()
	defer harness.KillAll()
	if madeWork {
		// held_scale alone leaves a 7 GB journal: a temporary work dir goes once
		// every invariant held, and stays for a look when one failed.
		defer func() {
			if len(r.res.Failed()) > 0 {
				r.logf("work dir %s kept (an invariant failed): its logs, configs and journals; remove it when done", work)
				return
			}
			harness.KillAll() // nothing may still write into it
			if err := os.RemoveAll(work); err != nil {
				r.logf("removing work dir %s: %v", work, err)
			}
		}()
	}
	step := func(name string, fn func() error) {
		if !r.want(name) {
			return
		}
		t := time.Now()
		r.logf("== scenario %s", name)
		if err := fn(); err != nil {
			r.res.Errors = append(r.res.Errors, name+": "+err.Error())
			r.check("scenario "+name+" ran", false, err.Error())
		}
		r.logf("== scenario %s done in %.0fs", name, time.Since(t).Seconds())
	}
	step("completeness", func() (err error) { r.res.Completeness, err = r.scenarioCompleteness(); return })
	step("crash_loop", func() (err error) { r.res.CrashLoop, err = r.scenarioCrash(); return })
	step("overload", func() (err error) { r.res.Overload, err = r.scenarioOverload(); return })
	step("recovery", func() (err error) { r.res.Recovery, err = r.scenarioRecovery(); return })
	step("throughput", func() (err error) { r.res.Throughput, err = r.scenarioThroughput(); return })
	step("browser_load", func() error {
		bl, err := r.scenarioBrowserLoad()
		if r.res.Throughput == nil {
			r.res.Throughput = &ThroughputResult{}
		}
		r.res.Throughput.BrowserLoad = bl
		return err
	})
	step("scale_out", func() (err error) { r.res.ScaleOut, err = r.scenarioScaleOutRepeated(); return })
	step("abuse", func() (err error) { r.res.Abuse, err = r.scenarioAbuse(); return })
	step("held_scale", func() (err error) { r.res.HeldScale, err = r.scenarioHeldScale(); return })
	step("mobile", func() (err error) { r.res.Mobile, err = r.scenarioMobile(); return })
	r.res.DurationSec = round1(time.Since(start).Seconds())
	r.targets()
	if o.OutDir != "" {
		if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
			return r.res, err
		}
		raw, _ := json.MarshalIndent(r.res, "", "  ")
		path := filepath.Join(o.OutDir, "latest.json")
		if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
			return r.res, err
		}
		r.logf("wrote %s", path)
	}
	return r.res, nil
}

// targets records the targets, met or not (never asserted).
func (r *Runner) targets() {
	t := &r.res.Targets
	if tp := r.res.Throughput; tp != nil && len(tp.PassThrough.Baseline.Rounds) > 0 {
		*t = append(*t, Check{"pass-through throughput >= 97% of baseline", tp.PassThrough.TargetMet, fmt.Sprintf("%.1f%%", tp.PassThrough.RatioPct)})
		*t = append(*t, Check{"journaled throughput >= 80% of baseline", tp.Journaled.TargetMet, fmt.Sprintf("%.1f%%", tp.Journaled.RatioPct)})
	}
	if tp := r.res.Throughput; tp != nil && tp.BrowserLoad != nil {
		*t = append(*t, tp.BrowserLoad.Checks...)
	}
	if so := r.res.ScaleOut; so != nil {
		ok := so.MissingAcked == 0 && so.FalseReconciled == 0 && so.SplitTraces == 0
		*t = append(*t, Check{"scale_out: 0 missing, 0 false reconciliations, 0 split traces", ok,
			fmt.Sprintf("%d missing, %d false, %d split", so.MissingAcked, so.FalseReconciled, so.SplitTraces)})
		*t = append(*t, Check{"scale_out: silent clients reconciled within idle_timeout + tick + probe interval + 2 s of their last report", so.SilentLate == 0 && so.SilentChecked > 0,
			fmt.Sprintf("%d late of %d checked; p99 %.2fs, max %.2fs, allowance %.2fs", so.SilentLate, so.SilentChecked, so.SilentDelayP99, so.SilentDelayMax, so.SilentAllowance)})
	}
	if a := r.res.Abuse; a != nil {
		o := a.Overall
		*t = append(*t, Check{"abuse: legit spans acknowledged >= 99.9% under a 10× attack (both rounds)", o.LegitAcceptancePct >= abuseTargetAccepted && o.LegitSpansOffered > 0,
			fmt.Sprintf("%.3f%% of %d; direct %.3f%%, proxy %.3f%%", o.LegitAcceptancePct, o.LegitSpansOffered, a.Direct.LegitAcceptancePct, a.Proxy.LegitAcceptancePct)})
		*t = append(*t, Check{"abuse: legit kept traces 100% complete (both rounds)", o.LegitKept > 0 && o.LegitKeptCompletePct == 100 && o.LegitAckedMissing == 0,
			fmt.Sprintf("%.1f%% of %d kept, %d acked spans missing", o.LegitKeptCompletePct, o.LegitKept, o.LegitAckedMissing)})
	}
	if hs := r.res.HeldScale; hs != nil {
		*t = append(*t, heldScaleTargets(hs)...)
	}
	if r.o.Quick {
		*t = append(*t, Check{"(quick run: reduced sizes; the targets apply to the full run)", false, "see make testbed"})
	}
	if c := r.res.CrashLoop; c != nil {
		ok := c.Longspan.Kills >= 20 && c.Longspan.Loss.Missing == 0
		*t = append(*t, Check{"zero acknowledged spans lost across >= 20 kills", ok, fmt.Sprintf("%d kills, %d missing of %d", c.Longspan.Kills, c.Longspan.Loss.Missing, c.Longspan.Loss.Acked)})
	}
	if rc := r.res.Recovery; rc != nil {
		ok := rc.Acked >= 1000000 && rc.TargetMet
		*t = append(*t, Check{"1M open spans recovered in <= 10 s", ok, fmt.Sprintf("%d open spans, ready in %.2fs, %d recovered", rc.Acked, rc.ReadySec, rc.RecoveredOpen)})
	}
}

// Failed lists the invariants that did not hold.
func (res *Results) Failed() []Check {
	var out []Check
	for _, c := range res.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}
