package topology

import (
	"fmt"
	"maps"
	"strings"

	"gopkg.in/yaml.v3"
)

// Component names shared by every rendered gateway.
const (
	// snapshotRouter sends snapshot spans to traces/live and every other span to
	// traces/sample (tail_sampling), moving each span to one of them, never cloning.
	snapshotRouter = "snapshot_router"
	logsExporter   = "debug/logs"
	probeExt       = "watermarkprobe"
)

// m is a YAML mapping under construction.
type m = map[string]any

// GatewayConfig renders the configuration of gateway name: for each shard it serves, an
// OTLP receiver on the shard's address, a spanjournal on the shard's directory and a
// longspan processor in a traces and a logs pipeline; and once per gateway the
// snapshot routing, tail_sampling and the exporters. A gateway with no shard runs a
// standby pipeline bound to an ephemeral loopback port, so that it can be started
// before shards move to it.
func (d *Deployment) GatewayConfig(name string) ([]byte, error) {
	g, ok := d.Gateways[name]
	if !ok {
		return nil, fmt.Errorf("no gateway %q in the deployment", name)
	}
	ext := m{"health_check": m{"endpoint": g.Health}}
	extNames := []string{"health_check"}
	recv, procs, pipes := m{}, m{}, m{}
	exporters := m{}
	for e, c := range d.Exporters {
		exporters[e] = expandGateway(c, name)
	}
	exporters[logsExporter] = m{"verbosity": "basic"}

	if d.Front.GRPC != "" {
		probe := m{"interval": d.probeInterval(), "spans": d.probeSpans()}
		if len(d.Front.Instances) == 0 {
			probe["endpoint"] = d.Front.GRPC
		} else {
			var endpoints []string
			for _, in := range d.FrontInstances() {
				endpoints = append(endpoints, in.GRPC)
			}
			probe["endpoints"] = endpoints
		}
		ext[probeExt] = probe
		extNames = append(extNames, probeExt)
	}
	for _, s := range g.Shards {
		sn := d.ShardName(s)
		journal := "spanjournal/s" + sn
		jc := m{"directory": d.JournalDir(s), "sync": "always"}
		if view := d.ViewEndpoint(s); view != "" {
			jc["http"] = m{"endpoint": view}
		}
		ext[journal] = jc
		extNames = append(extNames, journal)
		recv["otlp/s"+sn] = m{"protocols": m{"grpc": m{"endpoint": d.ShardListen(s), "max_recv_msg_size_mib": 64}}}
		lp := maps.Clone(d.Longspan)
		if lp == nil {
			lp = m{}
		}
		lp["journal"] = journal
		// Shard moves reload gateways: what sits in tail_sampling must be journaled.
		lp["journal_pass_through"] = true
		if d.Front.GRPC != "" {
			lp["watermark"] = m{"enabled": true}
			// Every request comes from the front tier, so the peer address names no
			// browser: a per-client quota would make all of them one client. The
			// session and trace quotas still hold (docs/scale-out.md).
			q := m{}
			if given, ok := lp["quotas"].(map[string]any); ok {
				q = maps.Clone(given)
			}
			q["per_client"] = m{"max_open_spans": 0, "max_held_spans": 0, "max_bytes": 0}
			// For the same reason the session rule cannot tell clients apart: a
			// session's spans may come through different front-tier instances.
			q["session_rule_same_client"] = false
			lp["quotas"] = q
		}
		procs["longspan/s"+sn] = lp
		pipes["traces/s"+sn] = m{"receivers": []string{"otlp/s" + sn}, "processors": []string{"longspan/s" + sn}, "exporters": []string{snapshotRouter}}
		pipes["logs/s"+sn] = m{"receivers": []string{"otlp/s" + sn}, "processors": []string{"longspan/s" + sn}, "exporters": []string{logsExporter}}
		if d.Front.GRPC != "" {
			// load_balancing hashes a log record's trace id unlike a span's: a heartbeat
			// record lands on any shard, which sends it on, as a span, to the right one.
			lp["reroute_heartbeats"] = true
		}
	}
	conns := m{}
	if len(g.Shards) == 0 {
		recv["otlp/standby"] = m{"protocols": m{"grpc": m{"endpoint": "127.0.0.1:0"}}}
		pipes["traces/standby"] = m{"receivers": []string{"otlp/standby"}, "exporters": []string{logsExporter}}
	} else {
		ts := maps.Clone(d.TailSampling)
		if ts == nil {
			ts = m{"policies": []m{{"name": "keep-everything", "type": "always_sample"}}}
		}
		procs["tail_sampling"] = ts
		ack := maps.Clone(d.LongspanAck)
		if ack == nil {
			ack = m{}
		}
		procs["longspan_ack"] = ack
		// Snapshots never reach tail_sampling: without live exporters they are dropped.
		router := m{"default_pipelines": []string{"traces/sample"}}
		pipes["traces/sample"] = m{"receivers": []string{snapshotRouter}, "processors": []string{"tail_sampling", "longspan_ack"}, "exporters": d.Sampled}
		if len(d.Live) > 0 {
			router["snapshot_pipelines"] = []string{"traces/live"}
			pipes["traces/live"] = m{"receivers": []string{snapshotRouter}, "exporters": d.Live}
		}
		conns[snapshotRouter] = router
	}
	cfg := m{
		"extensions": ext,
		"receivers":  recv,
		"exporters":  exporters,
		"service":    m{"extensions": extNames, "pipelines": pipes, "telemetry": d.telemetry(g.Metrics)},
	}
	if len(procs) > 0 {
		cfg["processors"] = procs
	}
	if len(conns) > 0 {
		cfg["connectors"] = conns
	}
	return marshal(fmt.Sprintf("gateway %s of a %d-shard deployment, shards %v", name, d.Shards, g.Shards), cfg)
}

