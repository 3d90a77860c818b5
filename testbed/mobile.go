package testbed

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// MobileResult is scenario mobile (issue #20): app sessions the way the React Native
// client and the mobile SDKs send them, through the built collector's OTLP receiver.
type MobileResult struct {
	MobileFigures
	IdleTimeoutSec       float64 `json:"idle_timeout_s"`
	BackgroundTimeoutSec float64 `json:"background_timeout_s"`
	// EmbraceAppleSnapshots says whether the collector took embrace_apple_snapshots:
	// true; a binary without the switch refuses the key, and the scenario then runs
	// without it (and fails its check).
	EmbraceAppleSnapshots bool               `json:"embrace_apple_snapshots"`
	ConfigNote            string             `json:"config_note,omitempty"`
	DroppedByReason       map[string]float64 `json:"spans_dropped_by_reason"`
	DurationSec           float64            `json:"duration_s"`
}

// mobileClockDrops are the otelcol_longspan_spans_dropped reasons a device clock alone
// can cause.
var mobileClockDrops = []string{"start_in_future"}

func (r *Runner) scenarioMobile() (*MobileResult, error) {
	t0 := time.Now()
	idle := r.o.MobileIdle
	lim := mobileLimits{Idle: idle, Background: 3 * idle, DecisionWait: time.Second}
	res := &MobileResult{IdleTimeoutSec: idle.Seconds(), BackgroundTimeoutSec: lim.Background.Seconds()}
	be, err := r.env.StartBackend("backend-mobile")
	if err != nil {
		return nil, err
	}
	defer be.Stop()
	params := CollectorParams{Mode: Longspan, SnapInterval: 500 * time.Millisecond, IdleTimeout: idle, DecisionWait: lim.DecisionWait,
		Overlay: map[string]any{
			"processors::longspan::background_timeout":      lim.Background,
			"processors::longspan::embrace_apple_snapshots": true,
		}}
	rig, err := r.env.StartRig("mobile", params, be)
	if err != nil && strings.Contains(err.Error(), "embrace_apple_snapshots") {
		res.ConfigNote = "the collector refused embrace_apple_snapshots (" + lineWith(err.Error(), "embrace_apple_snapshots") + "); ran without it"
		r.logf("mobile: %s", res.ConfigNote)
		delete(params.Overlay, "processors::longspan::embrace_apple_snapshots")
		rig, err = r.env.StartRig("mobile", params, be)
	} else if err == nil {
		res.EmbraceAppleSnapshots = true
	}
	if err != nil {
		return nil, err
	}
	defer rig.Close()
	c, snd := rig.Collector, rig.Snd
	ledger := NewLedger()
	r.logf("mobile: %d app sessions over %v, idle_timeout %v, background_timeout %v", r.o.MobileSessions, r.o.MobileWindow, idle, lim.Background)
	ctx, cancel := context.WithTimeout(context.Background(), r.o.MobileWindow+20*idle+2*time.Minute)
	sessions := RunMobileSessions(ctx, snd, MobileParams{
		N: r.o.MobileSessions, StartWindow: r.o.MobileWindow,
		MinLife: 2 * time.Second, MaxLife: 6 * time.Second,
		ChildMin: 200 * time.Millisecond, ChildMax: 900 * time.Millisecond,
		SnapEvery: 500 * time.Millisecond, IdleTimeout: idle, BackgroundTimeout: lim.Background,
		Seed: r.o.Seed, Retry: Retry{MaxElapsed: 20 * time.Second}, Ledger: ledger,
	})
	cancel()
	// The killed apps' spans wait out background_timeout, then tail_sampling's decision_wait.
	if _, err := be.WaitQuiet(lim.Background+2*time.Second, lim.Background+3*time.Second, 3*time.Minute); err != nil {
		r.logf("mobile: %v", err)
	}
	recs, err := be.Records()
	if err != nil {
		return nil, err
	}
	res.MobileFigures = EvaluateMobile(sessions, recs, lim)
	loss, missing := CompareLoss(ledger, recs)
	res.AckedSpans, res.MissingAcked = loss.Acked, loss.Missing
	res.MissingByClock = missingByClock(sessions, missing)
	if res.DroppedByReason, err = harness.MetricByLabel(c.Params.MetricsPort, "otelcol_longspan_spans_dropped", "reason"); err != nil {
		return nil, err
	}
	for _, reason := range mobileClockDrops {
		res.DroppedForClock += int(res.DroppedByReason[reason])
	}
	res.DurationSec = round1(time.Since(t0).Seconds())

	m := res.MobileFigures
	r.check("mobile: the collector takes embrace_apple_snapshots: true", res.EmbraceAppleSnapshots, res.ConfigNote)
	r.check("mobile: no session gave up a send", m.SessionsFailed == 0, fmt.Sprintf("%d sessions", m.SessionsFailed))
	r.check("mobile: no acknowledged span missing", res.MissingAcked == 0 && res.AckedSpans > 0,
		fmt.Sprintf("%d missing of %d", res.MissingAcked, res.AckedSpans))
	r.check("mobile: no false reconciliation", m.FalseReconciled == 0, fmt.Sprintf("%d sessions %v", m.FalseReconciled, m.FalseExamples))
	r.check("mobile: no span dropped for its client's clock", res.DroppedForClock == 0,
		fmt.Sprintf("%d (spans_dropped %v)", res.DroppedForClock, res.DroppedByReason))
	r.check("mobile: duration error p99 <= 2 s (client clock)", m.DurationErrP99 <= 2 && m.DurationChecked > 0,
		fmt.Sprintf("p99 %.3fs, max %.3fs over %d spans %v", m.DurationErrP99, m.DurationErrMax, m.DurationChecked, m.DurationExamples))
	r.check("mobile: every Embrace Apple span out once", m.EmbraceCopiesOut == 0, fmt.Sprintf("%d spans out more than once %v", m.EmbraceCopiesOut, m.EmbraceCopiesEx))
	r.check("mobile: app_terminated closed within 2 s (p99, less decision_wait)", m.TerminatedP99 <= 2 && m.TerminatedOpen == 0,
		fmt.Sprintf("p99 %.3fs, %d never closed client_interrupted", m.TerminatedP99, m.TerminatedOpen))
	r.check("mobile: kept traces 100% complete", m.KeptCompletePct == 100 && m.KeptTraces > 0,
		fmt.Sprintf("%.1f%% of %d", m.KeptCompletePct, m.KeptTraces))
	return res, nil
}

