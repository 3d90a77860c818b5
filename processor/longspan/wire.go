package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"errors"
	"fmt"
	"slices"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// OTLP field numbers (opentelemetry/proto/trace/v1/trace.proto).
const (
	fieldTracesDataResourceSpans = 1
	fieldResourceSpansResource   = 1
	fieldResourceSpansScopeSpans = 2
	fieldResourceSpansSchemaURL  = 3
	fieldScopeSpansScope         = 1
	fieldScopeSpansSpans         = 2
	fieldScopeSpansSchemaURL     = 3
)

var errWire = errors.New("unexpected OTLP wire layout")

// wireRequest is an incoming request marshalled once, with the wire bytes of every
// resource, scope and span, in the order pdata iterates them. It lets the processor
// build the stored payload of each span it holds by splicing bytes, instead of copying
// resource, scope and span into a new TracesData and marshalling that for every span.
type wireRequest struct {
	resources []wireResource
}

type wireResource struct {
	// head is the resource and schema_url fields of the ResourceSpans, as sent.
	head   []byte
	scopes []wireScope
}

type wireScope struct {
	// head is the scope and schema_url fields of the ScopeSpans, as sent.
	head  []byte
	spans [][]byte
}

func newWireRequest(td ptrace.Traces) (*wireRequest, error) {
	b, err := protoMarshaler.MarshalTraces(td)
	if err != nil {
		return nil, err
	}
	w := &wireRequest{}
	err = walkFields(b, func(num protowire.Number, _, value []byte) error {
		if num != fieldTracesDataResourceSpans {
			return nil
		}
		r, err := readWireResource(value)
		w.resources = append(w.resources, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(w.resources) != td.ResourceSpans().Len() {
		return nil, fmt.Errorf("%w: %d resources on the wire, %d in the request", errWire, len(w.resources), td.ResourceSpans().Len())
	}
	return w, nil
}

// readWireResource splits a ResourceSpans into its head and its scopes. The parts
// alias b.
func readWireResource(b []byte) (wireResource, error) {
	var r wireResource
	err := walkFields(b, func(num protowire.Number, field, value []byte) error {
		switch num {
		case fieldResourceSpansResource, fieldResourceSpansSchemaURL:
			r.head = joinField(r.head, field)
		case fieldResourceSpansScopeSpans:
			s, err := readWireScope(value)
			if err != nil {
				return err
			}
			r.scopes = append(r.scopes, s)
		}
		return nil
	})
	return r, err
}

// readWireScope splits a ScopeSpans into its head and its spans. The parts alias b.
func readWireScope(b []byte) (wireScope, error) {
	var s wireScope
	err := walkFields(b, func(num protowire.Number, field, value []byte) error {
		switch num {
		case fieldScopeSpansScope, fieldScopeSpansSchemaURL:
			s.head = joinField(s.head, field)
		case fieldScopeSpansSpans:
			s.spans = append(s.spans, value)
		}
		return nil
	})
	return s, err
}

// joinField appends field to head: the first field is used in place, a second one makes
// a copy (head must never grow into the bytes it aliases).
func joinField(head, field []byte) []byte {
	if head == nil {
		return field
	}
	return append(slices.Clip(head), field...)
}

// payload returns the TracesData bytes holding span k of scope j of resource i, with
// its resource and scope: the same message encodePayload produces (fields may come in
// another order, which protobuf decoding does not care about).
func (w *wireRequest) payload(i, j, k int) ([]byte, error) {
	if i >= len(w.resources) || j >= len(w.resources[i].scopes) || k >= len(w.resources[i].scopes[j].spans) {
		return nil, fmt.Errorf("%w: span %d/%d/%d is not on the wire", errWire, i, j, k)
	}
	r := w.resources[i]
	s := r.scopes[j]
	span := s.spans[k]
	out := make([]byte, 0, resourceSpansSize(r.head, s.head, span))
	return appendResourceSpans(out, r.head, s.head, span), nil
}

// resourceSpansSize is the size of the ResourceSpans field appendResourceSpans appends.
func resourceSpansSize(resHead, scopeHead []byte, spans ...[]byte) int {
	return sizeBytesField(fieldTracesDataResourceSpans, resourceSpansLen(resHead, scopeHead, spans))
}

// appendResourceSpans appends a TracesData field holding one ResourceSpans: resHead,
// then one ScopeSpans of scopeHead and spans.
func appendResourceSpans(b, resHead, scopeHead []byte, spans ...[]byte) []byte {
	b = appendBytesHeader(b, fieldTracesDataResourceSpans, resourceSpansLen(resHead, scopeHead, spans))
	b = append(b, resHead...)
	b = appendBytesHeader(b, fieldResourceSpansScopeSpans, scopeSpansLen(scopeHead, spans))
	b = append(b, scopeHead...)
	for _, span := range spans {
		b = appendBytesHeader(b, fieldScopeSpansSpans, len(span))
		b = append(b, span...)
	}
	return b
}

func resourceSpansLen(resHead, scopeHead []byte, spans [][]byte) int {
	return len(resHead) + sizeBytesField(fieldResourceSpansScopeSpans, scopeSpansLen(scopeHead, spans))
}

func scopeSpansLen(scopeHead []byte, spans [][]byte) int {
	n := len(scopeHead)
	for _, span := range spans {
		n += sizeBytesField(fieldScopeSpansSpans, len(span))
	}
	return n
}

// walkFields calls fn for every field of a message: its number, its whole encoding
// (tag included) and, for length-delimited fields, its value.
func walkFields(b []byte, fn func(num protowire.Number, field, value []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %w", errWire, protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return fmt.Errorf("%w: %w", errWire, protowire.ParseError(m))
		}
		field := b[:n+m]
		var value []byte
		if typ == protowire.BytesType {
			value, _ = protowire.ConsumeBytes(b[n:])
		}
		if err := fn(num, field, value); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}

func sizeBytesField(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func appendBytesHeader(b []byte, num protowire.Number, n int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

// mergePayloads joins stored payloads (each a TracesData of one span with its resource
// and scope) into one TracesData. Payloads whose resource and scope are byte for byte the
// same share one ResourceSpans and one ScopeSpans, so that a released page trace of 300
// spans goes downstream under one resource, as the client sent it, not under 300 copies
// of it: tail_sampling, the exporters and the backend each handle one resource instead
// of 300. Spans keep their order within a resource; at[i] is where payload i's span
// lies: resource at[i][0], span at[i][1] of that resource's only scope. Only the
// framing is parsed: resources, scopes and spans are copied as bytes.
func mergePayloads(payloads [][]byte) (b []byte, at [][2]int, resources int, err error) {
	type group struct {
		resHead, scopeHead []byte
		spans              [][]byte
	}
	var groups []*group
	index := make(map[string]int)
	at = make([][2]int, len(payloads))
	var key []byte
	for i, p := range payloads {
		resHead, scopeHead, span, err := splitPayload(p)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("payload %d: %w", i, err)
		}
		key = protowire.AppendVarint(key[:0], uint64(len(resHead)))
		key = append(append(key, resHead...), scopeHead...)
		g, ok := index[string(key)]
		if !ok {
			g = len(groups)
			index[string(key)] = g
			groups = append(groups, &group{resHead: resHead, scopeHead: scopeHead})
		}
		at[i] = [2]int{g, len(groups[g].spans)}
		groups[g].spans = append(groups[g].spans, span)
	}
	size := 0
	for _, gr := range groups {
		size += resourceSpansSize(gr.resHead, gr.scopeHead, gr.spans...)
	}
	b = make([]byte, 0, size)
	for _, gr := range groups {
		b = appendResourceSpans(b, gr.resHead, gr.scopeHead, gr.spans...)
	}
	return b, at, len(groups), nil
}

// splitPayload returns the parts of a stored payload: the head of its ResourceSpans
// (resource, schema_url), the head of its ScopeSpans (scope, schema_url) and the span.
// The parts alias p.
func splitPayload(p []byte) (resHead, scopeHead, span []byte, err error) {
	var rs []wireResource
	err = walkFields(p, func(num protowire.Number, _, value []byte) error {
		if num != fieldTracesDataResourceSpans {
			return errWire
		}
		r, err := readWireResource(value)
		rs = append(rs, r)
		return err
	})
	switch {
	case err != nil:
		return nil, nil, nil, err
	case len(rs) != 1:
		return nil, nil, nil, fmt.Errorf("%w: %d resources in a stored span", errWire, len(rs))
	case len(rs[0].scopes) != 1:
		return nil, nil, nil, fmt.Errorf("%w: %d scopes in a stored span", errWire, len(rs[0].scopes))
	case len(rs[0].scopes[0].spans) != 1:
		return nil, nil, nil, fmt.Errorf("%w: %d spans in a stored span", errWire, len(rs[0].scopes[0].spans))
	}
	s := rs[0].scopes[0]
	return rs[0].head, s.head, s.spans[0], nil
}

// requestPayloads builds the stored payloads of one request's spans, marshalling the
// request at most once. Safe for one goroutine.
type requestPayloads struct {
	td   ptrace.Traces
	wire *wireRequest
	err  error
}

func (r *requestPayloads) payload(i, j, k int) ([]byte, error) {
	if r.wire == nil && r.err == nil {
		r.wire, r.err = newWireRequest(r.td)
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.wire.payload(i, j, k)
}
