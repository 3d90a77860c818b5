package wal

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The kill -9 test re-executes this binary as a writer child.
	if os.Getenv(killChildEnv) != "" {
		os.Exit(runKillChild())
	}
	goleak.VerifyTestMain(m)
}
