package testbed

import (
	"fmt"
	"io"
	"strings"
)

// heldScaleTargets are issue #10's targets, measured, not asserted.
func heldScaleTargets(hs *HeldScaleResult) []Check {
	size := fmt.Sprintf(" (at %d held spans; target size %d)", hs.HeldSpans, hsTargetSpans)
	tick := "null (metric absent)"
	if hs.TickMsP99 != nil {
		tick = fmt.Sprintf("%.2f ms", *hs.TickMsP99)
	}
	return []Check{
		{"held_scale: 10M held spans acknowledged with no refusal at the shipped defaults", hs.HeldSpans >= hsTargetSpans && !hs.DefaultsRefused && hs.RefusedAttempts == 0,
			fmt.Sprintf("%d acked, shipped defaults refused: %v (%s)%s", hs.HeldSpans, hs.DefaultsRefused, limitsString(hs.RefusedByLimit), size)},
		{fmt.Sprintf("held_scale: rss_mb <= %d while holding 10M", hsTargetRSSMB), hs.HeldSpans >= hsTargetSpans && hs.RSSMB <= hsTargetRSSMB, fmt.Sprintf("%.0f MB%s", hs.RSSMB, size)},
		{fmt.Sprintf("held_scale: recovery_s <= %d after kill -9, every span back", hsTargetRecoverySec), hs.HeldSpans >= hsTargetSpans && hs.RecoverySec <= hsTargetRecoverySec && hs.RecoveryComplete,
			fmt.Sprintf("%.2f s, complete %v%s", hs.RecoverySec, hs.RecoveryComplete, size)},
		{"held_scale: journal_ratio <= 2.0", hs.JournalRatio > 0 && hs.JournalRatio <= hsTargetJournal,
			fmt.Sprintf("%.2f (journal %.0f MB / live %.0f MB, %s)", hs.JournalRatio, mb(hs.JournalBytes), mb(hs.LiveBytes), hs.LiveBytesSource)},
		{"held_scale: tick_ms_p99 <= 20 while every root of 10M held spans is re-reported (reported at 1M too)", hs.HeldSpans >= hsTargetSpans && hs.TickMsP99 != nil && *hs.TickMsP99 <= hsTargetTickMs,
			fmt.Sprintf("at %d: %s; at %d: %s (under the lock: %s / %s)", hs.TickSmall.HeldSpans, fmtMs(hs.TickSmall.P99Ms), hs.TickFull.HeldSpans, tick,
				fmtMs(hs.TickSmall.RulesP99Ms), fmtMs(hs.TickFull.RulesP99Ms))},
		{"held_scale: ack p50 holding full / holding nothing <= 1.5", hs.AckRatio > 0 && hs.AckRatio <= hsTargetAckRatio,
			fmt.Sprintf("%.2f (%.2f ms / %.2f ms)%s", hs.AckRatio, hs.AckHolding.P50Ms, hs.AckIdle.P50Ms, size)},
		{"held_scale: open_spans_view_ms_p99 <= 10 while holding 10M", hs.HeldSpans >= hsTargetSpans && hs.OpenSpansViewMsP99 != nil && *hs.OpenSpansViewMsP99 <= hsTargetViewMs,
			fmt.Sprintf("%s over %d views%s", fmtMs(hs.OpenSpansViewMsP99), hs.OpenSpansViews, size)},
		{"held_scale: open_spans_view_lock_ms_max <= 5 while holding 10M", hs.HeldSpans >= hsTargetSpans && hs.OpenSpansViewLockMsMax != nil && *hs.OpenSpansViewLockMsMax <= hsTargetViewLockMs,
			fmt.Sprintf("<= %s (bucket bound of %s)%s", fmtMs(hs.OpenSpansViewLockMsMax), hsViewLockMetric, size)},
		{fmt.Sprintf("held_scale: release_spans_per_s >= %d", hsTargetRelease), hs.ReleaseSpansPerSec >= hsTargetRelease, fmt.Sprintf("%.0f spans/s%s", hs.ReleaseSpansPerSec, size)},
	}
}

