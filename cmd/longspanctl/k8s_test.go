package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The committed Services of the Kubernetes example are what k8s-services prints.
func TestK8sServicesMatchTheCommittedExample(t *testing.T) {
	dir := filepath.Join("..", "..", "config", "scale-out", "k8s")
	var out strings.Builder
	require.NoError(t, k8sServices(filepath.Join(dir, "deploy.yaml"), "observability", &out))
	committed, err := os.ReadFile(filepath.Join(dir, "services.yaml"))
	require.NoError(t, err)
	assert.Equal(t, string(committed), out.String(),
		"stale: run `go run ./cmd/longspanctl k8s-services -d config/scale-out/k8s/deploy.yaml -namespace observability > config/scale-out/k8s/services.yaml`")
	assert.Equal(t, 32, strings.Count(out.String(), "kind: Service"), "one Service per shard")
	assert.Contains(t, out.String(), "name: longspan-shard-31\n")
	assert.Contains(t, out.String(), "statefulset.kubernetes.io/pod-name: longspan-gateway-2\n")
}

func TestJournalLockedSeesAnotherHolder(t *testing.T) {
	dir := t.TempDir()
	held, err := journalLocked(dir)
	require.NoError(t, err)
	assert.False(t, held, "no LOCK file: nobody holds it")

	f, err := os.Create(filepath.Join(dir, "LOCK"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	held, err = journalLocked(dir)
	require.NoError(t, err)
	assert.False(t, held, "a LOCK file nobody flocks: free (a dead collector's)")

	// A collector holds the journal: flock on the file, as the wal does.
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
	held, err = journalLocked(dir)
	require.NoError(t, err)
	assert.True(t, held)
}

func TestDialable(t *testing.T) {
	assert.Equal(t, "127.0.0.1:14007", dialable("0.0.0.0:14007"))
	assert.Equal(t, "127.0.0.1:14007", dialable(":14007"))
	assert.Equal(t, "10.1.2.3:14007", dialable("10.1.2.3:14007"))
}
