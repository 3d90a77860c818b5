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
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
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

func (a quotaAdds) grow(it *engine.Item, add spanjournal.Usage) {
	keys := [3]quotaKey{{scope: scopeTrace, trace: it.TraceID}, {scope: scopeNoSession}}
	if it.Session != "" {
		keys[1] = quotaKey{scope: scopeSession, key: it.Session}
	}
	n := 2
	if it.Client != "" {
		keys[2], n = quotaKey{scope: scopeClient, key: it.Client}, 3
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
		if err := p.cfg.Quotas.exceeds(k, have, *add); err != nil {
			return err
		}
	}
	return nil
}

func (q *QuotasConfig) off() bool {
	return q.PerClient == Quota{} && q.PerSession == Quota{} && q.PerTrace == Quota{} && q.NoSession == Quota{}
}

// of is the quota of a scope.
func (q *QuotasConfig) of(scope string) Quota {
	switch scope {
	case scopeClient:
		return q.PerClient
	case scopeSession:
		return q.PerSession
	case scopeTrace:
		return q.PerTrace
	}
	return q.NoSession
}

// exceeds refuses what a request adds to k past k's quota, or is nil.
func (q *QuotasConfig) exceeds(k quotaKey, have, add spanjournal.Usage) error {
	quota := q.of(k.scope)
	refuse := func(what string, have, add, limit int64) error {
		return &errQuota{limit: "quota_" + k.scope + "_" + what, key: k.String(), retryAfter: q.RetryAfter,
			detail: fmt.Sprintf("holding %d %s, request adds %d, quota %d", have, what, add, limit)}
	}
	switch {
	case quota.MaxOpenSpans > 0 && add.Open > 0 && have.Open+add.Open > quota.MaxOpenSpans:
		return refuse("open", int64(have.Open), int64(add.Open), int64(quota.MaxOpenSpans))
	case quota.MaxHeldSpans > 0 && add.Held > 0 && have.Held+add.Held > quota.MaxHeldSpans:
		return refuse("held", int64(have.Held), int64(add.Held), int64(quota.MaxHeldSpans))
	case quota.MaxBytes > 0 && add.Bytes > 0 && have.Bytes+add.Bytes > quota.MaxBytes:
		return refuse("bytes", have.Bytes, add.Bytes, quota.MaxBytes)
	}
	return nil
}
