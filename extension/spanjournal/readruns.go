package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"slices"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// Payloads read back together are merged into one read when the gap between them is
// at most maxReadGap bytes and the read stays within maxReadRun: one pread of a few
// KiB costs about what a pread of one payload does.
const (
	maxReadGap = 4 << 10
	maxReadRun = 1 << 20
)

// readRun is one read covering the payloads of members (indexes into locs).
type readRun struct {
	loc     wal.Location
	members []int
}

// readRuns groups the payloads at locs[i], i in want, into reads in file order.
func readRuns(want []int, locs []wal.Location) []readRun {
	slices.SortFunc(want, func(a, b int) int {
		if locs[a].Before(locs[b]) {
			return -1
		}
		if locs[b].Before(locs[a]) {
			return 1
		}
		return 0
	})
	var runs []readRun
	for _, i := range want {
		l := locs[i]
		if n := len(runs); n > 0 {
			r := &runs[n-1]
			end := r.loc.Offset + r.loc.Size
			if l.Segment == r.loc.Segment && l.Offset >= r.loc.Offset && l.Offset <= end+maxReadGap &&
				l.Offset+l.Size-r.loc.Offset <= maxReadRun {
				r.loc.Size = max(end, l.Offset+l.Size) - r.loc.Offset
				r.members = append(r.members, i)
				continue
			}
		}
		runs = append(runs, readRun{loc: l, members: []int{i}})
	}
	return runs
}
