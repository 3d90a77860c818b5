package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
)

// ConsumeLogs reads partial-span heartbeat records into the shared journal: a
// heartbeat is an open-span update, a stop/ended record the span's final version. It
// also reads session.end events, which end their session (sessionend.go). All
// records of a request share one journal update (one fsync). Heartbeat records are
// consumed unless pass_heartbeat_logs is set; other records, session.end events
// included, go on untouched.
func (p *longspanProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	now := p.clock.Now()
	var items []item
	var rerouted []heartbeat
	var logProbes []plog.LogRecord
	drops := map[string]int{}
	consumed := 0
	var ends []sessionEnd
	endsWithoutSession := 0
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		resource := ld.ResourceLogs().At(i).Resource()
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if isProbeRecord(lrs.At(k)) {
					// A watermark probe of the logs queue: it goes on with the rerouted
					// heartbeats, after them, and never down the logs pipeline.
					consumed++
					if p.cfg.RerouteHeartbeats {
						logProbes = append(logProbes, lrs.At(k))
					}
					continue
				}
				if end, ok := p.readSessionEnd(resource, lrs.At(k)); ok {
					// A session.end event: read, and passed on like any other record.
					if end.session == "" {
						endsWithoutSession++
					} else {
						ends = append(ends, end)
					}
					continue
				}
				hb, ok, reason, err := readHeartbeat(lrs.At(k))
				if !ok {
					continue
				}
				consumed++
				if err != nil {
					p.telemetry.LongspanLogRecordsDropped.Add(ctx, 1, withReason(reason))
					p.logger.Warn("Dropped a heartbeat log record", zap.String("reason", reason), zap.Error(err))
					continue
				}
				if p.cfg.RerouteHeartbeats {
					rerouted = append(rerouted, hb)
					continue
				}
				spanItems, spanDrops, _ := p.classify(hb.td, now)
				for reason, n := range spanDrops {
					drops[reason] += n
				}
				for _, it := range spanItems {
					it.source = sourceHeartbeatLog
					it.idleTimeout = p.heartbeatIdle(hb.frequency)
					items = append(items, it)
				}
			}
		}
	}
	if len(rerouted) > 0 || len(logProbes) > 0 {
		if err := p.rerouteHeartbeats(ctx, rerouted, logProbes); err != nil {
			return err
		}
	}
	if endsWithoutSession > 0 {
		p.telemetry.LongspanSessionEndEvents.Add(ctx, int64(endsWithoutSession), withReason(sessionEndNoSession))
	}
	if len(items) > 0 || len(ends) > 0 {
		out, err := p.apply(ctx, items, ends, now)
		if err != nil {
			return err
		}
		p.count(ctx, drops, out)
		if len(ends) > 0 {
			p.telemetry.LongspanSessionEndEvents.Add(ctx, int64(len(ends)), withReason(sessionEndEnded))
		}
	} else {
		p.count(ctx, drops, ruleResult{})
	}
	if consumed == 0 || p.cfg.PassHeartbeatLogs {
		return p.nextLogs.ConsumeLogs(ctx, ld)
	}
	if consumed == ld.LogRecordCount() {
		return nil
	}
	return p.nextLogs.ConsumeLogs(ctx, withoutHeartbeats(ld))
}

// withoutHeartbeats copies the records that are not partial-span heartbeats.
func withoutHeartbeats(ld plog.Logs) plog.Logs {
	out := plog.NewLogs()
	ld.CopyTo(out)
	out.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				_, ok, _, _ := readHeartbeat(lr)
				return ok || isProbeRecord(lr)
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
	return out
}
