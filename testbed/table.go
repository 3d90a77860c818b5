package testbed

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// tableWriter returns a tab-aligned writer over w and a function writing one row of it;
// flush the writer when the table is done.
func tableWriter(w io.Writer) (*tabwriter.Writer, func(cells ...any)) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	return tw, func(cells ...any) {
		s := make([]string, len(cells))
		for i, c := range cells {
			s[i] = fmt.Sprint(c)
		}
		fmt.Fprintln(tw, strings.Join(s, "\t"))
	}
}

// PrintTable writes the results as plain-text tables (the same figures as latest.json).
func PrintTable(w io.Writer, res *Results) {
	m := res.Machine
	fmt.Fprintf(w, "\notelcol-longspan testbed — %s run, %s\nmachine: %d cores, %.1f GiB, %s, %s, %s\n",
		res.Run, m.Date, m.Cores, m.MemoryGiB, m.CPU, m.GoVersion, m.OS)
	tw, row := tableWriter(w)
	hdr := func(title string) {
		_ = tw.Flush()
		fmt.Fprintf(w, "\n## %s\n", title)
		row("figure", "baseline", "longspan")
	}
	if c := res.Completeness; c != nil {
		b, l := c.Baseline, c.Longspan
		hdr(fmt.Sprintf("1. completeness (tail_sampling probabilistic %.0f%%, %d sessions)", l.SamplePercent, l.Sessions))
		row("root visible at all (any form) %", b.RootVisiblePct, l.RootVisiblePct)
		row("root visible as finished span %", b.RootFinalPct, l.RootFinalPct)
		row("root first visible p50 (s after start)", b.RootVisibleP50Sec, l.RootVisibleP50Sec)
		row("kept traces", b.Kept, l.Kept)
		row("kept traces with root %", b.KeptWithRootPct, l.KeptWithRootPct)
		row("kept traces complete %", b.KeptCompletePct, l.KeptCompletePct)
		row("kept traces kept in part", b.KeptPartial, l.KeptPartial)
		row("kept traces split over batches", b.SplitTraces, l.SplitTraces)
		row("spans arriving after the decision", b.LateSpans, l.LateSpans)
		row("superseding roots", b.Superseding, l.Superseding)
		row("reconciled roots by reason", fmt.Sprint(b.Reconciled), fmt.Sprint(l.Reconciled))
		row("false reconciliations", b.FalseReconciled, l.FalseReconciled)
		row("snapshot spans (live branch)", b.Snapshots, l.Snapshots)
		for _, k := range AllKinds {
			bk, lk := b.ByKind[k], l.ByKind[k]
			row(fmt.Sprintf("  %s: root visible %% / kept complete %%", k),
				fmt.Sprintf("%.0f / %.0f (n=%d)", bk.RootVisiblePct, bk.KeptCompletePct, bk.Sessions),
				fmt.Sprintf("%.0f / %.0f (n=%d)", lk.RootVisiblePct, lk.KeptCompletePct, lk.Sessions))
		}
	}
	if t := res.Throughput; t != nil && len(t.PassThrough.Baseline.Rounds) > 0 {
		for _, x := range []struct {
			name string
			w    WorkloadThroughput
		}{{"pass-through", t.PassThrough}, {"journaled", t.Journaled}} {
			hdr(fmt.Sprintf("2. throughput, %s workload (%d rounds × %.0fs, %d clients, medians)", x.name, x.w.Rounds, x.w.MeasureSecs, x.w.Workers))
			b, l := x.w.Baseline, x.w.Longspan
			row("accepted spans/s", b.SpansPerSec, l.SpansPerSec)
			row("  rounds", roundsOf(b.Rounds), roundsOf(l.Rounds))
			row("collector CPU-s per million spans", b.CPUSecPerMSpan, l.CPUSecPerMSpan)
			row("peak RSS MB", b.PeakRSSMB, l.PeakRSSMB)
			row(fmt.Sprintf("p50 / p99 ack ms at half load (%.0f spans/s)", b.HalfLoadRate), fmt.Sprintf("%.2f / %.2f", b.P50AckMs, b.P99AckMs), fmt.Sprintf("%.2f / %.2f", l.P50AckMs, l.P99AckMs))
			if nr := x.w.LongspanNoRouting; nr != nil {
				row("  diagnostic: longspan w/o snapshot routing spans/s", "", fmt.Sprintf("%.0f (CPU-s/M %.2f)", nr.SpansPerSec, nr.CPUSecPerMSpan))
			}
			row("longspan / baseline throughput", "", fmt.Sprintf("%.1f%% (target %.0f%%: %s)", x.w.RatioPct, x.w.TargetPct, met(x.w.TargetMet)))
		}
	}
	if t := res.Throughput; t != nil && t.BrowserLoad != nil {
		_ = tw.Flush()
		printBrowserLoad(w, t.BrowserLoad)
	}
	if c := res.CrashLoop; c != nil {
		b, l := c.Baseline, c.Longspan
		hdr("3. crash loop (kill -9 at random moments under steady load)")
		row("kills", b.Kills, l.Kills)
		row("acknowledged spans", b.Loss.Acked, l.Loss.Acked)
		row("acknowledged spans missing at backend", b.Loss.Missing, l.Loss.Missing)
		row("missing by origin", fmt.Sprint(b.MissingByOrigin), fmt.Sprint(l.MissingByOrigin))
		row("duplicate deliveries (% of acked)", fmt.Sprintf("%d (%.2f%%)", b.Loss.Duplicates, b.DuplicatePct), fmt.Sprintf("%d (%.2f%%)", l.Loss.Duplicates, l.DuplicatePct))
		row("superseding deliveries", b.Loss.Superseding, l.Loss.Superseding)
		row("spans re-sent after restart (metric, approx.)", b.ResentApprox, l.ResentApprox)
		row("restart to ready p50 / max s", fmt.Sprintf("%.2f / %.2f", b.RestartP50Sec, b.RestartMaxSec), fmt.Sprintf("%.2f / %.2f", l.RestartP50Sec, l.RestartMaxSec))
		row("client attempts refused or failed (retried)", b.ClientRetries, l.ClientRetries)
		row("requests never acknowledged (not counted)", b.Unacked, l.Unacked)
	}
	if rc := res.Recovery; rc != nil {
		hdr(fmt.Sprintf("4. recovery (%d open spans journaled, kill -9, restart)", rc.OpenSpans))
		row("open spans acknowledged", "-", rc.Acked)
		row("ingest open spans/s", "-", rc.IngestSpansPerSec)
		row("journal on disk MB", "-", rc.JournalMB)
		row("RSS before kill MB", "-", rc.RSSBeforeKillMB)
		row("start to ready s", rc.BaselineReadySec, rc.ReadySec)
		row("open spans after recovery", "-", rc.RecoveredOpen)
		row("RSS after recovery / peak MB", "-", fmt.Sprintf("%.0f / %.0f", rc.RSSAfterMB, rc.PeakRSSAfterMB))
		row("target <= 10 s for 1M", "", met(rc.TargetMet && rc.Acked >= 1000000))
	}
	if o := res.Overload; o != nil {
		b, l := o.Baseline, o.Longspan
		hdr(fmt.Sprintf("5. overload (10 × max_open_spans = %d open spans offered)", 10*l.MaxOpenSpans))
		row("open spans acknowledged", b.Acked, l.Acked)
		row("requests refused, retryable (spans)", fmt.Sprintf("%d (%d)", b.RefusedRequests, b.RefusedSpans), fmt.Sprintf("%d (%d)", l.RefusedRequests, l.RefusedSpans))
		row("other failures", b.OtherFailures, l.OtherFailures)
		row("collector metric requests_refused", b.CollectorRefused, l.CollectorRefused)
		row("RSS idle -> peak MB", fmt.Sprintf("%.0f -> %.0f", b.IdleRSSMB, b.PeakRSSMB), fmt.Sprintf("%.0f -> %.0f", l.IdleRSSMB, l.PeakRSSMB))
		row("acknowledged missing at backend", b.Missing, l.Missing)
	}
	if so := res.ScaleOut; so != nil {
		_ = tw.Flush()
		fmt.Fprintf(w, "\n## 6. scale_out (%d front-tier instances + %d gateways at most, %d shards, %d sessions + ended bulk)\n", so.Fronts, so.GatewaysMax, so.Shards, so.Sessions)
		row("figure", "longspan")
		if so.Runs > 1 {
			row("runs passed (the figures below are the last run's)", fmt.Sprintf("%d of %d", so.RunsPassed, so.Runs))
		}
		row("gateway kill -9 (outage s) / front kill -9 / shard moves (slowest s)", fmt.Sprintf("%d (%.1f) / %d / %d (%.2f)", so.GatewayKills, so.GatewayOutageSec, so.FrontKills, so.Moves, so.MoveSecMax))
		row("front-tier instance stalled (SIGSTOP, s)", fmt.Sprintf("%d (%.1f)", so.FrontStalls, so.FrontStallSec))
		row("acknowledged spans, missing at backend", fmt.Sprintf("%d, %d", so.AckedSpans, so.MissingAcked))
		row("false reconciliations", so.FalseReconciled)
		row("split traces; released again whole; from several gateways", fmt.Sprintf("%d; %d; %d", so.SplitTraces, so.ReleasedAgain, so.SeveralGateways))
		row("kept traces complete", fmt.Sprintf("%.1f%% of %d", so.KeptCompletePct, so.KeptTraces))
		row("silent clients: checked, late, p99 / max delay s (allowance)", fmt.Sprintf("%d, %d, %.2f / %.2f (%.2f)", so.SilentChecked, so.SilentLate, so.SilentDelayP99, so.SilentDelayMax, so.SilentAllowance))
		row("front queue peak (requests)", so.FrontQueuePeak)
		row("spans delivered more than once; twice in one batch", fmt.Sprintf("%d; %d", so.DuplicateSpans, so.TwiceInOneBatch))
		for _, line := range so.RunSummaries {
			fmt.Fprintf(tw, "  %s\n", line)
		}
	}
	if a := res.Abuse; a != nil {
		_ = tw.Flush()
		d, p, o := a.Direct, a.Proxy, a.Overall
		fmt.Fprintf(w, "\n## 7. abuse (%d legit sessions per round, %d per address; one attacker at %d× their volume)\n",
			d.LegitSessions, abuseSessionsPerIP, abuseRatio)
		row("figure", "direct", "proxy (x-forwarded-for)", "overall")
		row("legit spans offered / acknowledged", fmt.Sprintf("%d / %d", d.LegitSpansOffered, d.LegitSpansAcked),
			fmt.Sprintf("%d / %d", p.LegitSpansOffered, p.LegitSpansAcked), fmt.Sprintf("%d / %d", o.LegitSpansOffered, o.LegitSpansAcked))
		row("legit acceptance % (target >= 99.9)", d.LegitAcceptancePct, p.LegitAcceptancePct, o.LegitAcceptancePct)
		row("legit attempts refused 429 / 503", fmt.Sprintf("%d / %d", d.LegitQuotaRefusals, d.LegitLimitRefusals),
			fmt.Sprintf("%d / %d", p.LegitQuotaRefusals, p.LegitLimitRefusals), fmt.Sprintf("%d / %d", o.LegitQuotaRefusals, o.LegitLimitRefusals))
		row("legit attempts unanswered (timeouts, retried)", d.LegitConnErrors, p.LegitConnErrors, o.LegitConnErrors)
		row("legit ack p50 / p99 ms (incl. retries)", fmt.Sprintf("%.1f / %.1f", d.LegitAckP50Ms, d.LegitAckP99Ms),
			fmt.Sprintf("%.1f / %.1f", p.LegitAckP50Ms, p.LegitAckP99Ms), fmt.Sprintf("%.1f / %.1f", o.LegitAckP50Ms, o.LegitAckP99Ms))
		row("legit kept traces complete % (target 100)", fmt.Sprintf("%.1f of %d", d.LegitKeptCompletePct, d.LegitKept),
			fmt.Sprintf("%.1f of %d", p.LegitKeptCompletePct, p.LegitKept), fmt.Sprintf("%.1f of %d", o.LegitKeptCompletePct, o.LegitKept))
		row("legit acknowledged spans missing at backend", d.LegitAckedMissing, p.LegitAckedMissing, o.LegitAckedMissing)
		row("attacker spans offered (× legit)", fmt.Sprintf("%d (%.1f×)", d.AttackerSpansOffered, d.AttackToLegitVolume),
			fmt.Sprintf("%d (%.1f×)", p.AttackerSpansOffered, p.AttackToLegitVolume), fmt.Sprintf("%d (%.1f×)", o.AttackerSpansOffered, o.AttackToLegitVolume))
		row("  no/fixed session, then rotating", fmt.Sprintf("%d, %d", d.AttackerOfferedFixed, d.AttackerOfferedRotating),
			fmt.Sprintf("%d, %d", p.AttackerOfferedFixed, p.AttackerOfferedRotating), "")
		row("attacker spans acknowledged / refused %", fmt.Sprintf("%d / %.1f", d.AttackerSpansAcked, d.AttackerRefusedPct),
			fmt.Sprintf("%d / %.1f", p.AttackerSpansAcked, p.AttackerRefusedPct), fmt.Sprintf("%d / %.1f", o.AttackerSpansAcked, o.AttackerRefusedPct))
		row("peak RSS MB", d.RSSMBPeak, p.RSSMBPeak, o.RSSMBPeak)
		row("peak journal MB (attacker bound: per_client max_bytes MB)", fmt.Sprintf("%.1f (%.1f)", mb(d.JournalBytesPeak), mb(d.AttackerBoundBytes)),
			fmt.Sprintf("%.1f (%.1f)", mb(p.JournalBytesPeak), mb(p.AttackerBoundBytes)), fmt.Sprintf("%.1f (%.1f)", mb(o.JournalBytesPeak), mb(o.AttackerBoundBytes)))
		row("crashes", d.Crashes, p.Crashes, o.Crashes)
		_ = tw.Flush()
		for _, x := range []struct {
			name string
			m    map[string]float64
		}{{"direct", d.RefusalsByLimit}, {"proxy", p.RefusalsByLimit}} {
			fmt.Fprintf(w, "  requests_refused by limit, %s: %s\n", x.name, limitsString(x.m))
		}
	}
	_ = tw.Flush()
	if hs := res.HeldScale; hs != nil {
		printHeldScale(w, hs)
	}
	if m := res.Mobile; m != nil {
		printMobile(w, m)
	}
	fmt.Fprintf(w, "\n## invariants\n")
	for _, c := range res.Checks {
		fmt.Fprintf(w, "  [%s] %s — %s\n", okStr(c.OK), c.Name, c.Detail)
	}
	fmt.Fprintf(w, "\n## targets (measured, not asserted)\n")
	for _, c := range res.Targets {
		fmt.Fprintf(w, "  [%s] %s — %s\n", met(c.OK), c.Name, c.Detail)
	}
	fmt.Fprintf(w, "\ntotal %.0fs\n", res.DurationSec)
}

func mb(b int64) float64 { return round1(float64(b) / (1 << 20)) }

func roundsOf(rs []RoundFigures) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = fmt.Sprintf("%.0f", r.SpansPerSec)
	}
	return strings.Join(s, ", ")
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func okStr(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}
