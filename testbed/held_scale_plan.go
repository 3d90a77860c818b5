package testbed

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// hsPlan is the deterministic shape of the workload: children per trace, ids.
type hsPlan struct {
	prefix   uint32
	children []uint16 // per trace
	offset   []int64  // bitmap offset of trace t's root (its children follow)
	total    int64
	base     pcommon.Timestamp // roots start here
}

func newHSPlan(target int64, seed uint64) *hsPlan {
	rng := rand.New(rand.NewPCG(seed, 0x4e1d))
	p := &hsPlan{prefix: uint32(time.Now().UnixNano()) | 1, base: pcommon.NewTimestampFromTime(time.Now().Add(-10 * time.Minute))}
	for p.total < target {
		c := hsChildrenMin + rng.IntN(hsChildrenMax-hsChildrenMin+1)
		if rest := target - p.total - 1; int64(c) > rest {
			c = int(max(rest, 0))
		}
		p.offset = append(p.offset, p.total)
		p.children = append(p.children, uint16(c))
		p.total += int64(c) + 1
	}
	return p
}

func (p *hsPlan) traces() int { return len(p.children) }
func (p *hsPlan) clients() int {
	return (p.traces() + hsTracesPerClient - 1) / hsTracesPerClient
}

func (p *hsPlan) traceID(t int) [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint32(id[0:], p.prefix)
	h := fnv.New32a()
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(t))
	_, _ = h.Write(b[:])
	binary.BigEndian.PutUint32(id[4:], h.Sum32())
	binary.BigEndian.PutUint32(id[12:], uint32(t))
	return id
}

// spanID: 0x5a, trace (4 bytes), index in the trace (2 bytes, 0 = root), 0x01.
func (p *hsPlan) spanID(t, j int) [8]byte {
	var id [8]byte
	id[0] = 0x5a
	binary.BigEndian.PutUint32(id[1:], uint32(t))
	binary.BigEndian.PutUint16(id[5:], uint16(j))
	id[7] = 1
	return id
}

// bit is the bitmap index of a backend record, -1 if it is not one of ours.
func (p *hsPlan) bit(k SpanKey) int64 {
	if binary.BigEndian.Uint32(k[0:]) != p.prefix || k[16] != 0x5a {
		return -1
	}
	t := int(binary.BigEndian.Uint32(k[17:]))
	j := int(binary.BigEndian.Uint16(k[21:]))
	if t >= len(p.children) || j > int(p.children[t]) {
		return -1
	}
	return p.offset[t] + int64(j)
}

func hsClientIP(c int) string {
	return fmt.Sprintf("127.%d.%d.%d", 20+c/62500, (c/250)%250+1, c%250+1)
}

func hsSession(t int) string { return fmt.Sprintf("hs-%08x-session", t) }

var hsChildNames = []string{"documentFetch", "resourceFetch", "HTTP GET", "click", "HTTP POST", "xhr"}

const hsUserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// appendRoot appends trace t's page.session root: open (end 0) unless end is set.
func (p *hsPlan) appendRoot(spans ptrace.SpanSlice, t int, end pcommon.Timestamp, beat int) {
	sp := spans.AppendEmpty()
	sp.SetTraceID(p.traceID(t))
	sp.SetSpanID(p.spanID(t, 0))
	sp.SetName("page.session")
	sp.SetKind(ptrace.SpanKindInternal)
	sp.SetStartTimestamp(p.base + pcommon.Timestamp(t%1000)*1000)
	sp.SetEndTimestamp(end)
	a := sp.Attributes()
	a.EnsureCapacity(5)
	a.PutStr("session.id", hsSession(t))
	a.PutStr("page.url", "https://shop.example.com/catalog/item/"+strconv.Itoa(t)+"?ref=home&utm_source=newsletter")
	a.PutStr("user_agent.original", hsUserAgent)
	a.PutStr("page.visibility", "visible")
	a.PutInt("page.heartbeat", int64(beat))
}

