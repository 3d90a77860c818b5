package longspan

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadatatest"
)

// from returns a context carrying what the OTLP receiver records of a client: its
// peer address and, with include_metadata, its headers.
func from(addr string, headers map[string][]string) context.Context {
	info := client.Info{Addr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))}
	if headers != nil {
		info.Metadata = client.NewMetadata(headers)
	}
	return client.NewContext(context.Background(), info)
}

// openSpans builds n open spans, each in a trace of its own, starting at id.
func openSpans(first byte, n int, session string, start time.Time) ptrace.Traces {
	specs := make([]spanSpec, n)
	for i := range specs {
		specs[i] = spanSpec{trace: pcommon.TraceID{first + byte(i), 0xee}, id: pcommon.SpanID{first + byte(i), 1}, name: "work", start: start, session: session}
	}
	return traces(specs...)
}

// requireQuotaRefusal checks the error a quota refusal must be: retryable, RESOURCE_EXHAUSTED
// (HTTP 429 at the receiver) with a retry delay, naming the quota.
func requireQuotaRefusal(t *testing.T, err error, limit string, retryAfter time.Duration) {
	t.Helper()
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "the client must retry")
	st, ok := status.FromError(err)
	require.True(t, ok, "the receiver maps the error through its gRPC status")
	assert.Equal(t, codes.ResourceExhausted, st.Code())
	assert.Contains(t, st.Message(), limit)
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	assert.Equal(t, retryAfter, delay, "RetryInfo carries quotas.retry_after")
}

func TestQuotaPerClientRefusesOnlyThatClient(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.Quotas.PerClient = Quota{MaxOpenSpans: 3} })
	attacker, other := from("127.0.9.9:5000", nil), from("127.0.1.1:6000", nil)

	require.NoError(t, h.proc.ConsumeTraces(attacker, openSpans(10, 3, "", t0)))
	err := h.proc.ConsumeTraces(attacker, openSpans(20, 1, "", t0))
	requireQuotaRefusal(t, err, "quota_per_client_open", 10*time.Second)
	// Another port of the same address is the same client.
	require.Error(t, h.proc.ConsumeTraces(from("127.0.9.9:5001", nil), openSpans(30, 1, "", t0)))
	require.NoError(t, h.proc.ConsumeTraces(other, openSpans(40, 3, "", t0)), "everyone else goes on")
	// An update of a span the client already holds adds nothing and passes.
	require.NoError(t, h.proc.ConsumeTraces(attacker, openSpans(10, 1, "", t0)))
	assert.Equal(t, 6, h.openCount(), "nothing of a refused request was kept")

	metadatatest.AssertEqualLongspanRequestsRefused(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("limit", "quota_per_client_open"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestQuotaClientAddressHeaderTakesTheRightMostEntry(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, func(c *Config) {
		c.Quotas.PerClient = Quota{MaxOpenSpans: 2}
		c.Quotas.ClientAddressHeader = "X-Forwarded-For"
	})
	proxy := "127.0.0.2:4000"
	// The attacker writes any address it likes into the header; the proxy appends the
	// one it saw, and only that one counts.
	spoofed := func(fake string) context.Context {
		return from(proxy, map[string][]string{"x-forwarded-for": {fake + ", 127.0.9.9"}})
	}
	require.NoError(t, h.proc.ConsumeTraces(spoofed("10.0.0.1"), openSpans(10, 2, "", t0)))
	err := h.proc.ConsumeTraces(spoofed("10.0.0.2"), openSpans(20, 1, "", t0))
	requireQuotaRefusal(t, err, "quota_per_client_open", 10*time.Second)
	legit := from(proxy, map[string][]string{"x-forwarded-for": {"127.0.1.7"}})
	require.NoError(t, h.proc.ConsumeTraces(legit, openSpans(30, 2, "", t0)), "the proxy's other clients go on")
	// Without the header the peer (the proxy) is the client.
	require.NoError(t, h.proc.ConsumeTraces(from(proxy, nil), openSpans(40, 2, "", t0)))
}

func TestQuotaPerSessionAndTheNoSessionPool(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) {
		c.Quotas.PerSession = Quota{MaxOpenSpans: 2}
		c.Quotas.NoSession = Quota{MaxOpenSpans: 3}
	})
	ctx := from("127.0.1.1:1", nil)
	require.NoError(t, h.proc.ConsumeTraces(ctx, openSpans(10, 2, "s-1", t0)))
	requireQuotaRefusal(t, h.proc.ConsumeTraces(ctx, openSpans(20, 1, "s-1", t0)), "quota_per_session_open", 10*time.Second)
	require.NoError(t, h.proc.ConsumeTraces(ctx, openSpans(30, 2, "s-2", t0)), "another session has its own share")

	require.NoError(t, h.proc.ConsumeTraces(ctx, openSpans(40, 3, "", t0)))
	requireQuotaRefusal(t, h.proc.ConsumeTraces(from("127.0.1.2:1", nil), openSpans(50, 1, "", t0)),
		"quota_no_session_open", 10*time.Second)
}

