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
// One exception to the front tier's order: when it restarts, its persistent queue puts
// the requests that were in flight back at the end, behind newer ones, and probes sent
// before the restart can overtake client data. So every probe carries its sender and
// the sender's epoch, which goes up whenever the sender's connection to the front tier
// is lost; a processor trusts only probes of its own gateway's sender (the Source
// interface, in the same collector) in the current epoch. Probes sent after the
// reconnection queue behind everything the restarted front tier holds.
//
// A front tier of several instances (clients may send each request to any of them) is
// probed through every instance (Config.Endpoints), each probe marked with its
// instance (AttrFront), each instance with its own epoch. A shard's watermark is the
// lowest of its instances': what any instance accepted before it has arrived.
//
//go:generate mdatagen metadata.yaml
package watermarkprobe // import "github.com/otelcol-longspan/otelcol-longspan/extension/watermarkprobe"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// AttrSentAt is the probe span attribute holding its send time (Unix nanoseconds). A
// span carrying it is a probe: the longspan processor consumes it.
const AttrSentAt = "longspan.probe.sent_unix_nano"

// AttrSender and AttrEpoch name the probe's sender (one per collector run) and the
// sender's epoch when it sent the probe.
const (
	AttrSender = "longspan.probe.sender"
	AttrEpoch  = "longspan.probe.epoch"
	// AttrPath is "logs" on a probe span that a gateway rerouted from a logs probe:
	// it measures the front tier's logs queue, which heartbeats take.
	AttrPath = "longspan.probe.path"
	// AttrFront is the index, in the sender's Config.Endpoints, of the front-tier
	// instance the probe was sent to (absent: 0).
	AttrFront = "longspan.probe.front"
)

// SpanName is the name of every probe span.
const SpanName = "longspan.watermark_probe"

// Source is what a longspan processor asks of the watermarkprobe extension in its own
// collector: which probes it can trust.
type Source interface {
	// Sender names this extension's probes.
	Sender() string
	// Fronts is how many front-tier instances are probed: a watermark is the lowest
	// of the instances' (clients may send any request to any instance).
	Fronts() int
	// Epoch is the current epoch of the connection to front-tier instance i; it goes
	// up when that connection is lost, and a probe sent through that instance in an
	// earlier one may have overtaken client data.
	Epoch(i int) int64
	// Forward sends spans through the first front-tier instance and returns once it
	// acknowledged them.
	// A gateway's logs pipeline uses it to send heartbeats, turned into spans, to the
	// shard that holds their trace (load_balancing routes log records by another
	// hash of the trace id than spans, so a heartbeat record lands on a random shard).
	Forward(ctx context.Context, td ptrace.Traces) error
}
