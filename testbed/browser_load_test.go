package testbed

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// browserServer is a loopback OTLP/HTTP endpoint that answers every request with status
// after delay, and keeps what it saw.
type browserServer struct {
	addr   string
	delay  time.Duration
	status int
	conns  atomic.Int64 // connections opened
	mu     sync.Mutex
	peers  map[string]bool
	types  map[string]int
	reqs   []ptrace.Traces
}

func startBrowserServer(t *testing.T, delay time.Duration, status int) *browserServer {
	t.Helper()
	bs := &browserServer{delay: delay, status: status, peers: map[string]bool{}, types: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	bs.addr = l.Addr().String()
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				bs.conns.Add(1)
			}
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			bs.mu.Lock()
			bs.peers[host] = true
			bs.types[r.Header.Get("Content-Type")]++
			if err == nil {
				bs.reqs = append(bs.reqs, td)
			}
			bs.mu.Unlock()
			time.Sleep(bs.delay) // the slow collector the test stands for
			w.WriteHeader(bs.status)
		})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return bs
}

func testOpenLoopParams(rate float64) OpenLoopParams {
	return OpenLoopParams{Rate: rate, Pages: 50, PagePeriod: 100 * time.Millisecond, Addresses: 2, ConnsPerAddress: 2,
		Measure: time.Second, MinSpans: 2, MaxSpans: 20, OpenEvery: 3, MinLife: 2, MaxLife: 3,
		LateAfter: 50 * time.Millisecond, MaxInFlight: 10000, Timeout: 15 * time.Second, Seed: 3}
}

// The generator is open loop: against a collector that answers in 100 ms over 4 pooled
// keep-alive connections (at most 40 requests/s), it still dispatches ~100 requests/s on
// schedule, and the latency it reports counts from the scheduled time, so it includes the
// wait for a connection. It posts OTLP/JSON from the pages' own client addresses, over no
// more connections than the pools hold, and ends every span it reported open.
func TestOpenLoopDispatchesOnScheduleWhateverTheAcks(t *testing.T) {
	bs := startBrowserServer(t, 100*time.Millisecond, http.StatusOK)
	p := testOpenLoopParams(1100)
	var edges []bool
	p.OnWindow = func(open bool) { edges = append(edges, open) }
	res, err := RunOpenLoop(context.Background(), "127.0.0.1:1", bs.addr, p)
	require.NoError(t, err)

	assert.Equal(t, []bool{true, false}, edges)
	assert.GreaterOrEqual(t, res.SentSpansPerSec, 0.9*p.Rate, "dispatched at the offered rate although acks came at most 40/s")
	assert.Equal(t, res.Requests, res.AckedRequests)
	assert.Zero(t, res.Refusals())
	assert.Greater(t, res.AckP99Ms, 500.0, "latency from the scheduled time includes the wait for a pooled connection")
	assert.LessOrEqual(t, bs.conns.Load(), int64(p.Addresses*p.ConnsPerAddress), "keep-alive pools, not a connection per request")
	assert.Equal(t, map[string]bool{"127.22.0.1": true, "127.22.0.2": true}, bs.peers)

	bs.mu.Lock()
	defer bs.mu.Unlock()
	assert.Equal(t, map[string]int{"application/json": len(bs.reqs)}, bs.types, "every body is OTLP/JSON")
	assert.Equal(t, res.Requests+res.PagesEnded, int64(len(bs.reqs)))
	open, total := 0, 0
	lastOpen := map[string]bool{} // span → its last report was open
	for _, td := range bs.reqs {
		n := td.SpanCount()
		assert.True(t, n >= 2 && n <= 20, "spans per request %d", n)
		eachSpan(td, func(s ptrace.Span) {
			total++
			id := s.TraceID().String() + "/" + s.SpanID().String()
			isOpen := s.EndTimestamp() == 0
			lastOpen[id] = isOpen
			if isOpen {
				open++
				_, ok := s.Attributes().Get("longspan.client.now_unix_nano")
				assert.True(t, ok, "an open span carries the client's clock, as the web client sends it")
			}
		})
	}
	share := float64(open) / float64(total)
	assert.True(t, share > 0.15 && share < 0.4, "open share %.2f", share)
	for id, o := range lastOpen {
		assert.False(t, o, "span %s left open", id)
	}
}

