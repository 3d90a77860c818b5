package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/otelcol-longspan/otelcol-longspan/internal/topology"
)

// move hands shard s to gateway to. The front tier keeps routing the shard's traces to
// the shard's fixed endpoint; while nobody listens there, its persistent queue holds
// them and retries. Steps, each waited for:
//
//  1. the old owner reloads a configuration without the shard (SIGHUP): its longspan
//     processor stops and the journal is closed, flushed and unlocked;
//  2. the deployment file records the new owner (only the two shard lists change in
//     it: comments and everything else stay as the operator wrote them);
//  3. the new owner reloads a configuration with the shard: it replays the journal
//     (open spans, held spans, last-seen times, snapshot numbers; idle clocks restart
//     at adoption, as after a restart) and binds the shard's address.
//
// Every step is idempotent: after a failure, run the same command again.
func move(deployPath, bin string, s int, to string, timeout time.Duration, out io.Writer) error {
	d, err := topology.Load(deployPath)
	if err != nil {
		return err
	}
	if s >= d.Shards {
		return fmt.Errorf("shard %d: the deployment has shards 0..%d", s, d.Shards-1)
	}
	target, ok := d.Gateways[to]
	if !ok {
		return fmt.Errorf("no gateway %q in %s", to, deployPath)
	}
	from := d.Owner(s)
	journal := d.JournalDir(s)
	start := time.Now()
	if err := d.Assign(s, to); err != nil {
		return err
	}
	// Before anything is reloaded: the move can be recorded in the deployment file
	// (which keeps everything but the two shard lists as it is).
	raw, err := os.ReadFile(deployPath)
	if err != nil {
		return err
	}
	if _, err := d.EditShardLists(raw); err != nil {
		return fmt.Errorf("%s: cannot record the move: %w", deployPath, err)
	}
	// And both gateways run: a shard released by one that the other cannot take waits
	// (in the front tier's queue) until someone starts it.
	for _, g := range []string{from, to} {
		if _, err := gatewayPID(d, g, out); err != nil {
			return fmt.Errorf("shard %d not moved: %w", s, err)
		}
	}
	if from != to {
		fmt.Fprintf(out, "shard %d: %s -> %s (journal %s)\n", s, from, to, journal)
		if err := writeGateway(d, from, bin); err != nil {
			return err
		}
		if err := reload(d, from, timeout, out); err != nil {
			return fmt.Errorf("releasing shard %d from %s: %w", s, from, err)
		}
		if err := waitFor(timeout, "the journal of shard "+strconv.Itoa(s)+" to be unlocked by "+from, func() (bool, error) {
			held, err := journalLocked(journal)
			return !held, err
		}); err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s released it after %s\n", from, time.Since(start).Round(time.Millisecond))
		if err := d.WriteShardLists(deployPath); err != nil {
			return err
		}
	}
	if err := writeGateway(d, to, bin); err != nil {
		return err
	}
	if err := reload(d, to, timeout, out); err != nil {
		return fmt.Errorf("adopting shard %d on %s: %w", s, to, err)
	}
	listen := d.ShardListen(s)
	if err := waitFor(timeout, to+" to hold the journal of shard "+strconv.Itoa(s)+" and listen on "+listen, func() (bool, error) {
		held, err := journalLocked(journal)
		if err != nil || !held {
			return false, err
		}
		c, err := net.DialTimeout("tcp", dialable(listen), time.Second)
		if err != nil {
			return false, nil
		}
		_ = c.Close()
		return true, nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %s serves shard %d after %s (health %s)\n", to, s, time.Since(start).Round(time.Millisecond), target.Health)
	return nil
}

// reload makes gateway name load its configuration again (SIGHUP) and waits until its
// health check answers 200 once more. It signals only a process that runs the
// gateway's configuration (gatewayPID), and only once that process is up: a collector
// still starting may not handle SIGHUP yet, and Go's default for it is to exit.
func reload(d *topology.Deployment, name string, timeout time.Duration, out io.Writer) error {
	g := d.Gateways[name]
	pid, err := gatewayPID(d, name, out)
	if err != nil {
		return err
	}
	health := "http://" + dialable(g.Health) + "/"
	healthy := func(when string) func() (bool, error) {
		return func() (bool, error) {
			if syscall.Kill(pid, 0) != nil {
				return false, fmt.Errorf("gateway %s (pid %d) exited %s: see its log", name, pid, when)
			}
			resp, err := http.Get(health)
			if err != nil {
				return false, nil
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK, nil
		}
	}
	if err := waitFor(timeout, name+" (pid "+strconv.Itoa(pid)+") to be up (health "+g.Health+") before it is reloaded", healthy("before the reload")); err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("gateway %s (pid %d): %w; start it with --config %s", name, pid, err, g.Config)
	}
	return waitFor(timeout, name+" to be healthy after the reload", healthy("during the reload"))
}

// journalLocked says whether a collector holds the journal in dir (its LOCK file is
// flocked; the kernel drops the lock when that process dies).
func journalLocked(dir string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, "LOCK"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer func() { _ = f.Close() }()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// waitFor polls cond until it holds, fails, or timeout passes.
func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dialable turns a listen address into one to connect to (0.0.0.0 → 127.0.0.1).
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
