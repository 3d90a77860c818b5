package harness

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clkTck is the kernel's USER_HZ (100 on every Linux we target).
const clkTck = 100

// Proc is a child process the harness started. Every Proc is stopped by PID.
type Proc struct {
	Name    string
	Cmd     *exec.Cmd
	Started time.Time
	LogPath string
	done    chan struct{}
	waitErr error
}

// StartProc starts bin with args (env added to this process's environment), its output
// appended to logPath, in a process group of its own.
func StartProc(name, bin string, args, env []string, logPath string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group, so a Ctrl-C of the driver does not hit the children first
	// (KillAllOnSignal stops them by PID instead).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Proc{Name: name, Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, err
	}
	registerProc(p)
	go func() {
		p.waitErr = cmd.Wait()
		_ = f.Close()
		unregisterProc(p)
		close(p.done)
	}()
	return p, nil
}

func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended (nil while it runs, or if it exited 0).
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.waitErr
}

// Kill9 sends SIGKILL to this process and waits (at most 30 s) until it is gone;
// Exited tells whether it is.
func (p *Proc) Kill9() {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
	}
}

// Pause stops the process (SIGSTOP) as a stalled host would: its sockets stay open,
// nothing it holds is answered until Resume.
func (p *Proc) Pause() error { return p.Cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Proc) Resume() error { return p.Cmd.Process.Signal(syscall.SIGCONT) }

// Stop sends SIGTERM, escalating to SIGKILL after grace. A paused process is resumed
// first, so that it can stop.
func (p *Proc) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.Resume()
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill9()
	}
}

// SelfCPU is the CPU time this process has used so far, user and system (getrusage:
// microseconds, where /proc's stat counts clock ticks). Benchmarks and the testbed
// take differences of it.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcStat is CPU and memory of a live process.
type ProcStat struct {
	CPUSeconds float64 // utime + stime
	RSSBytes   int64   // VmRSS
	HWMBytes   int64   // VmHWM (peak RSS)
}

func ReadProcStat(pid int) (ProcStat, error) {
	var ps ProcStat
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	s := string(raw)
	// Fields after the command name (which may contain spaces) start after the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ps, fmt.Errorf("stat: unexpected %q", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return ps, fmt.Errorf("stat: short %q", s)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	ps.CPUSeconds = (ut + st) / clkTck
	sf, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	defer func() { _ = sf.Close() }()
	sc := bufio.NewScanner(sf)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []string{"VmRSS:", "VmHWM:"} {
			if strings.HasPrefix(line, k) {
				fs := strings.Fields(line[len(k):])
				if len(fs) > 0 {
					kb, _ := strconv.ParseInt(fs[0], 10, 64)
					if k == "VmRSS:" {
						ps.RSSBytes = kb << 10
					} else {
						ps.HWMBytes = kb << 10
					}
				}
			}
		}
	}
	return ps, nil
}

// WaitHTTP200 polls url every poll until it answers 200, p (when given) exits, or limit
// passes; it returns the time from p's start to ready.
func WaitHTTP200(url string, p *Proc, limit time.Duration, poll time.Duration) (time.Duration, error) {
	hc := &http.Client{Timeout: time.Second}
	name, started := url, time.Now()
	if p != nil {
		name, started = p.Name, p.Started
	}
	deadline := time.Now().Add(limit)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(started), nil
			}
		}
		if p != nil && p.Exited() {
			return 0, fmt.Errorf("%s exited (%v) before %s answered 200; log %s", p.Name, p.waitErr, url, p.LogPath)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: no 200 from %s within %v", name, url, limit)
		}
		time.Sleep(poll)
	}
}

// Every process this program started and still running, so an interrupt can stop them
// all by PID.
var (
	liveMu    sync.Mutex
	liveProcs = map[*Proc]struct{}{}
)

func registerProc(p *Proc) {
	liveMu.Lock()
	defer liveMu.Unlock()
	liveProcs[p] = struct{}{}
}

func unregisterProc(p *Proc) {
	liveMu.Lock()
	defer liveMu.Unlock()
	delete(liveProcs, p)
}

// KillAll SIGKILLs every process this program started and still running (by PID).
func KillAll() {
	liveMu.Lock()
	ps := make([]*Proc, 0, len(liveProcs))
	for p := range liveProcs {
		ps = append(ps, p)
	}
	liveMu.Unlock()
	for _, p := range ps {
		_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	}
}

// KillAllOnSignal makes SIGINT and SIGTERM KillAll, then exit 130: the children run in
// process groups of their own, so a Ctrl-C does not reach them.
func KillAllOnSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		KillAll()
		os.Exit(130)
	}()
}
