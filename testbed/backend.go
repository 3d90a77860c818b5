package testbed

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Span states as the backend records them (attribute longspan.state).
const (
	StatePlain uint8 = iota
	StateSnapshot
	StateReconciled
	StateSuperseding
	StateReleasedEarly
	StateOther
)

var stateNames = map[string]uint8{
	"": StatePlain, "snapshot": StateSnapshot, "reconciled": StateReconciled,
	"superseding": StateSuperseding, "released_early": StateReleasedEarly,
}

// Close reasons (attribute longspan.close_reason).
var reasonNames = []string{"", "idle_timeout", "session_ended", "max_duration", "parent_reconciled", "client_interrupted", "other"}

func reasonCode(s string) uint8 {
	for i, n := range reasonNames {
		if n == s {
			return uint8(i)
		}
	}
	return uint8(len(reasonNames) - 1)
}

// SpanKey identifies a span: trace id + span id.
type SpanKey [24]byte

func keyOf(s ptrace.Span) SpanKey {
	var k SpanKey
	t, sp := s.TraceID(), s.SpanID()
	copy(k[:16], t[:])
	copy(k[16:], sp[:])
	return k
}

// Rec is one span the backend received.
type Rec struct {
	Key    SpanKey
	Batch  uint32 // export call number
	State  uint8
	Reason uint8
	Recv   int64 // unix nanos of receipt
	// Gateway is the sender's x-longspan-gateway header (scale-out: which gateway
	// exported the span; 0 when absent).
	Gateway uint8
	// LastSeen is the span's longspan.last_seen_unix_nano (0 when absent).
	LastSeen int64
	// Start and End are the span's start and end times (unix nanos), as exported.
	Start, End int64
}

// GatewayHeader is the gRPC metadata key a gateway's exporter sets to its number.
const GatewayHeader = "x-longspan-gateway"

const recSize = 24 + 4 + 1 + 1 + 8 + 1 + 8 + 8 + 8

// BackendStats is what GET /stats answers.
type BackendStats struct {
	Requests  int64  `json:"requests"`
	Spans     int64  `json:"spans"`
	Snapshots int64  `json:"snapshots"`
	LastRecv  int64  `json:"last_recv_unix_nano"`
	Mode      string `json:"mode"`
}

type backend struct {
	ptraceotlp.UnimplementedGRPCServer
	mu    sync.Mutex
	mode  string // "detail" records every span; "count" only counts
	stats BackendStats
	recs  []Rec
}

func (b *backend) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	td := req.Traces()
	now := time.Now().UnixNano()
	var gateway uint8
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(GatewayHeader); len(v) > 0 {
			n, _ := strconv.Atoi(v[0])
			gateway = uint8(n)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats.Requests++
	batch := uint32(b.stats.Requests)
	b.stats.LastRecv = now
	detail := b.mode == "detail"
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				b.stats.Spans++
				st := StatePlain
				if v, ok := s.Attributes().Get("longspan.state"); ok {
					if c, ok := stateNames[v.Str()]; ok {
						st = c
					} else {
						st = StateOther
					}
				}
				if st == StateSnapshot {
					b.stats.Snapshots++
				}
				if !detail {
					continue
				}
				var reason uint8
				if v, ok := s.Attributes().Get("longspan.close_reason"); ok {
					reason = reasonCode(v.Str())
				}
				var lastSeen int64
				if v, ok := s.Attributes().Get("longspan.last_seen_unix_nano"); ok {
					lastSeen = v.Int()
				}
				b.recs = append(b.recs, Rec{Key: keyOf(s), Batch: batch, State: st, Reason: reason, Recv: now, Gateway: gateway, LastSeen: lastSeen,
					Start: int64(s.StartTimestamp()), End: int64(s.EndTimestamp())})
			}
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

