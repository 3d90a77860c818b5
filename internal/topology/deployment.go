// Package topology renders the collector configurations of a sharded otelcol-longspan
// deployment — the front tier and each gateway — from one deployment file, so that no
// operator copies S shard pipelines by hand (docs/scale-out.md).
//
// The deployment has a fixed set of S shards. The front tier's load_balancing exporter
// lists the S shard endpoints once and for all, so the trace→shard map never changes;
// which gateway serves a shard is the only thing that does. Each shard has its own
// journal directory, and a shard moves between gateways whole.
package topology // import "github.com/otelcol-longspan/otelcol-longspan/internal/topology"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Deployment is the deployment file: the shards, where each one is reached and
// journaled, which gateway serves it, and the settings every gateway shares. Relative
// paths in it are relative to the directory longspanctl and the collectors run in, as
// in a collector's own configuration.
type Deployment struct {
	// Shards is S, the fixed number of shards. Pick it once, well above the most
	// gateways you plan (4× or more): changing it later re-maps every trace.
	Shards int `yaml:"shards"`
	// BasePort numbers the shards' ports: shard N uses BasePort+N.
	BasePort int `yaml:"base_port"`
	// Endpoint is the address the front tier dials for a shard; Listen is the address
	// the owning gateway's receiver binds. Both may use {shard} (two digits) and {port}.
	// Locally both are 127.0.0.1:{port}; on Kubernetes Endpoint is a per-shard Service
	// (longspan-shard-{shard}:4317) and Listen is 0.0.0.0:{port}.
	Endpoint string `yaml:"endpoint"`
	Listen   string `yaml:"listen"`
	// JournalRoot holds one journal directory per shard, shard-NN. A shard moves with
	// its directory, so every gateway that may serve a shard must reach it (one disk,
	// or a shared volume).
	JournalRoot string `yaml:"journal_root"`
	// ViewBasePort, when set, serves shard N's read-only open-span view
	// (GET /v1/open-spans) on 127.0.0.1:ViewBasePort+N of its gateway.
	ViewBasePort int `yaml:"view_base_port,omitempty"`

	// Gateways says which shards each gateway serves. Every shard has exactly one.
	Gateways map[string]*GatewaySpec `yaml:"gateways"`

	// Front is the front tier's own settings.
	Front FrontSpec `yaml:"front"`

	// Longspan is given to every shard's longspan processor as it is (journal and
	// watermark are set per shard). TailSampling likewise for each gateway's one
	// tail_sampling processor, and LongspanAck for the longspan_ack processor after it
	// (it acknowledges to every shard's journal; its delay must cover what the sampled
	// exporters buffer).
	Longspan     map[string]any `yaml:"longspan"`
	TailSampling map[string]any `yaml:"tail_sampling"`
	LongspanAck  map[string]any `yaml:"longspan_ack"`
	// Exporters are defined on every gateway. Sampled lists those that receive complete
	// traces after tail_sampling, Live those that receive snapshot spans. In their
	// string values, {gateway} is replaced by the gateway's name (GatewayPlaceholder), so
	// that gateways sharing a disk write files of their own.
	Exporters map[string]any `yaml:"exporters"`
	Sampled   []string       `yaml:"sampled_exporters"`
	Live      []string       `yaml:"live_exporters"`
	// Telemetry is each gateway's and the front's service::telemetry, as it is.
	Telemetry map[string]any `yaml:"telemetry"`
}

// GatewayPlaceholder, in any string value of an exporter's settings (at any depth), is
// replaced by the gateway's name in that gateway's configuration. A `file` exporter's
// path must contain it when the deployment has more than one gateway: gateways on one
// machine (or one shared volume) would otherwise all append to one file, and their
// writes interleave into lines that are not JSON.
const GatewayPlaceholder = "{gateway}"

// GatewaySpec is one gateway.
type GatewaySpec struct {
	// Shards lists the shards it serves: numbers and ranges, e.g. [0-5, 9].
	Shards ShardList `yaml:"shards"`
	// Health is the health_check endpoint (host:port).
	Health string `yaml:"health"`
	// Config is where `longspanctl config` writes this gateway's configuration.
	Config string `yaml:"config"`
	// PIDFile holds the gateway's process id; `longspanctl move` signals SIGHUP to it
	// to make the collector reload its configuration, after checking that the process
	// runs this gateway's Config (`--config`). Optional: without it, or when it is
	// stale, move looks for the process that runs --config Config.
	PIDFile string `yaml:"pid_file"`
	// Metrics is the port of the gateway's own Prometheus metrics (0 = none).
	Metrics int `yaml:"metrics_port"`
}

