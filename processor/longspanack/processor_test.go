package longspanack

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspanack/internal/metadatatest"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

type testHost struct {
	exts map[component.ID]component.Component
}

func (h *testHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// ackTest is a started spanjournal extension and a longspan_ack processor on a manual
// clock in front of next.
type ackTest struct {
	journal *spanjournal.Journal
	proc    *ackProcessor
	tel     *componenttest.Telemetry
	now     time.Time
}

func newAckTest(t *testing.T, cfg *Config, next consumer.Traces) *ackTest {
	t.Helper()
	a := &ackTest{tel: componenttest.NewTelemetry(), now: t0}
	t.Cleanup(func() { require.NoError(t, a.tel.Shutdown(context.Background())) })
	f := spanjournal.NewFactory()
	jcfg := f.CreateDefaultConfig().(*spanjournal.Config)
	jcfg.Directory = t.TempDir()
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), jcfg)
	require.NoError(t, err)
	host := &testHost{exts: map[component.ID]component.Component{component.MustNewID("spanjournal"): ext}}
	require.NoError(t, ext.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	a.journal = ext.(spanjournal.Provider).Journal()

	a.proc, err = newAckProcessor(metadatatest.NewSettings(a.tel), cfg, next, func() time.Time { return a.now })
	require.NoError(t, err)
	require.NoError(t, a.proc.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, a.proc.Shutdown(context.Background())) })
	return a
}

// deliver journals a released batch of the given spans of trace and reports it
// delivered, as the longspan processor does once tail_sampling took it.
func (a *ackTest) deliver(t *testing.T, trace pcommon.TraceID, spans ...pcommon.SpanID) {
	t.Helper()
	require.NoError(t, a.journal.Update(context.Background(), func(tx *spanjournal.Tx) error {
		held := make([]*spanjournal.Span, len(spans))
		for i, id := range spans {
			s := &spanjournal.Span{TraceID: trace, SpanID: id, State: spanjournal.SpanEnded, Name: "child"}
			s.SetTimes(t0, t0, t0)
			s.SetPayload([]byte{1})
			tx.Put(s, t0)
			held[i] = s
		}
		r := tx.Release(tx.Trace(trace), held, t0, false)
		tx.Take(r)
		tx.Delivered(r, t0.Add(time.Hour))
		return nil
	}))
}

// journaled counts the released spans the journal still keeps for trace.
func (a *ackTest) journaled(t *testing.T, trace pcommon.TraceID) int {
	n := 0
	require.NoError(t, a.journal.Update(context.Background(), func(tx *spanjournal.Tx) error {
		for _, r := range tx.Released(trace) {
			n += len(r.Spans)
		}
		return nil
	}))
	return n
}

func exported(trace pcommon.TraceID, spans ...pcommon.SpanID) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for _, id := range spans {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(trace)
		s.SetSpanID(id)
	}
	return td
}

var (
	traceA = pcommon.TraceID{0xa}
	traceB = pcommon.TraceID{0xb}
	span1  = pcommon.SpanID{1}
	span2  = pcommon.SpanID{2}
)

func TestAckAtOnceForgetsWhatWasExported(t *testing.T) {
	sink := new(consumertest.TracesSink)
	a := newAckTest(t, &Config{}, sink)
	a.deliver(t, traceA, span1, span2)
	a.deliver(t, traceB, span1)

	require.NoError(t, a.proc.ConsumeTraces(context.Background(), exported(traceA, span1, span2)))
	assert.Equal(t, 2, sink.SpanCount(), "passed on unchanged")
	assert.Zero(t, a.journaled(t, traceA), "exported: forgotten")
	assert.Equal(t, 1, a.journaled(t, traceB), "not exported: kept")
	metadatatest.AssertEqualLongspanAckBatchesForgotten(t, a.tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualLongspanAckSpansForgotten(t, a.tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
}

func TestRefusedExportAcknowledgesNothing(t *testing.T) {
	refuse := errors.New("backend down")
	a := newAckTest(t, &Config{}, consumertest.NewErr(refuse))
	a.deliver(t, traceA, span1)
	require.ErrorIs(t, a.proc.ConsumeTraces(context.Background(), exported(traceA, span1)), refuse)
	assert.Equal(t, 1, a.journaled(t, traceA))
}

func TestAckWaitsOutTheDelay(t *testing.T) {
	a := newAckTest(t, &Config{Delay: 2 * time.Second, MaxPendingSpans: 100}, new(consumertest.TracesSink))
	a.deliver(t, traceA, span1)
	a.deliver(t, traceB, span1)

	require.NoError(t, a.proc.ConsumeTraces(context.Background(), exported(traceA, span1)))
	assert.Equal(t, 1, a.journaled(t, traceA), "an exporter may still buffer it")
	a.now = a.now.Add(2*time.Second - 1)
	require.NoError(t, a.proc.ConsumeTraces(context.Background(), exported(traceB, span1)))
	assert.Equal(t, 1, a.journaled(t, traceA), "not yet due")
	a.now = a.now.Add(1)
	require.NoError(t, a.proc.ConsumeTraces(context.Background(), ptrace.NewTraces()))
	assert.Zero(t, a.journaled(t, traceA), "due with the next request")
	assert.Equal(t, 1, a.journaled(t, traceB), "traceB's delay runs 2s from its own export")
}

func TestPendingAcksPastTheBoundAreDroppedAndCounted(t *testing.T) {
	a := newAckTest(t, &Config{Delay: time.Second, MaxPendingSpans: 2}, new(consumertest.TracesSink))
	a.deliver(t, traceA, span1, span2)
	a.deliver(t, traceB, span1)
	require.NoError(t, a.proc.ConsumeTraces(context.Background(), exported(traceA, span1, span2)))
	require.NoError(t, a.proc.ConsumeTraces(context.Background(), exported(traceB, span1)))
	metadatatest.AssertEqualLongspanAckSpansUnacknowledged(t, a.tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())

	a.now = a.now.Add(time.Second)
	require.NoError(t, a.proc.ConsumeTraces(context.Background(), ptrace.NewTraces()))
	assert.Equal(t, 2, a.journaled(t, traceA), "dropped acknowledgement: release_retention applies")
	assert.Zero(t, a.journaled(t, traceB))
}

func TestStartNeedsAJournal(t *testing.T) {
	p, err := newAckProcessor(metadatatest.NewSettings(componenttest.NewTelemetry()), &Config{}, new(consumertest.TracesSink), time.Now)
	require.NoError(t, err)
	assert.ErrorContains(t, p.Start(context.Background(), componenttest.NewNopHost()), "no spanjournal extension in this collector")
	p, err = newAckProcessor(metadatatest.NewSettings(componenttest.NewTelemetry()),
		&Config{Journals: []component.ID{component.MustNewIDWithName("spanjournal", "missing")}}, new(consumertest.TracesSink), time.Now)
	require.NoError(t, err)
	assert.ErrorContains(t, p.Start(context.Background(), componenttest.NewNopHost()), `extension "spanjournal/missing" is not configured`)
}
