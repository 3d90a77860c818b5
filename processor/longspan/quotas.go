package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
)

// A quota scope is who a quota bounds. The names are those of the config keys.
const (
	scopeClient    = "per_client"
	scopeSession   = "per_session"
	scopeTrace     = "per_trace"
	scopeNoSession = "no_session"
)

// errQuota refuses one request whose spans would pass a client's, session's or
// trace's quota. Unlike errLimit it carries its own gRPC status: RESOURCE_EXHAUSTED
// with a retry delay, which the OTLP receiver answers with gRPC RESOURCE_EXHAUSTED
// (RetryInfo) or HTTP 429 (Retry-After). Both are retryable for OTLP clients, and
// neither says the collector as a whole is unavailable.
type errQuota struct {
	// limit is quota_<scope>_<open|held|bytes>, the limit attribute of requests_refused.
	limit      string
	key        string
	detail     string
	retryAfter time.Duration
}

func (e *errQuota) Error() string {
	return fmt.Sprintf("longspan: quota %s reached for %s (%s); retry later", e.limit, e.key, e.detail)
}

// GRPCStatus is what status.FromError reads, in the receiver and in tests.
func (e *errQuota) GRPCStatus() *status.Status {
	st := status.New(codes.ResourceExhausted, e.Error())
	if withDelay, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.retryAfter)}); err == nil {
		return withDelay
	}
	return st
}

// quotaKey names one client, session or trace.
type quotaKey struct {
	scope string
	key   string
	trace pcommon.TraceID
}

func (k quotaKey) String() string {
	switch k.scope {
	case scopeTrace:
		return "trace " + k.trace.String()
	case scopeSession:
		return fmt.Sprintf("session %q", k.key)
	case scopeClient:
		return "client " + k.key
	}
	return "spans without a session"
}

// quotaAdds is what a request would add to each trace, session (or the pool of spans
// without one) and client it touches.
type quotaAdds map[quotaKey]*spanjournal.Usage

func (a quotaAdds) grow(it *item, add spanjournal.Usage) {
	keys := [3]quotaKey{{scope: scopeTrace, trace: it.traceID}, {scope: scopeNoSession}}
	if it.session != "" {
		keys[1] = quotaKey{scope: scopeSession, key: it.session}
	}
	n := 2
	if it.client != "" {
		keys[2], n = quotaKey{scope: scopeClient, key: it.client}, 3
	}
	for _, k := range keys[:n] {
		u := a[k]
		if u == nil {
			u = &spanjournal.Usage{}
			a[k] = u
		}
		u.Open += add.Open
		u.Held += add.Held
		u.Bytes += add.Bytes
	}
}

// checkQuotas refuses the whole request when what it would add to one trace, session
// or client (checkLimits measures it) passes that one's quota. Only growth counts: a
// request that adds nothing to a key passes even if the key is over its quota (it was
// lowered, or the usage came back from the journal).
func (p *longspanProcessor) checkQuotas(tx *spanjournal.Tx, adds quotaAdds) error {
	for k, add := range adds {
		var have spanjournal.Usage
		switch k.scope {
		case scopeTrace:
			if t := tx.Trace(k.trace); t != nil {
				have = t.Usage()
			}
		case scopeClient:
			have = tx.ClientUsage(k.key)
		default:
			have = tx.SessionUsage(k.key)
		}
		if err := p.exceeds(k, p.quotaOf(k.scope), have, *add); err != nil {
			return err
		}
	}
	return nil
}

func (q *QuotasConfig) off() bool {
	return q.PerClient == Quota{} && q.PerSession == Quota{} && q.PerTrace == Quota{} && q.NoSession == Quota{}
}

func (p *longspanProcessor) quotaOf(scope string) Quota {
	switch scope {
	case scopeClient:
		return p.cfg.Quotas.PerClient
	case scopeSession:
		return p.cfg.Quotas.PerSession
	case scopeTrace:
		return p.cfg.Quotas.PerTrace
	}
	return p.cfg.Quotas.NoSession
}

func (p *longspanProcessor) exceeds(k quotaKey, q Quota, have, add spanjournal.Usage) error {
	refuse := func(what string, have, add, limit int64) error {
		return &errQuota{limit: "quota_" + k.scope + "_" + what, key: k.String(), retryAfter: p.cfg.Quotas.RetryAfter,
			detail: fmt.Sprintf("holding %d %s, request adds %d, quota %d", have, what, add, limit)}
	}
	switch {
	case q.MaxOpenSpans > 0 && add.Open > 0 && have.Open+add.Open > q.MaxOpenSpans:
		return refuse("open", int64(have.Open), int64(add.Open), int64(q.MaxOpenSpans))
	case q.MaxHeldSpans > 0 && add.Held > 0 && have.Held+add.Held > q.MaxHeldSpans:
		return refuse("held", int64(have.Held), int64(add.Held), int64(q.MaxHeldSpans))
	case q.MaxBytes > 0 && add.Bytes > 0 && have.Bytes+add.Bytes > q.MaxBytes:
		return refuse("bytes", have.Bytes, add.Bytes, q.MaxBytes)
	}
	return nil
}
