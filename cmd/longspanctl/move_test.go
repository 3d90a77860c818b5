package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-longspan/otelcol-longspan/internal/harness"
	"github.com/otelcol-longspan/otelcol-longspan/internal/topology"
)

// fakeGatewayEnv makes the test binary a fake gateway (TestFakeGateway): it runs
// `--config FILE` as the collector would for what move looks at — the health endpoint,
// each shard's journal lock and listening address — and reloads FILE on SIGHUP.
const (
	fakeGatewayEnv  = "LONGSPANCTL_FAKE_GATEWAY"
	fakeStartingEnv = "LONGSPANCTL_FAKE_GATEWAY_STARTING"
)

func TestFakeGateway(t *testing.T) {
	if os.Getenv(fakeGatewayEnv) == "" {
		t.Skip("a helper process for the move tests")
	}
	args := configArgs(os.Args)
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "fake gateway: want one --config, have", os.Args)
		os.Exit(2)
	}
	os.Exit(fakeGateway(args[0]))
}

func fakeGateway(config string) int {
	type shard struct {
		lock *os.File
		ln   net.Listener
	}
	held := map[string]*shard{} // by journal directory
	// Starting: holds its journals but neither answers health nor handles SIGHUP yet
	// (which would end it, Go's default), as a collector early in its start.
	starting := os.Getenv(fakeStartingEnv) != ""
	hup := make(chan os.Signal, 1)
	if !starting {
		signal.Notify(hup, syscall.SIGHUP)
	}
	healthUp := starting
	for {
		raw, err := os.ReadFile(config)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake gateway:", err)
			return 1
		}
		var cfg struct {
			Extensions map[string]struct {
				Endpoint  string `yaml:"endpoint"`
				Directory string `yaml:"directory"`
			} `yaml:"extensions"`
			Receivers map[string]struct {
				Protocols struct {
					GRPC struct {
						Endpoint string `yaml:"endpoint"`
					} `yaml:"grpc"`
				} `yaml:"protocols"`
			} `yaml:"receivers"`
		}
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			fmt.Fprintln(os.Stderr, "fake gateway:", err)
			return 1
		}
		want := map[string]string{} // journal directory -> listen address
		for name, e := range cfg.Extensions {
			if sn, ok := strings.CutPrefix(name, "spanjournal/s"); ok {
				want[e.Directory] = cfg.Receivers["otlp/s"+sn].Protocols.GRPC.Endpoint
			}
		}
		for dir, s := range held {
			if _, keep := want[dir]; !keep {
				_ = s.ln.Close()
				_ = s.lock.Close() // drops the flock
				delete(held, dir)
			}
		}
		for dir, addr := range want {
			if held[dir] != nil {
				continue
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				fmt.Fprintln(os.Stderr, "fake gateway:", err)
				return 1
			}
			f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
			if err == nil {
				err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "fake gateway: journal", dir, err)
				return 1
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				fmt.Fprintln(os.Stderr, "fake gateway:", err)
				return 1
			}
			held[dir] = &shard{f, ln}
		}
		if !healthUp {
			ln, err := net.Listen("tcp", cfg.Extensions["health_check"].Endpoint)
			if err != nil {
				fmt.Fprintln(os.Stderr, "fake gateway:", err)
				return 1
			}
			go func() { _ = http.Serve(ln, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})) }()
			healthUp = true
		}
		<-hup
	}
}

// testDeployment is a deployment file with comments, in a temporary directory, whose
// gateways gw-a and gw-b (shards 0-1 and 2-3) are fake gateways of this test binary.
type testDeployment struct {
	dir, path string
	d         *topology.Deployment
}

const testDeployFile = `# A deployment for the move tests.   (every comment must survive a move)
shards: 4   # fixed
base_port: %d
endpoint: 127.0.0.1:{port}
listen: 127.0.0.1:{port}
journal_root: %[2]s/journals

# the gateways
gateways:
  gw-a:
    # gw-a's shards, one a line
    shards:
      - 0   # first
      - 1   # second
    health: %[3]s
    config: %[2]s/gw-a.yaml   # rendered
    pid_file: %[2]s/gw-a.pid
  gw-b:
    shards: [2-3]   # gw-b's
    health: %[4]s
    config: %[2]s/gw-b.yaml
    pid_file: %[2]s/gw-b.pid
exporters:
  file/t: {path: "%[2]s/out/{gateway}/t.jsonl"}   # one file each
sampled_exporters: [file/t]
# the end
`

