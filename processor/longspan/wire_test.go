package longspan

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// wireTestRequest has two resources, two scopes in one of them, schema URLs and
// attributes everywhere, so that splicing has every field to get right.
func wireTestRequest() ptrace.Traces {
	td := traces(openRoot(t0), endedKid(t0))
	td.ResourceSpans().At(0).SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	ss := td.ResourceSpans().At(0).ScopeSpans().AppendEmpty()
	ss.Scope().SetName("second-scope")
	ss.Scope().Attributes().PutStr("scope.attr", "x")
	ss.SetSchemaUrl("https://opentelemetry.io/schemas/1.25.0")
	traces(spanSpec{trace: traceB, id: kid2ID, name: "third", start: t0, end: t0.Add(time.Second)}).
		ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).CopyTo(ss.Spans().AppendEmpty())
	other := td.ResourceSpans().AppendEmpty()
	other.Resource().Attributes().PutStr("service.name", "other")
	traces(spanSpec{trace: traceB, id: rootID, name: "fourth", start: t0}).ResourceSpans().At(0).ScopeSpans().At(0).CopyTo(other.ScopeSpans().AppendEmpty())
	return td
}

func TestWirePayloadDecodesLikeACopy(t *testing.T) {
	td := wireTestRequest()
	w, err := newWireRequest(td)
	require.NoError(t, err)
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				spliced, err := w.payload(i, j, k)
				require.NoError(t, err)
				copied, err := encodePayload(rs, ss, ss.Spans().At(k), nil)
				require.NoError(t, err)
				a, err := protoUnmarshaler.UnmarshalTraces(spliced)
				require.NoError(t, err)
				b, err := protoUnmarshaler.UnmarshalTraces(copied)
				require.NoError(t, err)
				assert.Equal(t, b, a, "span %d/%d/%d", i, j, k)
			}
		}
	}
	_, err = w.payload(0, 2, 0)
	assert.ErrorIs(t, err, errWire)
}

func TestDecodeSpansKeepsOrderAndSurvivesABadPayload(t *testing.T) {
	td := wireTestRequest()
	w, err := newWireRequest(td)
	require.NoError(t, err)
	var stored []*spanjournal.Span
	var payloads [][]byte
	for _, pos := range [][3]int{{1, 0, 0}, {0, 0, 1}, {0, 1, 0}} {
		b, err := w.payload(pos[0], pos[1], pos[2])
		require.NoError(t, err)
		stored = append(stored, &spanjournal.Span{})
		payloads = append(payloads, b)
	}
	var names []string
	out, errs := decodeSpans(stored, payloads, nil, func(i int, s ptrace.Span) { names = append(names, s.Name()) })
	require.Empty(t, errs)
	assert.Equal(t, []string{"fourth", "page.child", "third"}, names)
	svc, _ := out.ResourceSpans().At(0).Resource().Attributes().Get("service.name")
	assert.Equal(t, "other", svc.Str(), "each span keeps its own resource")

	payloads[1] = []byte{0xff, 0xff, 0xff}
	out, errs = decodeSpans(stored, payloads, nil, nil)
	assert.Len(t, errs, 1, "the bad one is reported")
	assert.Equal(t, 2, out.SpanCount(), "the others still go")

	payloads[1] = nil
	out, errs = decodeSpans(stored, payloads, errors.New("segment gone"), nil)
	assert.Len(t, errs, 1, "one that could not be read back is reported")
	assert.Equal(t, 2, out.SpanCount(), "the others still go")
}

// Spans of the same resource and scope leave under one ResourceSpans and ScopeSpans, in
// their order; a span under another scope or resource keeps its own, with its schema
// URLs; stored and encodePayload'd payloads of the same span merge alike.
func TestDecodeSpansMergesSpansOfOneResourceAndScope(t *testing.T) {
	td := wireTestRequest()
	w, err := newWireRequest(td)
	require.NoError(t, err)
	rs0 := td.ResourceSpans().At(0)
	copied, err := encodePayload(rs0, rs0.ScopeSpans().At(0), rs0.ScopeSpans().At(0).Spans().At(1), nil)
	require.NoError(t, err)
	var payloads [][]byte
	for _, pos := range [][3]int{{0, 0, 1}, {1, 0, 0}, {0, 1, 0}, {0, 0, 0}} {
		b, err := w.payload(pos[0], pos[1], pos[2])
		require.NoError(t, err)
		payloads = append(payloads, b)
	}
	payloads = append(payloads, copied) // page.child again, marshalled by pdata
	stored := make([]*spanjournal.Span, len(payloads))
	for i := range stored {
		stored[i] = &spanjournal.Span{}
	}
	var names []string
	out, errs := decodeSpans(stored, payloads, nil, func(_ int, s ptrace.Span) { names = append(names, s.Name()) })
	require.Empty(t, errs)
	assert.Equal(t, []string{"page.child", "fourth", "third", "page.session", "page.child"}, names, "edit sees span i")

	require.Equal(t, 3, out.ResourceSpans().Len(), "web-shop/test, other, web-shop/second-scope")
	first := out.ResourceSpans().At(0)
	assert.Equal(t, "https://opentelemetry.io/schemas/1.26.0", first.SchemaUrl())
	require.Equal(t, 1, first.ScopeSpans().Len())
	var merged []string
	for k := 0; k < first.ScopeSpans().At(0).Spans().Len(); k++ {
		merged = append(merged, first.ScopeSpans().At(0).Spans().At(k).Name())
	}
	assert.Equal(t, []string{"page.child", "page.session", "page.child"}, merged)
	svc, _ := out.ResourceSpans().At(1).Resource().Attributes().Get("service.name")
	assert.Equal(t, "other", svc.Str())
	third := out.ResourceSpans().At(2).ScopeSpans().At(0)
	assert.Equal(t, "second-scope", third.Scope().Name())
	assert.Equal(t, "https://opentelemetry.io/schemas/1.25.0", third.SchemaUrl())
}
