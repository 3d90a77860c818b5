package testbed

import (
	"fmt"
	"io"
)

// printBrowserLoad prints throughput.browser_load's table: the maxima, the fixed rate, and
// every step of the searches.
func printBrowserLoad(w io.Writer, bl *BrowserLoadResult) {
	wl := bl.Workload
	fmt.Fprintf(w, "\n## 2b. throughput, browser_load (open loop, %s; >= %d pages posting every %.0fs, %s spans a request, %d addresses × %d connections; steps of %.0fs + %.0fs warm-up)\n",
		wl.Transport, wl.MinPages, wl.PagePeriodSec, wl.SpansPerRequest, wl.Addresses, wl.ConnsPerAddress, wl.MeasureSec, wl.WarmupSec)
	tw, row := tableWriter(w)
	row("figure", "stock", "longspan", "longspan sync: never")
	if bl.Stock != nil {
		row(fmt.Sprintf("max spans/s sustained (p99 <= %d ms, no refusal)", wl.P99LimitMs), bl.StockMaxSpansPerSec, bl.LongspanMaxSpansPerSec, bl.SyncNeverMaxSpansPerSec)
		row("max rate longspan / stock %", "", bl.MaxRateRatioPct, "")
	} else {
		row("max spans/s sustained", "(no step search in a quick run)", "", "")
	}
	fs, fl := bl.FixedStock, bl.FixedLongspan
	row(fmt.Sprintf("at %.0f spans/s: CPU-s per million spans (median)", bl.FixedRateSpansPerSec), fs.CPUSecPerMSpan, fl.CPUSecPerMSpan, "")
	row("  p50 / p99 ack ms (median)", fmt.Sprintf("%.1f / %.1f", fs.P50AckMs, fs.P99AckMs), fmt.Sprintf("%.1f / %.1f", fl.P50AckMs, fl.P99AckMs), "")
	row("  journal records / requests per fsync", "", fmt.Sprintf("%s / %s", fmtOpt(fl.RecordsPerFsync), fmtOpt(fl.RequestsPerFsync)), "")
	row("  refused or failed / acked spans missing", fmt.Sprintf("%d / %d", fs.Refusals, fs.Missing), fmt.Sprintf("%d / %d", fl.Refusals, fl.Missing), "")
	row("records / requests per fsync at longspan's max", "", fmt.Sprintf("%s / %s", fmtOpt(bl.RecordsPerFsyncAtMax), fmtOpt(bl.RequestsPerFsyncAtMax)), "")
	row("CPU-s/M ratio longspan / stock", "", bl.CPURatio, "")
	_ = tw.Flush()
	for _, s := range []*BrowserSearch{bl.Stock, bl.Longspan, bl.SyncNever} {
		if s == nil {
			continue
		}
		for _, st := range s.Steps {
			fmt.Fprintf(w, "  %-20s %7.0f spans/s: sent %7.0f/s, %5d pages, p50 %6.1f ms, p99 %7.1f ms, late %d, collector %.2f cores, %.2f CPU-s/M, per fsync %s records / %s requests (p99 %s ms): %s %s\n",
				st.Config, st.OfferedSpansPerSec, st.SentSpansPerSec, st.Pages, st.AckP50Ms, st.AckP99Ms, st.LateSends, st.CollectorCPUCores,
				st.CPUSecPerMSpan, fmtOpt(st.RecordsPerFsync), fmtOpt(st.RequestsPerFsync), fmtOpt(st.FsyncMsP99), sustained(st.Sustained), st.Why)
		}
	}
}

func fmtOpt(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *v)
}

func sustained(ok bool) string {
	if ok {
		return "sustained"
	}
	return "NOT sustained:"
}
