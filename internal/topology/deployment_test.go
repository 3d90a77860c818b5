package topology

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestShardListRanges(t *testing.T) {
	var l ShardList
	require.NoError(t, yaml.Unmarshal([]byte(`["7", "0-3", 5]`), &l))
	assert.Equal(t, ShardList{0, 1, 2, 3, 5, 7}, l)
	out, err := yaml.Marshal(l)
	require.NoError(t, err)
	assert.Equal(t, "- 0-3\n- 5\n- 7\n", string(out))

	for _, bad := range []string{`["3-1"]`, `["x"]`, `["1-y"]`} {
		assert.Error(t, yaml.Unmarshal([]byte(bad), &l), bad)
	}
}

func TestLoadAndAccessors(t *testing.T) {
	d, err := Load(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "gw-b", d.Owner(7))
	assert.Equal(t, "longspan-shard-05:4317", d.ShardEndpoint(5))
	assert.Equal(t, "0.0.0.0:14005", d.ShardListen(5))
	assert.Equal(t, "/var/lib/longspan/journals/shard-05", d.JournalDir(5))
	assert.Empty(t, d.ViewEndpoint(5), "the per-shard view is off unless view_base_port is set")
}

func TestValidateNamesWhatIsWrong(t *testing.T) {
	load := func(t *testing.T, edit func(*Deployment)) error {
		d, err := Load(filepath.Join("testdata", "deploy.yaml"))
		require.NoError(t, err)
		edit(d)
		return d.Validate()
	}
	tests := []struct {
		name string
		edit func(*Deployment)
		want string
	}{
		{"a shard with no gateway", func(d *Deployment) { d.Gateways["gw-b"].Shards = ShardList{4, 5, 6} }, "shard 7 has no gateway"},
		{"a shard with two", func(d *Deployment) { d.Gateways["gw-c"].Shards = ShardList{2} }, "shard 2 is given to both gw-a and gw-c"},
		{"a shard out of range", func(d *Deployment) { d.Gateways["gw-c"].Shards = ShardList{8} }, "gateways::gw-c::shards: 8 is outside 0..7"},
		{"an undefined exporter", func(d *Deployment) { d.Live = []string{"debug"} }, `exporter "debug" is listed but not defined`},
		{"no sampled exporter", func(d *Deployment) { d.Sampled = nil }, "sampled_exporters: at least one"},
		{"ports past 65535", func(d *Deployment) { d.BasePort = 65530 }, "base_port: 65530"},
		{"no health", func(d *Deployment) { d.Gateways["gw-a"].Health = "" }, "gateways::gw-a::health: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorContains(t, load(t, tt.edit), tt.want)
		})
	}
}

func TestAssignAndSaveRoundTrip(t *testing.T) {
	d, err := Load(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	require.NoError(t, d.Assign(3, "gw-c"))
	assert.Equal(t, "gw-c", d.Owner(3))
	assert.Equal(t, ShardList{0, 1, 2}, d.Gateways["gw-a"].Shards)
	require.NoError(t, d.Validate())
	assert.Error(t, d.Assign(3, "gw-z"))

	path := filepath.Join(t.TempDir(), "deploy.yaml")
	require.NoError(t, d.Save(path))
	back, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, ShardList{3}, back.Gateways["gw-c"].Shards)
	assert.Equal(t, "gw-b", back.Owner(7))
	_, err = os.Stat(path + ".tmp")
	assert.ErrorIs(t, err, os.ErrNotExist, "the save renames its temp file into place")
}

func TestLoadRefusesUnknownKeys(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "deploy.yaml"))
	require.NoError(t, err)
	for _, typo := range []struct{ from, to, want string }{
		{"journal_root:", "journal_rot:", "field journal_rot not found"},
		{"queue_directory:", "queue_dir:", "field queue_dir not found"},
		{"pid_file: gw-a.pid", "pidfile: gw-a.pid", "field pidfile not found"},
	} {
		path := filepath.Join(t.TempDir(), "deploy.yaml")
		require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(raw), typo.from, typo.to, 1)), 0o644))
		_, err := Load(path)
		assert.ErrorContains(t, err, typo.want)
	}
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	_, err = Load(empty)
	assert.ErrorContains(t, err, "shards: 0 must be between 1 and 1000", "an empty file is an invalid deployment, not a parse error")
}
