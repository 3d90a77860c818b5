package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import "time"

// clock is the processor's source of time and ticks. Tests inject a manual clock so
// that every rule is checked without sleeping.
type clock interface {
	Now() time.Time
	// NewTicker returns a channel that receives at every interval, and its stop func.
	NewTicker(d time.Duration) (<-chan time.Time, func())
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}
