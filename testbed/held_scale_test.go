package testbed

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The held_scale workload: its size, its ids (the backend check maps each record back
// to one bit), browser-shaped spans of 400-800 protobuf bytes, roots before children.
func TestHeldScalePlan(t *testing.T) {
	p := newHSPlan(200000, 6)
	if p.total != 200000 {
		t.Fatalf("plan holds %d spans, want 200000", p.total)
	}
	seen := make([]bool, p.total)
	var spans, roots int64
	var bytes int
	t0 := time.Now()
	for c := 0; c < p.clients(); c++ {
		open := map[[16]byte]bool{}
		p.clientRequests(c, func(td ptrace.Traces, n, r int) bool {
			spans += int64(n)
			roots += int64(r)
			bytes += hsMarshaler.TracesSize(td)
			eachSpan(td, func(s ptrace.Span) {
				b := p.bit(keyOf(s))
				if b < 0 || seen[b] {
					t.Fatalf("span %v: bit %d (seen %v)", s.SpanID(), b, b >= 0 && seen[b])
				}
				seen[b] = true
				if s.EndTimestamp() == 0 {
					open[s.TraceID()] = true
				} else if !open[s.TraceID()] {
					t.Fatalf("child of trace %v before its open root", s.TraceID())
				}
			})
			return true
		})
	}
	if spans != p.total || roots != int64(p.traces()) {
		t.Fatalf("requests carry %d spans (%d roots), plan %d (%d traces)", spans, roots, p.total, p.traces())
	}
	per := float64(bytes) / float64(spans)
	t.Logf("%d traces, %d clients, %.0f request bytes per span, built and sized in %v", p.traces(), p.clients(), per, time.Since(t0))
	if per < 400 || per > 800 {
		t.Errorf("%.0f bytes per span, want 400-800", per)
	}
	if p.bit(SpanKey{}) != -1 {
		t.Error("a foreign span maps to a bit")
	}
}