// FrontSpec is the front tier.
type FrontSpec struct {
	GRPC   string `yaml:"grpc"`
	HTTP   string `yaml:"http"`
	Health string `yaml:"health"`
	// QueueDirectory is file_storage's directory: the persistent sending queue that
	// keeps what the front acknowledged across its own crash and a gateway's absence.
	QueueDirectory string `yaml:"queue_directory"`
	// QueueSize is the queue's capacity in requests. Default 100000.
	QueueSize int `yaml:"queue_size"`
	// NumConsumers is the queue's consumers. Default 1, and keep it there: one
	// consumer sends requests in the order the front accepted them, so a span a
	// client sent before its trace's root end never reaches the gateway after it
	// (with several consumers, a request in retry is overtaken and the trace reaches
	// tail sampling in two parts). Throughput comes from batching instead.
	NumConsumers int `yaml:"num_consumers"`
	// BatchMaxSpans caps the spans of one request to a gateway; the queue merges
	// queued client requests, in order, up to it. Default 8192.
	BatchMaxSpans int `yaml:"batch_max_spans"`
	// RetryMaxInterval caps the wait between retries of a request (from 100 ms, ×1.5
	// each retry). Default 2s.
	RetryMaxInterval string `yaml:"retry_max_interval"`
	Config           string `yaml:"config"`
	Metrics          int    `yaml:"metrics_port"`
	// Probe is how often each gateway sends watermark probes through the front tier,
	// and how many spans (random trace ids, so that every shard gets some) each probe
	// carries. Defaults 1s and 8 × shards.
	ProbeInterval string `yaml:"probe_interval"`
	ProbeSpans    int    `yaml:"probe_spans"`
	// Instances are more instances of the front tier, for clients that may send any
	// request to any of them (one DNS name or load balancer in front): each has the
	// same ring and settings as the first (the fields above) and its own addresses,
	// queue and configuration file. Every gateway probes every instance, and a shard's
	// watermark is the lowest of theirs (docs/scale-out.md, "Several front-tier
	// instances").
	Instances []FrontInstance `yaml:"instances"`
}

// FrontInstance is where one instance of the front tier listens and keeps its queue.
type FrontInstance struct {
	GRPC           string `yaml:"grpc"`
	HTTP           string `yaml:"http"`
	Health         string `yaml:"health"`
	QueueDirectory string `yaml:"queue_directory"`
	Config         string `yaml:"config"`
	Metrics        int    `yaml:"metrics_port"`
}

// FrontInstances is every instance of the front tier, the first one (FrontSpec's own
// addresses) first.
func (d *Deployment) FrontInstances() []FrontInstance {
	f := d.Front
	first := FrontInstance{GRPC: f.GRPC, HTTP: f.HTTP, Health: f.Health, QueueDirectory: f.QueueDirectory, Config: f.Config, Metrics: f.Metrics}
	return append([]FrontInstance{first}, f.Instances...)
}

// ShardList is a list of shard numbers written with ranges ("0-5").
type ShardList []int