func TestQuotaPerTraceHeldAndBytes(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.Quotas.PerTrace = Quota{MaxHeldSpans: 2} })
	h.mustConsume(traces(openRoot(t0)))
	kid := func(id byte) spanSpec {
		return spanSpec{trace: traceA, id: pcommon.SpanID{id}, parent: rootID, name: "fetch", start: t0, end: t0.Add(time.Millisecond)}
	}
	h.mustConsume(traces(kid(1), kid(2)))
	requireQuotaRefusal(t, h.consume(traces(kid(3))), "quota_per_trace_held", 10*time.Second)
	// The root's end is not refused: the span was held already (open), and only its
	// end lets the trace leave.
	root := openRoot(t0)
	root.end = t0.Add(time.Second)
	h.mustConsume(traces(root))
	require.Len(t, h.sink.AllTraces(), 1, "released whole")

	// Bytes: a second harness with a byte quota only.
	h2 := newHarness(t, t.TempDir(), clk, func(c *Config) { c.Quotas.PerTrace = Quota{MaxBytes: 600} })
	big := openRoot(t0)
	big.attrs = map[string]string{"payload": string(make([]byte, 300))}
	h2.mustConsume(traces(big))
	small := endedKid(t0)
	h2.mustConsume(traces(small))
	another := endedKid(t0)
	another.id = kid2ID
	another.attrs = map[string]string{"payload": string(make([]byte, 200))}
	requireQuotaRefusal(t, h2.consume(traces(another)), "quota_per_trace_bytes", 10*time.Second)
}

func TestQuotasOffWhenZero(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, func(c *Config) {
		c.Quotas.PerClient, c.Quotas.PerSession, c.Quotas.PerTrace, c.Quotas.NoSession = Quota{}, Quota{}, Quota{}, Quota{}
	})
	require.NoError(t, h.proc.ConsumeTraces(from("127.0.9.9:1", nil), openSpans(1, 200, "", t0)))
	assert.Equal(t, 200, h.openCount())
}

func TestQuotaUsageComesBackFromTheJournal(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	quota := func(c *Config) { c.Quotas.PerClient = Quota{MaxOpenSpans: 2} }
	h := newHarness(t, dir, clk, quota)
	require.NoError(t, h.proc.ConsumeTraces(from("127.0.9.9:1", nil), openSpans(10, 2, "", t0)))
	h.stop()

	h = newHarness(t, dir, clk, quota)
	requireQuotaRefusal(t, h.proc.ConsumeTraces(from("127.0.9.9:2", nil), openSpans(20, 1, "", t0)),
		"quota_per_client_open", 10*time.Second)
}

