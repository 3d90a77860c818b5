//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
)

// idleTimeout is the longspan idle_timeout the test's overlay configures.
const idleTimeout = 5 * time.Second

// TestKill9ReconcilesOpenSpan drives the built binary through the main promise of the design:
// an open browser span (OTel JS page.session, endTimeUnixNano=0) and its ended child are
// acknowledged, a snapshot shows the open span live, the collector is killed with SIGKILL,
// and after a restart on the same journal the client's silence reconciles page.session —
// ending at the last time the client was seen, status Error — and the whole trace (reconciled
// parent + held child) reaches the file exporter behind tail_sampling in one batch.
func TestKill9ReconcilesOpenSpan(t *testing.T) {
	bin := binaryPath(t)
	def := defaultConfig(t)

	tmp := t.TempDir()
	journalDir := filepath.Join(tmp, "journal")
	ep, err := harness.FreeEndpoints()
	if err != nil {
		t.Fatal(err)
	}
	httpAddr, healthAddr, journalHTTP := ep.HTTP, ep.Health, ep.JournalHTTP
	// The default config's topology with short timings, and each traces branch written to a
	// file of outDir: sampled.jsonl behind tail_sampling, live.jsonl the snapshots.
	configsFor := func(outDir string) []string {
		file := func(name string) map[string]any {
			return map[string]any{"path": filepath.Join(outDir, name), "format": "json", "append": true,
				"create_directory": true, "flush_interval": "100ms"}
		}
		o := harness.NewOverlay(ep, journalDir).
			Set("processors::longspan::idle_timeout", idleTimeout).
			Set("processors::longspan::snapshot::interval", time.Second).
			Set("processors::longspan::snapshot::min_age", time.Second).
			Set("processors::tail_sampling::decision_wait", time.Second).
			Set("exporters::file/test_sampled", file("sampled.jsonl")).
			Set("exporters::file/test_live", file("live.jsonl")).
			SetExporters("traces/sample", "file/test_sampled").
			SetExporters("traces/live", "file/test_live")
		return writeOverlay(t, bin, def, o, outDir+".yaml")
	}
	// Each run writes its own output files, so what the second run emits is unambiguous.
	out1, out2 := filepath.Join(tmp, "out-1"), filepath.Join(tmp, "out-2")
	configs1, configs2 := configsFor(out1), configsFor(out2)
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"out-1/live.jsonl", "out-1/sampled.jsonl", "out-2/live.jsonl", "out-2/sampled.jsonl"} {
				dumpFile(t, f, filepath.Join(tmp, f), 16<<10)
			}
		}
	})

	// Fixtures, moved so that page.session started 10s ago; the child keeps its offset.
	open := loadFixture(t, "otel-js-open-span.json")
	child := loadFixture(t, "otel-js-ended-child.json")
	openSpan := firstSpan(t, open)
	if openSpan.EndTimestamp() != 0 {
		t.Fatalf("fixture otel-js-open-span.json: expected endTimeUnixNano 0, got %d", openSpan.EndTimestamp())
	}
	shift := time.Now().Add(-10 * time.Second).Sub(openSpan.StartTimestamp().AsTime())
	shiftTimes(open, shift)
	shiftTimes(child, shift)
	openSpan = firstSpan(t, open)
	childSpan := firstSpan(t, child)
	traceID, parentID, childID := openSpan.TraceID(), openSpan.SpanID(), childSpan.SpanID()
	if childSpan.TraceID() != traceID || childSpan.ParentSpanID() != parentID {
		t.Fatalf("fixtures disagree: child trace %s parent %s, open span %s/%s",
			childSpan.TraceID(), childSpan.ParentSpanID(), traceID, parentID)
	}
	isParent := func(s ptrace.Span) bool { return s.TraceID() == traceID && s.SpanID() == parentID }
	isChild := func(s ptrace.Span) bool { return s.TraceID() == traceID && s.SpanID() == childID }
	isSnapshot := func(s ptrace.Span) bool { return strAttr(s, "longspan.state") == "snapshot" }

	// ---- run 1: ingest, see a snapshot, kill -9.
	c1 := startCollector(t, "collector-1", bin, configs1, tmp)
	waitHealthy(t, c1, healthAddr)

	firstPostStart := time.Now()
	postTraces(t, httpAddr, open)
	postTraces(t, httpAddr, child)
	lastPostEnd := time.Now()
	t.Logf("posted open page.session and ended child in %v (trace %s)", lastPostEnd.Sub(firstPostStart), traceID)

	eventually(t, c1, waitLimit, "a snapshot of page.session in the live output", func() (bool, string) {
		b := readBatches(t, filepath.Join(out1, "live.jsonl"))
		snaps := findSpans(b, func(s ptrace.Span) bool { return isParent(s) && isSnapshot(s) })
		return len(snaps) > 0, "live output: " + strconv.Itoa(countSpans(b)) + " spans, none a page.session snapshot"
	})
	if waited := time.Since(lastPostEnd); waited > idleTimeout-time.Second {
		t.Fatalf("the first snapshot took %v after the last post; with idle_timeout %v the span may be "+
			"reconciled before the kill and the restart path would go untested", waited, idleTimeout)
	}
	snap := findSpans(readBatches(t, filepath.Join(out1, "live.jsonl")), isParent)[0].span
	t.Logf("snapshot seen %v after the last post: attrs %v", time.Since(lastPostEnd), snap.Attributes().AsRaw())
	if seq := strAttr(snap, "longspan.snapshot.seq"); seq == "" {
		t.Errorf("snapshot has no longspan.snapshot.seq attribute")
	}
	if snap.StartTimestamp() != openSpan.StartTimestamp() {
		t.Errorf("snapshot start %v, want the client's %v", snap.StartTimestamp(), openSpan.StartTimestamp())
	}
	// Promise 3: while page.session is open its ended child is held, not released.
	if got := findSpans(readBatches(t, filepath.Join(out1, "sampled.jsonl")), isChild); len(got) > 0 {
		t.Errorf("the ended child reached the sampled output (line %d) while its parent was still open", got[0].line)
	}

	kill9(t, c1)

	// ---- run 2: same journal; the client stays silent, so page.session is reconciled.
	restart := time.Now()
	c2 := startCollector(t, "collector-2", bin, configs2, tmp)
	waitHealthy(t, c2, healthAddr)

	// The journal recovered the open span (and the held child): the read-only view lists them.
	eventually(t, c2, waitLimit, "the recovered page.session in /v1/open-spans", func() (bool, string) {
		v, err := harness.OpenSpansAt(journalHTTP, 0)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range v.OpenSpans {
			if s.TraceID == traceID.String() && s.SpanID == parentID.String() {
				if v.HeldSpans < 1 {
					return false, fmt.Sprintf("page.session listed but held_spans=%d (the child should be held)", v.HeldSpans)
				}
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d open spans listed, page.session not among them", len(v.OpenSpans))
	})
	if time.Since(restart) >= idleTimeout {
		t.Logf("warning: the open-span view check ended %v after the restart, past idle_timeout", time.Since(restart))
	}

	var parentRef, childRef spanRef
	eventually(t, c2, waitLimit, "reconciled page.session and its child in one sampled batch", func() (bool, string) {
		b := readBatches(t, filepath.Join(out2, "sampled.jsonl"))
		parents := findSpans(b, isParent)
		children := findSpans(b, isChild)
		for _, p := range parents {
			for _, c := range children {
				if p.line == c.line {
					parentRef, childRef = p, c
					return true, ""
				}
			}
		}
		return false, "sampled output: " + strconv.Itoa(len(b)) + " batches, " + strconv.Itoa(len(parents)) +
			" page.session, " + strconv.Itoa(len(children)) + " child spans, none together in one batch"
	})
	seen := time.Now()
	t.Logf("reconciled trace arrived %v after the restart (sampled line %d)", seen.Sub(restart), parentRef.line)

	// Promise 6: the idle clock restarts at recovery, so reconciliation cannot precede
	// restart + idle_timeout (our observation time is an upper bound of the emission time).
	if seen.Before(restart.Add(idleTimeout)) {
		t.Errorf("page.session was reconciled %v after the restart, before idle_timeout %v: "+
			"the collector's downtime was counted as the client's silence", seen.Sub(restart), idleTimeout)
	}

	// Promise 5: closed honestly.
	p := parentRef.span
	t.Logf("reconciled %s: start %s end %s (last post ended %s) status %v %q attrs %v",
		p.Name(), p.StartTimestamp().AsTime().Format(time.RFC3339Nano), p.EndTimestamp().AsTime().Format(time.RFC3339Nano),
		lastPostEnd.UTC().Format(time.RFC3339Nano), p.Status().Code(), p.Status().Message(), p.Attributes().AsRaw())
	if p.Status().Code() != ptrace.StatusCodeError {
		t.Errorf("reconciled status code %v, want Error", p.Status().Code())
	}
	if p.Status().Message() == "" {
		t.Errorf("reconciled status has no message")
	}
	if got := strAttr(p, "longspan.state"); got != "reconciled" {
		t.Errorf("longspan.state = %q, want reconciled", got)
	}
	if got := strAttr(p, "longspan.close_reason"); got != "idle_timeout" {
		t.Errorf("longspan.close_reason = %q, want idle_timeout", got)
	}
	if p.StartTimestamp() != openSpan.StartTimestamp() {
		t.Errorf("reconciled start %v, want the client's %v", p.StartTimestamp().AsTime(), openSpan.StartTimestamp().AsTime())
	}
	if got, want := strAttr(p, "page.url"), strAttr(openSpan, "page.url"); got != want {
		t.Errorf("reconciled page.url = %q, want %q (last known data kept)", got, want)
	}
	if got, want := p.Name(), openSpan.Name(); got != want {
		t.Errorf("reconciled name %q, want %q", got, want)
	}
	lastSeen, ok := timestampAttr(p, "longspan.last_seen_unix_nano")
	if !ok {
		t.Errorf("reconciled span has no usable longspan.last_seen_unix_nano (got %q)", strAttr(p, "longspan.last_seen_unix_nano"))
	} else {
		if p.EndTimestamp() != lastSeen {
			t.Errorf("reconciled end %v != longspan.last_seen_unix_nano %v: it must end when the client was last seen",
				p.EndTimestamp().AsTime(), lastSeen.AsTime())
		}
		lo, hi := firstPostStart, lastPostEnd.Add(time.Second)
		if ls := lastSeen.AsTime(); ls.Before(lo) || ls.After(hi) {
			t.Errorf("longspan.last_seen_unix_nano %v outside the posts' window [%v, %v]",
				ls.Format(time.RFC3339Nano), lo.Format(time.RFC3339Nano), hi.Format(time.RFC3339Nano))
		}
	}
	if end := p.EndTimestamp().AsTime(); end.After(lastPostEnd.Add(time.Second)) {
		t.Errorf("reconciled end %v is after the last post %v + 1s (must not be 'now')",
			end.Format(time.RFC3339Nano), lastPostEnd.Format(time.RFC3339Nano))
	}

	// The child passes through unchanged.
	c := childRef.span
	if c.StartTimestamp() != childSpan.StartTimestamp() || c.EndTimestamp() != childSpan.EndTimestamp() {
		t.Errorf("child times %v..%v, want %v..%v", c.StartTimestamp(), c.EndTimestamp(),
			childSpan.StartTimestamp(), childSpan.EndTimestamp())
	}
	if got := strAttr(c, "longspan.state"); got != "" {
		t.Errorf("ended child got longspan.state=%q; spans passing through unchanged get no attribute", got)
	}

	// Routing: snapshots only on the live branch, nothing else there.
	for _, dir := range []string{out1, out2} {
		for _, s := range findSpans(readBatches(t, filepath.Join(dir, "sampled.jsonl")), isSnapshot) {
			t.Errorf("%s/sampled.jsonl line %d: snapshot span %q reached tail_sampling's output", filepath.Base(dir), s.line, s.span.Name())
		}
		for _, s := range findSpans(readBatches(t, filepath.Join(dir, "live.jsonl")), func(s ptrace.Span) bool { return !isSnapshot(s) }) {
			t.Errorf("%s/live.jsonl line %d: non-snapshot span %q on the live branch", filepath.Base(dir), s.line, s.span.Name())
		}
	}
	if _, err := os.Stat(journalDir); err != nil {
		t.Errorf("journal directory: %v", err)
	}
}

// timestampAttr reads a unix-nano attribute stored as an int or a decimal string.
func timestampAttr(s ptrace.Span, key string) (pcommon.Timestamp, bool) {
	v, ok := s.Attributes().Get(key)
	if !ok {
		return 0, false
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return pcommon.Timestamp(v.Int()), v.Int() > 0
	case pcommon.ValueTypeStr:
		n, err := strconv.ParseInt(v.Str(), 10, 64)
		return pcommon.Timestamp(n), err == nil && n > 0
	default:
		return 0, false
	}
}