// printHeldScale prints scenario 8's table.
func printHeldScale(w io.Writer, hs *HeldScaleResult) {
	fmt.Fprintf(w, "\n## 8. held_scale (%d held spans: %d traces of 1 open page.session + %s ended children, %d client addresses)\n",
		hs.TargetSpans, hs.Traces, hs.Children, hs.Clients)
	tw, row := tableWriter(w)
	row("figure", "longspan", "target (10M)")
	row("held_spans acknowledged (open + ended)", fmt.Sprintf("%d (%d + %d)", hs.HeldSpans, hs.AckedRoots, hs.AckedChildren), "10000000, no refusal")
	row("  refused attempts; shipped defaults refused (first at)", fmt.Sprintf("%d; %v (%d)", hs.RefusedAttempts, hs.DefaultsRefused, hs.DefaultsRefusedAt), "0; false")
	row("  refused by limit; raised in overlay", fmt.Sprintf("%s; %v", limitsString(hs.RefusedByLimit), hs.Raised), "")
	row("  build s (spans/s), request bytes per span", fmt.Sprintf("%.1f (%.0f), %.0f", hs.BuildSec, hs.BuildSpansPerSec, hs.SpanBytesAvg), "")
	row("rss_mb (VmHWM while holding; holding nothing)", fmt.Sprintf("%.0f (%.0f)", hs.RSSMB, hs.RSSIdleMB), fmt.Sprintf("<= %d", hsTargetRSSMB))
	row("recovery_s (kill -9 → health 200)", fmt.Sprintf("%.2f (back: %d + %d, complete %v)", hs.RecoverySec, hs.RecoveredOpen, hs.RecoveredHeld, hs.RecoveryComplete), fmt.Sprintf("<= %d", hsTargetRecoverySec))
	row("journal_bytes / live_bytes MB", fmt.Sprintf("%.1f / %.1f", mb(hs.JournalBytes), mb(hs.LiveBytes)), "")
	row("journal_ratio", fmt.Sprintf("%.2f (%0.f checkpoints; live: %s)", hs.JournalRatio, hs.Checkpoints, strings.SplitN(hs.LiveBytesSource, " (", 2)[0]), fmt.Sprintf("<= %.1f", hsTargetJournal))
	row(fmt.Sprintf("tick_ms_p99 at %d / at %d", hs.TickSmall.HeldSpans, hs.TickFull.HeldSpans), fmt.Sprintf("%s / %s", fmtMs(hs.TickSmall.P99Ms), fmtMs(hs.TickFull.P99Ms)), fmt.Sprintf("<= %.0f", hsTargetTickMs))
	row("  of it under the journal lock (rules_p99)", fmt.Sprintf("%s / %s", fmtMs(hs.TickSmall.RulesP99Ms), fmtMs(hs.TickFull.RulesP99Ms)), "")
	row("  waiting for the lock / for the writes (p99)", fmt.Sprintf("%s / %s; %s / %s", fmtMs(hs.TickSmall.LockWaitP99Ms), fmtMs(hs.TickSmall.WriteWaitP99Ms), fmtMs(hs.TickFull.LockWaitP99Ms), fmtMs(hs.TickFull.WriteWaitP99Ms)), "")
	row("  journal fsync p99; longest (bucket bound)", fmt.Sprintf("%s; <= %s / %s; <= %s", fmtMs(hs.TickSmall.FsyncP99Ms), fmtMs(hs.TickSmall.FsyncMaxMs), fmtMs(hs.TickFull.FsyncP99Ms), fmtMs(hs.TickFull.FsyncMaxMs)), "")
	row(fmt.Sprintf("ack_p50_ms at %d req/s: holding nothing / full", hsAckRate), fmt.Sprintf("%.2f / %.2f (ratio %.2f)", hs.AckIdle.P50Ms, hs.AckHolding.P50Ms, hs.AckRatio), fmt.Sprintf("ratio <= %.1f", hsTargetAckRatio))
	row("open_spans_view_ms p50 / p99; lock_ms_max (bucket bound)", fmt.Sprintf("%s / %s; <= %s (%d views of %d rows)", fmtMs(hs.OpenSpansViewMsP50), fmtMs(hs.OpenSpansViewMsP99), fmtMs(hs.OpenSpansViewLockMsMax), hs.OpenSpansViews, hs.OpenSpansViewRows), fmt.Sprintf("<= %.0f; <= %.0f", hsTargetViewMs, hsTargetViewLockMs))
	row("release_spans_per_s", fmt.Sprintf("%.0f (%d spans in %.2fs, first after %.2fs; missing %d, duplicates %d)", hs.ReleaseSpansPerSec, hs.ReleaseSpans, hs.ReleaseSec, hs.ReleaseFirstSec, hs.ReleaseMissing, hs.ReleaseDuplicates), fmt.Sprintf(">= %d", hsTargetRelease))
	row("  CPU s: collector (us/span, B allocated/span); testbed", fmt.Sprintf("%.1f (%.2f, %.0f); %.1f", hs.ReleaseCollectorCPUSec, hs.ReleaseCollectorCPUUsPerSpan, hs.ReleaseCollectorAllocPerSpan, hs.ReleaseTestbedCPUSec), "")
	_ = tw.Flush()
	for _, n := range hs.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
