package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"errors"
	"math"
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
// only: after a restart it starts again just before the processor's start, which the
// idle rule already treats as the earliest instant of silence and the release gate
// as the latest arrival of what was recovered.
type watermark struct {
	// source is the watermarkprobe extension of this collector: only its probes of
	// its current epoch with the instance they went through are trusted (the
	// extension's package doc says why).
	source watermarkprobe.Source
	// at holds, for each front-tier instance i, the newest trusted probe send time
	// received through its traces queue (at[2i]) and through its logs queue, rerouted
	// by a gateway as heartbeats are (at[2i+1]); Unix nanoseconds.
	at []atomic.Int64
	// lastProbe is when a probe last arrived, by this processor's clock.
	lastProbe atomic.Int64
	// lastWarn is when the stall warning was last logged; tick goroutine only.
	lastWarn time.Time
	// enabled is watermark.enabled, logs reroute_heartbeats: which clocks it moves.
	enabled, logs bool
}

// start sets every instance's watermark just before now, for fronts instances of the
// front tier: what arrived before now is judged on probes sent after it.
func (w *watermark) start(now time.Time, fronts int, cfg *Config) {
	w.enabled, w.logs = cfg.Watermark.Enabled, cfg.RerouteHeartbeats
	w.at = make([]atomic.Int64, 2*max(fronts, 1))
	for i := range w.at {
		w.at[i].Store(now.UnixNano() - 1)
	}
	w.lastProbe.Store(now.UnixNano())
}

// observe takes in a probe that arrived now. The watermark moves only for a probe of
// this collector's own prober in its current epoch with the instance it went through.
func (w *watermark) observe(pr probe, now time.Time) {
	i := 2*pr.front + pr.logsPath
	if w.source == nil || pr.sender != w.source.Sender() || i < 0 || i >= len(w.at) || pr.epoch != w.source.Epoch(pr.front) {
		return
	}
	at := &w.at[i]
	for {
		cur := at.Load()
		if pr.sentAt <= cur || at.CompareAndSwap(cur, pr.sentAt) {
			break
		}
	}
	w.lastProbe.Store(now.UnixNano())
}

// lowest is the lowest watermark of every instance's traces queue, and of its logs
// queue too when logs is set; Unix nanoseconds.
func (w *watermark) lowest(logs bool) int64 {
	low := int64(math.MaxInt64)
	for i := range w.at {
		if i%2 == 0 || logs {
			low = min(low, w.at[i].Load())
		}
	}
	return low
}

// lowestLogs is the lowest watermark of every instance's logs queue.
func (w *watermark) lowestLogs() int64 {
	low := int64(math.MaxInt64)
	for i := 1; i < len(w.at); i += 2 {
		low = min(low, w.at[i].Load())
	}
	return low
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
	sentAt int64
	sender string
	epoch  int64
	// front is the front-tier instance it went through; logsPath is 1 if it came
	// through that instance's logs queue, else 0.
	front    int
	logsPath int
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
	if v, ok := attrs.Get(watermarkprobe.AttrFront); ok && v.Type() == pcommon.ValueTypeInt {
		pr.front = int(v.Int())
	}
	if v, ok := attrs.Get(watermarkprobe.AttrPath); ok && v.AsString() == "logs" {
		pr.logsPath = 1
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

// Silence is the instant a client's silence is measured at (engine.Clocks): the wall
// clock, or with the watermark on, the watermark (never later than the wall clock):
// the lowest of every front-tier instance's, since a client's requests may go through
// any of them. With heartbeats rerouted, reports reach this shard through an
// instance's traces queue and, later, its logs queue: the logs queues count too.
func (w *watermark) Silence(now time.Time) time.Time {
	if !w.enabled {
		return now
	}
	return time.Unix(0, min(w.lowest(w.logs), now.UnixNano()))
}

// Grace is the clock the release gate is measured on (engine.Clocks): with the
// watermark on, the silence clock, so that a trace leaves only once everything the
// front tier accepted before what completed it has arrived; with heartbeats rerouted
// (and no watermark), the logs queues' watermark, so that a span waits for the
// heartbeats accepted before it; otherwise the wall clock.
func (w *watermark) Grace(now time.Time) time.Time {
	switch {
	case w.enabled:
		return w.Silence(now)
	case w.logs:
		return time.Unix(0, min(w.lowestLogs(), now.UnixNano()))
	}
	return now
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
		zap.Duration("since_last_probe", quiet), zap.Time("watermark", p.watermark.Silence(now)))
}
