// Package snapshotrouter is the snapshot_router connector: it splits the output of the
// longspan processor between two sets of pipelines, snapshot spans
// (longspan.state = "snapshot") to snapshot_pipelines and every other span to
// default_pipelines, the ones with tail_sampling. Snapshots never reach a default pipeline.
//
// Each span goes to exactly one set of pipelines and is moved there, not copied: a
// request without snapshots (the common case) is passed on as it is, a request of
// snapshots only likewise, and a mixed request is split by moving the snapshot spans
// (and a copy of their resource and scope) into a new request. It replaces a forward
// connector per branch plus a filter processor on each, where the fan-out to two
// mutating pipelines cloned every request and each filter evaluated every span.
//
// The stock routing connector of the contrib repository does the same with
// `context: span` and the default action `move`, but no release of it matches the
// collector release this distribution pins.
package snapshotrouter // import "github.com/otelcol-longspan/otelcol-longspan/connector/snapshotrouter"
