package main

import (
	"fmt"
	"io"

	"github.com/otelcol-longspan/otelcol-longspan/internal/topology"
)

// status prints every shard's gateway, endpoint and whether its journal is held.
func status(deployPath string, out io.Writer) error {
	d, err := topology.Load(deployPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%-6s %-12s %-28s %s\n", "shard", "gateway", "endpoint", "journal")
	for s := 0; s < d.Shards; s++ {
		held, err := journalLocked(d.JournalDir(s))
		state := "not held (its gateway is down or has not adopted it)"
		switch {
		case err != nil:
			state = err.Error()
		case held:
			state = "held"
		}
		fmt.Fprintf(out, "%-6d %-12s %-28s %s: %s\n", s, d.Owner(s), d.ShardEndpoint(s), d.JournalDir(s), state)
	}
	return nil
}
