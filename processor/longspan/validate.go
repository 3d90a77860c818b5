package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"math"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Reasons of otelcol_longspan_spans_dropped for hostile input: what the stock OTLP
// receiver accepts but no span of ours may carry (docs/design.md, promise 8; issue #12).
const (
	// dropInvalidUTF8 is a span with invalid UTF-8 in a string it carries (its name,
	// status message, trace state, an attribute key or string value, of the span, its
	// events and links, its resource or scope). The receiver's decoders keep such bytes
	// as they came, while protobuf strings must be UTF-8: a downstream exporter or
	// backend rejects the whole batch that holds one.
	dropInvalidUTF8 = "invalid_utf8"
	// dropAttributesTooDeep is a span whose attribute values nest maps or arrays deeper
	// than limits.max_attribute_depth.
	dropAttributesTooDeep = "attributes_too_deep"
	// dropInvalidTime is a span with a start, end or event time past math.MaxInt64
	// nanoseconds: it does not fit a time.Time (it would read as before 1970).
	dropInvalidTime = "invalid_time"
)

// hostile drops a span that validateSpanOnly rejects, or whose resource or scope
// validateScope rejected (scopeReason, checked once per scope of a request).
func (p *longspanProcessor) hostile(it *item, scopeReason string, drop func(string, *item)) bool {
	reason := scopeReason
	if reason == "" {
		reason = validateSpanOnly(it.span, p.cfg.Limits.MaxAttributeDepth)
	}
	if reason == "" {
		return false
	}
	// drop gets a copy: handing it to a func value makes its argument escape, and the
	// item of every accepted span would then be allocated on the heap.
	dropped := *it
	drop(reason, &dropped)
	return true
}

// What classify checks, per span (validateSpanOnly) and once per scope of a request
// (validateScope): a time that overflows time.Time, invalid UTF-8 in any string a span
// carries (its own, its events', its links', its resource's and its scope's), or
// attribute values nested deeper than maxDepth. It allocates nothing.
//
// Not checked: the resource's entity references (no public pdata accessor), which
// are rare and carried as the client sent them.

// validateSpanOnly checks what the span itself carries, its events and links
// included.
func validateSpanOnly(span ptrace.Span, maxDepth int) string {
	if invalidTime(span.StartTimestamp()) || invalidTime(span.EndTimestamp()) {
		return dropInvalidTime
	}
	events := span.Events()
	for i := 0; i < events.Len(); i++ {
		if invalidTime(events.At(i).Timestamp()) {
			return dropInvalidTime
		}
	}
	v := spanValidator{maxDepth: maxDepth}
	v.span(span)
	if v.reason == "" && v.high&highBits != 0 {
		v = spanValidator{maxDepth: maxDepth, strict: true}
		v.span(span)
	}
	return v.reason
}

// validateScope checks the resource and the scope a span comes with; classify runs it
// once per scope of a request.
func validateScope(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, maxDepth int) string {
	v := spanValidator{maxDepth: maxDepth}
	v.scope(rs, ss)
	if v.reason == "" && v.high&highBits != 0 {
		v = spanValidator{maxDepth: maxDepth, strict: true}
		v.scope(rs, ss)
	}
	return v.reason
}

// invalidTime says whether a timestamp overflows time.Time's int64 nanoseconds.
func invalidTime(ts pcommon.Timestamp) bool { return uint64(ts) > math.MaxInt64 }

// highBits are the bits no ASCII byte has.
const highBits = 0x8080808080808080

// spanValidator walks strings and attribute values; the first problem sticks in
// reason. Strings are checked in two passes, since nearly all are ASCII: the first
// (strict false) only ORs every byte into high, 8 at a time, and checks depth; only
// when that saw a byte outside ASCII does a second (strict) check each string with
// utf8.ValidString.
type spanValidator struct {
	maxDepth int
	strict   bool
	high     uint64
	reason   string
}

func (v *spanValidator) span(span ptrace.Span) {
	v.str(span.Name())
	v.str(span.Status().Message())
	v.str(span.TraceState().AsRaw())
	v.attrs(span.Attributes())
	events := span.Events()
	for i := 0; i < events.Len() && v.reason == ""; i++ {
		e := events.At(i)
		v.str(e.Name())
		v.attrs(e.Attributes())
	}
	links := span.Links()
	for i := 0; i < links.Len() && v.reason == ""; i++ {
		l := links.At(i)
		v.str(l.TraceState().AsRaw())
		v.attrs(l.Attributes())
	}
}

func (v *spanValidator) scope(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans) {
	scope := ss.Scope()
	v.str(ss.SchemaUrl())
	v.str(scope.Name())
	v.str(scope.Version())
	v.attrs(scope.Attributes())
	v.str(rs.SchemaUrl())
	v.attrs(rs.Resource().Attributes())
}

func (v *spanValidator) str(s string) {
	if v.strict {
		if v.reason == "" && !utf8.ValidString(s) {
			v.reason = dropInvalidUTF8
		}
		return
	}
	h := v.high
	for len(s) >= 8 {
		// The compiler makes this one 8-byte load.
		h |= uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		h |= uint64(s[i])
	}
	v.high = h
}

// attrs checks a top-level attribute map: its values are at depth 0, a map or array
// value at depth 1, what that holds at depth 2, and so on.
func (v *spanValidator) attrs(m pcommon.Map) { v.kvlist(m, 0) }

func (v *spanValidator) kvlist(m pcommon.Map, depth int) {
	if v.reason != "" {
		return
	}
	for k, val := range m.All() {
		v.str(k)
		v.value(val, depth)
		if v.reason != "" {
			return
		}
	}
}

func (v *spanValidator) value(val pcommon.Value, depth int) {
	switch val.Type() {
	case pcommon.ValueTypeStr:
		v.str(val.Str())
	case pcommon.ValueTypeMap:
		if depth+1 > v.maxDepth {
			v.reason = dropAttributesTooDeep
			return
		}
		v.kvlist(val.Map(), depth+1)
	case pcommon.ValueTypeSlice:
		if depth+1 > v.maxDepth {
			v.reason = dropAttributesTooDeep
			return
		}
		s := val.Slice()
		for i := 0; i < s.Len() && v.reason == ""; i++ {
			v.value(s.At(i), depth+1)
		}
	}
}
