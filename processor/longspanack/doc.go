// Package longspanack is the processor that closes the loop between tail_sampling and
// the span journal. The longspan processor keeps every released trace journaled for
// release_retention after tail_sampling accepted it, because tail_sampling buffers in
// memory for decision_wait and a crash in that window would lose it; a restart sends
// every such trace again. Placed after tail_sampling, longspan_ack sees which spans the
// exporters accepted and has the journal forget those batches at once, so a restart
// (or a crash loop) does not send them again. Spans tail_sampling dropped never reach
// it and keep the release_retention fallback.
//
//go:generate go tool mdatagen metadata.yaml
package longspanack // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspanack"
