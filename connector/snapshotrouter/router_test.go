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
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
)

var (
	livePipe   = pipeline.NewIDWithName(pipeline.SignalTraces, "live")
	samplePipe = pipeline.NewIDWithName(pipeline.SignalTraces, "sample")
)

// newRouter builds the connector as the service does, in front of two sinks.
func newRouter(t *testing.T) (connector.Traces, *consumertest.TracesSink, *consumertest.TracesSink) {
	t.Helper()
	live, sample := new(consumertest.TracesSink), new(consumertest.TracesSink)
	next := connector.NewTracesRouter(map[pipeline.ID]consumer.Traces{livePipe: live, samplePipe: sample})
	cfg := &Config{SnapshotPipelines: []pipeline.ID{livePipe}, DefaultPipelines: []pipeline.ID{samplePipe}}
	require.NoError(t, cfg.Validate())
	set := connector.Settings{ID: component.NewID(Type), TelemetrySettings: componenttest.NewNopTelemetrySettings()}
	c, err := NewFactory().CreateTracesToTraces(context.Background(), set, cfg, next)
	require.NoError(t, err)
	return c, live, sample
}

// request builds a request of two resources with two scopes each; states lists the
// longspan.state of each span in order ("" = none), spread round-robin over the scopes.
func request(states ...string) ptrace.Traces {
	td := ptrace.NewTraces()
	var scopes []ptrace.ScopeSpans
	for r := 0; r < 2; r++ {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutInt("res", int64(r))
		rs.SetSchemaUrl("schema/res")
		for s := 0; s < 2; s++ {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("scope")
			ss.Scope().SetVersion(string(rune('a' + r*2 + s)))
			scopes = append(scopes, ss)
		}
	}
	for i, st := range states {
		sp := scopes[i%len(scopes)].Spans().AppendEmpty()
		sp.SetName(string(rune('A' + i)))
		if st != "" {
			sp.Attributes().PutStr(AttrState, st)
		}
	}
	return td
}

// names lists span names with their resource and scope, in order.
func names(tds []ptrace.Traces) []string {
	var out []string
	for _, td := range tds {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			res, _ := rs.Resource().Attributes().Get("res")
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j)
				for k := 0; k < ss.Spans().Len(); k++ {
					out = append(out, res.AsString()+"/"+ss.Scope().Version()+"/"+ss.Spans().At(k).Name())
				}
			}
		}
	}
	return out
}

func hasSnapshot(tds []ptrace.Traces) bool {
	for _, td := range tds {
		if s, _ := countSnapshots(td); s > 0 {
			return true
		}
	}
	return false
}

func TestMixedRequestIsSplitWithoutLoss(t *testing.T) {
	c, live, sample := newRouter(t)
	// spans A..H over scopes a,b (res 0) and c,d (res 1): snapshots B, C, F, G (scopes b, c)
	td := request("", "snapshot", "snapshot", "reconciled", "", "snapshot", "snapshot", "ended")
	require.NoError(t, c.ConsumeTraces(context.Background(), td))

	assert.Equal(t, []string{"0/b/B", "0/b/F", "1/c/C", "1/c/G"}, names(live.AllTraces()))
	assert.Equal(t, []string{"0/a/A", "0/a/E", "1/d/D", "1/d/H"}, names(sample.AllTraces()))
	assert.False(t, hasSnapshot(sample.AllTraces()), "a snapshot reached the default (tail_sampling) pipeline")
	// Emptied scopes are removed; resource and scope are carried over.
	got := sample.AllTraces()[0]
	for i := 0; i < got.ResourceSpans().Len(); i++ {
		assert.Equal(t, 1, got.ResourceSpans().At(i).ScopeSpans().Len())
	}
	l := live.AllTraces()[0].ResourceSpans().At(0)
	assert.Equal(t, "schema/res", l.SchemaUrl())
	assert.Equal(t, "scope", l.ScopeSpans().At(0).Scope().Name())
}

func TestUniformRequestsArePassedOnWhole(t *testing.T) {
	c, live, sample := newRouter(t)
	plain := request("", "ended", "reconciled", "superseding", "released_early")
	require.NoError(t, c.ConsumeTraces(context.Background(), plain))
	snaps := request("snapshot", "snapshot", "snapshot")
	require.NoError(t, c.ConsumeTraces(context.Background(), snaps))
	require.NoError(t, c.ConsumeTraces(context.Background(), ptrace.NewTraces()))

	require.Len(t, sample.AllTraces(), 1)
	require.Len(t, live.AllTraces(), 1)
	// The very same request, not a split: snaps keeps its empty scope d, which a
	// split would not have carried over.
	assert.Equal(t, 2, live.AllTraces()[0].ResourceSpans().At(1).ScopeSpans().Len())
	assert.Equal(t, plain, sample.AllTraces()[0])
	assert.Equal(t, snaps, live.AllTraces()[0])
	assert.Equal(t, 5, sample.SpanCount())
	assert.Equal(t, 3, live.SpanCount())
}