// A refused request is counted as a refusal (503 as a limit, 429 as a quota), never
// retried inside the window, and the step is not sustained.
func TestOpenLoopCountsRefusals(t *testing.T) {
	for _, tc := range []struct {
		status       int
		quota, limit bool
	}{{http.StatusServiceUnavailable, false, true}, {http.StatusTooManyRequests, true, false}} {
		bs := startBrowserServer(t, 0, tc.status)
		p := testOpenLoopParams(500)
		p.Measure = 300 * time.Millisecond
		res, err := RunOpenLoop(context.Background(), "127.0.0.1:1", bs.addr, p)
		require.NoError(t, err)
		require.Positive(t, res.Requests)
		assert.Zero(t, res.AckedRequests)
		if tc.limit {
			assert.Equal(t, res.Requests, res.LimitRefused)
		}
		if tc.quota {
			assert.Equal(t, res.Requests, res.QuotaRefused)
		}
		st := BrowserStep{OpenLoopResult: res}
		st.judge()
		assert.False(t, st.Sustained)
		assert.Contains(t, st.Why, "refused")
	}
}

func TestBrowserStepJudge(t *testing.T) {
	ok := OpenLoopResult{OfferedSpansPerSec: 1000, SentSpansPerSec: 1000, Requests: 1000, AckedRequests: 1000, AckP99Ms: 40}
	for _, tc := range []struct {
		name      string
		edit      func(*OpenLoopResult)
		sustained bool
		behind    bool
		why       string
	}{
		{"sustained", func(*OpenLoopResult) {}, true, false, ""},
		{"slow", func(r *OpenLoopResult) { r.AckP99Ms = 100.5 }, false, false, "p99 ack 100.5 ms > 100 ms"},
		{"refused", func(r *OpenLoopResult) { r.LimitRefused = 1 }, false, false, "1 refused 503"},
		{"errors", func(r *OpenLoopResult) { r.Errors = 2 }, false, false, "2 errors"},
		{"late within budget", func(r *OpenLoopResult) { r.LateSends = 10 }, true, false, ""},
		{"generator behind", func(r *OpenLoopResult) { r.LateSends = 11 }, false, true, "generator behind: 11 of 1000"},
		{"sent below the offered rate", func(r *OpenLoopResult) { r.SentSpansPerSec = 970 }, false, true, "sent 970 of 1000 spans/s"},
		{"sent within 2%", func(r *OpenLoopResult) { r.SentSpansPerSec = 981 }, true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			st := BrowserStep{OpenLoopResult: r}
			st.judge()
			assert.Equal(t, tc.sustained, st.Sustained)
			assert.Equal(t, tc.behind, st.GeneratorBehind)
			assert.True(t, strings.Contains(st.Why, tc.why), "%q does not say %q", st.Why, tc.why)
		})
	}
}

// The step search doubles until a step fails, then bisects down to the precision; a step
// the generator could not offer bounds it like a failed one and is reported.
func TestSearchMax(t *testing.T) {
	z := browserSizes{StartRate: 2000, Precision: 1.15, MaxSteps: 9}
	fake := func(capacity, generatorLimit float64, rates *[]float64) func(float64, int) (BrowserStep, error) {
		return func(rate float64, _ int) (BrowserStep, error) {
			*rates = append(*rates, rate)
			r := OpenLoopResult{OfferedSpansPerSec: rate, SentSpansPerSec: rate, Requests: 1000, AckedRequests: 1000, AckP99Ms: 10}
			if rate > capacity {
				r.AckP99Ms = 500
			}
			if rate > generatorLimit {
				r.LateSends = 500
			}
			st := BrowserStep{OpenLoopResult: r}
			st.judge()
			return st, nil
		}
	}
	var rates []float64
	s, err := searchMax(z, fake(7000, 1e9, &rates))
	require.NoError(t, err)
	assert.Equal(t, []float64{2000, 4000, 8000, 6000, 7000}, rates)
	assert.Equal(t, 7000.0, s.MaxSpansPerSec)
	assert.Zero(t, s.GeneratorBehindAt)
	assert.False(t, s.LowerBound)
	assert.Equal(t, 7000.0, s.atMax().OfferedSpansPerSec)

	rates = nil
	s, err = searchMax(z, fake(500, 1e9, &rates))
	require.NoError(t, err)
	assert.Equal(t, []float64{2000, 1000, 500, 750, 625, 562.5}, rates)
	assert.Equal(t, 500.0, s.MaxSpansPerSec)
	assert.False(t, s.LowerBound)

	rates = nil
	s, err = searchMax(z, fake(1e9, 5000, &rates))
	require.NoError(t, err)
	assert.Equal(t, []float64{2000, 4000, 8000, 6000, 5000, 5500}, rates)
	assert.Equal(t, 5000.0, s.MaxSpansPerSec)
	assert.Equal(t, 5500.0, s.GeneratorBehindAt)
	assert.True(t, s.LowerBound, "the step above the maximum failed on the generator, not the collector")
}