func TestQuotaRefusalsAreLoggedOncePerIntervalPerClient(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.Quotas.PerClient = Quota{MaxOpenSpans: 1} })
	core, logs := observer.New(zapcore.WarnLevel)
	h.proc.logger = zap.New(core)
	attacker := from("127.0.9.9:1", nil)
	require.NoError(t, h.proc.ConsumeTraces(attacker, openSpans(1, 1, "", t0)))
	for i := 0; i < 5; i++ {
		require.Error(t, h.proc.ConsumeTraces(attacker, openSpans(byte(10+i), 1, "", t0)))
	}
	require.NoError(t, h.proc.ConsumeTraces(from("127.0.1.1:1", nil), openSpans(20, 1, "", t0)))
	require.Error(t, h.proc.ConsumeTraces(from("127.0.1.1:1", nil), openSpans(21, 1, "", t0)))
	assert.Equal(t, 2, logs.FilterMessageSnippet("quota is reached").Len(), "one line per client")

	clk.Advance(time.Minute)
	require.Error(t, h.proc.ConsumeTraces(attacker, openSpans(30, 1, "", t0)))
	assert.Equal(t, 3, logs.FilterMessageSnippet("quota is reached").Len(), "again after log_interval")
	entry := logs.FilterMessageSnippet("quota is reached").All()[0]
	assert.Equal(t, "127.0.9.9", entry.ContextMap()["client"])
}

func TestSessionRuleTrustsOnlyTheSpansOwnClient(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{now: t0}
	h := newHarness(t, dir, clk, nil)
	real, spoofer := from("127.0.1.1:1", nil), from("127.0.9.9:1", nil)
	page := spanSpec{trace: traceA, id: rootID, name: "page.session", start: t0, session: "s-1"}
	require.NoError(t, h.proc.ConsumeTraces(real, traces(page)))
	clk.Advance(time.Second)

	// Someone who knows only the session id opens and ends session spans of it.
	fake := spanSpec{trace: traceB, id: kidID, name: "page.session", start: clk.Now(), session: "s-1"}
	require.NoError(t, h.proc.ConsumeTraces(spoofer, traces(fake)))
	fake.end = clk.Now()
	require.NoError(t, h.proc.ConsumeTraces(spoofer, traces(fake)))
	for _, b := range allSpans(h.sink) {
		for _, s := range b {
			assert.NotEqual(t, rootID, s.SpanID(), "the real page session must stay open")
		}
	}
	metadatatest.AssertEqualLongspanSessionRuleUntrusted(t, h.tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())

	// After a restart the client of every span is back from the journal.
	h.stop()
	h = newHarness(t, dir, clk, nil)
	another := spanSpec{trace: traceB, id: kid2ID, name: "page.session", start: clk.Now(), session: "s-1"}
	require.NoError(t, h.proc.ConsumeTraces(spoofer, traces(another)))
	assert.Equal(t, 2, h.openCount(), "still open after a restart")

	// The real client's next page load does end it.
	next := spanSpec{trace: pcommon.TraceID{0xc}, id: kidID, name: "page.session", start: clk.Now(), session: "s-1"}
	require.NoError(t, h.proc.ConsumeTraces(real, traces(next)))
	var closed []string
	for _, b := range allSpans(h.sink) {
		for _, s := range b {
			closed = append(closed, s.SpanID().String()+"="+attr(s, attrCloseReason))
		}
	}
	assert.Contains(t, closed, rootID.String()+"="+engine.ReasonSessionEnded)
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.9.9:5000":              "127.0.9.9",
		"127.0.9.9":                   "127.0.9.9",
		"[::ffff:10.1.2.3]:80":        "10.1.2.3",
		"[2001:db8:1:2:3:4:5:6]:443":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":        "2001:db8:1:2::/64",
		"[fe80::1%eth0]:1":            "fe80::/64",
		"not-an-address":              "not-an-address",
		string(make([]byte, 200)):     string(make([]byte, maxClientKeyLen)),
		"unknown, but not an address": "unknown, but not an address",
	} {
		assert.Equal(t, want, clientKey(in), "clientKey(%q)", in)
	}
}

