package testbed

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clkTck is the kernel's USER_HZ (100 on every Linux we target).
const clkTck = 100

// Proc is a child process the testbed started. Every Proc is stopped by PID.
type Proc struct {
	Name    string
	Cmd     *exec.Cmd
	Started time.Time
	LogPath string
	done    chan struct{}
	waitErr error
}

// StartProc starts bin with args, output to logPath.
func StartProc(name, bin string, args, env []string, logPath string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group, so a Ctrl-C of the driver does not hit the children first.
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

// Kill9 sends SIGKILL to this process and waits until it is gone.
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

// Stop sends SIGTERM, escalating to SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill9()
	}
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

// waitHTTP200 polls url until 200, the process exits, or limit passes.
func waitHTTP200(url string, p *Proc, limit time.Duration, poll time.Duration) (time.Duration, error) {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.Started), nil
			}
		}
		if p != nil && p.Exited() {
			return 0, fmt.Errorf("%s exited (%v) before %s answered 200; log %s", p.Name, p.waitErr, url, p.LogPath)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: no 200 from %s within %v", p.Name, url, limit)
		}
		time.Sleep(poll)
	}
}

// FreeAddrs returns n distinct free 127.0.0.1 ports.
func FreeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// DirBytes sums the sizes of regular files under dir.
func DirBytes(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// Every process the driver started, so an interrupt can stop them all by PID.
var liveProcs = map[*Proc]struct{}{}
var liveMu = make(chan struct{}, 1)

func registerProc(p *Proc) {
	liveMu <- struct{}{}
	liveProcs[p] = struct{}{}
	<-liveMu
}

func unregisterProc(p *Proc) {
	liveMu <- struct{}{}
	delete(liveProcs, p)
	<-liveMu
}

// KillAll SIGKILLs every process this driver started and still running (by PID).
func KillAll() {
	liveMu <- struct{}{}
	ps := make([]*Proc, 0, len(liveProcs))
	for p := range liveProcs {
		ps = append(ps, p)
	}
	<-liveMu
	for _, p := range ps {
		_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	}
}
