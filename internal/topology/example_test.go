package topology

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommittedExampleIsCurrent checks that config/scale-out (and its k8s variant)
// holds what longspanctl renders from the deployment file today (`make validate`
// checks that the collector accepts it). Regenerate with:
//
//	go run ./cmd/longspanctl config -d config/scale-out/deploy.yaml
//	go run ./cmd/longspanctl config -d config/scale-out/k8s/deploy.yaml
func TestCommittedExampleIsCurrent(t *testing.T) {
	for _, dir := range []string{"scale-out", filepath.Join("scale-out", "k8s")} {
		t.Run(dir, func(t *testing.T) { exampleIsCurrent(t, dir) })
	}
}

func exampleIsCurrent(t *testing.T, dir string) {
	root := filepath.Join("..", "..")
	d, err := Load(filepath.Join(root, "config", dir, "deploy.yaml"))
	require.NoError(t, err)
	want := map[string]func() ([]byte, error){d.Front.Config: d.FrontConfig}
	for _, name := range d.GatewayNames() {
		want[d.Gateways[name].Config] = func() ([]byte, error) { return d.GatewayConfig(name) }
	}
	for path, render := range want {
		rendered, err := render()
		require.NoError(t, err)
		committed, err := os.ReadFile(filepath.Join(root, path))
		require.NoError(t, err)
		assert.Equal(t, string(rendered), string(committed), "%s is stale: run `go run ./cmd/longspanctl config -d config/%s/deploy.yaml`", path, dir)
	}
}
