package testbed

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMissedReport(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	idle := 3 * time.Second
	for _, tc := range []struct {
		name     string
		reports  []time.Time
		lastSeen int // ms
		missed   bool
	}{
		{"the last report was seen", at(0, 500, 1000), 1100, false},
		{"a report acknowledged within idle after the last seen was missed", at(0, 500, 1000, 1500), 600, true},
		{"no report acknowledged for idle after the last seen: silence", at(0, 500, 3900), 600, false},
		{"a report acknowledged 300 ms after the one seen was missed, though a silence followed", at(0, 500, 900, 4500), 600, true},
		{"nothing acknowledged before what was seen", at(1000), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.missed, missedReport(tc.reports, t0.Add(time.Duration(tc.lastSeen)*time.Millisecond), idle))
		})
	}
}
