package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal/internal/metadata"
	"github.com/otelcol-longspan/otelcol-longspan/wal"
)

// NewFactory returns the factory of the spanjournal extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{
		Directory:          "./data/journal",
		Sync:               wal.SyncAlways,
		MinSyncInterval:    5 * time.Millisecond,
		SegmentBytes:       20 << 20,
		MaxBytes:           32 << 30,
		PayloadCacheBytes:  64 << 20,
		CheckpointInterval: time.Minute,
		HTTP:               configoptional.Default(defaultHTTPConfig()),
	}
}

// defaultHTTPConfig is what an `http:` section without settings serves on.
func defaultHTTPConfig() confighttp.ServerConfig {
	cfg := confighttp.NewDefaultServerConfig()
	cfg.NetAddr.Endpoint = "localhost:55690"
	return cfg
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newExtension(set, cfg.(*Config))
}
