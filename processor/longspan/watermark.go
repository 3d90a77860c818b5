package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"
)

// watermark is how far this processor's input has arrived, by the probes the
// watermarkprobe extensions send through the front tier (WatermarkConfig). Memory
// only: after a restart it starts again at the processor's start, which the idle rule
// already treats as the earliest instant of silence.
type watermark struct {
	// source is the watermarkprobe extension of this collector: only its probes of
	// its current epoch are trusted (the extension's package doc says why).
	source watermarkprobe.Source
	// at is the newest trusted probe send time received, Unix nanoseconds.
	at atomic.Int64
	// atLogs is the same for probes that came through the front tier's logs queue
	// (rerouted by a gateway, as heartbeats are).
	atLogs atomic.Int64
	// lastProbe is when a probe last arrived, by this processor's clock.
	lastProbe atomic.Int64
	// lastWarn is when the stall warning was last logged; tick goroutine only.
	lastWarn time.Time
}

func (w *watermark) start(now time.Time) {
	w.at.Store(now.UnixNano())
	w.atLogs.Store(now.UnixNano())
	w.lastProbe.Store(now.UnixNano())
}

// observe takes in a probe that arrived now. The watermark moves only for a probe of
// this collector's own prober in its current epoch.
func (w *watermark) observe(pr probe, now time.Time) {
	if w.source == nil || pr.sender != w.source.Sender() || pr.epoch != w.source.Epoch() {
		return
	}
	at := &w.at
	if pr.logsPath {
		at = &w.atLogs
	}
	for {
		cur := at.Load()
		if pr.sentAt <= cur || at.CompareAndSwap(cur, pr.sentAt) {
			break
		}
	}
	w.lastProbe.Store(now.UnixNano())
}

// observeProbes takes in the probes of a request whose other spans are journaled.
func (p *longspanProcessor) observeProbes(ctx context.Context, probes []probe, now time.Time) {
	if len(probes) == 0 {
		return
	}
	for _, pr := range probes {
		p.watermark.observe(pr, now)
	}
	p.telemetry.LongspanProbesReceived.Add(ctx, int64(len(probes)))
}

// probe is what a watermark probe span says.
type probe struct {
	sentAt   int64
	sender   string
	epoch    int64
	logsPath bool
}

// probeOf reads a watermark probe span; false for any other span.
func probeOf(span ptrace.Span) (probe, bool) {
	if span.Name() != watermarkprobe.SpanName {
		return probe{}, false
	}
	attrs := span.Attributes()
	sent, ok := attrs.Get(watermarkprobe.AttrSentAt)
	if !ok || sent.Type() != pcommon.ValueTypeInt {
		return probe{}, false
	}
	pr := probe{sentAt: sent.Int()}
	if v, ok := attrs.Get(watermarkprobe.AttrSender); ok {
		pr.sender = v.AsString()
	}
	if v, ok := attrs.Get(watermarkprobe.AttrEpoch); ok && v.Type() == pcommon.ValueTypeInt {
		pr.epoch = v.Int()
	}
	if v, ok := attrs.Get(watermarkprobe.AttrPath); ok {
		pr.logsPath = v.AsString() == "logs"
	}
	return pr, true
}

// findProbeSource returns the watermarkprobe extension of this collector.
func findProbeSource(host component.Host) (watermarkprobe.Source, error) {
	for _, ext := range host.GetExtensions() {
		if src, ok := ext.(watermarkprobe.Source); ok {
			return src, nil
		}
	}
	return nil, errors.New("longspan: watermark.enabled and reroute_heartbeats need the watermarkprobe extension in this collector (under `extensions:` and `service::extensions`), connected to the front tier")
}

// silenceClock is the instant a client's silence is measured at: the wall clock, or
// with the watermark on, the watermark (never later than the wall clock). With
// heartbeats rerouted, reports reach this shard through the front tier's traces queue
// and, later, its logs queue: the watermark is the lower of the two.
func (p *longspanProcessor) silenceClock(now time.Time) time.Time {
	if !p.cfg.Watermark.Enabled {
		return now
	}
	w := p.watermark.at.Load()
	if p.cfg.RerouteHeartbeats {
		w = min(w, p.watermark.atLogs.Load())
	}
	return time.Unix(0, min(w, now.UnixNano()))
}

// graceClock is the clock a parent_grace wait is measured on: the wall clock, or with
// heartbeats rerouted, the logs queue's watermark (never later than the wall clock),
// so that a span waits for the heartbeats accepted before it.
func (p *longspanProcessor) graceClock(now time.Time) time.Time {
	if !p.cfg.RerouteHeartbeats {
		return now
	}
	return time.Unix(0, min(p.watermark.atLogs.Load(), now.UnixNano()))
}

// warnIfStalled logs, at most once per stall_warning, that no probe arrived for that
// long: silence is not measured meanwhile, so nothing is reconciled for it.
func (p *longspanProcessor) warnIfStalled(_ context.Context, now time.Time) {
	if !p.cfg.Watermark.Enabled {
		return
	}
	quiet := now.Sub(time.Unix(0, p.watermark.lastProbe.Load()))
	if quiet < p.cfg.Watermark.StallWarning || now.Sub(p.watermark.lastWarn) < p.cfg.Watermark.StallWarning {
		return
	}
	p.watermark.lastWarn = now
	p.logger.Warn("No watermark probe arrived for a while: idle reconciliation waits until one does. Check the front tier and the gateways' watermarkprobe extensions",
		zap.Duration("since_last_probe", quiet), zap.Time("watermark", time.Unix(0, p.watermark.at.Load())))
}