// FrontConfig renders the front tier: OTLP in, the stock load_balancing exporter out, with
// the S shard endpoints as its static resolver, routing by trace id, and an
// exporter-level persistent sending queue on file_storage, retried without a time
// limit, so that what the front acknowledged survives its own crash and a gateway's
// absence. Heartbeat log records land on any shard (load_balancing hashes a record's
// trace id unlike a span's); the gateway that gets one sends it on to its span's shard
// (longspan's reroute_heartbeats).
func (d *Deployment) FrontConfig() ([]byte, error) {
	return d.FrontInstanceConfig(0)
}

// FrontInstanceConfig renders instance i of FrontInstances: FrontConfig's settings with
// that instance's addresses and queue.
func (d *Deployment) FrontInstanceConfig(i int) ([]byte, error) {
	instances := d.FrontInstances()
	if i < 0 || i >= len(instances) {
		return nil, fmt.Errorf("front: no instance %d", i)
	}
	in, f := instances[i], d.Front
	if in.GRPC == "" || in.Health == "" || in.QueueDirectory == "" {
		return nil, fmt.Errorf("front: grpc, health and queue_directory are required")
	}
	endpoints := make([]string, d.Shards)
	for s := range endpoints {
		endpoints[s] = d.ShardEndpoint(s)
	}
	protocols := m{"grpc": m{"endpoint": in.GRPC, "max_recv_msg_size_mib": 64}}
	if in.HTTP != "" {
		protocols["http"] = m{"endpoint": in.HTTP, "cors": m{"allowed_origins": []string{"*"}, "allowed_headers": []string{"*"}}}
	}
	queueSize, consumers, maxInterval := f.QueueSize, f.NumConsumers, f.RetryMaxInterval
	if queueSize == 0 {
		queueSize = 100000
	}
	if consumers == 0 {
		consumers = 1
	}
	batchMax := f.BatchMaxSpans
	if batchMax == 0 {
		batchMax = 8192
	}
	if maxInterval == "" {
		maxInterval = defaultRetryMaxInterval
	}
	cfg := m{
		"extensions": m{
			"health_check": m{"endpoint": in.Health},
			"file_storage": m{"directory": in.QueueDirectory, "create_directory": true},
		},
		"receivers": m{"otlp": m{"protocols": protocols}},
		"exporters": m{
			"load_balancing": m{
				"routing_key": "traceID",
				"sending_queue": m{
					"enabled": true, "storage": "file_storage", "sizer": "requests",
					"queue_size": queueSize, "num_consumers": consumers,
					"batch": m{"flush_timeout": "20ms", "sizer": "items", "min_size": batchMax / 4, "max_size": batchMax},
				},
				// load_balancing's retry settings start from zero, not from the collector's
				// defaults: without a multiplier the retry interval stays at
				// initial_interval, and a batch stuck on one shard is re-sent whole (the
				// healthy shards' parts too) ten times a second. Backing off ×1.5 up to
				// max_interval re-sends it at most every max_interval (±20%) while the shard
				// is away, and retries it within max_interval of the shard's return.
				"retry_on_failure": m{
					"enabled": true, "initial_interval": "100ms", "multiplier": retryMultiplier,
					"randomization_factor": 0.2, "max_interval": maxInterval, "max_elapsed_time": "0s",
				},
				"protocol": m{"otlp": m{
					"tls":              m{"insecure": true},
					"timeout":          "10s",
					"sending_queue":    m{"enabled": false},
					"retry_on_failure": m{"enabled": false},
				}},
				"resolver": m{"static": m{"hostnames": endpoints}},
			},
		},
		"service": m{
			"extensions": []string{"health_check", "file_storage"},
			"pipelines": m{
				"traces": m{"receivers": []string{"otlp"}, "exporters": []string{"load_balancing"}},
				"logs":   m{"receivers": []string{"otlp"}, "exporters": []string{"load_balancing"}},
			},
			"telemetry": d.telemetry(in.Metrics),
		},
	}
	// Log records (heartbeats) get a queue of their own that sends each client request
	// alone, never merged with the next: a gateway sends a heartbeat record on from
	// whichever shard it lands on (reroute_heartbeats), so the records of one merged
	// request go to the shards by different ways, and a retry of the request after one
	// way failed would have delivered the later requests' records (the logs queue's
	// watermark probes among them) on the ways that worked before the earlier ones on
	// the way that failed. One request at a time, retried whole, keeps every later
	// record behind every earlier one on all ways.
	exporters := cfg["exporters"].(m)
	lb := exporters["load_balancing"].(m)
	logs := maps.Clone(lb)
	queue := maps.Clone(lb["sending_queue"].(m))
	delete(queue, "batch")
	logs["sending_queue"] = queue
	exporters[logsLoadBalancing] = logs
	cfg["service"].(m)["pipelines"].(m)["logs"] = m{"receivers": []string{"otlp"}, "exporters": []string{logsLoadBalancing}}
	what := fmt.Sprintf("front tier of a %d-shard deployment", d.Shards)
	if len(instances) > 1 {
		what = fmt.Sprintf("front tier instance %d of %d of a %d-shard deployment", i, len(instances), d.Shards)
	}
	return marshal(what, cfg)
}

