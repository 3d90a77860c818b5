package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Retry says how a send retries retryable refusals (gRPC UNAVAILABLE /
// RESOURCE_EXHAUSTED, HTTP 429/503, connection errors, timeouts).
type Retry struct {
	MaxElapsed time.Duration // 0: a single attempt
	Initial    time.Duration
	Max        time.Duration
}

// SendResult is the outcome of one logical send (all attempts).
type SendResult struct {
	Acked    bool
	Attempts int
	Refused  int // attempts answered with a retryable refusal (503/UNAVAILABLE, 429/RESOURCE_EXHAUSTED)
	// QuotaRefused counts the Refused attempts answered 429 / RESOURCE_EXHAUSTED: a
	// per-client quota, not the collector's global limits (503 / UNAVAILABLE).
	QuotaRefused int
	ConnErrs     int           // attempts that failed without an answer (collector down, timeout)
	Latency      time.Duration // of the successful attempt
	Err          error
}

// SenderStats counts what a Sender sent, over all its logical sends (a logical send is
// one SendTraces / SendLogs call, all its attempts; spans are the spans of a trace
// request or the log records of a logs request).
type SenderStats struct {
	Requests      atomic.Int64 // logical sends
	AckedRequests atomic.Int64
	SpansOffered  atomic.Int64
	SpansAcked    atomic.Int64
	// SpansRefused are the spans of logical sends that ended unacknowledged after at
	// least one refusal.
	SpansRefused atomic.Int64
	QuotaRefused atomic.Int64 // attempts answered 429 / RESOURCE_EXHAUSTED
	LimitRefused atomic.Int64 // attempts answered 503 / UNAVAILABLE (not a connection error)
	ConnErrs     atomic.Int64
}

// Sender sends OTLP over gRPC and HTTP to one collector.
type Sender struct {
	conn    *grpc.ClientConn
	traces  ptraceotlp.GRPCClient
	logs    plogotlp.GRPCClient
	url     string
	hc      *http.Client
	headers func() map[string]string
	latMu   sync.Mutex
	lats    []time.Duration // with SenderOptions.KeepLatencies
	keepLat bool
	// Timeout of one attempt.
	Timeout time.Duration
	// fronts, when set, are the connections to several front-tier instances: each
	// attempt goes to the next one (NewSpreadSender). failedAt is when an attempt on
	// each last failed without an answer (Unix ns), and index is a front's own place
	// among them.
	fronts   []*Sender
	next     atomic.Uint64
	failedAt []atomic.Int64
	index    int
	// Stats counts every logical send.
	Stats SenderStats
}

// SenderOptions change how a Sender connects and what it adds to every request.
type SenderOptions struct {
	// LocalIP binds the sender's connections (gRPC and HTTP) to this local address, so
	// the collector sees it as the peer: any 127.x.y.z on Linux loopback. "": the
	// kernel's choice.
	LocalIP string
	// Headers, when set, is called for every attempt; its entries are sent as gRPC
	// metadata and as HTTP headers.
	Headers func() map[string]string
	// KeepLatencies keeps the latency of every acknowledged logical send, from its
	// first attempt to its acknowledgement (retries included), for Latencies.
	KeepLatencies bool
	// MaxConns bounds the HTTP connections (kept alive between requests); a request
	// beyond them waits for one. 0: 256.
	MaxConns int
}

// NewSender is a sender with default options.
func NewSender(grpcAddr, httpAddr string) (*Sender, error) {
	return NewSenderWith(grpcAddr, httpAddr, SenderOptions{})
}

// NewSenderWith is a sender with o.
func NewSenderWith(grpcAddr, httpAddr string, o SenderOptions) (*Sender, error) {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if o.LocalIP != "" {
		ip := net.ParseIP(o.LocalIP)
		if ip == nil {
			return nil, fmt.Errorf("sender: local address %q is not an IP address", o.LocalIP)
		}
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64 << 20)),
	}
	if o.LocalIP != "" {
		opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", addr)
		}))
	}
	conn, err := grpc.NewClient(grpcAddr, opts...)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 256}
	if o.MaxConns > 0 {
		tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = o.MaxConns, o.MaxConns
	}
	if o.LocalIP != "" {
		tr.DialContext = dialer.DialContext
	}
	return &Sender{
		conn: conn, traces: ptraceotlp.NewGRPCClient(conn), logs: plogotlp.NewGRPCClient(conn),
		url:     "http://" + httpAddr,
		hc:      &http.Client{Transport: tr, Timeout: 30 * time.Second},
		headers: o.Headers,
		keepLat: o.KeepLatencies,
		Timeout: 15 * time.Second,
	}, nil
}

