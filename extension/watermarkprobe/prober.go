package watermarkprobe // import "github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe/internal/metadata"
)

// tickerFunc makes the ticker that paces probes; tests inject their own.
type tickerFunc func(d time.Duration) (<-chan time.Time, func())

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

type prober struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	newTicker tickerFunc
	now       func() time.Time

	conn   *grpc.ClientConn
	client ptraceotlp.GRPCClient
	stop   chan struct{}
	wg     sync.WaitGroup

	// lastWarn limits the warning about an unreachable front tier to one a minute.
	lastWarn time.Time
	failing  int
}

var _ extension.Extension = (*prober)(nil)

func newProber(set extension.Settings, cfg *Config, tick tickerFunc) (*prober, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &prober{cfg: cfg, logger: set.Logger, telemetry: tb, newTicker: tick, now: time.Now}, nil
}

func (p *prober) Start(_ context.Context, _ component.Host) error {
	conn, err := grpc.NewClient(p.cfg.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	p.conn, p.client = conn, ptraceotlp.NewGRPCClient(conn)
	p.stop = make(chan struct{})
	ticks, stopTicks := p.newTicker(p.cfg.Interval)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer stopTicks()
		for {
			select {
			case <-p.stop:
				return
			case <-ticks:
				p.probe()
			}
		}
	}()
	return nil
}

func (p *prober) Shutdown(context.Context) error {
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
		p.stop = nil
	}
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn = nil
	}
	p.telemetry.Shutdown()
	return nil
}

// probe sends one request of probe spans. A failed probe is not retried: the next
// interval's probe carries a later send time and supersedes it.
func (p *prober) probe() {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Interval)
	defer cancel()
	_, err := p.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(Probes(p.cfg.Spans, p.now())))
	if err != nil {
		p.telemetry.WatermarkprobeProbeFailures.Add(ctx, 1)
		p.failing++
		if now := p.now(); now.Sub(p.lastWarn) >= time.Minute {
			p.lastWarn = now
			p.logger.Warn("The front tier did not accept a watermark probe; until it does, the shards' watermarks stand still and idle reconciliation waits",
				zap.String("endpoint", p.cfg.Endpoint), zap.Int("failed_in_a_row", p.failing), zap.Error(err))
		}
		return
	}
	if p.failing > 0 {
		p.logger.Info("The front tier accepts watermark probes again", zap.String("endpoint", p.cfg.Endpoint), zap.Int("failed_in_a_row", p.failing))
		p.failing = 0
	}
	p.telemetry.WatermarkprobeProbesSent.Add(ctx, 1)
}

// Probes builds n probe spans sent at at, each with a random trace id.
func Probes(n int, at time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "otelcol-longspan-watermarkprobe")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	spans.EnsureCapacity(n)
	ts := pcommon.NewTimestampFromTime(at)
	ids := make([]byte, n*24)
	_, _ = rand.Read(ids) // crypto/rand.Read never fails (Go 1.24+)
	for i := 0; i < n; i++ {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID(ids[i*24 : i*24+16]))
		sp.SetSpanID(pcommon.SpanID(ids[i*24+16 : i*24+24]))
		sp.SetName(SpanName)
		sp.SetStartTimestamp(ts)
		sp.SetEndTimestamp(ts)
		sp.Attributes().PutInt(AttrSentAt, at.UnixNano())
	}
	return td
}
