package longspanack

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspanack/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: &Config{Delay: 5 * time.Second, MaxPendingSpans: 1_000_000}},
		{name: "custom", want: &Config{
			Journals: []component.ID{component.MustNewIDWithName("spanjournal", "a"), component.MustNewIDWithName("spanjournal", "b")},
			Delay:    2 * time.Second, MaxPendingSpans: 5000,
		}},
		{name: "negative_delay", wantErr: "delay: -1s must not be negative"},
		{name: "no_pending_room", wantErr: "max_pending_spans: 0 must be positive when delay is set"},
		{name: "twice", wantErr: "journals: spanjournal is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = cfg.(*Config).Validate()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}