// NewSpreadSender is a sender to several front-tier instances, as browsers behind a
// load balancer reach any of them: each logical send starts on the next instance in
// turn, and a retry goes to the instance after the one that failed, so a request
// refused by (or stuck in) one is retried on another.
func NewSpreadSender(grpcAddrs, httpAddrs []string, o SenderOptions) (*Sender, error) {
	if len(grpcAddrs) == 0 || len(grpcAddrs) != len(httpAddrs) {
		return nil, fmt.Errorf("sender: %d gRPC and %d HTTP addresses", len(grpcAddrs), len(httpAddrs))
	}
	var fronts []*Sender
	for i := range grpcAddrs {
		f, err := NewSenderWith(grpcAddrs[i], httpAddrs[i], o)
		if err != nil {
			for _, f := range fronts {
				f.Close()
			}
			return nil, err
		}
		f.index = i
		fronts = append(fronts, f)
	}
	f := fronts[0]
	return &Sender{conn: f.conn, traces: f.traces, logs: f.logs, url: f.url, hc: f.hc, headers: o.Headers,
		keepLat: o.KeepLatencies, Timeout: f.Timeout, fronts: fronts, failedAt: make([]atomic.Int64, len(fronts))}, nil
}

// failed notes that an attempt on front f got no answer (a timeout, a refused
// connection): for a while, new sends start elsewhere, as a load balancer's outlier
// detection takes an instance out.
func (s *Sender) failed(f *Sender) {
	if len(s.fronts) > 0 {
		s.failedAt[f.index].Store(time.Now().UnixNano())
	}
}

// healthy says whether front i has had no unanswered attempt for two attempt timeouts.
func (s *Sender) healthy(i int) bool {
	return time.Since(time.Unix(0, s.failedAt[i].Load())) > 2*s.Timeout
}

// rotation returns the connections one logical send's attempts use in turn: the
// first from the next instance round robin, each retry from the instance after the one
// that failed, as a client behind a load balancer that takes a failed instance out.
func (s *Sender) rotation() func() *Sender {
	if len(s.fronts) == 0 {
		return func() *Sender { return s }
	}
	n := uint64(len(s.fronts))
	start := s.next.Add(1) - 1
	i := start // none healthy: start where the round robin is
	for k := range n {
		if s.healthy(int((start + k) % n)) {
			i = start + k
			break
		}
	}
	return func() *Sender {
		f := s.fronts[i%n]
		i++
		return f
	}
}

func (s *Sender) Close() {
	if len(s.fronts) == 0 {
		_ = s.conn.Close()
	}
	for _, f := range s.fronts {
		f.Close()
	}
}

var errPermanent = errors.New("permanent")

func grpcOutcome(err error) (refused, retry bool) {
	switch status.Code(err) {
	case codes.Unavailable:
		// The OTLP receiver maps the processor's retryable error to UNAVAILABLE; a dead
		// collector is also UNAVAILABLE (connection refused). Tell them apart by message.
		st, _ := status.FromError(err)
		msg := st.Message()
		conn := bytes.Contains([]byte(msg), []byte("connection")) || bytes.Contains([]byte(msg), []byte("transport"))
		return !conn, true
	case codes.ResourceExhausted:
		return true, true
	case codes.DeadlineExceeded, codes.Canceled, codes.Aborted, codes.Internal, codes.Unknown:
		return false, true
	}
	return false, false
}

// withHeaders adds the sender's headers to a gRPC call's outgoing metadata; it returns
// them for an HTTP request.
func (s *Sender) withHeaders(ctx context.Context) (context.Context, map[string]string) {
	if s.headers == nil {
		return ctx, nil
	}
	h := s.headers()
	if len(h) == 0 {
		return ctx, nil
	}
	kv := make([]string, 0, 2*len(h))
	for k, v := range h {
		kv = append(kv, k, v)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...), h
}

func (s *Sender) attemptTraces(ctx context.Context, f *Sender, td ptrace.Traces, useHTTP bool) (refused, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	ctx, hdr := s.withHeaders(ctx)
	defer func() {
		if err != nil && retry && !refused {
			s.failed(f)
		}
	}()
	if !useHTTP {
		_, err = f.traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		if err == nil {
			return false, false, nil
		}
		refused, retry = grpcOutcome(err)
		return refused, retry, err
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return false, false, err
	}
	return f.postHTTP(ctx, "/v1/traces", "application/x-protobuf", body, hdr)
}

