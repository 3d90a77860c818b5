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

	// fronts are the front tier's instances, in the order of Config.Endpoints: each is
	// probed on its own, and a processor's watermark is the lowest of theirs.
	fronts []*front
	stop   chan struct{}
	wg     sync.WaitGroup

	stopWatch context.CancelFunc

	sender string
}

// front is one instance of the front tier and this extension's connection to it.
type front struct {
	index    int
	endpoint string
	conn     *grpc.ClientConn
	client   ptraceotlp.GRPCClient
	// logsClient sends the probes of the instance's logs queue.
	logsClient plogotlp.GRPCClient
	epoch      atomic.Int64

	// lastWarn limits the warning about an unreachable instance to one a minute;
	// failing counts failed probes in a row. Its probe goroutine only.
	lastWarn time.Time
	failing  int
}

var (
	_ extension.Extension = (*prober)(nil)
	_ Source              = (*prober)(nil)
)

func (p *prober) Sender() string { return p.sender }

// Fronts is how many front-tier instances this extension probes.
func (p *prober) Fronts() int { return len(p.cfg.endpoints()) }

// Epoch is the current epoch of the connection to front-tier instance i.
func (p *prober) Epoch(i int) int64 {
	if i < 0 || i >= len(p.fronts) {
		return -1
	}
	return p.fronts[i].epoch.Load()
}

// Forward sends td through the first front-tier instance and waits for its answer.
func (p *prober) Forward(ctx context.Context, td ptrace.Traces) error {
	if len(p.fronts) == 0 {
		return errors.New("watermarkprobe: not started")
	}
	_, err := p.fronts[0].client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	return err
}

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
	for i, endpoint := range p.cfg.endpoints() {
		conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			p.closeConns()
			return err
		}
		p.fronts = append(p.fronts, &front{index: i, endpoint: endpoint, conn: conn,
			client: ptraceotlp.NewGRPCClient(conn), logsClient: plogotlp.NewGRPCClient(conn)})
	}
	p.stop = make(chan struct{})
	watchCtx, stopWatch := context.WithCancel(context.Background())
	p.stopWatch = stopWatch
	for _, f := range p.fronts {
		// One ticker and goroutine per instance: a stalled instance holds up its own
		// probes only.
		ticks, stopTicks := p.newTicker(p.cfg.Interval)
		p.wg.Add(2)
		go p.watchConnection(watchCtx, f)
		go func() {
			defer p.wg.Done()
			defer stopTicks()
			for {
				select {
				case <-p.stop:
					return
				case <-ticks:
					p.probe(f)
				}
			}
		}()
	}
	return nil
}

func (p *prober) Shutdown(context.Context) error {
	if p.stop != nil {
		p.stopWatch()
		close(p.stop)
		p.wg.Wait()
		p.stop = nil
	}
	p.closeConns()
	p.telemetry.Shutdown()
	return nil
}

func (p *prober) closeConns() {
	for _, f := range p.fronts {
		_ = f.conn.Close()
	}
	p.fronts = nil
}

// watchConnection starts a new epoch of f whenever the connection to it stops being
// ready: the instance may have restarted and put old requests behind newer ones.
func (p *prober) watchConnection(ctx context.Context, f *front) {
	defer p.wg.Done()
	state := f.conn.GetState()
	for f.conn.WaitForStateChange(ctx, state) {
		next := f.conn.GetState()
		if state == connectivity.Ready && next != connectivity.Ready {
			f.epoch.Add(1)
		}
		state = next
	}
}

// probe sends one request of probe spans, and one of probe records, to f. A failed
// probe is not retried: the next interval's probe carries a later send time and
// supersedes it.
func (p *prober) probe(f *front) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Interval)
	defer cancel()
	now, epoch := p.now(), f.epoch.Load()
	id := ProbeID{Sender: p.sender, Epoch: epoch, Front: f.index}
	_, err := f.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(Probes(p.cfg.Spans, now, id)))
	if err == nil {
		_, err = f.logsClient.Export(ctx, plogotlp.NewExportRequestFromLogs(LogProbes(p.cfg.Spans, now, id)))
	}
	if err != nil {
		p.telemetry.WatermarkprobeProbeFailures.Add(ctx, 1)
		f.failing++
		if now := p.now(); now.Sub(f.lastWarn) >= time.Minute {
			f.lastWarn = now
			p.logger.Warn("A front-tier instance did not accept a watermark probe; until it does, the shards' watermarks stand still and idle reconciliation and releases wait",
				zap.String("endpoint", f.endpoint), zap.Int("failed_in_a_row", f.failing), zap.Error(err))
		}
		return
	}
	if f.failing > 0 {
		p.logger.Info("The front-tier instance accepts watermark probes again", zap.String("endpoint", f.endpoint), zap.Int("failed_in_a_row", f.failing))
		f.failing = 0
	}
	p.telemetry.WatermarkprobeProbesSent.Add(ctx, 1)
}

// ProbeID is who sent a probe: the sender, its epoch with the front-tier instance
// the probe went to, and that instance (its index in Config.Endpoints).
type ProbeID struct {
	Sender string
	Epoch  int64
	Front  int
}

func (id ProbeID) putTo(attrs pcommon.Map, at time.Time) {
	attrs.PutInt(AttrSentAt, at.UnixNano())
	attrs.PutStr(AttrSender, id.Sender)
	attrs.PutInt(AttrEpoch, id.Epoch)
	attrs.PutInt(AttrFront, int64(id.Front))
}

// LogProbes builds n probe log records that id sends at at, each with a random trace
// id. They measure the front tier's logs queue: a gateway that reroutes
// heartbeats (longspan's reroute_heartbeats) sends them on, as probe spans marked
// AttrPath=logs, in order with the heartbeats that came before them.
func LogProbes(n int, at time.Time, id ProbeID) plog.Logs {
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
		id.putTo(lr.Attributes(), at)
	}
	return ld
}

// Probes builds n probe spans that id sends at at, each with a random trace id.
func Probes(n int, at time.Time, id ProbeID) ptrace.Traces {
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
		id.putTo(sp.Attributes(), at)
	}
	return td
}
