package watermarkprobe // import "github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe/internal/metadata"
)

// NewFactory returns the factory of the watermarkprobe extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{Interval: time.Second, Spans: 256}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newProber(set, cfg.(*Config), realTicker)
}