func newTestDeployment(t *testing.T) *testDeployment {
	dir := t.TempDir()
	base, err := harness.FreePortRange(4)
	require.NoError(t, err)
	health, err := harness.FreeAddrs(2)
	require.NoError(t, err)
	td := &testDeployment{dir: dir, path: filepath.Join(dir, "deploy.yaml")}
	require.NoError(t, os.WriteFile(td.path, fmt.Appendf(nil, testDeployFile, base, dir, health[0], health[1]), 0o644))
	require.NoError(t, writeConfigs(td.path, ""))
	td.d, err = topology.Load(td.path)
	require.NoError(t, err)
	return td
}

// start runs gateway name as a fake gateway and waits until it holds its journals.
func (td *testDeployment) start(t *testing.T, name string, env ...string) *exec.Cmd {
	g := td.d.Gateways[name]
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeGateway$", "--", "--config", g.Config)
	cmd.Env = append(append(os.Environ(), fakeGatewayEnv+"=1"), env...)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.NoError(t, waitFor(10*time.Second, name+" to hold its journals", func() (bool, error) {
		for _, s := range g.Shards {
			if held, err := journalLocked(td.d.JournalDir(s)); err != nil || !held {
				return false, err
			}
		}
		return true, nil
	}))
	return cmd
}

// startSleep starts a process that is no gateway, to put its pid in a pid file.
func startSleep(t *testing.T) *exec.Cmd {
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// On a loaded machine /proc/<pid>/cmdline can still be empty right after Start
	// (the new image is being set up), which move reads as a process that has exited.
	cmdline := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "cmdline")
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(cmdline)
		return err == nil && strings.HasPrefix(string(raw), "sleep\x00")
	}, 10*time.Second, time.Millisecond, "sleep never showed its command line")
	return cmd
}

// requireNeverSignalled checks that cmd got no SIGHUP: it is alive, and when this test
// sends it SIGTERM, that is what ends it (a SIGHUP sent before would be delivered
// first, being pending or already acted on).
func requireNeverSignalled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	ws := exit.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled())
	assert.Equal(t, syscall.SIGTERM, ws.Signal(), "the unrelated process was signalled")
}

func writePID(t *testing.T, path string, pid int) {
	require.NoError(t, os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644))
}

// A pid file holding the pid of an unrelated process (a stale file whose pid was
// reused): move signals nothing and says what is wrong.
func TestMoveNeverSignalsAnUnrelatedProcess(t *testing.T) {
	td := newTestDeployment(t)
	sleep := startSleep(t)
	writePID(t, td.d.Gateways["gw-a"].PIDFile, sleep.Process.Pid)
	before, err := os.ReadFile(td.path)
	require.NoError(t, err)

	err = move(td.path, "", 1, "gw-b", 5*time.Second, io.Discard)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"gateway gw-a is not running",
		fmt.Sprintf("pid file %s holds %d, which is another process (`sleep 60`)", td.d.Gateways["gw-a"].PIDFile, sleep.Process.Pid),
		"no process runs --config " + td.d.Gateways["gw-a"].Config,
		"nothing was signalled",
	} {
		assert.Contains(t, msg, want)
	}
	requireNeverSignalled(t, sleep)
	after, err := os.ReadFile(td.path)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "nothing moved, nothing recorded")

	// The same with reload alone (the step move takes for each gateway).
	sleep = startSleep(t)
	writePID(t, td.d.Gateways["gw-b"].PIDFile, sleep.Process.Pid)
	err = reload(td.d, "gw-b", 5*time.Second, io.Discard)
	assert.ErrorContains(t, err, "which is another process (`sleep 60`), not one running --config "+td.d.Gateways["gw-b"].Config)
	requireNeverSignalled(t, sleep)

	// A pid that is not running, and no pid file at all.
	writePID(t, td.d.Gateways["gw-b"].PIDFile, sleep.Process.Pid) // reaped above
	assert.ErrorContains(t, reload(td.d, "gw-b", time.Second, io.Discard), fmt.Sprintf("holds %d, which is not running", sleep.Process.Pid))
	require.NoError(t, os.Remove(td.d.Gateways["gw-b"].PIDFile))
	assert.ErrorContains(t, reload(td.d, "gw-b", time.Second, io.Discard), "pid file "+td.d.Gateways["gw-b"].PIDFile+" does not exist")
}