// expandGateway copies an exporter's settings with GatewayPlaceholder replaced by the
// gateway's name in every string value.
func expandGateway(v any, gateway string) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, GatewayPlaceholder, gateway)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = expandGateway(x, gateway)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = expandGateway(x, gateway)
		}
		return out
	}
	return v
}

// logsLoadBalancing is the front tier's exporter for log records: load_balancing with a
// queue of its own that does not merge requests.
const logsLoadBalancing = "load_balancing/logs"

// The front tier's retry of a batch that a shard did not take: 100 ms, then ×1.5 up to
// retry_max_interval (default 2s), without a time limit.
const (
	retryMultiplier         = 1.5
	defaultRetryMaxInterval = "2s"
)

func (d *Deployment) probeInterval() string {
	if d.Front.ProbeInterval != "" {
		return d.Front.ProbeInterval
	}
	return "1s"
}

func (d *Deployment) probeSpans() int {
	if d.Front.ProbeSpans > 0 {
		return d.Front.ProbeSpans
	}
	return 8 * d.Shards
}

func (d *Deployment) telemetry(metricsPort int) m {
	t := maps.Clone(d.Telemetry)
	if t == nil {
		t = m{}
	}
	if metricsPort > 0 {
		t["metrics"] = m{"readers": []m{{"pull": m{"exporter": m{"prometheus": m{"host": "127.0.0.1", "port": metricsPort}}}}}}
	} else if _, ok := t["metrics"]; !ok {
		// Two collectors on one host must not both claim the default :8888.
		t["metrics"] = m{"level": "none"}
	}
	return t
}

func marshal(what string, cfg m) ([]byte, error) {
	body, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	head := "# Generated by longspanctl from the deployment file: " + what + ".\n" +
		"# Do not edit: change the deployment file and run `longspanctl config` again.\n"
	return append([]byte(head), body...), nil
}