func (s *Sender) attemptLogs(ctx context.Context, f *Sender, ld plog.Logs) (refused, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	ctx, _ = s.withHeaders(ctx)
	_, err = f.logs.Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	if err == nil {
		return false, false, nil
	}
	refused, retry = grpcOutcome(err)
	if retry && !refused {
		s.failed(f)
	}
	return refused, retry, err
}

// httpStatusError is an HTTP answer other than 200.
type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return fmt.Sprintf("http %d", e.code) }

// quotaRefusal says whether err is a per-client quota's refusal: HTTP 429 or gRPC
// RESOURCE_EXHAUSTED (the collector's global limits answer 503 / UNAVAILABLE).
func quotaRefusal(err error) bool {
	var he *httpStatusError
	if errors.As(err, &he) {
		return he.code == http.StatusTooManyRequests
	}
	return status.Code(err) == codes.ResourceExhausted
}

func (s *Sender) postHTTP(ctx context.Context, path, contentType string, body []byte, hdr map[string]string) (refused, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		return false, false, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := s.hc.Do(req)
	if err != nil {
		return false, true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return false, false, nil
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests:
		return true, true, &httpStatusError{resp.StatusCode}
	case resp.StatusCode >= 500:
		return false, true, &httpStatusError{resp.StatusCode}
	}
	return false, false, fmt.Errorf("%w: %w", errPermanent, &httpStatusError{resp.StatusCode})
}

// Latencies are the latencies kept with SenderOptions.KeepLatencies.
func (s *Sender) Latencies() []time.Duration {
	s.latMu.Lock()
	defer s.latMu.Unlock()
	return append([]time.Duration(nil), s.lats...)
}

func (s *Sender) withRetry(ctx context.Context, r Retry, spans int, attempt func() (bool, bool, error)) SendResult {
	t0 := time.Now()
	res := s.retryLoop(ctx, r, attempt)
	if s.keepLat && res.Acked {
		d := time.Since(t0)
		s.latMu.Lock()
		s.lats = append(s.lats, d)
		s.latMu.Unlock()
	}
	st := &s.Stats
	st.Requests.Add(1)
	st.SpansOffered.Add(int64(spans))
	st.QuotaRefused.Add(int64(res.QuotaRefused))
	st.LimitRefused.Add(int64(res.Refused - res.QuotaRefused))
	st.ConnErrs.Add(int64(res.ConnErrs))
	switch {
	case res.Acked:
		st.AckedRequests.Add(1)
		st.SpansAcked.Add(int64(spans))
	case res.Refused > 0:
		st.SpansRefused.Add(int64(spans))
	}
	return res
}

func (s *Sender) retryLoop(ctx context.Context, r Retry, attempt func() (bool, bool, error)) SendResult {
	var res SendResult
	start := time.Now()
	backoff := r.Initial
	if backoff == 0 {
		backoff = 50 * time.Millisecond
	}
	maxB := r.Max
	if maxB == 0 {
		maxB = time.Second
	}
	for {
		res.Attempts++
		t0 := time.Now()
		refused, retry, err := attempt()
		if err == nil {
			res.Acked, res.Latency, res.Err = true, time.Since(t0), nil
			return res
		}
		res.Err = err
		if refused {
			res.Refused++
			if quotaRefusal(err) {
				res.QuotaRefused++
			}
		} else {
			res.ConnErrs++
		}
		if !retry || time.Since(start)+backoff > r.MaxElapsed || ctx.Err() != nil {
			return res
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return res
		}
		backoff *= 2
		if backoff > maxB {
			backoff = maxB
		}
	}
}

// SendTraces sends td (gRPC or HTTP/protobuf) with retries.
func (s *Sender) SendTraces(ctx context.Context, td ptrace.Traces, useHTTP bool, r Retry) SendResult {
	next := s.rotation()
	return s.withRetry(ctx, r, td.SpanCount(), func() (bool, bool, error) { return s.attemptTraces(ctx, next(), td, useHTTP) })
}

// SendTracesJSON posts td as OTLP/JSON (Content-Type application/json), as a browser's
// exporter does, with retries; the body is encoded once.
func (s *Sender) SendTracesJSON(ctx context.Context, td ptrace.Traces, r Retry) SendResult {
	body, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return SendResult{Err: err}
	}
	next := s.rotation()
	return s.withRetry(ctx, r, td.SpanCount(), func() (bool, bool, error) {
		ctx, cancel := context.WithTimeout(ctx, s.Timeout)
		defer cancel()
		ctx, hdr := s.withHeaders(ctx)
		return next().postHTTP(ctx, "/v1/traces", "application/json", body, hdr)
	})
}

