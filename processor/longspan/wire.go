package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"errors"
	"fmt"

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

// concatPayloads decodes stored payloads as one request: a serialised TracesData is a
// sequence of ResourceSpans fields, so the concatenation of several is one TracesData
// holding all their spans, in order, decoded with a single unmarshal.
func concatPayloads(payloads [][]byte) (ptrace.Traces, error) {
	n := 0
	for _, p := range payloads {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range payloads {
		b = append(b, p...)
	}
	return protoUnmarshaler.UnmarshalTraces(b)
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
