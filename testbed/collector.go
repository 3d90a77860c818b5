package testbed

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Env is what every scenario shares: the binary, a work dir, and the mock backend.
type Env struct {
	Bin     string
	Self    string // this executable, re-executed as the mock backend
	WorkDir string
	Log     func(format string, args ...any)
}

// Collector is one configured collector (possibly restarted several times).
type Collector struct {
	env    *Env
	Name   string
	Params CollectorParams
	Config string
	Proc   *Proc
	incarn int
}

// NewCollector picks ports, renders and validates the config.
func (e *Env) NewCollector(name string, p CollectorParams, backendGRPC string) (*Collector, error) {
	addrs, err := FreeAddrs(5)
	if err != nil {
		return nil, err
	}
	p.GRPC, p.HTTP, p.Health, p.JournalHTTP = addrs[0], addrs[1], addrs[2], addrs[3]
	_, port, _ := net.SplitHostPort(addrs[4])
	p.MetricsPort = port
	p.Backend = backendGRPC
	if p.JournalDir == "" {
		p.JournalDir = filepath.Join(e.WorkDir, name, "journal")
	}
	cfg, err := RenderConfig(e.WorkDir, name, p)
	if err != nil {
		return nil, err
	}
	if err := ValidateConfig(e.Bin, cfg); err != nil {
		return nil, err
	}
	return &Collector{env: e, Name: name, Params: p.withDefaults(), Config: cfg}, nil
}

// Start starts the collector and waits for health_check 200; returns the time from
// exec to ready.
func (c *Collector) Start() (time.Duration, error) {
	c.incarn++
	log := filepath.Join(c.env.WorkDir, fmt.Sprintf("%s.log", c.Name))
	p, err := StartProc(fmt.Sprintf("%s#%d", c.Name, c.incarn), c.env.Bin, []string{"--config", c.Config}, nil, log)
	if err != nil {
		return 0, err
	}
	c.Proc = p
	d, err := waitHTTP200("http://"+c.Params.Health+"/", p, 5*time.Minute, 20*time.Millisecond)
	if err != nil {
		p.Kill9()
		return 0, err
	}
	return d, nil
}

func (c *Collector) Kill9() {
	if c.Proc != nil {
		c.Proc.Kill9()
	}
}

func (c *Collector) Stop() {
	if c.Proc != nil {
		c.Proc.Stop(20 * time.Second)
	}
}

func (c *Collector) Stat() (ProcStat, error) {
	if c.Proc == nil {
		return ProcStat{}, fmt.Errorf("not started")
	}
	return ReadProcStat(c.Proc.Pid())
}

// Metric sums every sample of the collector's own metric whose name starts with prefix
// (so otelcol_x and otelcol_x_total both count), over all label sets.
func (c *Collector) Metric(prefix string) (float64, error) {
	port, _ := strconv.Atoi(c.Params.MetricsPort)
	return metricAt(port, prefix)
}

// metricAt sums the samples of metric prefix (or prefix_total) that the Prometheus
// endpoint on 127.0.0.1:port serves.
func metricAt(port int, prefix string) (float64, error) {
	hc := &http.Client{Timeout: 3 * time.Second}
	resp, err := hc.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		if name != prefix && name != prefix+"_total" {
			continue
		}
		fs := strings.Fields(line)
		v, err := strconv.ParseFloat(fs[len(fs)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// OpenSpansView is the part of GET /v1/open-spans the testbed reads.
type OpenSpansView struct {
	TotalOpen     int64 `json:"total_open"`
	HeldSpans     int64 `json:"held_spans"`
	HeldTraces    int64 `json:"held_traces"`
	ReleasedSpans int64 `json:"released_spans"`
}

func (c *Collector) OpenSpans() (OpenSpansView, error) { return openSpansAt(c.Params.JournalHTTP) }

// Backend is a running mock backend process.
type Backend struct {
	GRPC, HTTP string
	Proc       *Proc
	*BackendClient
}

// StartBackend re-executes this program as the mock backend.
func (e *Env) StartBackend(name string) (*Backend, error) {
	addrs, err := FreeAddrs(2)
	if err != nil {
		return nil, err
	}
	log := filepath.Join(e.WorkDir, name+".log")
	p, err := StartProc(name, e.Self, nil, []string{
		"TESTBED_ROLE=mockbackend", "TESTBED_BACKEND_GRPC=" + addrs[0], "TESTBED_BACKEND_HTTP=" + addrs[1],
	}, log)
	if err != nil {
		return nil, err
	}
	if _, err := waitHTTP200("http://"+addrs[1]+"/stats", p, 30*time.Second, 20*time.Millisecond); err != nil {
		p.Kill9()
		return nil, err
	}
	return &Backend{GRPC: addrs[0], HTTP: addrs[1], Proc: p, BackendClient: NewBackendClient(addrs[1])}, nil
}

func (b *Backend) Stop() { b.Proc.Stop(5 * time.Second) }
