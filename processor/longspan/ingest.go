package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
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
	// rerouted is a heartbeat another shard's logs pipeline sent here as a span; its
	// marker attribute is removed from what is stored and passed on.
	rerouted bool

	pass bool
	// mark, when set, is applied to the copy of a passed-through span.
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
		increment(&drops, reason)
		p.logger.Warn("Dropped a bad span; the rest of its request goes on", zap.String("reason", reason),
			zap.Stringer("trace_id", it.traceID), zap.Stringer("span_id", it.spanID), zap.String("name", it.span.Name()))
	}
	maxStart := now.Add(p.cfg.MaxFutureSkew)
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
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
				case span.StartTimestamp().AsTime().After(maxStart):
					drop(dropStartInFuture, &it)
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
					it.interrupted = !it.open && embraceInterrupted(span)
					items = append(items, it)
				}
			}
		}
	}
	return items, drops, probes
}

// ingest applies the rules to every valid span of a request, under the journal lock.
func (p *longspanProcessor) ingest(tx *spanjournal.Tx, items []item, now time.Time) ruleResult {
	var res ruleResult
	for i := range items {
		it := &items[i]
		if it.open {
			p.ingestOpen(tx, it, now, &res)
			continue
		}
		p.ingestEnded(tx, it, now, &res)
	}
	p.gateArrivals(tx, &res, now)
	p.releaseComplete(tx, &res, now)
	return res
}

// verdict is what the rules do with one incoming span, decided before anything
// changes (decide): ingest acts on it, and checkLimits measures the request by it
// (wouldAdd), so the limits and quotas count what the rules will store.
type verdict uint8

const (
	// keepOpen stores an open span: a new one, or an update of one held.
	keepOpen verdict = iota
	// keepEnded stores an ended span in its held trace: a new one, or the end of one
	// held.
	keepEnded
	// holdForParent stores an ended span of a trace with nothing held, for
	// parent_grace (waitsForParent).
	holdForParent
	// passEnded passes an ended span of a trace with nothing held on.
	passEnded
	// passInterrupted passes on an ended span of a trace with nothing held that its
	// client closed as interrupted, marked.
	passInterrupted
	// supersedeEnd passes on the real end of a span reconciled here, marked.
	supersedeEnd
	// staleSnapshot drops a snapshot of a span that ended, was reconciled or released.
	staleSnapshot
	// repeatEnd drops a repeat of an end taken in and released already.
	repeatEnd
)

// decide is the ingest decision for one incoming span: the verdict, the span's trace
// and earlier copy (nil when not held) and, for supersedeEnd, when the span was closed.
// assumeHeld makes an ended span of a trace with nothing held decide as if its trace
// were held: checkLimits passes it for traces an earlier span of the same request
// opens.
func (p *longspanProcessor) decide(tx *spanjournal.Tx, it *item, now time.Time, assumeHeld bool) (v verdict, t *spanjournal.Trace, old *spanjournal.Span, closed spanjournal.Closed) {
	t = tx.Trace(it.traceID)
	if t != nil {
		old = t.Spans[it.spanID]
	}
	if it.open {
		switch {
		case old != nil && old.State != spanjournal.SpanOpen:
			// The span already ended (or was reconciled): this snapshot is older news.
			return staleSnapshot, t, old, closed
		case old == nil:
			if _, ok := p.closedRecently(tx, it, now); ok || wasReleased(tx, it) {
				// Closed or released already: reopening it would reconcile it again.
				return staleSnapshot, t, old, closed
			}
		}
		return keepOpen, t, old, closed
	}
	if old == nil {
		if c, ok := p.closedRecently(tx, it, now); ok {
			if c.Ended {
				// The client's end of this span was taken in and released already: a
				// repeat delivery (the front tier re-sends what it was sending when it
				// restarted).
				return repeatEnd, t, old, c
			}
			// The real end of a span already reconciled and released: it goes on as
			// the authoritative version, after the trace's earlier release.
			return supersedeEnd, t, old, c
		}
	}
	switch {
	case t != nil || assumeHeld:
		return keepEnded, t, old, closed
	case wasReleased(tx, it):
		// A repeat of a span whose released batch is still journaled (until
		// longspan_ack or release_retention forgets it): the batch may still sit in
		// tail_sampling, where a second copy would join it in one export.
		return repeatEnd, t, old, closed
	case it.interrupted:
		return passInterrupted, t, old, closed
	case p.waitsForParent(it):
		return holdForParent, t, old, closed
	}
	return passEnded, t, old, closed
}

