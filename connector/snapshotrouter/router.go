package snapshotrouter // import "github.com/otelcol-longspan/otelcol-longspan/connector/snapshotrouter"

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// AttrState and StateSnapshot mark a snapshot span, AttrSnapshotSeq numbers it
// (processor/longspan's attrs.go). AttrSnapshotSpanID is ours: with snapshot_span_ids:
// unique, the open span's own span id (hex) on a snapshot that got an id of its own.
const (
	AttrState          = "longspan.state"
	StateSnapshot      = "snapshot"
	AttrSnapshotSeq    = "longspan.snapshot.seq"
	AttrSnapshotSpanID = "longspan.snapshot.span_id"
)

type router struct {
	component.StartFunc
	component.ShutdownFunc
	snapshots consumer.Traces // nil: snapshots are dropped
	rest      consumer.Traces
	uniqueIDs bool // snapshot_span_ids: unique
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
		if r.uniqueIDs {
			UniqueSnapshotIDs(td)
		}
		return r.snapshots.ConsumeTraces(ctx, td)
	}
	live := ptrace.NewTraces()
	moveSnapshots(td, live)
	if r.snapshots == nil {
		return r.rest.ConsumeTraces(ctx, td)
	}
	if r.uniqueIDs {
		UniqueSnapshotIDs(live)
	}
	return errors.Join(r.snapshots.ConsumeTraces(ctx, live), r.rest.ConsumeTraces(ctx, td))
}

func isSnapshot(s ptrace.Span) bool {
	v, ok := s.Attributes().Get(AttrState)
	return ok && v.Str() == StateSnapshot
}

func countSnapshots(td ptrace.Traces) (snaps, total int) {
	eachSpan(td, func(s ptrace.Span) {
		total++
		if isSnapshot(s) {
			snaps++
		}
	})
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

// UniqueSnapshotIDs gives every snapshot span of td a span id of its own (snapshot_span_ids:
// unique). A trace backend that keys spans by trace and span id sees each snapshot as a span
// of its own instead of several versions of one span id (Jaeger warns about the duplicates
// and skips its clock-skew adjustment for the whole trace: docs/design.md, "Snapshots in a
// trace backend").
//
//   - The new id is the first 8 bytes of SHA-256 over the trace id, the open span's id and
//     the snapshot number (longspan.snapshot.seq; the end time if it is missing): a snapshot
//     sent again gets the same id, and the ids of one span's snapshots never repeat.
//   - The open span's own id is kept in longspan.snapshot.span_id.
//   - A snapshot whose parent is snapshotted in the same request gets the parent's snapshot
//     as its parent, so one round of snapshots of a trace is a tree of its own. Any other
//     parent id is left as it is.
//
// A snapshot that already carries longspan.snapshot.span_id is left alone.
func UniqueSnapshotIDs(td ptrace.Traces) {
	type key struct {
		trace pcommon.TraceID
		span  pcommon.SpanID
	}
	renamed := map[key]pcommon.SpanID{}
	eachSnapshot(td, func(s ptrace.Span) {
		if _, done := s.Attributes().Get(AttrSnapshotSpanID); !done {
			renamed[key{s.TraceID(), s.SpanID()}] = snapshotSpanID(s)
		}
	})
	if len(renamed) == 0 {
		return
	}
	eachSnapshot(td, func(s ptrace.Span) {
		id, ok := renamed[key{s.TraceID(), s.SpanID()}]
		if !ok {
			return
		}
		if p := s.ParentSpanID(); !p.IsEmpty() {
			if np, ok := renamed[key{s.TraceID(), p}]; ok {
				s.SetParentSpanID(np)
			}
		}
		s.Attributes().PutStr(AttrSnapshotSpanID, s.SpanID().String())
		s.SetSpanID(id)
	})
}

// snapshotSpanID derives a snapshot's own span id (never zero, never the open span's id).
func snapshotSpanID(s ptrace.Span) pcommon.SpanID {
	var buf [16 + 8 + 8 + 1]byte
	tid, sid := s.TraceID(), s.SpanID()
	copy(buf[:16], tid[:])
	copy(buf[16:24], sid[:])
	n := uint64(s.EndTimestamp())
	if v, ok := s.Attributes().Get(AttrSnapshotSeq); ok && v.Type() == pcommon.ValueTypeInt {
		n = uint64(v.Int())
		buf[32] = 1
	}
	binary.BigEndian.PutUint64(buf[24:32], n)
	for salt := byte(0); ; salt++ {
		sum := sha256.Sum256(append(buf[:], salt))
		var id pcommon.SpanID
		copy(id[:], sum[:8])
		if !id.IsEmpty() && id != sid {
			return id
		}
	}
}

// eachSnapshot calls fn for every snapshot span of td, in order.
func eachSnapshot(td ptrace.Traces, fn func(ptrace.Span)) {
	eachSpan(td, func(s ptrace.Span) {
		if isSnapshot(s) {
			fn(s)
		}
	})
}

// eachSpan calls fn for every span of td, in order.
func eachSpan(td ptrace.Traces, fn func(ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				fn(spans.At(k))
			}
		}
	}
}