func TestRefusalLogForgetsExpiredClientsWhenFull(t *testing.T) {
	l := newRefusalLog(time.Minute, 2)
	assert.True(t, l.allow("a", t0))
	assert.False(t, l.allow("a", t0.Add(time.Second)))
	assert.True(t, l.allow("b", t0.Add(time.Second)))
	assert.False(t, l.allow("c", t0.Add(2*time.Second)), "full: a new client is only counted")
	assert.True(t, l.allow("c", t0.Add(time.Minute)), "a expired and made room")
	assert.True(t, l.allow("a", t0.Add(2*time.Minute)))
}

// The usage a quota reads is the journal's: a released trace gives its share back.
func TestQuotaShareComesBackWhenTheTraceIsReleased(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, func(c *Config) { c.Quotas.PerClient = Quota{MaxOpenSpans: 1, MaxHeldSpans: 1} })
	ctx := from("127.0.1.1:1", nil)
	require.NoError(t, h.proc.ConsumeTraces(ctx, traces(openRoot(t0), endedKid(t0))))
	root := openRoot(t0)
	root.end = t0.Add(time.Second)
	requireQuotaRefusal(t, h.proc.ConsumeTraces(ctx, openSpans(1, 1, "", t0)), "quota_per_client_open", 10*time.Second)
	require.NoError(t, h.proc.ConsumeTraces(ctx, traces(root)))
	require.Len(t, h.sink.AllTraces(), 1, "released whole")
	var usage spanjournal.Usage
	require.NoError(t, h.proc.journal.Update(context.Background(), func(tx *spanjournal.Tx) error {
		usage = tx.ClientUsage("127.0.1.1")
		return nil
	}))
	assert.Equal(t, spanjournal.Usage{}, usage)
	require.NoError(t, h.proc.ConsumeTraces(ctx, openSpans(1, 1, "", t0)), "the share is back")
}

// postFrom posts OTLP/JSON from a given loopback source address, as a distinct client.
func postFrom(t *testing.T, url, source string, td ptrace.Traces) *http.Response {
	t.Helper()
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	c := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer c.CloseIdleConnections()
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp
}

// TestQuotaBecomes429ThroughTheReceiver checks what a browser sees past its quota at the
// stock OTLP/HTTP receiver: 429 with Retry-After, while another address goes on.
func TestQuotaBecomes429ThroughTheReceiver(t *testing.T) {
	h := newHarness(t, t.TempDir(), &manualClock{now: t0}, func(c *Config) { c.Quotas.PerClient = Quota{MaxOpenSpans: 1} })
	url := startOTLPHTTP(t, h.proc)

	require.Equal(t, http.StatusOK, postFrom(t, url, "127.0.9.9", openSpans(1, 1, "", t0)).StatusCode)
	resp := postFrom(t, url, "127.0.9.9", openSpans(2, 1, "", t0))
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "10", resp.Header.Get("Retry-After"))
	assert.Equal(t, http.StatusOK, postFrom(t, url, "127.0.1.1", openSpans(3, 1, "", t0)).StatusCode)
}

func TestSessionRuleTrustsAnyClientWhenToldTo(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, func(c *Config) { c.Quotas.SessionRuleSameClient = false })
	page := spanSpec{trace: traceA, id: rootID, name: "page.session", start: t0, session: "s-1"}
	require.NoError(t, h.proc.ConsumeTraces(from("127.0.0.11:1", nil), traces(page)))
	clk.Advance(time.Second)
	// Behind a front tier the next page load may come through another front instance.
	next := spanSpec{trace: traceB, id: kidID, name: "page.session", start: clk.Now(), session: "s-1"}
	require.NoError(t, h.proc.ConsumeTraces(from("127.0.0.12:1", nil), traces(next)))
	got := allSpans(h.sink)
	require.Len(t, got, 1)
	assert.Equal(t, engine.ReasonSessionEnded, attr(got[0][0], attrCloseReason))
}
