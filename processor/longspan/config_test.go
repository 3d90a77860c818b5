package longspan

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.Journal = component.MustNewIDWithName("spanjournal", "mobile")
	custom.IdleTimeout = 2 * time.Minute
	custom.BackgroundTimeout = 30 * time.Minute
	custom.MaxDuration = 24 * time.Hour
	custom.MaxTraceHold = 30 * time.Minute
	custom.SessionAttributes = []string{"app.session", "session.id"}
	custom.SessionSpanNames = []string{}
	custom.Snapshot = SnapshotConfig{Interval: 10 * time.Second, MinAge: 20 * time.Second}
	custom.ReleaseRetention = 90 * time.Second
	custom.ParentGrace = 3 * time.Second
	custom.SupersedeWindow = 6 * time.Hour
	custom.HeartbeatFactor = 4
	custom.PassHeartbeatLogs = true
	custom.TickInterval = 500 * time.Millisecond
	custom.MaxFutureSkew = 10 * time.Minute
	custom.ClientClock = ClientClockConfig{Tolerance: 250 * time.Millisecond}
	custom.Limits = LimitsConfig{MaxOpenSpans: 5000, MaxHeldSpans: 20000, MaxReconciledIDs: 100, MaxSpanBytes: 4096, MaxAttributeDepth: 4}
	custom.Quotas = QuotasConfig{
		ClientAddressHeader: "x-forwarded-for", RetryAfter: 30 * time.Second, LogInterval: 5 * time.Minute, MaxLoggedClients: 100,
		SessionRuleSameClient: false,
		PerClient:             Quota{MaxOpenSpans: 50, MaxHeldSpans: 500, MaxBytes: 1 << 20},
		PerSession:            Quota{MaxOpenSpans: 20, MaxHeldSpans: 200},
		PerTrace:              Quota{MaxOpenSpans: 10, MaxHeldSpans: 100, MaxBytes: 64 << 10},
	}
	custom.Watermark = WatermarkConfig{Enabled: true, StallWarning: 2 * time.Minute}
	custom.JournalPassThrough = true
	custom.EmbraceAppleSnapshots = true

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr []string
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
		{
			id: component.NewIDWithName(metadata.Type, "bad"),
			wantErr: []string{
				"idle_timeout: 0s must be at least 1s",
				"max_trace_hold: 0s must be at least 1s",
				"tick_interval: 5ms must be at least 10ms",
				"client_clock.tolerance: 0s must be at least 1ms",
				"snapshot.min_age: -1s must be at least 0s",
				"snapshot.interval: 1ms must be 0 (off) or at least tick_interval (5ms)",
				"limits.max_open_spans: 0 must be at least 1",
				"limits.max_held_spans: -5 must be at least 1",
				"limits.max_span_bytes: 10 must be at least 1024",
				"limits.max_reconciled_ids: -1 must be 0 (remember none) or positive",
				"heartbeat_factor: 0 must be at least 1",
				"watermark.stall_warning: 10ms must be at least 1s",
				"limits.max_attribute_depth: 0 must be at least 1",
				`quotas.client_address_header: "x forwarded" is not a header name`,
				"quotas.retry_after: 100ms must be at least 1s",
				"quotas.log_interval: 0s must be at least 1s",
				"quotas.max_logged_clients: 0 must be at least 1",
				"quotas.per_session: max_open_spans, max_held_spans and max_bytes must be 0 (off) or positive",
				"session_attributes: an attribute name must not be empty",
				`session_attributes: "app.session" is listed twice`,
				"embrace_apple_snapshots: session_attributes must list session.id",
				"embrace_apple_snapshots: session_span_names must list emb-session",
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
			assert.Equal(t, tt.want, cfg)
		})
	}
}
