package spanjournal

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

func TestReadRunsMergeNearbyPayloadsOnly(t *testing.T) {
	locs := []wal.Location{
		{Segment: 1, Offset: 5000, Size: 100}, // 0: after 2's gap of 4000: joins 2
		{Segment: 2, Offset: 0, Size: 100},    // 1: another segment
		{Segment: 1, Offset: 900, Size: 100},  // 2
		{Segment: 1, Offset: 20000, Size: 50}, // 3: too far from 0
		{Segment: 1, Offset: 950, Size: 10},   // 4: inside 2 (same record)
	}
	runs := readRuns([]int{0, 1, 2, 3, 4}, locs)
	assert.Equal(t, []readRun{
		{loc: wal.Location{Segment: 1, Offset: 900, Size: 4200}, members: []int{2, 4, 0}},
		{loc: wal.Location{Segment: 1, Offset: 20000, Size: 50}, members: []int{3}},
		{loc: wal.Location{Segment: 2, Offset: 0, Size: 100}, members: []int{1}},
	}, runs)
}
