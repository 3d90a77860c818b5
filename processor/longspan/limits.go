package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// errLimit is the retryable refusal past a limit. It is deliberately not a permanent
// error: the OTLP receiver answers it with HTTP 503 / gRPC UNAVAILABLE, which every
// OTLP exporter and SDK retries with backoff.
type errLimit struct {
	// limit is the limit's name, the limit attribute of requests_refused.
	limit  string
	detail string
}

func (e *errLimit) Error() string {
	return fmt.Sprintf("longspan: %s reached (%s); retry later", e.limit, e.detail)
}

// checkLimits refuses the whole request, before anything changes, when holding what
// it brings would pass a limit (503 / UNAVAILABLE) or, that passed, a quota (429 /
// RESOURCE_EXHAUSTED, quotas.go). Refusing whole keeps the promise simple: nothing of
// a refused request was acknowledged, and the client's retry brings all of it again.
// Both measure the request the same way, with wouldAdd; payload bytes are measured
// only when quotas are on (the limits count spans).
func (p *longspanProcessor) checkLimits(tx *spanjournal.Tx, items []item, now time.Time) error {
	quotasOn := !p.cfg.Quotas.off()
	var total spanjournal.Usage
	adds := quotaAdds{}
	opening := map[pcommon.TraceID]bool{}
	for i := range items {
		it := &items[i]
		add, ok := p.wouldAdd(tx, it, now, opening, quotasOn)
		if !ok {
			continue
		}
		total.Open += add.Open
		total.Held += add.Held
		if quotasOn {
			adds.grow(it, add)
		}
	}
	if total.Open == 0 && total.Held == 0 {
		return nil
	}
	open, held := tx.Counts()
	switch {
	case total.Open > 0 && open+total.Open > p.cfg.Limits.MaxOpenSpans:
		return &errLimit{limit: limitMaxOpenSpans, detail: limitDetail(open, total.Open, p.cfg.Limits.MaxOpenSpans)}
	case total.Held > 0 && held+total.Held > p.cfg.Limits.MaxHeldSpans:
		return &errLimit{limit: limitMaxHeldSpans, detail: limitDetail(held, total.Held, p.cfg.Limits.MaxHeldSpans)}
	case tx.JournalFull():
		return &errLimit{limit: limitMaxJournalBytes, detail: "the span journal passed the extension's max_bytes"}
	}
	return p.checkQuotas(tx, adds)
}

// wouldAdd says what storing an incoming span would add to the usage of its trace,
// session and client, and whether it would be stored at all; withBytes measures the
// payload bytes too. It measures the rules' own decision (decide), with the traces
// earlier spans of the request open (opening) taken as held; a span the rules then
// drop as too large or unencodable may count against this request.
func (p *longspanProcessor) wouldAdd(tx *spanjournal.Tx, it *item, now time.Time, opening map[pcommon.TraceID]bool, withBytes bool) (spanjournal.Usage, bool) {
	var add spanjournal.Usage
	v, _, old, _ := p.decide(tx, it, now, opening[it.traceID])
	switch v {
	case keepOpen:
		opening[it.traceID] = true
		if old == nil {
			add.Open = 1
		}
	case keepEnded:
		// Ending a span it holds adds no span: had this counted as a new held span, a
		// trace at its held quota could never end. Held spans may pass their quota by
		// at most the open spans, which have theirs.
		if old == nil {
			add.Held = 1
		}
	case holdForParent:
		add.Held = 1
	default:
		// Dropped, or passed on (a logs-pipeline instance or journal_pass_through
		// stores it as a trace of its own, released within this request).
		return add, false
	}
	if !withBytes {
		return add, true
	}
	payload, err := it.storedPayload()
	if err != nil {
		return add, false // dropped as unencodable by the rules
	}
	add.Bytes = int64(len(payload))
	if old != nil {
		add.Bytes -= int64(old.PayloadSize())
	}
	return add, true
}

func limitDetail(have, want, limit int) string {
	return fmt.Sprintf("holding %d, request adds %d, limit %d", have, want, limit)
}

// reportRefusal counts and logs a request refused past a limit or a quota; other
// errors pass. A quota refusal is logged at most once per log_interval per client:
// one client past its quota is that client's problem, not the collector's.
func (p *longspanProcessor) reportRefusal(ctx context.Context, err error, client string, now time.Time) {
	var limit *errLimit
	var quota *errQuota
	switch {
	case errors.As(err, &limit):
		p.telemetry.LongspanRequestsRefused.Add(ctx, 1, metric.WithAttributes(attribute.String(metricAttrLimit, limit.limit)))
		p.logger.Warn("Refusing a request with a retryable error: a limit is reached", zap.String("limit", limit.limit), zap.String("detail", limit.detail))
	case errors.As(err, &quota):
		p.telemetry.LongspanRequestsRefused.Add(ctx, 1, metric.WithAttributes(attribute.String(metricAttrLimit, quota.limit)))
		if p.refusals.allow(client, now) {
			p.logger.Warn("Refusing a client's request with 429 / RESOURCE_EXHAUSTED: a quota is reached (logged once per quotas.log_interval per client)",
				zap.String("client", client), zap.String("limit", quota.limit), zap.String("who", quota.key), zap.String("detail", quota.detail),
				zap.Duration("log_interval", p.cfg.Quotas.LogInterval))
		}
	}
}
