package watermarkprobe

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr []string
	}{
		{id: component.NewID(metadata.Type), want: &Config{Endpoint: "front:4317", Interval: time.Second, Spans: 256}},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: &Config{Endpoint: "127.0.0.1:24317", Interval: 250 * time.Millisecond, Spans: 64}},
		{id: component.NewIDWithName(metadata.Type, "bad"), wantErr: []string{
			"endpoint: required",
			"interval: 1ms must be at least 10ms",
			"spans: 0 must be between 1 and 100000",
		}},
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
