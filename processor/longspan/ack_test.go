package longspan

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspanack"
)

// ackedHarness is a harness whose released traces reach the sink through a stand-in
// for tail_sampling (it buffers what it accepts until decide) and the longspan_ack
// processor. refuse makes the exporters behind the ack refuse.
type ackedHarness struct {
	*harness
	sink     *consumertest.TracesSink
	refuse   bool
	buffered []ptrace.Traces
	ack      consumer.Traces
}

// decide lets every buffered trace through to the ack, as a sampling decision does.
func (a *ackedHarness) decide(t *testing.T) {
	for _, td := range a.buffered {
		err := a.ack.ConsumeTraces(context.Background(), td)
		assert.Equal(t, a.refuse, err != nil)
	}
	a.buffered = nil
}

func newAckedHarness(t *testing.T, dir string, clk *manualClock, mutate func(*Config)) *ackedHarness {
	t.Helper()
	a := &ackedHarness{sink: new(consumertest.TracesSink)}
	exporters, err := consumer.NewTraces(func(ctx context.Context, td ptrace.Traces) error {
		if a.refuse {
			return errors.New("backend down")
		}
		return a.sink.ConsumeTraces(ctx, td)
	})
	require.NoError(t, err)
	f := longspanack.NewFactory()
	cfg := f.CreateDefaultConfig().(*longspanack.Config)
	cfg.Delay = 0 // the exporters here buffer nothing
	ack, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(f.Type()), cfg, exporters)
	require.NoError(t, err)
	a.ack = ack
	sampling, err := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
		a.buffered = append(a.buffered, td)
		return nil
	})
	require.NoError(t, err)
	a.harness = newHarnessWith(t, dir, clk, mutate, sampling)
	require.NoError(t, ack.Start(context.Background(), a.host))
	t.Cleanup(func() { require.NoError(t, ack.Shutdown(context.Background())) })
	return a
}

// A trace the exporters accepted after tail_sampling is not sent again after a
// restart, though its release_retention has not passed; one they refused is.
func TestAckedTraceIsNotResentAfterRestart(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	retention := func(c *Config) { c.ReleaseRetention = time.Hour }
	first := newAckedHarness(t, dir, clk, retention)
	first.mustConsume(traces(openRoot(t0), endedKid(t0)))
	root := openRoot(t0)
	root.end = t0.Add(time.Second)
	first.mustConsume(traces(root))
	first.decide(t)
	require.Len(t, allSpans(first.sink), 1, "released and exported")

	// A second trace whose export is refused once it is released: the journal must
	// keep it.
	kidB, rootB := endedKid(t0), openRoot(t0)
	kidB.trace, rootB.trace = traceB, traceB
	first.mustConsume(traces(rootB, kidB))
	first.refuse = true
	rootB.end = t0.Add(time.Second)
	first.mustConsume(traces(rootB))
	first.decide(t)
	first.stop()

	second := newAckedHarness(t, dir, clk, retention)
	second.advance(time.Second)
	second.decide(t)
	got := allSpans(second.sink)
	require.Len(t, got, 1, "only the refused trace comes back")
	assert.Equal(t, traceB, got[0][0].TraceID())
	assert.Len(t, got[0], 2)
}
