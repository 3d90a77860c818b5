package snapshotrouter // import "github.com/otelcol-longspan/otelcol-longspan/connector/snapshotrouter"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// AttrState and StateSnapshot mark a snapshot span (processor/longspan's attrs.go).
const (
	AttrState     = "longspan.state"
	StateSnapshot = "snapshot"
)

type router struct {
	component.StartFunc
	component.ShutdownFunc
	snapshots consumer.Traces // nil: snapshots are dropped
	rest      consumer.Traces
}

// Capabilities: a mixed request is split in place (its snapshot spans are moved out).
func (*router) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// ConsumeTraces passes td on whole when all its spans go one way, and otherwise moves
// the snapshot spans into a request of their own.
func (r *router) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	snaps, total := countSnapshots(td)
	switch {
	case total == 0:
		return nil
	case snaps == 0:
		return r.rest.ConsumeTraces(ctx, td)
	case snaps == total && r.snapshots == nil:
		return nil
	case snaps == total:
		return r.snapshots.ConsumeTraces(ctx, td)
	}
	live := ptrace.NewTraces()
	moveSnapshots(td, live)
	if r.snapshots == nil {
		return r.rest.ConsumeTraces(ctx, td)
	}
	return errors.Join(r.snapshots.ConsumeTraces(ctx, live), r.rest.ConsumeTraces(ctx, td))
}

func isSnapshot(s ptrace.Span) bool {
	v, ok := s.Attributes().Get(AttrState)
	return ok && v.Str() == StateSnapshot
}

func countSnapshots(td ptrace.Traces) (snaps, total int) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				total++
				if isSnapshot(spans.At(k)) {
					snaps++
				}
			}
		}
	}
	return snaps, total
}

// moveSnapshots moves every snapshot span of from into to (span.MoveTo: no deep copy),
// under a copy of its resource and scope made once per resource and scope; resources
// and scopes left empty are removed from from. Order is kept.
func moveSnapshots(from, to ptrace.Traces) {
	from.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		var dstRS ptrace.ResourceSpans
		haveRS := false
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			var dstSS ptrace.ScopeSpans
			haveSS := false
			ss.Spans().RemoveIf(func(s ptrace.Span) bool {
				if !isSnapshot(s) {
					return false
				}
				if !haveRS {
					dstRS, haveRS = to.ResourceSpans().AppendEmpty(), true
					rs.Resource().CopyTo(dstRS.Resource())
					dstRS.SetSchemaUrl(rs.SchemaUrl())
				}
				if !haveSS {
					dstSS, haveSS = dstRS.ScopeSpans().AppendEmpty(), true
					ss.Scope().CopyTo(dstSS.Scope())
					dstSS.SetSchemaUrl(ss.SchemaUrl())
				}
				s.MoveTo(dstSS.Spans().AppendEmpty())
				return true
			})
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
}
