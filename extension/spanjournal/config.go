package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// Config is the spanjournal extension's configuration.
type Config struct {
	// Directory holds the journal segments; created if missing. Default ./data/journal.
	// Give every collector its own directory: the journal locks it.
	Directory string `mapstructure:"directory"`
	// Sync is when the journal fsyncs: "always" (default; every group-committed batch
	// is on stable storage before the processor acknowledges it) or "never" (the OS
	// decides; an acknowledged span survives kill -9 of the collector, not a power loss
	// or kernel crash).
	Sync wal.SyncPolicy `mapstructure:"sync"`
	// MinSyncInterval (sync: always) is the shortest time between the starts of two
	// fsyncs. A request that comes sooner after one began waits for the rest of the
	// interval and shares the next fsync with every request that came meanwhile; each
	// still returns only once its records are on stable storage. Browsers post small
	// requests independently of each other, so without it most fsyncs carry one
	// request and their kernel CPU is paid per request; with it the fsyncs are at most
	// 1/interval per second. It adds at most the interval to an acknowledgement, and a
	// client that sends one request at a time and waits for each answer gets at most
	// 1/interval requests per second (one with several requests in flight shares the
	// fsyncs). A request that comes later than the interval after the last fsync
	// began is written at once. Default 5ms; 0 writes as soon as the previous fsync is
	// done; at most 1s.
	MinSyncInterval time.Duration `mapstructure:"min_sync_interval"`
	// SegmentBytes is the size at which the journal starts a new segment file. Old
	// segments are dropped whole after a checkpoint. Default 20 MiB, at least 64 KiB.
	SegmentBytes int `mapstructure:"segment_bytes"`
	// MaxBytes bounds the journal on disk. Past it, requests that would hold more spans
	// are refused with a retryable error until a checkpoint shrinks it. Default 32 GiB:
	// the journal holds every held payload and stays within about twice their bytes,
	// so 10 M held spans of ~700 B need ~15 GiB at the peak; 0 disables the bound.
	MaxBytes int64 `mapstructure:"max_bytes"`
	// PayloadCacheBytes bounds the span payloads kept in memory after they are
	// journaled, newest first, so that traces released soon after they arrived are not
	// read back from disk; older payloads stay only in the journal. Default 64 MiB;
	// 0 keeps none.
	PayloadCacheBytes int64 `mapstructure:"payload_cache_bytes"`
	// CheckpointInterval is how often the journal checks whether to checkpoint: rewrite
	// live state and drop older segments. It does so once the journal has doubled since
	// the last checkpoint and holds at least two segments. Default 1m.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
	// TruncateCorrupt, when true, cuts the journal at a corrupt record found before its
	// tail instead of refusing to start. What follows the cut is kept aside in a file
	// next to the segment. Default false: a corrupt record mid-journal stops start-up so
	// an operator decides.
	TruncateCorrupt bool `mapstructure:"truncate_corrupt"`
	// HTTP, when set, serves a read-only JSON view of open spans at GET /v1/open-spans.
	HTTP configoptional.Optional[confighttp.ServerConfig] `mapstructure:"http"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (c *Config) Validate() error {
	var errs []error
	if c.Directory == "" {
		errs = append(errs, errors.New("directory: must not be empty"))
	}
	if c.Sync != wal.SyncAlways && c.Sync != wal.SyncNever {
		errs = append(errs, fmt.Errorf("sync: %q is not one of \"always\", \"never\"", c.Sync))
	}
	if c.MinSyncInterval < 0 || c.MinSyncInterval > time.Second {
		errs = append(errs, fmt.Errorf("min_sync_interval: %s must be between 0 and 1s", c.MinSyncInterval))
	}
	if c.SegmentBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("segment_bytes: %d is below the minimum of 65536", c.SegmentBytes))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max_bytes: %d must be 0 (unbounded) or positive", c.MaxBytes))
	} else if c.MaxBytes > 0 && c.MaxBytes < 4*int64(c.SegmentBytes) {
		errs = append(errs, fmt.Errorf("max_bytes: %d must be at least 4 × segment_bytes (%d), or 0", c.MaxBytes, 4*int64(c.SegmentBytes)))
	}
	if c.PayloadCacheBytes < 0 {
		errs = append(errs, fmt.Errorf("payload_cache_bytes: %d must be 0 (no cache) or positive", c.PayloadCacheBytes))
	}
	if c.CheckpointInterval < time.Second {
		errs = append(errs, fmt.Errorf("checkpoint_interval: %s must be at least 1s", c.CheckpointInterval))
	}
	return errors.Join(errs...)
}