// The walk-through on fake gateways: move keeps every comment of the deployment file
// and changes only the two shard lists; a stale pid file (here holding an unrelated
// process's pid) is no obstacle when the gateway runs: move finds it by its --config,
// signals it, not the other process, and corrects the pid file.
func TestMoveKeepsTheDeploymentFileAndFindsTheGateway(t *testing.T) {
	td := newTestDeployment(t)
	gwA := td.start(t, "gw-a")
	gwB := td.start(t, "gw-b")
	sleep := startSleep(t)
	writePID(t, td.d.Gateways["gw-a"].PIDFile, sleep.Process.Pid)
	writePID(t, td.d.Gateways["gw-b"].PIDFile, gwB.Process.Pid)
	before, err := os.ReadFile(td.path)
	require.NoError(t, err)

	var out strings.Builder
	require.NoError(t, move(td.path, "", 1, "gw-b", 10*time.Second, &out))
	assert.Contains(t, out.String(), fmt.Sprintf("gateway gw-a runs as pid %d", gwA.Process.Pid))
	pid, err := os.ReadFile(td.d.Gateways["gw-a"].PIDFile)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(gwA.Process.Pid), strings.TrimSpace(string(pid)), "the pid file names the gateway now")
	requireNeverSignalled(t, sleep)

	after, err := os.ReadFile(td.path)
	require.NoError(t, err)
	want := strings.Replace(strings.Replace(string(before),
		"      - 0   # first\n      - 1   # second\n", "      - 0   # first\n      # second\n", 1),
		"shards: [2-3]", "shards: [1-3]", 1)
	assert.Equal(t, want, string(after), "only the shard lists change")
	d, err := topology.Load(td.path)
	require.NoError(t, err)
	assert.Equal(t, "gw-b", d.Owner(1))
	held, err := journalLocked(d.JournalDir(1))
	require.NoError(t, err)
	assert.True(t, held, "gw-b adopted the journal")

	// And back: the block list has its shards again (as a range), the comments stay.
	require.NoError(t, move(td.path, "", 1, "gw-a", 10*time.Second, io.Discard))
	after, err = os.ReadFile(td.path)
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(string(before), "      - 0   # first\n      - 1   # second\n", "      - 0-1   # first\n      # second\n", 1), string(after))
	for _, line := range strings.Split(string(before), "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			assert.Contains(t, string(after), line[i:])
		}
	}
}

// A gateway that is still starting is not signalled (SIGHUP would end it) until its
// health check answers.
func TestReloadWaitsForTheGatewayToBeUp(t *testing.T) {
	td := newTestDeployment(t)
	gw := td.start(t, "gw-a", fakeStartingEnv+"=1")
	writePID(t, td.d.Gateways["gw-a"].PIDFile, gw.Process.Pid)
	err := reload(td.d, "gw-a", 300*time.Millisecond, io.Discard)
	assert.ErrorContains(t, err, fmt.Sprintf("timed out after 300ms waiting for gw-a (pid %d) to be up (health %s) before it is reloaded", gw.Process.Pid, td.d.Gateways["gw-a"].Health))
	requireNeverSignalled(t, gw)
}

func TestConfigArgs(t *testing.T) {
	assert.Equal(t, []string{"a.yaml", "/b.yaml", "c.yaml", "d.yaml"},
		configArgs([]string{"--config", "a.yaml", "--config=file:/b.yaml", "-config", "c.yaml", "-config=d.yaml", "--config", "env:X", "--set=x", "--config"}))
	assert.Empty(t, configArgs([]string{"--configs", "x"}))
}