// lineWith is the first line of s that holds word, trimmed.
func lineWith(s, word string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			return strings.TrimSpace(l)
		}
	}
	return s
}

// printMobile writes scenario mobile's table.
func printMobile(w io.Writer, m *MobileResult) {
	fmt.Fprintf(w, "\n## mobile (%d app sessions; idle_timeout %.0fs, background_timeout %.0fs, embrace_apple_snapshots %v)\n",
		m.Sessions, m.IdleTimeoutSec, m.BackgroundTimeoutSec, m.EmbraceAppleSnapshots)
	tw, row := tableWriter(w)
	row("figure", "longspan", "target")
	row("sessions by life cycle", fmt.Sprint(m.SessionsByLife), "")
	row("acknowledged spans, missing at backend (by clock offset)", fmt.Sprintf("%d, %d %v", m.AckedSpans, m.MissingAcked, m.MissingByClock), "0 missing")
	row("false reconciliations (sessions)", m.FalseReconciled, "0")
	row("spans dropped for the client's clock", m.DroppedForClock, "0")
	row("duration error p99 / max s (client clock, spans checked)", fmt.Sprintf("%.3f / %.3f (%d)", m.DurationErrP99, m.DurationErrMax, m.DurationChecked), "p99 <= 2")
	row("  p99 s over sessions with a right clock (Embrace Apple apart)", m.DurationErrTrueClock, "")
	row("Embrace Apple spans out more than once", m.EmbraceCopiesOut, "0")
	row("app_terminated closed p99 s (less decision_wait); never closed", fmt.Sprintf("%.3f; %d %v", m.TerminatedP99, m.TerminatedOpen, m.TerminatedOpenEx), "<= 2; 0")
	row("kept traces complete", fmt.Sprintf("%.1f%% of %d", m.KeptCompletePct, m.KeptTraces), "100%")
	row("reconciled by reason; superseding", fmt.Sprintf("%v; %d", m.Reconciled, m.Superseding), "")
	row("spans dropped by reason", fmt.Sprint(m.DroppedByReason), "")
	_ = tw.Flush()
	for _, e := range m.FalseExamples {
		fmt.Fprintf(w, "  false: %s\n", e)
	}
	for _, e := range m.DurationExamples {
		fmt.Fprintf(w, "  duration: %s\n", e)
	}
}
