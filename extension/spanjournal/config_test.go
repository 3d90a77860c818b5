package spanjournal

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal/internal/metadata"
	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		id      component.ID
		check   func(*testing.T, *Config)
		wantErr []string
	}{
		{
			id: component.NewID(metadata.Type),
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, createDefaultConfig(), c)
				assert.Equal(t, "./data/journal", c.Directory)
				assert.Equal(t, wal.SyncAlways, c.Sync)
				assert.Equal(t, 5*time.Millisecond, c.MinSyncInterval)
				assert.Equal(t, int64(64<<20), c.PayloadCacheBytes)
				assert.False(t, c.HTTP.HasValue(), "the HTTP view is off unless configured")
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, "/var/lib/otelcol/journal", c.Directory)
				assert.Equal(t, wal.SyncNever, c.Sync)
				assert.Equal(t, 2*time.Millisecond, c.MinSyncInterval)
				assert.Equal(t, 1<<20, c.SegmentBytes)
				assert.Equal(t, int64(100<<20), c.MaxBytes)
				assert.Zero(t, c.PayloadCacheBytes)
				assert.Equal(t, 30*time.Second, c.CheckpointInterval)
				assert.True(t, c.TruncateCorrupt)
				require.True(t, c.HTTP.HasValue())
				assert.Equal(t, "127.0.0.1:55690", c.HTTP.Get().NetAddr.Endpoint)
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "bad"),
			wantErr: []string{
				"directory: must not be empty",
				`sync: "sometimes" is not one of "always", "never"`,
				"min_sync_interval: 2s must be between 0 and 1s",
				"segment_bytes: 10 is below the minimum of 65536",
				"max_bytes: -1 must be 0 (unbounded) or positive",
				"payload_cache_bytes: -5 must be 0 (no cache) or positive",
				"checkpoint_interval: 10ms must be at least 1s",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				for _, want := range tt.wantErr {
					assert.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg.(*Config))
		})
	}
}

func TestMinSyncIntervalBounds(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{-time.Millisecond, false}, {0, true}, {5 * time.Millisecond, true}, {time.Second, true}, {time.Second + 1, false}} {
		cfg := createDefaultConfig().(*Config)
		cfg.MinSyncInterval = tc.d
		err := cfg.Validate()
		if tc.ok {
			assert.NoError(t, err, tc.d)
		} else {
			assert.ErrorContains(t, err, "min_sync_interval: "+tc.d.String()+" must be between 0 and 1s")
		}
	}
}
