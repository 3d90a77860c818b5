package testbed

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// seen is what the test servers saw of each request: the peer's IP and x-test.
type seen struct {
	mu    sync.Mutex
	peers []string
	hdrs  []string
}

func (s *seen) add(peerAddr, hdr string) {
	host, _, _ := net.SplitHostPort(peerAddr)
	s.mu.Lock()
	s.peers, s.hdrs = append(s.peers, host), append(s.hdrs, hdr)
	s.mu.Unlock()
}

type refusingTraces struct {
	ptraceotlp.UnimplementedGRPCServer
	seen *seen
	code codes.Code
}

func (r *refusingTraces) Export(ctx context.Context, _ ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	p, _ := peer.FromContext(ctx)
	md, _ := metadata.FromIncomingContext(ctx)
	r.seen.add(p.Addr.String(), strings.Join(md.Get("x-test"), ","))
	if r.code != codes.OK {
		return ptraceotlp.NewExportResponse(), status.Error(r.code, "refused")
	}
	return ptraceotlp.NewExportResponse(), nil
}

// A sender bound to a local address connects from it (gRPC and HTTP), sends its headers,
// and counts 429 / RESOURCE_EXHAUSTED as retryable quota refusals.
func TestSenderLocalAddressHeadersAndQuotaRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  codes.Code
		http  int
		quota bool
	}{{"accepted", codes.OK, http.StatusOK, false}, {"quota", codes.ResourceExhausted, http.StatusTooManyRequests, true}, {"limit", codes.Unavailable, http.StatusServiceUnavailable, false}} {
		t.Run(tc.name, func(t *testing.T) {
			gs := &seen{}
			gl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := grpc.NewServer()
			ptraceotlp.RegisterGRPCServer(srv, &refusingTraces{seen: gs, code: tc.code})
			go func() { _ = srv.Serve(gl) }()
			defer srv.Stop()
			hs := &seen{}
			hl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			hsrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hs.add(r.RemoteAddr, r.Header.Get("x-test"))
				w.WriteHeader(tc.http)
			}), ReadHeaderTimeout: time.Second}
			go func() { _ = hsrv.Serve(hl) }()
			defer func() { _ = hsrv.Close() }()

			snd, err := NewSenderWith(gl.Addr().String(), hl.Addr().String(), SenderOptions{
				LocalIP: "127.0.3.4", Headers: func() map[string]string { return map[string]string{"x-test": "1.2.3.4, 127.0.3.4"} },
				KeepLatencies: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer snd.Close()
			td := ptrace.NewTraces()
			td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("s")
			retry := Retry{MaxElapsed: 150 * time.Millisecond, Initial: 20 * time.Millisecond, Max: 20 * time.Millisecond}
			for _, useHTTP := range []bool{false, true} {
				res := snd.SendTraces(context.Background(), td, useHTTP, retry)
				if res.Acked != (tc.code == codes.OK) {
					t.Errorf("http=%v: acked %v, err %v", useHTTP, res.Acked, res.Err)
				}
				if !res.Acked && res.Attempts < 2 {
					t.Errorf("http=%v: %d attempts, want retries", useHTTP, res.Attempts)
				}
				if tc.quota && res.QuotaRefused != res.Attempts || !tc.quota && res.QuotaRefused != 0 {
					t.Errorf("http=%v: %d quota refusals of %d attempts", useHTTP, res.QuotaRefused, res.Attempts)
				}
			}
			if n := int64(len(snd.Latencies())); n != snd.Stats.AckedRequests.Load() {
				t.Errorf("%d latencies kept, %d acknowledged sends", n, snd.Stats.AckedRequests.Load())
			}
			st := &snd.Stats
			if st.Requests.Load() != 2 || st.SpansOffered.Load() != 2 {
				t.Errorf("stats: %d requests, %d spans offered", st.Requests.Load(), st.SpansOffered.Load())
			}
			if tc.code == codes.OK && st.SpansAcked.Load() != 2 || tc.code != codes.OK && st.SpansRefused.Load() != 2 {
				t.Errorf("stats: %d spans acked, %d refused", st.SpansAcked.Load(), st.SpansRefused.Load())
			}
			if tc.quota && (st.QuotaRefused.Load() == 0 || st.LimitRefused.Load() != 0) || tc.code == codes.Unavailable && (st.LimitRefused.Load() == 0 || st.QuotaRefused.Load() != 0) {
				t.Errorf("stats: %d quota, %d limit refusals", st.QuotaRefused.Load(), st.LimitRefused.Load())
			}
			for _, s := range []*seen{gs, hs} {
				s.mu.Lock()
				if len(s.peers) == 0 {
					t.Error("no request seen")
				}
				for i := range s.peers {
					if s.peers[i] != "127.0.3.4" || s.hdrs[i] != "1.2.3.4, 127.0.3.4" {
						t.Errorf("seen peer %s header %q", s.peers[i], s.hdrs[i])
					}
				}
				s.mu.Unlock()
			}
		})
	}
}

// A spread sender starts new sends away from an instance whose last attempt got no
// answer, and a retry goes to the instance after the one that failed.
func TestSpreadSenderAvoidsAnInstanceThatDidNotAnswer(t *testing.T) {
	s, err := NewSpreadSender([]string{"127.0.0.1:1", "127.0.0.1:2"}, []string{"127.0.0.1:3", "127.0.0.1:4"}, SenderOptions{})
	require.NoError(t, err)
	defer s.Close()
	next := s.rotation()
	first := next()
	assert.NotSame(t, first, next(), "a retry goes to the other instance")
	s.failed(s.fronts[1])
	for range 4 {
		assert.Same(t, s.fronts[0], s.rotation()(), "every new send starts on the instance that answers")
	}
	s.failedAt[1].Store(0)
	s.failed(s.fronts[0])
	assert.Same(t, s.fronts[1], s.rotation()())
}
