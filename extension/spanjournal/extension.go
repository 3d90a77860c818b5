package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal/internal/metadata"
	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// Provider is what a longspan processor looks for among the host's extensions.
type Provider interface {
	// Journal returns the started journal; nil before Start.
	Journal() *Journal
}

type journalExtension struct {
	cfg       *Config
	set       extension.Settings
	telemetry *metadata.TelemetryBuilder

	journal  *Journal
	log      *wal.Log
	recovery Recovery
	// lastCheckpointBytes is the journal's size right after the last checkpoint (or
	// at start); only the checkpoint goroutine touches it after Start.
	lastCheckpointBytes int64

	server *http.Server
	stop   chan struct{}
	wg     sync.WaitGroup
}

var _ Provider = (*journalExtension)(nil)

func newExtension(set extension.Settings, cfg *Config) (*journalExtension, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &journalExtension{cfg: cfg, set: set, telemetry: tb}, nil
}

func (e *journalExtension) Journal() *Journal { return e.journal }

func (e *journalExtension) Start(ctx context.Context, host component.Host) error {
	logger := e.set.Logger
	log, err := wal.Open(wal.Options{
		Dir:             e.cfg.Directory,
		Sync:            e.cfg.Sync,
		MinSyncInterval: e.cfg.MinSyncInterval,
		SegmentSize:     e.cfg.SegmentBytes,
		TruncateCorrupt: e.cfg.TruncateCorrupt,
		Logger:          logger,
		Hooks: wal.Hooks{
			OnCommit: func(c wal.Commit) {
				bg := context.Background()
				e.telemetry.SpanjournalRecordsWritten.Add(bg, int64(c.Records))
				e.telemetry.SpanjournalBytesWritten.Add(bg, int64(c.Bytes))
				e.telemetry.SpanjournalBatchRecords.Record(bg, int64(c.Records))
				e.telemetry.SpanjournalBatchUpdates.Record(bg, int64(c.Submits))
				e.telemetry.SpanjournalFsyncDuration.Record(bg, c.Fsync.Seconds())
				if e.cfg.Sync == wal.SyncAlways && e.cfg.MinSyncInterval > 0 {
					e.telemetry.SpanjournalSyncIntervalWait.Record(bg, c.Held.Seconds())
				}
			},
			OnRepair: func(segment string, cutBytes int64, savedAs string) {
				e.telemetry.SpanjournalRepairs.Add(context.Background(), 1)
				logger.Warn("Cut a torn or corrupt tail off the span journal; the cut bytes are kept aside",
					zap.String("segment", segment), zap.Int64("cut_bytes", cutBytes), zap.String("saved_as", savedAs))
			},
		},
	})
	if err != nil {
		return fmt.Errorf("spanjournal: opening journal in %q: %w%s", e.cfg.Directory, err, truncateCorruptHint(err))
	}
	e.log = log
	e.journal = newJournal(log, e.cfg.MaxBytes, e.cfg.PayloadCacheBytes, time.Now)
	rec, err := e.journal.replay()
	if err != nil {
		_ = log.Close()
		return fmt.Errorf("spanjournal: replaying journal in %q: %w%s", e.cfg.Directory, err, truncateCorruptHint(err))
	}
	e.recovery = rec
	e.lastCheckpointBytes = log.Size()
	logger.Info("Span journal recovered",
		zap.String("directory", e.cfg.Directory), zap.Int("records", rec.Records),
		zap.Duration("took", rec.Duration), zap.Int("open_spans", rec.Open),
		zap.Int("held_spans", rec.Held), zap.Int("released_spans_to_resend", rec.Released),
		zap.Int64("journal_bytes", log.Size()))
	if err := e.registerGauges(); err != nil {
		return err
	}

	e.stop = make(chan struct{})
	e.wg.Add(1)
	go e.checkpointLoop()

	if hc := e.cfg.HTTP.Get(); e.cfg.HTTP.HasValue() {
		if err := e.startHTTP(ctx, host, hc); err != nil {
			return err
		}
	}
	return nil
}

// truncateCorruptHint tells the operator how to start anyway when the journal is
// damaged at a record. The wal's error says what cutting costs in terms of its own
// option; the operator sets ours.
func truncateCorruptHint(err error) string {
	if !errors.Is(err, wal.ErrCorruptRecord) {
		return ""
	}
	return "; to start anyway, set truncate_corrupt: true on the spanjournal extension (the wal's TruncateCorrupt above)"
}

func (e *journalExtension) registerGauges() error {
	return errors.Join(
		e.telemetry.RegisterSpanjournalJournalSizeCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(e.log.Size())
			return nil
		}),
		e.telemetry.RegisterSpanjournalLiveBytesCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(e.journal.liveBytes())
			return nil
		}),
		e.telemetry.RegisterSpanjournalPayloadCacheBytesCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(e.journal.cachedBytes())
			return nil
		}),
		e.telemetry.RegisterSpanjournalRecoveryDurationCallback(func(_ context.Context, o metric.Float64Observer) error {
			o.Observe(e.recovery.Duration.Seconds())
			return nil
		}),
		e.telemetry.RegisterSpanjournalSpansCallback(func(_ context.Context, o metric.Int64Observer) error {
			open, held, released, _ := e.journal.counts()
			o.Observe(int64(open), metric.WithAttributes(attribute.String("state", "open")))
			o.Observe(int64(held), metric.WithAttributes(attribute.String("state", "held")))
			o.Observe(int64(released), metric.WithAttributes(attribute.String("state", "released")))
			return nil
		}),
		e.telemetry.RegisterSpanjournalTracesHeldCallback(func(_ context.Context, o metric.Int64Observer) error {
			_, _, _, traces := e.journal.counts()
			o.Observe(int64(traces))
			return nil
		}),
	)
}

func (e *journalExtension) Shutdown(ctx context.Context) error {
	var errs []error
	if e.server != nil {
		errs = append(errs, e.server.Shutdown(ctx))
	}
	if e.stop != nil {
		close(e.stop)
		e.wg.Wait()
	}
	if e.log != nil {
		if e.journal != nil {
			errs = append(errs, e.journal.flushRiders(ctx))
		}
		errs = append(errs, e.log.Close())
	}
	e.telemetry.Shutdown()
	return errors.Join(errs...)
}
