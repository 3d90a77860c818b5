package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	killChildEnv = "WAL_TEST_KILL_CHILD"
	killDirEnv   = "WAL_TEST_KILL_DIR"
	killRoundEnv = "WAL_TEST_KILL_ROUND"
	killSyncEnv  = "WAL_TEST_KILL_SYNC"

	killSegmentSize = 64 << 10
	killWriters     = 16
)

// killRecord is the record the child writes as id; its payload starts with
// "id=<id>;" so the parent can identify it.
func killRecord(id uint64) Record {
	return Record{Type: byte(id), Data: testPayload(id, 32+int(id*2654435761%1500))}
}

func parseKillID(data []byte) (uint64, bool) {
	s, ok := bytes.CutPrefix(data, []byte("id="))
	if !ok {
		return 0, false
	}
	end := bytes.IndexByte(s, ';')
	if end < 0 {
		return 0, false
	}
	id, err := strconv.ParseUint(string(s[:end]), 10, 64)
	return id, err == nil
}

// runKillChild is the writer process of TestKill9: killWriters goroutines
// write forever and print every id once the wait for it has returned.
func runKillChild() int {
	round, _ := strconv.ParseUint(os.Getenv(killRoundEnv), 10, 64)
	l, err := Open(Options{Dir: os.Getenv(killDirEnv), SegmentSize: killSegmentSize, Sync: SyncPolicy(os.Getenv(killSyncEnv))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	// Never outlive a parent that failed to kill us.
	time.AfterFunc(60*time.Second, func() { os.Exit(3) })
	for g := uint64(0); g < killWriters; g++ {
		go func() {
			var line []byte
			for seq := uint64(0); ; {
				n := 1 + seq%3 // 1..3 records per Submit
				recs := make([]Record, n)
				for i := range recs {
					recs[i] = killRecord(round<<40 | g<<32 | seq)
					seq++
				}
				if _, err := submitWait(l, recs...); err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(4)
				}
				for _, r := range recs {
					id, _ := parseKillID(r.Data)
					line = strconv.AppendUint(line[:0], id, 10)
					line = append(line, '\n')
					// One write(2) per line: atomic on a pipe.
					if _, err := os.Stdout.Write(line); err != nil {
						os.Exit(0)
					}
				}
			}
		}()
	}
	select {}
}

// TestKill9 re-executes the test binary as a writer, SIGKILLs it after a
// random number of acknowledgements, reopens the journal and checks that
// every acknowledged record is there and intact. The journal carries over
// from round to round, so repairs stack.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds skipped in -short mode")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	dir := t.TempDir()
	acked := map[uint64]bool{}
	repairs := 0
	const rounds = 24
	for round := 1; round <= rounds; round++ {
		policy := SyncAlways
		if round%3 == 0 {
			policy = SyncNever // survives a process kill too
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), killChildEnv+"=1", killDirEnv+"="+dir,
			killRoundEnv+"="+strconv.Itoa(round), killSyncEnv+"="+string(policy))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())

		killAt := 1 + rng.IntN(600)
		r := bufio.NewReader(out)
		got, killed := 0, false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break // EOF after the kill; a partial line is not an ack
			}
			id, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
			require.NoError(t, err, "child printed %q", line)
			acked[id] = true
			if got++; got == killAt {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				killed = true
			}
		}
		_ = cmd.Wait()
		require.Truef(t, killed, "round %d: child exited before the kill after %d acks: %s", round, got, stderr.String())

		l, err := Open(Options{Dir: dir, SegmentSize: killSegmentSize, Hooks: Hooks{
			OnRepair: func(string, int64, string) { repairs++ },
		}})
		require.NoErrorf(t, err, "round %d", round)
		seen := make(map[uint64]bool, len(acked))
		require.NoError(t, l.Replay(func(_ uint64, rec Record, _ Location) error {
			id, ok := parseKillID(rec.Data)
			if !ok {
				return fmt.Errorf("unidentifiable record %q", rec.Data[:min(len(rec.Data), 20)])
			}
			if want := killRecord(id); want.Type != rec.Type || !bytes.Equal(want.Data, rec.Data) {
				return fmt.Errorf("record %d damaged", id)
			}
			seen[id] = true
			return nil
		}))
		for id := range acked {
			require.Truef(t, seen[id], "round %d: acknowledged record %d lost", round, id)
		}
		require.NoError(t, l.Close())
	}
	t.Logf("%d rounds, %d acknowledged records checked, %d repairs of a torn tail", rounds, len(acked), repairs)
}
