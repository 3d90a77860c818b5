package snapshotrouter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
)

var (
	tid     = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	rootID  = pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 1}
	childID = pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 2}
	endedID = pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 3}
)

// round is one round of longspan output for a trace: snapshots of the open root and of
// its open child (numbered seq), and optionally an ended span (not a snapshot) beside them.
func round(seq int64, withEnded bool) ptrace.Traces {
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	add := func(id, parent pcommon.SpanID, snapshot bool) {
		s := spans.AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(id)
		s.SetParentSpanID(parent)
		if snapshot {
			s.Attributes().PutStr(AttrState, StateSnapshot)
			s.Attributes().PutInt(AttrSnapshotSeq, seq)
		}
	}
	add(rootID, pcommon.SpanID{}, true)
	add(childID, rootID, true)
	if withEnded {
		add(endedID, childID, false)
	}
	return td
}

func newUniqueRouter(t *testing.T, mode string) (connector.Traces, *consumertest.TracesSink, *consumertest.TracesSink) {
	t.Helper()
	live, sample := new(consumertest.TracesSink), new(consumertest.TracesSink)
	next := connector.NewTracesRouter(map[pipeline.ID]consumer.Traces{livePipe: live, samplePipe: sample})
	cfg := &Config{SnapshotPipelines: []pipeline.ID{livePipe}, DefaultPipelines: []pipeline.ID{samplePipe}, SnapshotSpanIDs: mode}
	require.NoError(t, cfg.Validate())
	set := connector.Settings{ID: component.NewID(Type), TelemetrySettings: componenttest.NewNopTelemetrySettings()}
	c, err := NewFactory().CreateTracesToTraces(context.Background(), set, cfg, next)
	require.NoError(t, err)
	return c, live, sample
}

func spansOf(tds []ptrace.Traces) []ptrace.Span {
	var out []ptrace.Span
	for _, td := range tds {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			for j := 0; j < td.ResourceSpans().At(i).ScopeSpans().Len(); j++ {
				spans := td.ResourceSpans().At(i).ScopeSpans().At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					out = append(out, spans.At(k))
				}
			}
		}
	}
	return out
}

func TestKeepIsTheDefault(t *testing.T) {
	for _, mode := range []string{"", SnapshotSpanIDsKeep} {
		c, live, _ := newUniqueRouter(t, mode)
		require.NoError(t, c.ConsumeTraces(context.Background(), round(1, false)))
		got := spansOf(live.AllTraces())
		require.Len(t, got, 2)
		assert.Equal(t, rootID, got[0].SpanID())
		assert.Equal(t, childID, got[1].SpanID())
		assert.Equal(t, rootID, got[1].ParentSpanID())
		_, ok := got[0].Attributes().Get(AttrSnapshotSpanID)
		assert.False(t, ok)
	}
}

func TestUniqueSnapshotIDs(t *testing.T) {
	c, live, sample := newUniqueRouter(t, SnapshotSpanIDsUnique)
	require.NoError(t, c.ConsumeTraces(context.Background(), round(1, true))) // mixed: split
	require.NoError(t, c.ConsumeTraces(context.Background(), round(2, false)))
	require.NoError(t, c.ConsumeTraces(context.Background(), round(2, false))) // sent again

	// The ended span leaves untouched.
	ended := spansOf(sample.AllTraces())
	require.Len(t, ended, 1)
	assert.Equal(t, endedID, ended[0].SpanID())
	assert.Equal(t, childID, ended[0].ParentSpanID())
	assert.Equal(t, 0, ended[0].Attributes().Len())

	snaps := spansOf(live.AllTraces())
	require.Len(t, snaps, 6)
	ids := map[pcommon.SpanID]bool{}
	for i, s := range snaps {
		assert.NotContains(t, []pcommon.SpanID{rootID, childID, {}}, s.SpanID(), "span %d kept an open span's id", i)
		ids[s.SpanID()] = true
		orig, ok := s.Attributes().Get(AttrSnapshotSpanID)
		require.True(t, ok)
		if i%2 == 0 {
			assert.Equal(t, rootID.String(), orig.Str())
			assert.True(t, s.ParentSpanID().IsEmpty(), "a root stays a root")
		} else {
			assert.Equal(t, childID.String(), orig.Str())
			assert.Equal(t, snaps[i-1].SpanID(), s.ParentSpanID(), "the child hangs under its parent's snapshot of the same round")
		}
	}
	// Rounds 1 and 2 differ; round 2 sent again gets the same ids.
	assert.Len(t, ids, 4)
	assert.Equal(t, snaps[2].SpanID(), snaps[4].SpanID())
	assert.Equal(t, snaps[3].SpanID(), snaps[5].SpanID())

	// Idempotent: a second pass changes nothing.
	td := live.AllTraces()[1]
	before := ptrace.NewTraces()
	td.CopyTo(before)
	UniqueSnapshotIDs(td)
	assert.Equal(t, before, td)
}

func TestUniqueSnapshotIDsParentOutsideTheRequest(t *testing.T) {
	td := round(7, false)
	s := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	s.RemoveIf(func(sp ptrace.Span) bool { return sp.SpanID() == rootID }) // the root's snapshot went in another call
	s.At(0).Attributes().Remove(AttrSnapshotSeq)                           // and no seq: the end time is used
	s.At(0).SetEndTimestamp(12345)
	UniqueSnapshotIDs(td)
	assert.Equal(t, rootID, s.At(0).ParentSpanID(), "an unknown parent is left as it is")
	assert.NotEqual(t, childID, s.At(0).SpanID())
}

func TestConfigSnapshotSpanIDs(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"default_pipelines": []any{"traces/sample"},
		"snapshot_span_ids": "unique",
	}).Unmarshal(cfg))
	assert.Equal(t, SnapshotSpanIDsUnique, cfg.SnapshotSpanIDs)
	require.NoError(t, cfg.Validate())
	cfg.SnapshotSpanIDs = "random"
	assert.ErrorContains(t, cfg.Validate(), "snapshot_span_ids")
}
