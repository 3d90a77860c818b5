package testbed

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
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
	env     *Env
	Name    string
	Params  CollectorParams
	Configs []string // --config files, in merge order
	Proc    *harness.Proc
	incarn  int
}

// NewCollector picks ports, renders and validates the config; a longspan-mode overlay
// must leave the default config's topology as it is.
func (e *Env) NewCollector(name string, p CollectorParams, backendGRPC string) (*Collector, error) {
	ep, err := harness.FreeEndpoints()
	if err != nil {
		return nil, err
	}
	p.Endpoints = ep
	p.Backend = backendGRPC
	if p.JournalDir == "" {
		p.JournalDir = filepath.Join(e.WorkDir, name, "journal")
	}
	cfgs, err := RenderConfig(e.WorkDir, name, p)
	if err != nil {
		return nil, err
	}
	if err := harness.Validate(e.Bin, cfgs...); err != nil {
		return nil, err
	}
	if p.Mode == Longspan && !p.NoRouting {
		if err := harness.CheckTopology(e.Bin, cfgs...); err != nil {
			return nil, err
		}
	}
	return &Collector{env: e, Name: name, Params: p.withDefaults(), Configs: cfgs}, nil
}

// Start starts the collector and waits for health_check 200; returns the time from
// exec to ready.
func (c *Collector) Start() (time.Duration, error) {
	c.incarn++
	log := filepath.Join(c.env.WorkDir, fmt.Sprintf("%s.log", c.Name))
	p, err := harness.StartProc(fmt.Sprintf("%s#%d", c.Name, c.incarn), c.env.Bin, harness.ConfigArgs(c.Configs...), nil, log)
	if err != nil {
		return 0, err
	}
	c.Proc = p
	d, err := harness.WaitHTTP200("http://"+c.Params.Health+"/", p, 5*time.Minute, 20*time.Millisecond)
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

func (c *Collector) Stat() (harness.ProcStat, error) {
	if c.Proc == nil {
		return harness.ProcStat{}, fmt.Errorf("not started")
	}
	return harness.ReadProcStat(c.Proc.Pid())
}

// Metric sums every sample of the collector's own metric whose name starts with prefix
// (so otelcol_x and otelcol_x_total both count), over all label sets.
func (c *Collector) Metric(prefix string) (float64, error) {
	return harness.MetricAt(c.Params.MetricsPort, prefix)
}

// OpenSpans reads the counts of the collector's open-span view.
func (c *Collector) OpenSpans() (harness.OpenSpansView, error) {
	return harness.OpenSpansAt(c.Params.JournalHTTP, 1)
}

// WaitDrained polls the open-span view until it holds no open and no held span, or limit
// passes; it returns the last view read.
func (c *Collector) WaitDrained(limit time.Duration) harness.OpenSpansView {
	var last harness.OpenSpansView
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if v, err := c.OpenSpans(); err == nil {
			last = v
			if v.TotalOpen == 0 && v.HeldSpans == 0 {
				break
			}
		}
	}
	return last
}

// Rig is a scenario's usual set-up: a collector of one configuration, started (health
// 200), and a sender to it. Close stops both.
type Rig struct {
	*Collector
	Snd *Sender
}

// StartRig renders, validates and starts the collector name of p, exporting to be, and
// connects a sender to it.
func (e *Env) StartRig(name string, p CollectorParams, be *Backend) (*Rig, error) {
	c, err := e.NewCollector(name, p, be.GRPC)
	if err != nil {
		return nil, err
	}
	if _, err := c.Start(); err != nil {
		return nil, err
	}
	snd, err := NewSender(c.Params.GRPC, c.Params.HTTP)
	if err != nil {
		c.Stop()
		return nil, err
	}
	return &Rig{Collector: c, Snd: snd}, nil
}

// Close closes the sender and stops the collector.
func (g *Rig) Close() {
	g.Snd.Close()
	g.Stop()
}

// Backend is a running mock backend process.
type Backend struct {
	GRPC, HTTP string
	Proc       *harness.Proc
	*BackendClient
}

// StartBackend re-executes this program as the mock backend.
func (e *Env) StartBackend(name string) (*Backend, error) {
	addrs, err := harness.FreeAddrs(2)
	if err != nil {
		return nil, err
	}
	log := filepath.Join(e.WorkDir, name+".log")
	p, err := harness.StartProc(name, e.Self, nil, []string{
		"TESTBED_ROLE=mockbackend", "TESTBED_BACKEND_GRPC=" + addrs[0], "TESTBED_BACKEND_HTTP=" + addrs[1],
	}, log)
	if err != nil {
		return nil, err
	}
	if _, err := harness.WaitHTTP200("http://"+addrs[1]+"/stats", p, 30*time.Second, 20*time.Millisecond); err != nil {
		p.Kill9()
		return nil, err
	}
	return &Backend{GRPC: addrs[0], HTTP: addrs[1], Proc: p, BackendClient: NewBackendClient(addrs[1])}, nil
}

func (b *Backend) Stop() { b.Proc.Stop(5 * time.Second) }