// SendLogs sends ld over gRPC with retries.
func (s *Sender) SendLogs(ctx context.Context, ld plog.Logs, r Retry) SendResult {
	next := s.rotation()
	return s.withRetry(ctx, r, ld.LogRecordCount(), func() (bool, bool, error) { return s.attemptLogs(ctx, next(), ld) })
}

// ---------------------------------------------------------------- ids and the ledger

// IDGen hands out unique trace and span ids (a counter, so runs are reproducible).
type IDGen struct {
	prefix uint32
	n      atomic.Uint64
}

func NewIDGen(prefix uint32) *IDGen { return &IDGen{prefix: prefix} }

func (g *IDGen) Trace() [16]byte {
	v := g.n.Add(1)
	var t [16]byte
	putU32(t[0:], g.prefix)
	putU64(t[8:], v)
	t[4] = byte(v * 2654435761 >> 24) // spread the hash input a little
	return t
}

func (g *IDGen) Span() [8]byte {
	v := g.n.Add(1)
	var s [8]byte
	putU64(s[:], v|uint64(g.prefix)<<44)
	return s
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
func putU64(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// Ledger records which spans the collector acknowledged, with where they came from.
type Ledger struct {
	mu    sync.Mutex
	acked map[SpanKey]uint8
}

// Ledger tags.
const (
	TagBulk uint8 = iota + 1
	TagSessionRoot
	TagSessionChild
)

var tagNames = map[uint8]string{TagBulk: "bulk", TagSessionRoot: "session_root", TagSessionChild: "session_child"}

func NewLedger() *Ledger { return &Ledger{acked: map[SpanKey]uint8{}} }

func (l *Ledger) AddTraces(td ptrace.Traces) {
	l.mu.Lock()
	defer l.mu.Unlock()
	eachSpan(td, func(s ptrace.Span) { l.acked[keyOf(s)] = TagBulk })
}

func (l *Ledger) Add(k SpanKey, tag uint8) {
	l.mu.Lock()
	l.acked[k] = tag
	l.mu.Unlock()
}

func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *Ledger) Tag(k SpanKey) uint8 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked[k]
}

func (l *Ledger) Keys() []SpanKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]SpanKey, 0, len(l.acked))
	for k := range l.acked {
		out = append(out, k)
	}
	return out
}

func eachSpan(td ptrace.Traces, fn func(ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				fn(spans.At(k))
			}
		}
	}
}

// LossReport compares acknowledged spans with what the backend received.
type LossReport struct {
	Acked          int `json:"acked_spans"`
	Missing        int `json:"missing_acked_spans"`
	Duplicates     int `json:"duplicate_deliveries"`
	SpansDuplicate int `json:"spans_delivered_more_than_once"`
	Superseding    int `json:"superseding_deliveries"`
	BackendSpans   int `json:"backend_spans_non_snapshot"`
}

// lossWhenQuiet waits until be received nothing for quiet (a backend still receiving after
// limit is logged, not fatal) and compares what it received with l (CompareLoss).
func (r *Runner) lossWhenQuiet(be *Backend, l *Ledger, what string, quiet, limit time.Duration) (LossReport, []SpanKey, error) {
	if _, err := be.WaitQuiet(quiet, quiet, limit); err != nil {
		r.logf("%s: %v", what, err)
	}
	recs, err := be.Records()
	if err != nil {
		return LossReport{}, nil, err
	}
	rep, missing := CompareLoss(l, recs)
	return rep, missing, nil
}

// CompareLoss: every acked span must be at the backend at least once as a non-snapshot
// (plain, reconciled, superseding, released_early). Extra copies are duplicates;
// a superseding copy after a reconciled one is by design and counted apart.
func CompareLoss(l *Ledger, recs []Rec) (LossReport, []SpanKey) {
	count := map[SpanKey]int{}
	var rep LossReport
	for _, r := range recs {
		if r.State == StateSnapshot {
			continue
		}
		rep.BackendSpans++
		if r.State == StateSuperseding {
			rep.Superseding++
			continue
		}
		count[r.Key]++
	}
	for _, n := range count {
		if n > 1 {
			rep.Duplicates += n - 1
			rep.SpansDuplicate++
		}
	}
	var missing []SpanKey
	for _, k := range l.Keys() {
		rep.Acked++
		if count[k] == 0 {
			// a superseding copy also delivers the span
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sup := map[SpanKey]bool{}
		for _, r := range recs {
			if r.State == StateSuperseding {
				sup[r.Key] = true
			}
		}
		kept := missing[:0]
		for _, k := range missing {
			if !sup[k] {
				kept = append(kept, k)
			}
		}
		missing = kept
	}
	rep.Missing = len(missing)
	return rep, missing
}
