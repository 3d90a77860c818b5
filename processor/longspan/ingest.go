package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// item is one span of an incoming request and what the processor did with it.
type item struct {
	rs   ptrace.ResourceSpans
	ss   ptrace.ScopeSpans
	span ptrace.Span

	traceID pcommon.TraceID
	spanID  pcommon.SpanID
	open    bool
	session string
	// source is what longspan.source says of an open span: how the client reported it.
	source string
	// idleTimeout overrides idle_timeout for this span (heartbeat frequency × factor).
	idleTimeout time.Duration
	// interrupted is an ended span the client closed as interrupted (Embrace codes).
	interrupted bool
	// clock is the client's clock, by its resource's stamp.
	clock clientClock
	// rerouted is a heartbeat another shard's logs pipeline sent here as a span; its
	// marker attribute is removed from what is stored and passed on.
	rerouted bool

	// pass is set for a span the rules pass on (engine.Item.Pass); mark, when set, is
	// applied to its copy.
	pass bool
	mark func(ptrace.Span)

	// client is who sent the request (clientOf): the per_client quota's key and the
	// session rule's trust.
	client string

	// req and pos locate the span in its request's wire bytes, for its stored payload;
	// payload caches it once built.
	req     *requestPayloads
	pos     [3]int
	payload []byte
}

// storedPayload is the span as the journal stores it when no rule edits it.
func (it *item) storedPayload() ([]byte, error) {
	if it.payload != nil {
		return it.payload, nil
	}
	b, err := it.req.payload(it.pos[0], it.pos[1], it.pos[2])
	it.payload = b
	return b, err
}

// classify validates every span of a request without the journal lock. Invalid spans
// are dropped here, each alone, and counted by reason. Watermark probes are returned
// apart, never passed on: the caller takes them in once the rest of the request is
// journaled, so that no tick measures silence past reports of the same request.
func (p *longspanProcessor) classify(td ptrace.Traces, now time.Time) (items []item, drops map[string]int, probes []probe) {
	items = make([]item, 0, td.SpanCount())
	req := &requestPayloads{td: td}
	drop := func(reason string, it *item) {
		engine.Increment(&drops, reason)
		p.logger.Warn("Dropped a bad span; the rest of its request goes on", zap.String("reason", reason),
			zap.Stringer("trace_id", it.traceID), zap.Stringer("span_id", it.spanID), zap.String("name", it.span.Name()))
	}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		first := len(items)
		var clock clientClock
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			scopeReason := validateScope(rs, ss, p.cfg.Limits.MaxAttributeDepth)
			for k := 0; k < ss.Spans().Len(); k++ {
				span := ss.Spans().At(k)
				if pr, ok := probeOf(span); ok {
					probes = append(probes, pr)
					continue
				}
				it := item{rs: rs, ss: ss, span: span, traceID: span.TraceID(), spanID: span.SpanID(), open: span.EndTimestamp() == 0,
					req: req, pos: [3]int{i, j, k}}
				switch {
				case it.traceID.IsEmpty() || it.spanID.IsEmpty():
					drop(dropInvalidID, &it)
				case !it.open && span.EndTimestamp() < span.StartTimestamp():
					drop(dropEndBeforeStart, &it)
				case it.open && span.StartTimestamp() == 0:
					drop(dropNoStartTime, &it)
				case p.hostile(&it, scopeReason, drop):
				default:
					it.session = sessionIn(p.cfg.SessionAttributes, span.Attributes(), rs.Resource().Attributes())
					it.source = sourceOTLPOpenSpan
					if v, ok := span.Attributes().Get(attrReroutedHeartbeat); ok {
						// Already heartbeat_factor × frequency, bounded by max_duration
						// on the shard that read the record; bounded again here, since
						// any client can send the attribute.
						it.source, it.rerouted = sourceHeartbeatLog, true
						if ms := v.Int(); ms > 0 && ms <= int64(p.cfg.MaxDuration/time.Millisecond) {
							it.idleTimeout = time.Duration(ms) * time.Millisecond
						}
					}
					if p.cfg.EmbraceAppleSnapshots && isEmbraceAppleCopy(rs.Resource(), span) {
						takeEmbraceCopy(&it)
					}
					it.interrupted = !it.open && embraceInterrupted(span)
					clock.read(&it, now)
					items = append(items, it)
				}
			}
		}
		for k := first; k < len(items); k++ {
			items[k].clock = clock
		}
	}
	return items, drops, probes
}

// clientClock is a client's clock as a request tells it, against the receipt time:
// the first longspan.client.now_unix_nano of a resource's spans, or else the latest
// end of its Embrace Apple copies (their end is the export time: the client's clock
// when it sent them). The rules judge the resource's spans in it (the engine's
// clock.go).
type clientClock struct {
	offset  time.Duration
	stamped bool
	// byCopy: the offset is an Embrace copy's, which a stamp or a later copy replaces.
	byCopy bool
}