func (p *longspanProcessor) ingestEnded(tx *spanjournal.Tx, it *item, now time.Time, res *ruleResult) {
	v, t, old, c := p.decide(tx, it, now, false)
	switch v {
	case repeatEnd:
		p.dropRepeat(it, res)
		return
	case supersedeEnd:
		p.passOn(tx, it, markSuperseding(c.At), now, res)
		res.receive(outcomeSuperseding)
		// Remembered as ended by its client: a repeat of this end (a mobile SDK's
		// disk buffer sends a file again when its acknowledgement was lost) is
		// dropped as a repeat, not superseding a second time.
		tx.RememberClosed(spanjournal.SpanKey{Trace: it.traceID, Span: it.spanID}, spanjournal.Closed{At: now, Ended: true})
		return
	case passInterrupted:
		p.passOn(tx, it, markInterrupted, now, res)
		res.receive(outcomePassed)
		p.endSession(tx, it, now, res)
		return
	case holdForParent:
		if s, ok := p.newSpan(it, now, spanjournal.SpanEnded, nil, res); ok {
			tx.Put(s, now)
			tx.SetGrace(tx.Trace(it.traceID), now.Add(p.cfg.ParentGrace))
			res.receive(outcomeGraceHeld)
		}
		return
	case passEnded:
		p.passOn(tx, it, nil, now, res)
		res.receive(outcomePassed)
		p.endSession(tx, it, now, res)
		return
	}
	var edit func(ptrace.Span)
	if it.interrupted {
		edit = markInterrupted
	}
	s, ok := p.newSpan(it, now, spanjournal.SpanEnded, edit, res)
	if !ok {
		return
	}
	if old != nil {
		s.SetFirstSeen(old.FirstSeen())
		s.SnapshotSeq = old.SnapshotSeq
		if old.State == spanjournal.SpanOpen {
			// Remembered past its release: a snapshot of it delivered late is older
			// news, not a span to open again.
			tx.RememberClosed(spanjournal.SpanKey{Trace: it.traceID, Span: it.spanID}, spanjournal.Closed{At: now, Ended: true})
		}
		res.receive(outcomeEnded)
	} else {
		res.receive(outcomeHeld)
	}
	if it.interrupted {
		s.SetSource(sourceEmbrace)
	}
	tx.Put(s, now)
	if it.span.ParentSpanID().IsEmpty() {
		tx.SetGrace(t, time.Time{}) // the root ended: no parent left to wait for
	}
	if it.interrupted {
		// The client gave up on this span: its open descendants will never end.
		p.closeDescendants(tx, t, it.spanID, now, res)
	}
	res.touch(it.traceID)
	p.endSession(tx, it, now, res)
}

// closedRecently says whether the span was open here and was closed (reconciled, or
// ended by its client) within supersede_window.
func (p *longspanProcessor) closedRecently(tx *spanjournal.Tx, it *item, now time.Time) (spanjournal.Closed, bool) {
	c, ok := tx.ClosedAt(spanjournal.SpanKey{Trace: it.traceID, Span: it.spanID})
	return c, ok && now.Sub(c.At) < p.cfg.SupersedeWindow
}

func (p *longspanProcessor) ingestOpen(tx *spanjournal.Tx, it *item, now time.Time, res *ruleResult) {
	v, _, old, _ := p.decide(tx, it, now, false)
	if v == staleSnapshot {
		p.dropStale(it, res)
		return
	}
	s, ok := p.newSpan(it, now, spanjournal.SpanOpen, nil, res)
	if !ok {
		return
	}
	s.SetSource(it.source)
	s.IdleTimeout = it.idleTimeout
	hint := clientHint(it.span)
	if hint == hintAppBackground {
		// The app went to the background: silent for up to background_timeout. Any
		// later report without the hint restores idle_timeout.
		s.IdleTimeout = p.cfg.backgroundTimeout()
	}
	if old != nil {
		s.SetFirstSeen(old.FirstSeen())
		s.SnapshotSeq = old.SnapshotSeq
		if s.IdleTimeout == 0 && it.source == sourceHeartbeatLog {
			// A heartbeat without a frequency keeps the limit it had.
			s.IdleTimeout = old.IdleTimeout
		}
		res.receive(outcomeUpdated)
	} else {
		res.receive(outcomeOpened)
	}
	if hint == hintAppTerminated {
		// The run that had this span open was killed or crashed; the next launch
		// reports the last time it knew it open, in the client's clock, as the span's
		// own times are: that is when it was last seen.
		s.SetTimes(s.Start(), s.FirstSeen(), clientLastSeen(it.span, s.Start(), now))
	}
	tx.Put(s, now)
	if old == nil && p.isSessionSpan(it) {
		// A new session span: the session's earlier page or app session is over.
		p.reconcileSession(tx, it, now, res)
	}
	if hint == hintPageUnload || hint == hintAppTerminated {
		// The page is gone (pagehide, not kept in the back/forward cache), or the app
		// run is: the span will never end. Close it now, at its last report.
		p.reconcile(tx, tx.Trace(it.traceID), s, reasonClientInterrupted, now, res)
	}
}

// clientHint is the span's longspan.client.hint, or "".
func clientHint(span ptrace.Span) string {
	if v, ok := span.Attributes().Get(attrClientHint); ok {
		return v.AsString()
	}
	return ""
}

// clientLastSeen is an app_terminated span's longspan.client.last_seen_unix_nano, not
// before its start; without a usable value, the receipt time now.
func clientLastSeen(span ptrace.Span, start, now time.Time) time.Time {
	v, ok := span.Attributes().Get(attrClientLastSeen)
	if !ok || v.Type() != pcommon.ValueTypeInt || v.Int() <= 0 {
		return now
	}
	if last := time.Unix(0, v.Int()); last.After(start) {
		return last
	}
	return start
}

