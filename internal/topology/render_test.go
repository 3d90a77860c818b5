package topology

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func rendered(t *testing.T, raw []byte, err error) map[string]any {
	t.Helper()
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	return cfg
}

// at walks a parsed configuration by keys.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		require.Truef(t, ok, "at %q: not a mapping", k)
		v, ok = mm[k]
		require.Truef(t, ok, "no key %q", k)
	}
	return v
}

func TestGatewayServesEachOfItsShards(t *testing.T) {
	d, err := Load(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	raw, err := d.GatewayConfig("gw-b")
	cfg := rendered(t, raw, err)

	for _, s := range []string{"04", "05", "06", "07"} {
		assert.Equal(t, "0.0.0.0:140"+s, at(t, cfg, "receivers", "otlp/s"+s, "protocols", "grpc", "endpoint"))
		assert.Equal(t, "/var/lib/longspan/journals/shard-"+s, at(t, cfg, "extensions", "spanjournal/s"+s, "directory"))
		assert.Equal(t, "spanjournal/s"+s, at(t, cfg, "processors", "longspan/s"+s, "journal"))
		assert.Equal(t, "5m", at(t, cfg, "processors", "longspan/s"+s, "idle_timeout"), "the shared longspan settings reach every shard")
		assert.Equal(t, true, at(t, cfg, "processors", "longspan/s"+s, "watermark", "enabled"), "with a front tier, idle runs on the probe watermark")
		assert.Equal(t, true, at(t, cfg, "processors", "longspan/s"+s, "journal_pass_through"), "every acknowledged span is journaled")
		assert.Equal(t, 0, at(t, cfg, "processors", "longspan/s"+s, "quotas", "per_client", "max_open_spans"), "behind the front tier the peer is no client")
		assert.Equal(t, false, at(t, cfg, "processors", "longspan/s"+s, "quotas", "session_rule_same_client"))
		assert.Equal(t, true, at(t, cfg, "processors", "longspan/s"+s, "reroute_heartbeats"), "heartbeat records go on to their span's shard")
		assert.Equal(t, []any{"otlp/s" + s}, at(t, cfg, "service", "pipelines", "traces/s"+s, "receivers"))
		assert.Equal(t, []any{"longspan/s" + s}, at(t, cfg, "service", "pipelines", "logs/s"+s, "processors"))
	}
	_, other := at(t, cfg, "receivers").(map[string]any)["otlp/s00"]
	assert.False(t, other, "a gateway serves only its own shards")
	// Snapshots never reach tail_sampling: the router sends them to traces/live only.
	// longspan_ack after it acknowledges what the exporters took to every shard's journal.
	assert.Equal(t, []any{"tail_sampling", "longspan_ack"}, at(t, cfg, "service", "pipelines", "traces/sample", "processors"))
	assert.Equal(t, []any{"snapshot_router"}, at(t, cfg, "service", "pipelines", "traces/sample", "receivers"))
	assert.Equal(t, []any{"snapshot_router"}, at(t, cfg, "service", "pipelines", "traces/live", "receivers"))
	assert.Equal(t, []any{"traces/sample"}, at(t, cfg, "connectors", "snapshot_router", "default_pipelines"))
	assert.Equal(t, []any{"traces/live"}, at(t, cfg, "connectors", "snapshot_router", "snapshot_pipelines"))
	for _, s := range []string{"04", "05", "06", "07"} {
		assert.Equal(t, []any{"snapshot_router"}, at(t, cfg, "service", "pipelines", "traces/s"+s, "exporters"))
	}
	assert.Equal(t, "front:4317", at(t, cfg, "extensions", "watermarkprobe", "endpoint"))
	assert.Equal(t, 64, at(t, cfg, "extensions", "watermarkprobe", "spans"), "8 probe spans per shard by default")
	assert.Equal(t, "none", at(t, cfg, "service", "telemetry", "metrics", "level"), "no two collectors on a host claim :8888")
}

func TestGatewayWithoutShardsStandsBy(t *testing.T) {
	d, err := Load(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	raw, err := d.GatewayConfig("gw-c")
	cfg := rendered(t, raw, err)
	assert.Equal(t, "127.0.0.1:0", at(t, cfg, "receivers", "otlp/standby", "protocols", "grpc", "endpoint"))
	assert.Len(t, at(t, cfg, "service", "pipelines"), 1)
	_, err = d.GatewayConfig("gw-z")
	assert.ErrorContains(t, err, `no gateway "gw-z"`)
}

func TestFrontListsEveryShardOnceWithADurableQueue(t *testing.T) {
	d, err := Load(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	raw, err := d.FrontConfig()
	cfg := rendered(t, raw, err)
	lb := at(t, cfg, "exporters", "load_balancing")
	hosts := at(t, lb, "resolver", "static", "hostnames").([]any)
	require.Len(t, hosts, 8)
	assert.Equal(t, "longspan-shard-00:4317", hosts[0])
	assert.Equal(t, "longspan-shard-07:4317", hosts[7])
	assert.Equal(t, "traceID", at(t, lb, "routing_key"))
	assert.Equal(t, "file_storage", at(t, lb, "sending_queue", "storage"), "the exporter-level queue is the persistent one")
	assert.Equal(t, false, at(t, lb, "protocol", "otlp", "sending_queue", "enabled"), "no in-memory queue per endpoint")
	assert.Equal(t, "0s", at(t, lb, "retry_on_failure", "max_elapsed_time"), "an acknowledged request is retried until a gateway takes it")
	assert.Equal(t, "/var/lib/longspan/queue", at(t, cfg, "extensions", "file_storage", "directory"))
	_, hasProcessors := at(t, cfg, "service", "pipelines", "logs").(map[string]any)["processors"]
	assert.False(t, hasProcessors, "the front tier only queues and routes")
}

// Gateways on one machine must not append to the same file: {gateway} in an exporter's
// string values (at any depth) becomes the gateway's name, and a file exporter without
// it is refused.
func TestEachGatewayWritesItsOwnFiles(t *testing.T) {
	d, err := Load(filepath.Join("..", "..", "config", "scale-out", "deploy.yaml"))
	require.NoError(t, err)
	paths := map[string]string{}
	for _, name := range d.GatewayNames() {
		raw, err := d.GatewayConfig(name)
		cfg := rendered(t, raw, err)
		for _, e := range []string{"file/traces", "file/snapshots"} {
			p := at(t, cfg, "exporters", e, "path").(string)
			assert.Contains(t, p, "/"+name+"/", "%s's %s", name, e)
			assert.NotContains(t, p, GatewayPlaceholder)
			if other, seen := paths[p]; seen {
				t.Errorf("%s and %s both write %s", other, name, p)
			}
			paths[p] = name
		}
	}
	assert.Len(t, paths, 2*len(d.Gateways))
	assert.Contains(t, d.Exporters["file/traces"].(map[string]any)["path"], GatewayPlaceholder, "rendering does not change the deployment")

	d.Exporters["otlp_grpc/x"] = map[string]any{"endpoint": "b:4317", "headers": map[string]any{"x-gw": "{gateway}"}, "list": []any{"a-{gateway}", 3}}
	raw, err := d.GatewayConfig("gw-b")
	cfg := rendered(t, raw, err)
	assert.Equal(t, "gw-b", at(t, cfg, "exporters", "otlp_grpc/x", "headers", "x-gw"))
	assert.Equal(t, []any{"a-gw-b", 3}, at(t, cfg, "exporters", "otlp_grpc/x", "list"))

	d.Exporters["file/traces"].(map[string]any)["path"] = "./out/traces.jsonl"
	assert.ErrorContains(t, d.Validate(), `exporters::file/traces::path: "./out/traces.jsonl" would be the same file for all 4 gateways`)
	for _, name := range []string{"gw-b", "gw-c", "gw-d"} {
		delete(d.Gateways, name)
	}
	d.Gateways["gw-a"].Shards = ShardList{}
	for s := range d.Shards {
		d.Gateways["gw-a"].Shards = append(d.Gateways["gw-a"].Shards, s)
	}
	assert.NoError(t, d.Validate(), "one gateway: one writer")
}

// load_balancing's retry starts from a zero BackOffConfig: without a multiplier it
// retries at initial_interval forever.
func TestFrontBacksOffItsRetries(t *testing.T) {
	d, err := Load(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	raw, err := d.FrontConfig()
	retry := at(t, rendered(t, raw, err), "exporters", "load_balancing", "retry_on_failure")
	assert.Equal(t, "100ms", at(t, retry, "initial_interval"))
	assert.Equal(t, 1.5, at(t, retry, "multiplier"))
	assert.Equal(t, "2s", at(t, retry, "max_interval"))
	assert.Equal(t, 0.2, at(t, retry, "randomization_factor"))

	d.Front.RetryMaxInterval = "1s"
	raw, err = d.FrontConfig()
	assert.Equal(t, "1s", at(t, rendered(t, raw, err), "exporters", "load_balancing", "retry_on_failure", "max_interval"))
}

// A front tier of several instances: each renders with its own addresses and queue
// and the same ring; every gateway probes every instance.
func TestEveryFrontTierInstanceIsProbed(t *testing.T) {
	d, err := Load(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	d.Front.Instances = []FrontInstance{{GRPC: "front-1:4317", HTTP: "front-1:4318", Health: "front-1:13133", QueueDirectory: "/var/lib/longspan/queue-1"}}
	require.NoError(t, d.Validate())

	raw, err := d.GatewayConfig("gw-b")
	gw := rendered(t, raw, err)
	assert.Equal(t, []any{"front:4317", "front-1:4317"}, at(t, gw, "extensions", "watermarkprobe", "endpoints"))
	_, single := at(t, gw, "extensions", "watermarkprobe").(map[string]any)["endpoint"]
	assert.False(t, single)

	raw, err = d.FrontInstanceConfig(0)
	first := rendered(t, raw, err)
	raw, err = d.FrontInstanceConfig(1)
	second := rendered(t, raw, err)
	assert.Equal(t, "front-1:4317", at(t, second, "receivers", "otlp", "protocols", "grpc", "endpoint"))
	assert.Equal(t, "/var/lib/longspan/queue-1", at(t, second, "extensions", "file_storage", "directory"))
	assert.Equal(t, "front-1:13133", at(t, second, "extensions", "health_check", "endpoint"))
	assert.Equal(t, at(t, first, "exporters", "load_balancing", "resolver"), at(t, second, "exporters", "load_balancing", "resolver"), "one ring")
	_, err = d.FrontInstanceConfig(2)
	assert.ErrorContains(t, err, "no instance 2")

	d.Front.Instances[0].QueueDirectory = d.Front.QueueDirectory
	assert.ErrorContains(t, d.Validate(), "each instance keeps its own queue")
}

// Heartbeat records reach their shard by way of whichever shard they land on: the front
// sends each client request of log records alone (no batching), so a retried request
// never lets a later one's records overtake it on the ways that worked.
func TestFrontSendsLogRequestsOneAtATime(t *testing.T) {
	d, err := Load(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	raw, err := d.FrontConfig()
	cfg := rendered(t, raw, err)
	assert.Equal(t, []any{"load_balancing/logs"}, at(t, cfg, "service", "pipelines", "logs", "exporters"))
	assert.Equal(t, []any{"load_balancing"}, at(t, cfg, "service", "pipelines", "traces", "exporters"))
	logsQueue := at(t, cfg, "exporters", "load_balancing/logs", "sending_queue").(map[string]any)
	_, batched := logsQueue["batch"]
	assert.False(t, batched, "log requests are never merged")
	assert.Equal(t, 1, logsQueue["num_consumers"])
	assert.Equal(t, "file_storage", logsQueue["storage"])
	_, traceBatch := at(t, cfg, "exporters", "load_balancing", "sending_queue").(map[string]any)["batch"]
	assert.True(t, traceBatch, "spans are still batched: each shard's part keeps its order")
}
