package longspan

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// t0 is the test's wall-clock origin; every test runs on a manual clock from it.
var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// manualClock is a clock that moves only when the test says so. Its ticker never
// fires: tests call tick themselves after moving the clock.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

func (*manualClock) NewTicker(time.Duration) (<-chan time.Time, func()) {
	return make(chan time.Time), func() {}
}

type testHost struct {
	exts map[component.ID]component.Component
}

func (h *testHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// harness is one collector's worth of parts: a journal extension in dir and a
// longspan processor on a manual clock, feeding a sink.
type harness struct {
	t     testing.TB
	dir   string
	clock *manualClock
	ext   extension.Extension
	proc  *longspanProcessor
	sink  *consumertest.TracesSink
	cfg   *Config
	tel   *componenttest.Telemetry
	host  *testHost
	// probeSource stands for this collector's watermarkprobe extension.
	probeSource *testProbeSource
	// logs is the instance in a logs pipeline (startLogs), sharing the journal.
	logs     *longspanProcessor
	logsSink *consumertest.LogsSink
}

func newHarness(t testing.TB, dir string, clk *manualClock, mutate func(*Config)) *harness {
	return newHarnessWith(t, dir, clk, mutate, nil)
}

func newHarnessWith(t testing.TB, dir string, clk *manualClock, mutate func(*Config), next consumer.Traces) *harness {
	t.Helper()
	return newHarnessJournal(t, dir, clk, mutate, next, nil)
}

// newHarnessJournal is newHarnessWith with a change to the journal's config.
func newHarnessJournal(t testing.TB, dir string, clk *manualClock, mutate func(*Config), next consumer.Traces, journal func(*spanjournal.Config)) *harness {
	t.Helper()
	h := &harness{t: t, dir: dir, clock: clk, sink: new(consumertest.TracesSink), tel: componenttest.NewTelemetry()}
	t.Cleanup(func() { require.NoError(t, h.tel.Shutdown(context.Background())) })
	extFactory := spanjournal.NewFactory()
	extCfg := extFactory.CreateDefaultConfig().(*spanjournal.Config)
	extCfg.Directory = dir
	if journal != nil {
		journal(extCfg)
	}
	ext, err := extFactory.Create(context.Background(), extensiontest.NewNopSettings(extFactory.Type()), extCfg)
	require.NoError(t, err)
	h.probeSource = &testProbeSource{sender: "gw-test"}
	host := &testHost{exts: map[component.ID]component.Component{
		component.MustNewID("spanjournal"):    ext,
		component.MustNewID("watermarkprobe"): h.probeSource,
	}}
	require.NoError(t, ext.Start(context.Background(), host))
	h.ext = ext

	h.cfg = createDefaultConfig().(*Config)
	h.cfg.Snapshot.Interval = 0 // snapshots only where a test turns them on
	if mutate != nil {
		mutate(h.cfg)
	}
	require.NoError(t, h.cfg.Validate())
	if next == nil {
		next = h.sink
	}
	p, err := newProcessor(metadatatest.NewSettings(h.tel), h.cfg, next, clk)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), host))
	h.proc = p
	h.host = host
	t.Cleanup(h.stop)
	return h
}

// testProbeSource is a watermarkprobe extension as the processor sees it.
type testProbeSource struct {
	component.StartFunc
	component.ShutdownFunc
	sender string
	epoch  int64
	// fronts is how many front-tier instances are probed; 0 means 1.
	fronts int
	// forwarded is what Forward sent to the front tier.
	forwarded []ptrace.Traces
}

func (s *testProbeSource) Forward(_ context.Context, td ptrace.Traces) error {
	s.forwarded = append(s.forwarded, td)
	return nil
}

func (s *testProbeSource) Sender() string  { return s.sender }
func (s *testProbeSource) Epoch(int) int64 { return s.epoch }
func (s *testProbeSource) Fronts() int     { return max(s.fronts, 1) }

// id is this collector's prober's id for probes through front-tier instance front.
func (s *testProbeSource) id(front int) watermarkprobe.ProbeID {
	return watermarkprobe.ProbeID{Sender: s.sender, Epoch: s.epoch, Front: front}
}

