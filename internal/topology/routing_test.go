package topology

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestShippedConfigsKeepSnapshotsFromTailSampling checks every shipped collector
// configuration (the default one and the rendered scale-out examples): a pipeline with
// a longspan processor exports only to snapshot_router connectors, and a pipeline with
// tail_sampling receives only from them, as one of their default_pipelines and none of
// their snapshot_pipelines. The connector itself is tested in connector/snapshotrouter,
// the running collector in test/e2e (no snapshot in tail_sampling's output).
func TestShippedConfigsKeepSnapshotsFromTailSampling(t *testing.T) {
	root := filepath.Join("..", "..", "config")
	var files []string
	for _, glob := range []string{"*.yaml", "scale-out/*.yaml", "scale-out/k8s/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, glob))
		require.NoError(t, err)
		files = append(files, m...)
	}
	checked := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var cfg struct {
			Connectors map[string]struct {
				Snapshot []string `yaml:"snapshot_pipelines"`
				Default  []string `yaml:"default_pipelines"`
			} `yaml:"connectors"`
			Service struct {
				Pipelines map[string]struct {
					Receivers  []string `yaml:"receivers"`
					Processors []string `yaml:"processors"`
					Exporters  []string `yaml:"exporters"`
				} `yaml:"pipelines"`
			} `yaml:"service"`
		}
		// deploy.yaml, services.yaml, ... are no collector configurations: they have no pipelines.
		if yaml.Unmarshal(raw, &cfg) != nil || len(cfg.Service.Pipelines) == 0 {
			continue
		}
		isRouter := func(name string) bool {
			_, ok := cfg.Connectors[name]
			return ok && (name == "snapshot_router" || strings.HasPrefix(name, "snapshot_router/"))
		}
		has := func(list []string, typ string) bool {
			return slices.ContainsFunc(list, func(n string) bool { return n == typ || strings.HasPrefix(n, typ+"/") })
		}
		for name, p := range cfg.Service.Pipelines {
			if !strings.HasPrefix(name, "traces") {
				continue
			}
			if has(p.Processors, "longspan") {
				checked++
				for _, e := range p.Exporters {
					assert.True(t, isRouter(e), "%s: %s exports longspan's output to %s, not to a snapshot_router", f, name, e)
				}
			}
			if has(p.Processors, "tail_sampling") {
				checked++
				for _, r := range p.Receivers {
					if !assert.True(t, isRouter(r), "%s: %s (tail_sampling) receives from %s, not from a snapshot_router", f, name, r) {
						continue
					}
					c := cfg.Connectors[r]
					assert.Contains(t, c.Default, name, "%s: %s is not a default pipeline of %s", f, name, r)
					assert.NotContains(t, c.Snapshot, name, "%s: %s would receive the snapshots of %s", f, name, r)
				}
			}
		}
	}
	assert.Greater(t, checked, 10, "found the longspan and tail_sampling pipelines of the shipped configs")
}
