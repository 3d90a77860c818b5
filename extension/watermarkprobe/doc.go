// Package watermarkprobe is the extension that sends watermark probes through the
// front tier of a sharded otelcol-longspan deployment (docs/scale-out.md).
//
// The front tier's persistent queue delivers requests in order but stalls as a whole
// while any shard it routes to is unreachable (each request for that shard holds a
// consumer in retry). A gateway cannot tell such a stall from clients that went
// silent, and reconciling on silence would then close live spans. Every interval this
// extension sends one request of probe spans with random trace ids to the front tier,
// which spreads them over every shard like client data. A shard's longspan processor
// (with `watermark: {enabled: true}`) consumes the probes and takes the newest send
// time it has received as its watermark: everything the front accepted before that
// instant has arrived. Idle reconciliation then measures silence against the
// watermark, not the wall clock.
//
//go:generate mdatagen metadata.yaml
package watermarkprobe // import "github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"

// AttrSentAt is the probe span attribute holding its send time (Unix nanoseconds). A
// span carrying it is a probe: the longspan processor consumes it.
const AttrSentAt = "longspan.probe.sent_unix_nano"

// SpanName is the name of every probe span.
const SpanName = "longspan.watermark_probe"
