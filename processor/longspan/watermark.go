package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"sync/atomic"
	"time"

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
	// at is the newest probe send time received, Unix nanoseconds.
	at atomic.Int64
	// lastProbe is when a probe last arrived, by this processor's clock.
	lastProbe atomic.Int64
	// lastWarn is when the stall warning was last logged; tick goroutine only.
	lastWarn time.Time
}

func (w *watermark) start(now time.Time) {
	w.at.Store(now.UnixNano())
	w.lastProbe.Store(now.UnixNano())
}

// observe takes in a probe sent at sentAt (Unix ns) that arrived now.
func (w *watermark) observe(sentAt int64, now time.Time) {
	for {
		cur := w.at.Load()
		if sentAt <= cur || w.at.CompareAndSwap(cur, sentAt) {
			break
		}
	}
	w.lastProbe.Store(now.UnixNano())
}

// probeSentAt returns the send time of a watermark probe span, or false for any
// other span.
func probeSentAt(span ptrace.Span) (int64, bool) {
	if span.Name() != watermarkprobe.SpanName {
		return 0, false
	}
	v, ok := span.Attributes().Get(watermarkprobe.AttrSentAt)
	if !ok || v.Type() != pcommon.ValueTypeInt {
		return 0, false
	}
	return v.Int(), true
}

// silenceClock is the instant a client's silence is measured at: the wall clock, or
// with the watermark on, the watermark (never later than the wall clock).
func (p *longspanProcessor) silenceClock(now time.Time) time.Time {
	if !p.cfg.Watermark.Enabled {
		return now
	}
	if w := time.Unix(0, p.watermark.at.Load()); w.Before(now) {
		return w
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
		zap.Duration("since_last_probe", quiet), zap.Time("watermark", time.Unix(0, p.watermark.at.Load())))
}