// withFronts restarts h's processor with a prober of n front-tier instances.
func (h *harness) withFronts(n int) {
	require.NoError(h.t, h.proc.Shutdown(context.Background()))
	h.probeSource.fronts = n
	p, err := newProcessor(metadatatest.NewSettings(h.tel), h.cfg, h.sink, h.clock)
	require.NoError(h.t, err)
	require.NoError(h.t, p.Start(context.Background(), h.host))
	h.proc = p
}

// probes builds n probe spans sent at at by this collector's prober through the
// first front-tier instance, in its current epoch.
func (h *harness) probes(n int, at time.Time) ptrace.Traces {
	return h.probesVia(0, n, at)
}

// probesVia is probes through front-tier instance front.
func (h *harness) probesVia(front, n int, at time.Time) ptrace.Traces {
	return watermarkprobe.Probes(n, at, h.probeSource.id(front))
}

// startLogs adds a longspan instance for a logs pipeline on the same journal, the way
// the collector builds one per pipeline.
func (h *harness) startLogs() {
	h.t.Helper()
	p, err := newProcessor(metadatatest.NewSettings(h.tel), h.cfg, nil, h.clock)
	require.NoError(h.t, err)
	h.logsSink = new(consumertest.LogsSink)
	p.nextLogs = h.logsSink
	require.NoError(h.t, p.Start(context.Background(), h.host))
	require.False(h.t, p.emitter, "the logs instance only ingests")
	h.logs = p
}

// stop shuts the processor and the extension down, as a collector shutdown does.
func (h *harness) stop() {
	if h.proc == nil {
		return
	}
	if h.logs != nil {
		require.NoError(h.t, h.logs.Shutdown(context.Background()))
		h.logs = nil
	}
	require.NoError(h.t, h.proc.Shutdown(context.Background()))
	require.NoError(h.t, h.ext.Shutdown(context.Background()))
	h.proc = nil
}

func (h *harness) consume(td ptrace.Traces) error {
	return h.proc.ConsumeTraces(context.Background(), td)
}

func (h *harness) mustConsume(td ptrace.Traces) {
	h.t.Helper()
	require.NoError(h.t, h.consume(td))
}

// advance moves the clock and runs one tick.
func (h *harness) advance(d time.Duration) {
	h.clock.Advance(d)
	h.proc.tick(context.Background())
}

var (
	traceA = pcommon.TraceID{0xa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	traceB = pcommon.TraceID{0xb, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	rootID = pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1}
	kidID  = pcommon.SpanID{2, 2, 2, 2, 2, 2, 2, 2}
	kid2ID = pcommon.SpanID{3, 3, 3, 3, 3, 3, 3, 3}
)

// spanSpec describes one test span; a zero end makes it open.
type spanSpec struct {
	trace   pcommon.TraceID
	id      pcommon.SpanID
	parent  pcommon.SpanID
	name    string
	start   time.Time
	end     time.Time
	session string
	attrs   map[string]string
}

func traces(specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "web-shop")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("test")
	for _, sp := range specs {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(sp.trace)
		s.SetSpanID(sp.id)
		s.SetParentSpanID(sp.parent)
		s.SetName(sp.name)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(sp.start))
		if !sp.end.IsZero() {
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(sp.end))
		}
		if sp.session != "" {
			s.Attributes().PutStr("session.id", sp.session)
		}
		for k, v := range sp.attrs {
			s.Attributes().PutStr(k, v)
		}
	}
	return td
}

// allSpans flattens what the sink received, batch by batch.
func allSpans(sink *consumertest.TracesSink) [][]ptrace.Span {
	var out [][]ptrace.Span
	for _, td := range sink.AllTraces() {
		var batch []ptrace.Span
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j)
				for k := 0; k < ss.Spans().Len(); k++ {
					batch = append(batch, ss.Spans().At(k))
				}
			}
		}
		out = append(out, batch)
	}
	return out
}

func attr(s ptrace.Span, key string) string {
	v, ok := s.Attributes().Get(key)
	if !ok {
		return ""
	}
	return v.AsString()
}

func findSpan(batch []ptrace.Span, id pcommon.SpanID) (ptrace.Span, bool) {
	for _, s := range batch {
		if s.SpanID() == id {
			return s, true
		}
	}
	return ptrace.Span{}, false
}

// openCount returns the open spans the journal tracks.
func (h *harness) openCount() int {
	var open int
	_ = h.proc.journal.Update(context.Background(), func(tx *spanjournal.Tx) error {
		open, _ = tx.Counts()
		return nil
	})
	return open
}
