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

// checkQuotas refuses the whole request, before anything changes, when what it would
// add to a trace, a session (or the pool of spans without one) or a client passes that
// one's quota. Only growth counts: a request that adds nothing to a key passes even if
// the key is over its quota (it was lowered, or the usage came back from the journal).
func (p *longspanProcessor) checkQuotas(tx *spanjournal.Tx, items []item) error {
	if p.cfg.Quotas.off() {
		return nil
	}
	adds := map[quotaKey]*spanjournal.Usage{}
	opening := map[pcommon.TraceID]bool{}
	for i := range items {
		it := &items[i]
		add, ok := p.wouldAdd(tx, it, opening)
		if !ok {
			continue
		}
		grow := func(k quotaKey) {
			u := adds[k]
			if u == nil {
				u = &spanjournal.Usage{}
				adds[k] = u
			}
			u.Open += add.Open
			u.Held += add.Held
			u.Bytes += add.Bytes
		}
		grow(quotaKey{scope: scopeTrace, trace: it.traceID})
		if it.session == "" {
			grow(quotaKey{scope: scopeNoSession})
		} else {
			grow(quotaKey{scope: scopeSession, key: it.session})
		}
		if it.client != "" {
			grow(quotaKey{scope: scopeClient, key: it.client})
		}
	}
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

// wouldAdd says what storing an incoming span would add to the usage of its trace,
// session and client, and whether it would be stored at all. It mirrors the rules'
// decisions closely enough to bound what a client can pin: a span the rules then drop
// (a stale snapshot) may count against this request, never the other way round.
func (p *longspanProcessor) wouldAdd(tx *spanjournal.Tx, it *item, opening map[pcommon.TraceID]bool) (spanjournal.Usage, bool) {
	var add spanjournal.Usage
	t := tx.Trace(it.traceID)
	var old *spanjournal.Span
	if t != nil {
		old = t.Spans[it.spanID]
	}
	switch {
	case it.open && old != nil && old.State != spanjournal.SpanOpen:
		return add, false // a stale snapshot: dropped
	case it.open:
		opening[it.traceID] = true
		if old == nil {
			add.Open = 1
		}
	case old != nil:
		// Ending a span it holds adds no span to a client: had this counted as a new
		// held span, a trace at its held quota could never end. Held spans may pass
		// their quota by at most the open spans, which have theirs.
	case t != nil || opening[it.traceID] || (p.waitsForParent(it) && !it.interrupted):
		add.Held = 1
	default:
		return add, false // passed on (or released within this request)
	}
	payload, err := it.storedPayload()
	if err != nil {
		return add, false // dropped as unencodable by the rules
	}
	add.Bytes = int64(len(payload))
	if old != nil {
		add.Bytes -= int64(len(old.Payload))
	}
	return add, true
}
