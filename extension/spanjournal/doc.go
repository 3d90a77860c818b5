// Package spanjournal is the collector extension that owns the longspan journal:
// the write-ahead log on disk and the open, held and released span state that every
// longspan processor instance shares.
//
//go:generate go tool mdatagen metadata.yaml
package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
