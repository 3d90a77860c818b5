// Package longspan is the collector processor that makes long-running, interrupted and
// never-closed spans first-class: it holds the traces of open spans in the spanjournal
// extension, emits snapshots of live work, reconciles spans whose client went away and
// releases each trace downstream only when it is complete.
//
//go:generate go tool mdatagen metadata.yaml
package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"
