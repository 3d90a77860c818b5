package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
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
// Both measure the request by the rules' own decision (engine.Engine.Adds); payload
// bytes are measured only when quotas are on (the limits count spans).
func (p *longspanProcessor) checkLimits(jtx *spanjournal.Tx, tx engine.Tx, req *request, now time.Time) error {
	quotasOn := !p.cfg.Quotas.off()
	var total spanjournal.Usage
	adds := quotaAdds{}
	p.rules.Adds(tx, req.rules, req, now, quotasOn, func(it *engine.Item, add spanjournal.Usage) {
		total.Open += add.Open
		total.Held += add.Held
		if quotasOn {
			adds.grow(it, add)
		}
	})
	if total.Open == 0 && total.Held == 0 {
		return nil
	}
	open, held := jtx.Counts()
	switch {
	case total.Open > 0 && open+total.Open > p.cfg.Limits.MaxOpenSpans:
		return &errLimit{limit: limitMaxOpenSpans, detail: limitDetail(open, total.Open, p.cfg.Limits.MaxOpenSpans)}
	case total.Held > 0 && held+total.Held > p.cfg.Limits.MaxHeldSpans:
		return &errLimit{limit: limitMaxHeldSpans, detail: limitDetail(held, total.Held, p.cfg.Limits.MaxHeldSpans)}
	case jtx.JournalFull():
		return &errLimit{limit: limitMaxJournalBytes, detail: "the span journal passed the extension's max_bytes"}
	}
	return p.checkQuotas(jtx, adds)
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