func TestErrorOfEitherBranchIsReturned(t *testing.T) {
	next := connector.NewTracesRouter(map[pipeline.ID]consumer.Traces{
		livePipe: consumertest.NewErr(assert.AnError), samplePipe: new(consumertest.TracesSink)})
	cfg := &Config{SnapshotPipelines: []pipeline.ID{livePipe}, DefaultPipelines: []pipeline.ID{samplePipe}}
	set := connector.Settings{ID: component.NewID(Type), TelemetrySettings: componenttest.NewNopTelemetrySettings()}
	c, err := NewFactory().CreateTracesToTraces(context.Background(), set, cfg, next)
	require.NoError(t, err)
	assert.ErrorIs(t, c.ConsumeTraces(context.Background(), request("", "snapshot")), assert.AnError)
}

func TestNoSnapshotPipelinesDropsSnapshots(t *testing.T) {
	sample := new(consumertest.TracesSink)
	next := connector.NewTracesRouter(map[pipeline.ID]consumer.Traces{samplePipe: sample})
	cfg := &Config{DefaultPipelines: []pipeline.ID{samplePipe}}
	set := connector.Settings{ID: component.NewID(Type), TelemetrySettings: componenttest.NewNopTelemetrySettings()}
	c, err := NewFactory().CreateTracesToTraces(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, c.ConsumeTraces(context.Background(), request("snapshot", "snapshot")))
	require.NoError(t, c.ConsumeTraces(context.Background(), request("", "snapshot", "ended")))
	assert.Equal(t, []string{"0/a/A", "1/c/C"}, names(sample.AllTraces()))
}

func TestConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"snapshot_pipelines": []any{"traces/live"},
		"default_pipelines":  []any{"traces/sample"},
	}).Unmarshal(cfg))
	assert.Equal(t, []pipeline.ID{livePipe}, cfg.SnapshotPipelines)
	assert.Equal(t, []pipeline.ID{samplePipe}, cfg.DefaultPipelines)
	require.NoError(t, cfg.Validate())

	assert.NoError(t, (&Config{DefaultPipelines: []pipeline.ID{samplePipe}}).Validate(), "snapshots dropped")
	assert.Error(t, (&Config{SnapshotPipelines: []pipeline.ID{livePipe}}).Validate())
	assert.ErrorContains(t, (&Config{SnapshotPipelines: []pipeline.ID{livePipe, samplePipe},
		DefaultPipelines: []pipeline.ID{samplePipe}}).Validate(), "both")
}

func TestUnknownPipelineIsRefused(t *testing.T) {
	next := connector.NewTracesRouter(map[pipeline.ID]consumer.Traces{samplePipe: new(consumertest.TracesSink)})
	cfg := &Config{SnapshotPipelines: []pipeline.ID{livePipe}, DefaultPipelines: []pipeline.ID{samplePipe}}
	set := connector.Settings{ID: component.NewID(Type), TelemetrySettings: componenttest.NewNopTelemetrySettings()}
	_, err := NewFactory().CreateTracesToTraces(context.Background(), set, cfg, next)
	assert.ErrorContains(t, err, "snapshot_pipelines")
}

// BenchmarkConsumeTraces: a request of 220 spans with and without snapshots in it.
func BenchmarkConsumeTraces(b *testing.B) {
	for _, tc := range []struct {
		name  string
		every int
	}{{"no_snapshots", 0}, {"one_in_ten_snapshots", 10}} {
		b.Run(tc.name, func(b *testing.B) {
			states := make([]string, 220)
			for i := range states {
				if tc.every > 0 && i%tc.every == 0 {
					states[i] = StateSnapshot
				}
			}
			next := connector.NewTracesRouter(map[pipeline.ID]consumer.Traces{livePipe: consumertest.NewNop(), samplePipe: consumertest.NewNop()})
			cfg := &Config{SnapshotPipelines: []pipeline.ID{livePipe}, DefaultPipelines: []pipeline.ID{samplePipe}}
			set := connector.Settings{ID: component.NewID(Type), TelemetrySettings: componenttest.NewNopTelemetrySettings()}
			c, _ := NewFactory().CreateTracesToTraces(context.Background(), set, cfg, next)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				td := request(states...)
				b.StartTimer()
				_ = c.ConsumeTraces(context.Background(), td)
			}
		})
	}
}

// BenchmarkForwardFanOutClone is, for comparison, the copy that the collector's fan-out
// to two mutating pipelines (two forward connectors, each followed by a filter) made of
// every request before this connector: the same 220-span request, cloned once.
func BenchmarkForwardFanOutClone(b *testing.B) {
	td := request(make([]string, 220)...)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		clone := ptrace.NewTraces()
		td.CopyTo(clone)
	}
}