// RunMockBackend serves OTLP/gRPC traces on grpcAddr and the control API on httpAddr
// until SIGTERM/SIGINT. It is the body of the mock backend process.
func RunMockBackend(grpcAddr, httpAddr string) error {
	b := &backend{mode: "detail"}
	gl, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return err
	}
	hl, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return err
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(512 << 20))
	ptraceotlp.RegisterGRPCServer(gs, b)
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		st := b.stats
		st.Mode = b.mode
		b.mu.Unlock()
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.mode = r.URL.Query().Get("mode")
		if b.mode == "" {
			b.mode = "detail"
		}
		b.stats = BackendStats{}
		b.recs = nil
		b.mu.Unlock()
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/records", func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		recs := append([]Rec(nil), b.recs...)
		b.mu.Unlock()
		bw := bufio.NewWriterSize(w, 1<<20)
		var buf [recSize]byte
		for _, r := range recs {
			copy(buf[:24], r.Key[:])
			binary.LittleEndian.PutUint32(buf[24:], r.Batch)
			buf[28], buf[29] = r.State, r.Reason
			binary.LittleEndian.PutUint64(buf[30:], uint64(r.Recv))
			buf[38] = r.Gateway
			binary.LittleEndian.PutUint64(buf[39:], uint64(r.LastSeen))
			binary.LittleEndian.PutUint64(buf[47:], uint64(r.Start))
			binary.LittleEndian.PutUint64(buf[55:], uint64(r.End))
			_, _ = bw.Write(buf[:])
		}
		_ = bw.Flush()
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = gs.Serve(gl) }()
	go func() { _ = hs.Serve(hl) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	gs.Stop()
	_ = hs.Close()
	return nil
}

// BackendClient talks to a running mock backend's control API.
type BackendClient struct {
	base string
	hc   *http.Client
}

func NewBackendClient(httpAddr string) *BackendClient {
	return &BackendClient{base: "http://" + httpAddr, hc: &http.Client{Timeout: 60 * time.Second}}
}

func (c *BackendClient) Stats() (BackendStats, error) {
	var st BackendStats
	resp, err := c.hc.Get(c.base + "/stats")
	if err != nil {
		return st, err
	}
	defer func() { _ = resp.Body.Close() }()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

func (c *BackendClient) Reset(mode string) error {
	resp, err := c.hc.Get(c.base + "/reset?mode=" + mode)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func (c *BackendClient) Records() ([]Rec, error) {
	resp, err := c.hc.Get(c.base + "/records")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if len(raw)%recSize != 0 {
		return nil, fmt.Errorf("records: %d bytes is not a multiple of %d", len(raw), recSize)
	}
	out := make([]Rec, 0, len(raw)/recSize)
	for off := 0; off < len(raw); off += recSize {
		var r Rec
		copy(r.Key[:], raw[off:off+24])
		r.Batch = binary.LittleEndian.Uint32(raw[off+24:])
		r.State, r.Reason = raw[off+28], raw[off+29]
		r.Recv = int64(binary.LittleEndian.Uint64(raw[off+30:]))
		r.Gateway = raw[off+38]
		r.LastSeen = int64(binary.LittleEndian.Uint64(raw[off+39:]))
		r.Start = int64(binary.LittleEndian.Uint64(raw[off+47:]))
		r.End = int64(binary.LittleEndian.Uint64(raw[off+55:]))
		out = append(out, r)
	}
	return out, nil
}

// WaitQuiet waits until the backend received nothing for `quiet` (and at least `min`
// passed), bounded by `limit`. Returns the final stats.
func (c *BackendClient) WaitQuiet(quiet, minWait, limit time.Duration) (BackendStats, error) {
	start := time.Now()
	deadline := start.Add(limit)
	var last BackendStats
	lastChange := time.Now()
	for {
		st, err := c.Stats()
		if err == nil {
			if st.Spans != last.Spans {
				lastChange = time.Now()
			}
			last = st
			if time.Since(lastChange) >= quiet && time.Since(start) >= minWait {
				return st, nil
			}
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("backend still receiving after %v", limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