// read takes what the span of it, received at now, tells of its client's clock.
func (c *clientClock) read(it *item, now time.Time) {
	if c.stamped && !c.byCopy {
		return
	}
	if v, ok := it.span.Attributes().Get(attrClientNow); ok && v.Type() == pcommon.ValueTypeInt && v.Int() > 0 {
		c.offset, c.stamped, c.byCopy = time.Unix(0, v.Int()).Sub(now), true, false
		return
	}
	if it.open && it.source == sourceEmbrace {
		if o := it.span.EndTimestamp().AsTime().Sub(now); !c.stamped || o > c.offset {
			c.offset, c.stamped, c.byCopy = o, true, true
		}
	}
}

// request is one request's valid spans as the rules see them (rules[i] is items[i]),
// and the payloads of its spans as the journal stores them (engine.Request).
type request struct {
	items []item
	rules []engine.Item
}

func newRequest(items []item, client string) *request {
	r := &request{items: items, rules: make([]engine.Item, len(items))}
	service := ""
	for i := range items {
		it := &items[i]
		it.client = client
		if i == 0 || it.rs != items[i-1].rs {
			service = stringAttr(it.rs.Resource().Attributes(), attrServiceName)
		}
		r.rules[i] = it.ruleItem(service)
	}
	return r
}

// ruleItem is what the rules read of the span; service is its resource's.
func (it *item) ruleItem(service string) engine.Item {
	span := it.span
	r := engine.Item{
		TraceID: it.traceID, SpanID: it.spanID, ParentID: span.ParentSpanID(), Name: span.Name(), Service: service,
		Start: span.StartTimestamp().AsTime(), Open: it.open, Session: it.session, Client: it.client,
		Source: it.source, Heartbeat: it.source == sourceHeartbeatLog, IdleTimeout: it.idleTimeout,
		Interrupted: it.interrupted, Rerouted: it.rerouted, ClockOffset: it.clock.offset, Stamped: it.clock.stamped,
	}
	if !it.open {
		r.End = span.EndTimestamp().AsTime()
		// An ended span keeps no source, but one its client closed as interrupted.
		r.Source = ""
		if it.interrupted {
			r.Source = sourceEmbrace
		}
		return r
	}
	attrs := span.Attributes()
	r.Hint = stringAttr(attrs, attrClientHint)
	if v, ok := attrs.Get(attrClientLastSeen); ok && v.Type() == pcommon.ValueTypeInt && v.Int() > 0 {
		r.ClientLastSeen = time.Unix(0, v.Int())
	}
	return r
}

// Payload is span i as the journal stores it, changed by mark (engine.Request).
func (r *request) Payload(i int, mark engine.Mark) ([]byte, error) {
	it := &r.items[i]
	edit := markOf(&r.rules[i], mark)
	if it.rerouted {
		edit = withoutRerouteMark(edit)
	}
	if edit == nil {
		return it.storedPayload()
	}
	return encodePayload(it.rs, it.ss, it.span, edit)
}

// markPassed marks the spans the rules pass on, for passThrough.
func (r *request) markPassed() {
	for i := range r.rules {
		if rit := &r.rules[i]; rit.Pass {
			r.items[i].pass, r.items[i].mark = true, markOf(rit, rit.Mark)
		}
	}
}

// passThrough copies the spans marked pass into a new request, keeping their
// resource and scope.
func passThrough(items []item) ptrace.Traces {
	out := ptrace.NewTraces()
	var srcRS ptrace.ResourceSpans
	var srcSS ptrace.ScopeSpans
	var dstRS ptrace.ResourceSpans
	var dstSS ptrace.ScopeSpans
	inScope := false
	for i := range items {
		it := &items[i]
		if !it.pass {
			continue
		}
		if !inScope || it.rs != srcRS {
			dstRS = out.ResourceSpans().AppendEmpty()
			it.rs.Resource().CopyTo(dstRS.Resource())
			dstRS.SetSchemaUrl(it.rs.SchemaUrl())
			srcRS, inScope = it.rs, false
		}
		if !inScope || it.ss != srcSS {
			dstSS = dstRS.ScopeSpans().AppendEmpty()
			it.ss.Scope().CopyTo(dstSS.Scope())
			dstSS.SetSchemaUrl(it.ss.SchemaUrl())
			srcSS, inScope = it.ss, true
		}
		span := dstSS.Spans().AppendEmpty()
		it.span.CopyTo(span)
		if it.rerouted {
			span.Attributes().Remove(attrReroutedHeartbeat)
		}
		if it.mark != nil {
			it.mark(span)
		}
	}
	return out
}
