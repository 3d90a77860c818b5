package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"

import "time"

// Config is what the rules read of the processor's configuration (the processor's
// Config documents, defaults and validates each knob; the names here are its keys).
type Config struct {
	// IdleTimeout is idle_timeout: how long an open span's client may stay silent.
	IdleTimeout time.Duration
	// BackgroundTimeout is background_timeout: the silence allowed to a span whose app
	// went to the background (app_background).
	BackgroundTimeout time.Duration
	// MaxDuration is max_duration: the longest an open span may stay open.
	MaxDuration time.Duration
	// MaxTraceHold is max_trace_hold: how long a trace holds ended spans next to open
	// ones before releasing them early.
	MaxTraceHold time.Duration
	// ParentGrace is parent_grace: how long an ended span of a trace with nothing held
	// waits for its parent.
	ParentGrace time.Duration
	// SupersedeWindow is supersede_window: how long a closed span is remembered.
	SupersedeWindow time.Duration
	// SessionSpanNames is session_span_names: the root spans that start a session
	// (empty: every root span with a session).
	SessionSpanNames []string
	// SessionRuleSameClient is quotas.session_rule_same_client.
	SessionRuleSameClient bool
	// Watermark is watermark.enabled: the release gate of a recovered trace waits for
	// the processor's start, and touched traces wait for their request's arrival.
	Watermark bool
	// RerouteHeartbeats is reroute_heartbeats: every ended child of a trace with
	// nothing held waits for the logs queues' watermark.
	RerouteHeartbeats bool
	// PassOn is set when ended spans of traces with nothing held go on in their own
	// request (a traces pipeline without journal_pass_through); otherwise they are
	// journaled as a trace of their own and released at once.
	PassOn bool
	// MaxFutureSkew is max_future_skew: how far past the collector's clock, or past its
	// client's clock when known, a span may start before its clock is taken to be
	// wrong.
	MaxFutureSkew time.Duration
	// ClockTolerance is client_clock.tolerance: how far a client's clock offset
	// estimate may move before a span held with another offset takes the new one.
	ClockTolerance time.Duration
	// MaxSpanBytes is limits.max_span_bytes.
	MaxSpanBytes int
	// SnapshotInterval and SnapshotMinAge are snapshot.interval and snapshot.min_age;
	// TickInterval is tick_interval, over whose ticks a snapshot round is paced.
	SnapshotInterval time.Duration
	SnapshotMinAge   time.Duration
	TickInterval     time.Duration
}