func (p *longspanProcessor) dropStale(it *item, res *ruleResult) {
	res.drop(dropStaleSnapshot)
	p.logger.Debug("Dropped an open-span snapshot of a span that already ended, was reconciled or released",
		zap.Stringer("trace_id", it.traceID), zap.Stringer("span_id", it.spanID), zap.String("name", it.span.Name()))
}

func (p *longspanProcessor) dropRepeat(it *item, res *ruleResult) {
	res.receive(outcomeRepeat)
	p.logger.Debug("Dropped a repeat delivery of an ended span already released",
		zap.Stringer("trace_id", it.traceID), zap.Stringer("span_id", it.spanID), zap.String("name", it.span.Name()))
}

// wasReleased says whether the span of it was released and is still journaled.
func wasReleased(tx *spanjournal.Tx, it *item) bool {
	for _, r := range tx.Released(it.traceID) {
		for _, s := range r.Spans {
			if s.SpanID == it.spanID {
				return true
			}
		}
	}
	return false
}

// passOn sends an ended span on, unchanged or marked. An instance in a logs pipeline
// has no traces consumer, and journal_pass_through wants every acknowledged span on
// disk: then it journals the span as a complete trace of its own, which the
// journal's emitter delivers and keeps for release_retention.
func (p *longspanProcessor) passOn(tx *spanjournal.Tx, it *item, mark func(ptrace.Span), now time.Time, res *ruleResult) {
	if p.next != nil && !p.cfg.JournalPassThrough {
		res.pass(it, mark)
		return
	}
	if s, ok := p.newSpan(it, now, spanjournal.SpanEnded, mark, res); ok {
		tx.Put(s, now)
		res.touch(it.traceID)
	}
}

// newSpan builds the journal entry of an incoming span; edit, when set, changes the
// stored copy.
func (p *longspanProcessor) newSpan(it *item, now time.Time, st spanjournal.SpanState, edit func(ptrace.Span), res *ruleResult) (*spanjournal.Span, bool) {
	var payload []byte
	var err error
	if it.rerouted {
		edit = withoutRerouteMark(edit)
	}
	if edit == nil {
		payload, err = it.storedPayload()
	} else {
		payload, err = encodePayload(it.rs, it.ss, it.span, edit)
	}
	if err != nil {
		res.drop(dropUnencodable)
		p.logger.Warn("Dropped a span that could not be encoded", zap.Stringer("trace_id", it.traceID), zap.Stringer("span_id", it.spanID), zap.Error(err))
		return nil, false
	}
	if len(payload) > p.cfg.Limits.MaxSpanBytes {
		res.drop(dropTooLarge)
		p.logger.Warn("Dropped a span larger than limits.max_span_bytes",
			zap.Stringer("trace_id", it.traceID), zap.Stringer("span_id", it.spanID),
			zap.String("name", it.span.Name()), zap.Int("bytes", len(payload)), zap.Int("max_span_bytes", p.cfg.Limits.MaxSpanBytes))
		return nil, false
	}
	service := ""
	if v, ok := it.rs.Resource().Attributes().Get(attrServiceName); ok {
		service = v.AsString()
	}
	s := &spanjournal.Span{
		TraceID: it.traceID, SpanID: it.spanID, ParentID: it.span.ParentSpanID(), State: st,
		Name: it.span.Name(),
	}
	s.SetOrigin(spanjournal.Origin{Service: service, SessionID: it.session, Client: it.client})
	s.SetTimes(it.span.StartTimestamp().AsTime(), now, now)
	s.SetPayload(payload)
	return s, true
}

func (p *longspanProcessor) isSessionSpan(it *item) bool {
	if it.session == "" || !it.span.ParentSpanID().IsEmpty() {
		return false
	}
	return len(p.cfg.SessionSpanNames) == 0 || slices.Contains(p.cfg.SessionSpanNames, it.span.Name())
}

// endSession applies the session_ended rule for an ended session span: every other
// open span of that session, in other traces, will never end.
func (p *longspanProcessor) endSession(tx *spanjournal.Tx, it *item, now time.Time, res *ruleResult) {
	if p.isSessionSpan(it) {
		p.reconcileSession(tx, it, now, res)
	}
}

// waitsForParent says whether an ended span of a trace with nothing held waits
// parent_grace for its parent, which may be an open span the client has not reported
// yet (a browser exports ended children before the first snapshot of their page).
//
// With heartbeats rerouted, every such span waits at least until the logs queue's
// watermark passes its arrival (graceClock): its parent may be a heartbeat span whose
// report, accepted by the front tier before this span, takes the longer way.
func (p *longspanProcessor) waitsForParent(it *item) bool {
	return (p.cfg.ParentGrace > 0 || p.cfg.RerouteHeartbeats) && !it.span.ParentSpanID().IsEmpty()
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