// UnmarshalYAML reads numbers and "a-b" ranges.
func (l *ShardList) UnmarshalYAML(n *yaml.Node) error {
	var raw []string
	if err := n.Decode(&raw); err != nil {
		return err
	}
	var out []int
	for _, r := range raw {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(r), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return fmt.Errorf("shard %q: not a number or a range a-b", r)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return fmt.Errorf("shard range %q: want a-b with a <= b", r)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	*l = out
	return nil
}

// MarshalYAML writes the list back with ranges.
func (l ShardList) MarshalYAML() (any, error) {
	out := []any{}
	for i := 0; i < len(l); {
		j := i
		for j+1 < len(l) && l[j+1] == l[j]+1 {
			j++
		}
		if j > i {
			out = append(out, fmt.Sprintf("%d-%d", l[i], l[j]))
		} else {
			out = append(out, l[i])
		}
		i = j + 1
	}
	return out, nil
}

// Load reads and checks a deployment file.
func Load(path string) (*Deployment, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// parse decodes a deployment file strictly: a key the Deployment does not know (a typo,
// or a setting of another version) is an error rather than silently ignored.
func parse(raw []byte) (*Deployment, error) {
	d := &Deployment{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(d); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return d, nil
}

// Save writes the whole deployment as a new file, atomically (temp file + rename). It
// writes no comments: to record a shard move in a file someone wrote, use
// WriteShardLists, which changes nothing else in it.
func (d *Deployment) Save(path string) error {
	raw, err := yaml.Marshal(d)
	if err != nil {
		return err
	}
	return writeAtomic(path, raw, 0o644)
}

// writeAtomic replaces path with raw through a temp file and a rename, so that a reader
// never sees half a file.
func writeAtomic(path string, raw []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Validate checks that every shard has exactly one gateway and the names are usable.
func (d *Deployment) Validate() error {
	var errs []error
	if d.Shards < 1 || d.Shards > 1000 {
		errs = append(errs, fmt.Errorf("shards: %d must be between 1 and 1000", d.Shards))
	}
	if d.BasePort < 1 || d.BasePort+d.Shards > 65535 {
		errs = append(errs, fmt.Errorf("base_port: %d: shard ports base_port..base_port+shards-1 must be valid ports", d.BasePort))
	}
	if d.Endpoint == "" || d.Listen == "" {
		errs = append(errs, errors.New("endpoint and listen: required, e.g. 127.0.0.1:{port}"))
	}
	if d.JournalRoot == "" {
		errs = append(errs, errors.New("journal_root: required"))
	}
	if len(d.Gateways) == 0 {
		errs = append(errs, errors.New("gateways: at least one"))
	}
	owner := map[int]string{}
	for _, name := range d.GatewayNames() {
		g := d.Gateways[name]
		if g == nil {
			errs = append(errs, fmt.Errorf("gateways::%s: empty", name))
			continue
		}
		if strings.ContainsAny(name, "/ \t") {
			errs = append(errs, fmt.Errorf("gateways::%s: a name without '/' or spaces", name))
		}
		if g.Health == "" {
			errs = append(errs, fmt.Errorf("gateways::%s::health: required", name))
		}
		for _, s := range g.Shards {
			switch {
			case s < 0 || s >= d.Shards:
				errs = append(errs, fmt.Errorf("gateways::%s::shards: %d is outside 0..%d", name, s, d.Shards-1))
			case owner[s] != "":
				errs = append(errs, fmt.Errorf("shard %d is given to both %s and %s", s, owner[s], name))
			default:
				owner[s] = name
			}
		}
	}
	for s := 0; s < d.Shards; s++ {
		if owner[s] == "" && len(errs) == 0 {
			errs = append(errs, fmt.Errorf("shard %d has no gateway: every shard needs exactly one", s))
		}
	}
	queues := map[string]bool{d.Front.QueueDirectory: true}
	for i, in := range d.Front.Instances {
		if in.GRPC == "" || in.Health == "" || in.QueueDirectory == "" {
			errs = append(errs, fmt.Errorf("front::instances[%d]: grpc, health and queue_directory are required", i))
		}
		if queues[in.QueueDirectory] {
			errs = append(errs, fmt.Errorf("front::instances[%d]::queue_directory: %q is another instance's: each instance keeps its own queue", i, in.QueueDirectory))
		}
		queues[in.QueueDirectory] = true
	}
	if len(d.Sampled) == 0 {
		errs = append(errs, errors.New("sampled_exporters: at least one exporter for complete traces"))
	}
	for _, e := range append(slices.Clone(d.Sampled), d.Live...) {
		if _, ok := d.Exporters[e]; !ok {
			errs = append(errs, fmt.Errorf("exporter %q is listed but not defined under exporters", e))
		}
	}
	if len(d.Gateways) > 1 {
		for _, name := range slices.Sorted(maps.Keys(d.Exporters)) {
			if typ, _, _ := strings.Cut(name, "/"); typ != "file" {
				continue
			}
			cfg, _ := d.Exporters[name].(map[string]any)
			if path, _ := cfg["path"].(string); !strings.Contains(path, GatewayPlaceholder) {
				errs = append(errs, fmt.Errorf("exporters::%s::path: %q would be the same file for all %d gateways, "+
					"which append to it at once (lines of two gateways run into each other): "+
					"put %s in it, e.g. ./out/%s/traces.jsonl", name, path, len(d.Gateways), GatewayPlaceholder, GatewayPlaceholder))
			}
		}
	}
	return errors.Join(errs...)
}

// GatewayNames returns the gateways in name order.
func (d *Deployment) GatewayNames() []string {
	names := make([]string, 0, len(d.Gateways))
	for n := range d.Gateways {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Owner returns the gateway that serves shard s.
func (d *Deployment) Owner(s int) string {
	for _, name := range d.GatewayNames() {
		if slices.Contains(d.Gateways[name].Shards, s) {
			return name
		}
	}
	return ""
}

// Assign gives shard s to gateway to, taking it from its owner.
func (d *Deployment) Assign(s int, to string) error {
	g, ok := d.Gateways[to]
	if !ok {
		return fmt.Errorf("no gateway %q in the deployment", to)
	}
	if from := d.Owner(s); from != "" {
		d.Gateways[from].Shards = slices.DeleteFunc(d.Gateways[from].Shards, func(x int) bool { return x == s })
	}
	g.Shards = append(g.Shards, s)
	sort.Ints(g.Shards)
	return nil
}

// ShardName is shard s as it appears in component names and directories ("07").
func (d *Deployment) ShardName(s int) string {
	if d.Shards > 100 {
		return fmt.Sprintf("%03d", s)
	}
	return fmt.Sprintf("%02d", s)
}

func (d *Deployment) expand(pattern string, s int) string {
	r := strings.NewReplacer("{shard}", d.ShardName(s), "{port}", strconv.Itoa(d.BasePort+s))
	return r.Replace(pattern)
}

// ShardEndpoint is the address the front tier dials for shard s.
func (d *Deployment) ShardEndpoint(s int) string { return d.expand(d.Endpoint, s) }

// ShardListen is the address the owner of shard s binds.
func (d *Deployment) ShardListen(s int) string { return d.expand(d.Listen, s) }

// ViewEndpoint is where shard s's open-span view listens ("" when off).
func (d *Deployment) ViewEndpoint(s int) string {
	if d.ViewBasePort == 0 {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(d.ViewBasePort+s)
}

// JournalDir is shard s's journal directory.
func (d *Deployment) JournalDir(s int) string {
	return filepath.Join(d.JournalRoot, "shard-"+d.ShardName(s))
}