// appendChild appends child j (1-based) of trace t: an ended fetch with two events.
func (p *hsPlan) appendChild(spans ptrace.SpanSlice, t, j int) {
	sp := spans.AppendEmpty()
	sp.SetTraceID(p.traceID(t))
	sp.SetSpanID(p.spanID(t, j))
	sp.SetParentSpanID(p.spanID(t, 0))
	sp.SetName(hsChildNames[j%len(hsChildNames)])
	sp.SetKind(ptrace.SpanKindClient)
	start := p.base + pcommon.Timestamp(t%1000)*1000 + pcommon.Timestamp(j)*1_000_000
	end := start + 35_000_000
	sp.SetStartTimestamp(start)
	sp.SetEndTimestamp(end)
	a := sp.Attributes()
	a.EnsureCapacity(7)
	a.PutStr("http.request.method", "GET")
	a.PutStr("url.full", "https://shop.example.com/api/v1/products/"+strconv.Itoa(j)+"?page=2&sort=price&currency=EUR&locale=de-DE")
	a.PutStr("server.address", "shop.example.com")
	a.PutInt("http.response.status_code", 200)
	a.PutInt("http.response_content_length", int64(1000+j*7))
	a.PutStr("component", "fetch")
	a.PutStr("session.id", hsSession(t))
	ev := sp.Events()
	ev.EnsureCapacity(2)
	e := ev.AppendEmpty()
	e.SetName("fetchStart")
	e.SetTimestamp(start + 1_000)
	e = ev.AppendEmpty()
	e.SetName("responseEnd")
	e.SetTimestamp(end - 1_000)
	e.Attributes().PutInt("http.response.body.size", int64(1000+j*7))
}

func (p *hsPlan) newResource(td ptrace.Traces, t int) ptrace.SpanSlice {
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.EnsureCapacity(4)
	ra.PutStr("service.name", "web-shop")
	ra.PutStr("telemetry.sdk.language", "webjs")
	ra.PutStr("telemetry.sdk.name", "opentelemetry")
	ra.PutStr("session.id", hsSession(t))
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("@opentelemetry/instrumentation-fetch")
	return ss.Spans()
}

// clientRequests builds the requests that hold client c's traces: each trace's open
// root goes first (in the trace's first request), its ended children after it.
func (p *hsPlan) clientRequests(c int, emit func(td ptrace.Traces, spans, roots int) bool) {
	lo, hi := c*hsTracesPerClient, min((c+1)*hsTracesPerClient, p.traces())
	td := ptrace.NewTraces()
	n, roots := 0, 0
	for t := lo; t < hi; t++ {
		j := 0
		for j <= int(p.children[t]) {
			spans := p.newResource(td, t)
			for ; j <= int(p.children[t]) && n < hsSpansPerRequest; j++ {
				if j == 0 {
					p.appendRoot(spans, t, 0, 0)
					roots++
				} else {
					p.appendChild(spans, t, j)
				}
				n++
			}
			if n >= hsSpansPerRequest {
				if !emit(td, n, roots) {
					return
				}
				td, n, roots = ptrace.NewTraces(), 0, 0
			}
		}
	}
	if n > 0 {
		emit(td, n, roots)
	}
}

// rootsRequest is one request with client c's roots: re-reported open (end 0, beat) or
// ended (end set).
func (p *hsPlan) rootsRequest(c int, end pcommon.Timestamp, beat int) (ptrace.Traces, int) {
	td := ptrace.NewTraces()
	lo, hi := c*hsTracesPerClient, min((c+1)*hsTracesPerClient, p.traces())
	for t := lo; t < hi; t++ {
		p.appendRoot(p.newResource(td, t), t, end, beat)
	}
	return td, hi - lo
}

// clientOfSpans is the first client whose traces reach `spans` spans.
func (p *hsPlan) clientOfSpans(spans int64) int {
	t := sort.Search(len(p.offset), func(i int) bool { return p.offset[i] >= spans })
	return min((t+hsTracesPerClient-1)/hsTracesPerClient, p.clients())
}
