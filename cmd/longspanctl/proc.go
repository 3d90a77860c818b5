package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/otelcol-longspan/otelcol-longspan/internal/topology"
)

// procRoot is where process information is read (Linux's /proc).
const procRoot = "/proc"

// gatewayPID returns the process id of gateway name, checked: the process runs the
// collector with `--config` naming the gateway's configuration file (the same file,
// its path resolved from the process's working directory). That is what the pid in
// the gateway's pid_file is trusted for; a pid file left from before a restart, or
// whose pid now belongs to another process, is not. In that case (or without a
// pid_file) the gateway is the one process that runs its configuration; the pid file
// is then rewritten with its pid, and a note for the operator written to out.
//
// The check reads /proc/<pid>/cmdline and /proc/<pid>/cwd (Linux). Where they cannot
// be read, no process is signalled.
func gatewayPID(d *topology.Deployment, name string, out io.Writer) (int, error) {
	g := d.Gateways[name]
	if g.Config == "" {
		return 0, fmt.Errorf("gateways::%s::config: required (the gateway is the process that runs --config with it)", name)
	}
	want, err := os.Stat(g.Config)
	if err != nil {
		return 0, fmt.Errorf("gateway %s: its configuration: %w", name, err)
	}
	if _, err := os.Stat(filepath.Join(procRoot, "self", "cmdline")); err != nil {
		return 0, fmt.Errorf("cannot tell which process is gateway %s (%v): longspanctl signals a process only after reading its command line from %s; reload the gateway by hand (kill -HUP)", name, err, procRoot)
	}
	var stale string
	if g.PIDFile != "" {
		raw, err := os.ReadFile(g.PIDFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
			stale = fmt.Sprintf("pid file %s does not exist", g.PIDFile)
		case err != nil:
			return 0, fmt.Errorf("gateway %s: %w", name, err)
		default:
			pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
			if err != nil || pid <= 0 {
				stale = fmt.Sprintf("pid file %s holds %q, not a process id", g.PIDFile, strings.TrimSpace(string(raw)))
				break
			}
			ok, why := runsConfig(pid, g.Config, want)
			if ok {
				return pid, nil
			}
			stale = fmt.Sprintf("pid file %s holds %d, which %s", g.PIDFile, pid, why)
		}
	}
	pids, err := processesRunning(g.Config, want)
	if err != nil {
		return 0, err
	}
	switch {
	case len(pids) == 1 && g.PIDFile != "":
		fmt.Fprintf(out, "  %s; gateway %s runs as pid %d (--config %s): writing that to %s\n", stale, name, pids[0], g.Config, g.PIDFile)
		if err := os.WriteFile(g.PIDFile, []byte(strconv.Itoa(pids[0])+"\n"), 0o644); err != nil {
			return 0, err
		}
		return pids[0], nil
	case len(pids) == 1:
		return pids[0], nil
	case len(pids) > 1:
		return 0, fmt.Errorf("gateway %s: several processes run --config %s (pids %v): stop all but one", name, g.Config, pids)
	}
	what := "it has no pid_file"
	if stale != "" {
		what = stale
	}
	return 0, fmt.Errorf("gateway %s is not running: %s, and no process runs --config %s; nothing was signalled. Start it with --config %s and write its pid to its pid_file",
		name, what, g.Config, g.Config)
}

// runsConfig says whether process pid is a collector running the configuration file
// want (named config in the deployment); why says what the process is when it is not.
func runsConfig(pid int, config string, want os.FileInfo) (ok bool, why string) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) && !exists(dir) {
		return false, "is not running"
	}
	if err != nil {
		return false, fmt.Sprintf("cannot be checked (%v)", err)
	}
	args := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	if len(raw) == 0 {
		return false, "has exited (its parent has not collected it)"
	}
	cmd := strings.Join(args, " ")
	if len(cmd) > 160 {
		cmd = cmd[:160] + "..."
	}
	not := fmt.Sprintf("is another process (`%s`), not one running --config %s", cmd, config)
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		// `otelcol-longspan validate --config ...` and the like: a subcommand.
		return false, not
	}
	for _, c := range configArgs(args[1:]) {
		if !filepath.IsAbs(c) {
			c = filepath.Join(dir, "cwd", c)
		}
		if st, err := os.Stat(c); err == nil && os.SameFile(st, want) {
			return true, ""
		}
	}
	return false, not
}

// configArgs returns the files named by --config (-config, --config=, file: URIs).
func configArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		var v string
		switch {
		case a == "--config" || a == "-config":
			if i+1 == len(args) {
				continue
			}
			i++
			v = args[i]
		case strings.HasPrefix(a, "--config="), strings.HasPrefix(a, "-config="):
			_, v, _ = strings.Cut(a, "=")
		default:
			continue
		}
		if scheme, rest, ok := strings.Cut(v, ":"); ok && !strings.Contains(scheme, "/") {
			if scheme != "file" {
				continue // env:, yaml:, http: ...: no file
			}
			v = rest
		}
		out = append(out, v)
	}
	return out
}

// processesRunning lists the processes that run the configuration file want.
func processesRunning(config string, want os.FileInfo) ([]int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if ok, _ := runsConfig(pid, config, want); ok {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
