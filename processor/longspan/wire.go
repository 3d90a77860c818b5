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
	err = walkFields(b, func(num protowire.Number, field, value []byte) error {
		if num != fieldTracesDataResourceSpans {
			return nil
		}
		var r wireResource
		err := walkFields(value, func(num protowire.Number, field, value []byte) error {
			switch num {
			case fieldResourceSpansResource, fieldResourceSpansSchemaURL:
				r.head = append(r.head, field...)
			case fieldResourceSpansScopeSpans:
				s, err := readWireScope(value)
				if err != nil {
					return err
				}
				r.scopes = append(r.scopes, s)
			}
			return nil
		})
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

func readWireScope(b []byte) (wireScope, error) {
	var s wireScope
	err := walkFields(b, func(num protowire.Number, field, value []byte) error {
		switch num {
		case fieldScopeSpansScope, fieldScopeSpansSchemaURL:
			s.head = append(s.head, field...)
		case fieldScopeSpansSpans:
			s.spans = append(s.spans, value)
		}
		return nil
	})
	return s, err
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
	scopeLen := len(s.head) + sizeBytesField(fieldScopeSpansSpans, len(span))
	resLen := len(r.head) + sizeBytesField(fieldResourceSpansScopeSpans, scopeLen)
	out := make([]byte, 0, sizeBytesField(fieldTracesDataResourceSpans, resLen))
	out = appendBytesHeader(out, fieldTracesDataResourceSpans, resLen)
	out = append(out, r.head...)
	out = appendBytesHeader(out, fieldResourceSpansScopeSpans, scopeLen)
	out = append(out, s.head...)
	out = appendBytesHeader(out, fieldScopeSpansSpans, len(span))
	return append(out, span...), nil
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
	scopeLen := make([]int, len(groups))
	size := 0
	for g, gr := range groups {
		scopeLen[g] = len(gr.scopeHead)
		for _, span := range gr.spans {
			scopeLen[g] += sizeBytesField(fieldScopeSpansSpans, len(span))
		}
		size += sizeBytesField(fieldTracesDataResourceSpans, len(gr.resHead)+sizeBytesField(fieldResourceSpansScopeSpans, scopeLen[g]))
	}
	b = make([]byte, 0, size)
	for g, gr := range groups {
		b = appendBytesHeader(b, fieldTracesDataResourceSpans, len(gr.resHead)+sizeBytesField(fieldResourceSpansScopeSpans, scopeLen[g]))
		b = append(b, gr.resHead...)
		b = appendBytesHeader(b, fieldResourceSpansScopeSpans, scopeLen[g])
		b = append(b, gr.scopeHead...)
		for _, span := range gr.spans {
			b = appendBytesHeader(b, fieldScopeSpansSpans, len(span))
			b = append(b, span...)
		}
	}
	return b, at, len(groups), nil
}

// splitPayload returns the parts of a stored payload: the fields of its ResourceSpans
// other than the scope (resource, schema_url), the fields of its ScopeSpans other than
// the span (scope, schema_url), and the span. The parts alias p where they can.
func splitPayload(p []byte) (resHead, scopeHead, span []byte, err error) {
	var rs, ss [][]byte
	err = walkFields(p, func(num protowire.Number, _, value []byte) error {
		if num != fieldTracesDataResourceSpans {
			return errWire
		}
		rs = append(rs, value)
		return nil
	})
	if err == nil && len(rs) != 1 {
		err = fmt.Errorf("%w: %d resources in a stored span", errWire, len(rs))
	}
	if err != nil {
		return nil, nil, nil, err
	}
	err = walkFields(rs[0], func(num protowire.Number, field, value []byte) error {
		if num == fieldResourceSpansScopeSpans {
			ss = append(ss, value)
		} else {
			resHead = joinField(resHead, field)
		}
		return nil
	})
	if err == nil && len(ss) != 1 {
		err = fmt.Errorf("%w: %d scopes in a stored span", errWire, len(ss))
	}
	if err != nil {
		return nil, nil, nil, err
	}
	n := 0
	err = walkFields(ss[0], func(num protowire.Number, field, value []byte) error {
		if num == fieldScopeSpansSpans {
			span = value
			n++
		} else {
			scopeHead = joinField(scopeHead, field)
		}
		return nil
	})
	if err == nil && n != 1 {
		err = fmt.Errorf("%w: %d spans in a stored span", errWire, n)
	}
	return resHead, scopeHead, span, err
}

// joinField appends field to head: the first field is used in place, a second one makes
// a copy (head must never grow into the payload it aliases).
func joinField(head, field []byte) []byte {
	if head == nil {
		return field
	}
	return append(slices.Clip(head), field...)
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
