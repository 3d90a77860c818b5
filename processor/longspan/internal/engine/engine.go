package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import (
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Engine runs the rules. It owns what the rules remember between runs: the
// processor's start instant, the timed-rule index (deadlines.go) and the snapshot
// pacing (snapshot.go). Ingest runs under any instance's journal update; Tick, and
// so the index and the pacing, only on the journal's emitter (its tick goroutine).
type Engine struct {
	cfg    Config
	clocks Clocks
	codec  Codec
	logger *zap.Logger

	// startedAt is when the processor started, by its own clock: after a restart,
	// the instant the recovered state comes back to life. The idle clocks and holds
	// of recovered spans run from it (the journal does not keep their memory-only
	// hold start, and the downtime is not client silence). It is the one restart
	// instant the rules use: the extension's Recovery.At only reports the replay.
	startedAt time.Time

	// deadlines indexes when the timed rules next act on each trace; built by the
	// first tick.
	deadlines *deadlines
	// nextSnapshot is when the next round of snapshots is due; snapRound the round in
	// progress, paced over the ticks of snapshot.interval.
	nextSnapshot time.Time
	snapRound    snapshotRound

	// backgrounded is the index's count of backgrounded open spans (background.go),
	// read by the processor's gauge from another goroutine.
	backgrounded atomic.Int64
}

// Clocks are the instants silence and the release gate are measured at, given the
// wall clock now: the wall clock itself, or with a front tier the watermark of what
// has arrived (the processor's watermark.go). WallClocks is the plain one.
type Clocks interface {
	// Silence is the clock of the idle deadlines.
	Silence(now time.Time) time.Time
	// Grace is the clock of the release gate.
	Grace(now time.Time) time.Time
}

// WallClocks measures silence and grace on the wall clock.
type WallClocks struct{}

func (WallClocks) Silence(now time.Time) time.Time { return now }

func (WallClocks) Grace(now time.Time) time.Time { return now }

// New returns the rules of a processor that started at startedAt.
func New(cfg Config, startedAt time.Time, clocks Clocks, codec Codec, logger *zap.Logger) *Engine {
	return &Engine{cfg: cfg, startedAt: startedAt, clocks: clocks, codec: codec, logger: logger}
}
