package watermarkprobe // import "github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
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
	// logsClient sends the probes of the front tier's logs queue.
	logsClient plogotlp.GRPCClient
	stop       chan struct{}
	wg         sync.WaitGroup

	stopWatch context.CancelFunc

	sender string
	epoch  atomic.Int64

	// lastWarn limits the warning about an unreachable front tier to one a minute.
	lastWarn time.Time
	failing  int
}

var (
	_ extension.Extension = (*prober)(nil)
	_ Source              = (*prober)(nil)
)

func (p *prober) Sender() string { return p.sender }

// Forward sends td to the front tier and waits for its answer.
func (p *prober) Forward(ctx context.Context, td ptrace.Traces) error {
	if p.client == nil {
		return errors.New("watermarkprobe: not started")
	}
	_, err := p.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	return err
}
func (p *prober) Epoch() int64 { return p.epoch.Load() }

func newProber(set extension.Settings, cfg *Config, tick tickerFunc) (*prober, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return &prober{cfg: cfg, logger: set.Logger, telemetry: tb, newTicker: tick, now: time.Now, sender: hex.EncodeToString(id)}, nil
}

func (p *prober) Start(_ context.Context, _ component.Host) error {
	conn, err := grpc.NewClient(p.cfg.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	p.conn, p.client, p.logsClient = conn, ptraceotlp.NewGRPCClient(conn), plogotlp.NewGRPCClient(conn)
	p.stop = make(chan struct{})
	ticks, stopTicks := p.newTicker(p.cfg.Interval)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	p.stopWatch = stopWatch
	p.wg.Add(2)
	go p.watchConnection(watchCtx)
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
		p.stopWatch()
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

// watchConnection starts a new epoch whenever the connection to the front tier stops
// being ready: the front tier may have restarted and put old requests behind newer
// ones.
func (p *prober) watchConnection(ctx context.Context) {
	defer p.wg.Done()
	state := p.conn.GetState()
	for p.conn.WaitForStateChange(ctx, state) {
		next := p.conn.GetState()
		if state == connectivity.Ready && next != connectivity.Ready {
			p.epoch.Add(1)
		}
		state = next
	}
}

// probe sends one request of probe spans. A failed probe is not retried: the next
// interval's probe carries a later send time and supersedes it.
func (p *prober) probe() {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Interval)
	defer cancel()
	now, epoch := p.now(), p.epoch.Load()
	_, err := p.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(Probes(p.cfg.Spans, now, p.sender, epoch)))
	if err == nil {
		_, err = p.logsClient.Export(ctx, plogotlp.NewExportRequestFromLogs(LogProbes(p.cfg.Spans, now, p.sender, epoch)))
	}
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

// LogProbes builds n probe log records that sender sends at at in epoch, each with a
// random trace id. They measure the front tier's logs queue: a gateway that reroutes
// heartbeats (longspan's reroute_heartbeats) sends them on, as probe spans marked
// AttrPath=logs, in order with the heartbeats that came before them.
func LogProbes(n int, at time.Time, sender string, epoch int64) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "otelcol-longspan-watermarkprobe")
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	records.EnsureCapacity(n)
	ids := make([]byte, n*16)
	_, _ = rand.Read(ids)
	for i := 0; i < n; i++ {
		lr := records.AppendEmpty()
		lr.SetTraceID(pcommon.TraceID(ids[i*16 : i*16+16]))
		lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
		lr.Body().SetStr(SpanName)
		lr.Attributes().PutInt(AttrSentAt, at.UnixNano())
		lr.Attributes().PutStr(AttrSender, sender)
		lr.Attributes().PutInt(AttrEpoch, epoch)
	}
	return ld
}

// Probes builds n probe spans that sender sends at at in epoch, each with a random
// trace id.
func Probes(n int, at time.Time, sender string, epoch int64) ptrace.Traces {
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
		sp.Attributes().PutStr(AttrSender, sender)
		sp.Attributes().PutInt(AttrEpoch, epoch)
	}
	return td
}
