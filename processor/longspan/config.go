package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config is the longspan processor's configuration.
type Config struct {
	// Journal names the spanjournal extension that holds this processor's state.
	// Required. Several longspan processors may share one journal.
	Journal component.ID `mapstructure:"journal"`

	// IdleTimeout reconciles an open span whose client has not reported it for this
	// long. Default 5m.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`

	// BackgroundTimeout is the silence limit of an open span whose last report
	// carried `longspan.client.hint=app_background` (the app went to the background,
	// where mobile platforms suspend it); any later report without the hint restores
	// idle_timeout. Default 15m (OpenTelemetry Android's session background timeout);
	// taken as idle_timeout when shorter, and as max_duration when longer.
	BackgroundTimeout time.Duration `mapstructure:"background_timeout"`
	// MaxDuration reconciles a span open longer than this, measured from its start.
	// Default 168h (a week).
	MaxDuration time.Duration `mapstructure:"max_duration"`
	// MaxTraceHold bounds how long ended spans are held for a trace that still has an
	// open span; past it they are released early, marked longspan.state=released_early.
	// Default 1h.
	MaxTraceHold time.Duration `mapstructure:"max_trace_hold"`
	// SessionAttributes are the span or resource attributes that name the client
	// session, tried in order: the first one set (to a non-empty value) names it, the
	// span's own attribute before its resource's. Default ["session.id",
	// "emb.user_session_id"] (Embrace Android 9.2 dropped session.id for the latter);
	// an empty list disables the session rules. The single-key form
	// `session_attribute: X` of older configurations is read as [X] (sessionkeys.go).
	SessionAttributes []string `mapstructure:"session_attributes"`
	// SessionSpanNames are the names of root spans that stand for a whole session (a
	// page load, an app session). A new open one for a session ends the older ones of
	// that session; an ended one ends every other open span of its session. Default
	// ["page.session", "emb-session"]; an empty list makes every root span carrying the
	// session attribute a session span.
	SessionSpanNames []string `mapstructure:"session_span_names"`

	Snapshot SnapshotConfig `mapstructure:"snapshot"`

	// ParentGrace holds an ended span whose parent is not known for this long, in case
	// the parent is an open span its client has not reported yet. Such spans are
	// journaled, so every non-root span of traces with nothing open pays a disk write
	// and this delay. Default 0 (off).
	ParentGrace time.Duration `mapstructure:"parent_grace"`

	// ReleaseRetention keeps a released trace in the journal this long after it was
	// handed downstream, and hands it out again if the collector restarts meanwhile.
	// tail_sampling buffers traces in memory for decision_wait: set this above it.
	// Default 1m (tail_sampling's default decision_wait of 30s, plus margin).
	ReleaseRetention time.Duration `mapstructure:"release_retention"`
	// SupersedeWindow is how long the ids of reconciled spans are remembered. A real
	// end that arrives within it (mobile SDKs deliver from disk hours later) is emitted
	// as longspan.state=superseding, and a late open snapshot of the span is dropped
	// instead of opening it again. Default 24h.
	SupersedeWindow time.Duration `mapstructure:"supersede_window"`
	// EmbraceAppleSnapshots treats Embrace Apple 6.x's copies of running spans (sent
	// at each span's start and every 5 s for the session span, ended at the export
	// time with status UNSET) as open-span snapshots, so that each span comes out
	// once, with the client's real end (embrace.go). Costs a journal write for the
	// start copy of every span of such apps. Default false.
	EmbraceAppleSnapshots bool `mapstructure:"embrace_apple_snapshots"`
	// HeartbeatFactor multiplies a heartbeat's partial.frequency into the span's idle
	// deadline, in place of idle_timeout. Default 3.
	HeartbeatFactor int `mapstructure:"heartbeat_factor"`
	// PassHeartbeatLogs passes heartbeat log records on down the logs pipeline after
	// reading them. Default false: they are consumed.
	PassHeartbeatLogs bool `mapstructure:"pass_heartbeat_logs"`

	// TickInterval is how often the processor checks for spans to reconcile and traces
	// to release. Default 1s.
	TickInterval time.Duration `mapstructure:"tick_interval"`
	// MaxFutureSkew is how far past its client's clock (the collector's, for a client
	// that does not stamp its reports) a span may start. A span starting later is not
	// dropped: it is taken to come from a clock at least that far ahead, and counted
	// in spans_clock_suspect{reason=start_in_future}. Default 1h.
	MaxFutureSkew time.Duration `mapstructure:"max_future_skew"`
	// ClientClock is how client clock offsets are kept (device clocks).
	ClientClock ClientClockConfig `mapstructure:"client_clock"`

	Limits LimitsConfig `mapstructure:"limits"`

	// Quotas give every client, session and trace a fair share of the limits, so that
	// one client cannot make the collector refuse everyone else.
	Quotas QuotasConfig `mapstructure:"quotas"`

	// Watermark measures silence against the front tier's watermark instead of the
	// wall clock, for a shard behind a front tier (docs/scale-out.md).
	Watermark WatermarkConfig `mapstructure:"watermark"`

	// JournalPassThrough journals ended spans of traces with nothing open too, and
	// releases them through the journal like a completed held trace (kept for
	// release_retention, released again after a restart), instead of passing them
	// straight on. Then nothing acknowledged is lost when the collector dies while
	// they sit in tail_sampling, at the cost of a journal write for every span. A
	// sharded gateway, reloaded at every shard move, needs it. Default false.
	JournalPassThrough bool `mapstructure:"journal_pass_through"`

	// RerouteHeartbeats, in a logs pipeline of a sharded gateway, sends every
	// heartbeat record, turned into its span, back through the front tier, which
	// routes it by trace id to the shard that holds the span. The stock
	// load_balancing exporter hashes a log record's trace id differently from a
	// span's, so heartbeat records land on a random shard. Needs the watermarkprobe
	// extension (its connection to the front tier). Default false.
	RerouteHeartbeats bool `mapstructure:"reroute_heartbeats"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SnapshotConfig sets how live spans are made visible.
type SnapshotConfig struct {
	// Interval is how often every span open longer than MinAge is emitted as a
	// snapshot. Default 30s; 0 disables snapshots.
	Interval time.Duration `mapstructure:"interval"`
	// MinAge is how long a span must have been open before it gets snapshots.
	// Default 30s.
	MinAge time.Duration `mapstructure:"min_age"`
}

// LimitsConfig bounds memory and disk. Past a limit, a request that would hold more is
// refused with a retryable error (HTTP 503 / gRPC UNAVAILABLE from the OTLP receiver),
// so the client retries; every refusal is counted.
type LimitsConfig struct {
	// MaxOpenSpans bounds the open spans tracked. Default 1,000,000.
	MaxOpenSpans int `mapstructure:"max_open_spans"`
	// MaxHeldSpans bounds the ended spans held for traces that are not complete.
	// Default 10,000,000: a held span's payload stays in the journal, memory keeps
	// about 175 bytes of index per span (1.75 GB at the limit).
	MaxHeldSpans int `mapstructure:"max_held_spans"`
	// MaxReconciledIDs bounds the reconciled span ids remembered for
	// supersede_window; past it the oldest are forgotten and counted. Default 1,000,000.
	MaxReconciledIDs int `mapstructure:"max_reconciled_ids"`
	// MaxSpanBytes drops (and counts) a span to be held whose encoding is larger, for
	// instance because of a huge attribute value. Default 65536.
	MaxSpanBytes int `mapstructure:"max_span_bytes"`
	// MaxAttributeDepth drops (and counts) a span whose attribute values (of the
	// span, its events and links, its resource or scope) nest maps or arrays deeper
	// than this. Default 8.
	MaxAttributeDepth int `mapstructure:"max_attribute_depth"`
}

// QuotasConfig bounds what one client, one session and one trace may hold, checked
// before anything of a request is journaled. A request that would pass a quota is
// refused whole with HTTP 429 / gRPC RESOURCE_EXHAUSTED (retryable, with a retry
// delay); nobody else's requests are affected. Every quota is counted in
// requests_refused by its limit name, and 0 switches a quota off.
type QuotasConfig struct {
	// ClientAddressHeader names a request header whose right-most entry is the
	// client's address, for a collector behind a reverse proxy or load balancer that
	// appends the address it saw (X-Forwarded-For). A request without the header is
	// counted by its connection's peer address. Needs include_metadata: true on the
	// OTLP receiver's protocols. Set it only when every request passes the proxy: a
	// client that connects directly can write any address into the header. Default ""
	// (the peer address).
	ClientAddressHeader string `mapstructure:"client_address_header"`
	// RetryAfter is the delay a quota refusal asks the client to wait (gRPC RetryInfo,
	// HTTP Retry-After). Default 10s.
	RetryAfter time.Duration `mapstructure:"retry_after"`
	// LogInterval logs a client's refusals at most once per this period. Default 1m.
	LogInterval time.Duration `mapstructure:"log_interval"`
	// SessionRuleSameClient makes the session rule close only the session's spans last
	// reported by the same client as the session span that triggers it: knowing a
	// session id is not enough to close that session's spans. Turn it off where the
	// peer names no client (behind a front tier with several instances). Default true.
	SessionRuleSameClient bool `mapstructure:"session_rule_same_client"`
	// MaxLoggedClients bounds the clients whose last refusal log time is remembered;
	// past it, refusals of further clients are only counted until the oldest entries
	// expire. Default 10000.
	MaxLoggedClients int `mapstructure:"max_logged_clients"`

	// PerClient bounds one client address (IPv4 address, IPv6 /64 prefix, or the
	// header's value). Default 10,000 open, 100,000 held, 64 MiB.
	PerClient Quota `mapstructure:"per_client"`
	// PerSession bounds one session (session_attribute). Default 1,000 open, 20,000
	// held, 32 MiB.
	PerSession Quota `mapstructure:"per_session"`
	// PerTrace bounds one trace. Default 1,000 open, 10,000 held, 16 MiB.
	PerTrace Quota `mapstructure:"per_trace"`
	// NoSession bounds all spans without a session together: one shared pool.
	// Default 100,000 open, 100,000 held, 128 MiB.
	NoSession Quota `mapstructure:"no_session"`
}

// Quota bounds what one client, session or trace holds. 0 switches a bound off.
type Quota struct {
	// MaxOpenSpans bounds the open spans.
	MaxOpenSpans int `mapstructure:"max_open_spans"`
	// MaxHeldSpans bounds the ended and reconciled spans held, not yet released.
	MaxHeldSpans int `mapstructure:"max_held_spans"`
	// MaxBytes bounds the stored payload bytes of the open and held spans.
	MaxBytes int64 `mapstructure:"max_bytes"`
}

// WatermarkConfig makes idle reconciliation wait for evidence that the input path
// works. With a front tier in front (docs/scale-out.md), every gateway's
// watermarkprobe extension sends probe spans through it; this processor consumes them
// and keeps the newest send time as its watermark: everything the front tier accepted
// before it has arrived. A span is reconciled for silence only when the watermark,
// not the wall clock, is idle_timeout past its last report, so a stalled or restarting
// front tier never looks like silent clients.
type WatermarkConfig struct {
	// Enabled turns the watermark on. Default false (silence runs on the wall clock).
	Enabled bool `mapstructure:"enabled"`
	// StallWarning logs a warning, at most once per this period, while no probe has
	// arrived for this long: idle reconciliation is waiting. Default 1m.
	StallWarning time.Duration `mapstructure:"stall_warning"`
}

// ClientClockConfig: a client that stamps its reports with
// longspan.client.now_unix_nano has its clock offset estimated from them, and its
// spans are judged in its clock (docs/design.md, "Device clocks").
type ClientClockConfig struct {
	// Tolerance is how far an offset estimate may move before a held span takes it
	// (counted in clock_offset_moves); new estimates are rounded to it, so the spans
	// of a session share one offset. A reconciled span's end is off by at most about
	// half of it. Default 1s.
	Tolerance time.Duration `mapstructure:"tolerance"`
}

func (c *Config) Validate() error {
	var errs []error
	if c.Journal.Type().String() == "" {
		errs = append(errs, errors.New("journal: required; name the spanjournal extension, e.g. `journal: spanjournal`"))
	}
	positive := func(key string, d, lo time.Duration) {
		if d < lo {
			errs = append(errs, fmt.Errorf("%s: %s must be at least %s", key, d, lo))
		}
	}
	positive("idle_timeout", c.IdleTimeout, time.Second)
	positive("max_duration", c.MaxDuration, time.Second)
	positive("max_trace_hold", c.MaxTraceHold, time.Second)
	positive("release_retention", c.ReleaseRetention, 0)
	positive("tick_interval", c.TickInterval, 10*time.Millisecond)
	positive("max_future_skew", c.MaxFutureSkew, 0)
	positive("client_clock.tolerance", c.ClientClock.Tolerance, time.Millisecond)
	positive("parent_grace", c.ParentGrace, 0)
	if c.ParentGrace > c.MaxTraceHold {
		errs = append(errs, fmt.Errorf("parent_grace: %s must not exceed max_trace_hold (%s)", c.ParentGrace, c.MaxTraceHold))
	}
	positive("snapshot.interval", c.Snapshot.Interval, 0)
	positive("snapshot.min_age", c.Snapshot.MinAge, 0)
	if c.Snapshot.Interval > 0 && c.Snapshot.Interval < c.TickInterval {
		errs = append(errs, fmt.Errorf("snapshot.interval: %s must be 0 (off) or at least tick_interval (%s)", c.Snapshot.Interval, c.TickInterval))
	}
	if c.BackgroundTimeout < 0 {
		errs = append(errs, fmt.Errorf("background_timeout: %s must not be negative", c.BackgroundTimeout))
	}
	if c.IdleTimeout > c.MaxDuration {
		errs = append(errs, fmt.Errorf("idle_timeout: %s must not exceed max_duration (%s)", c.IdleTimeout, c.MaxDuration))
	}
	if c.Limits.MaxOpenSpans < 1 {
		errs = append(errs, fmt.Errorf("limits.max_open_spans: %d must be at least 1", c.Limits.MaxOpenSpans))
	}
	if c.Limits.MaxHeldSpans < 1 {
		errs = append(errs, fmt.Errorf("limits.max_held_spans: %d must be at least 1", c.Limits.MaxHeldSpans))
	}
	positive("supersede_window", c.SupersedeWindow, 0)
	if c.HeartbeatFactor < 1 {
		errs = append(errs, fmt.Errorf("heartbeat_factor: %d must be at least 1", c.HeartbeatFactor))
	}
	if c.Limits.MaxReconciledIDs < 0 {
		errs = append(errs, fmt.Errorf("limits.max_reconciled_ids: %d must be 0 (remember none) or positive", c.Limits.MaxReconciledIDs))
	}
	if c.Limits.MaxSpanBytes < 1024 {
		errs = append(errs, fmt.Errorf("limits.max_span_bytes: %d must be at least 1024", c.Limits.MaxSpanBytes))
	}
	if c.Limits.MaxAttributeDepth < 1 {
		errs = append(errs, fmt.Errorf("limits.max_attribute_depth: %d must be at least 1", c.Limits.MaxAttributeDepth))
	}
	errs = append(errs, c.validateSessionAttributes()...)
	errs = append(errs, c.validateEmbraceAppleSnapshots()...)
	errs = append(errs, c.Quotas.validate()...)
	if c.Watermark.Enabled {
		positive("watermark.stall_warning", c.Watermark.StallWarning, time.Second)
	}
	return errors.Join(errs...)
}

func (q *QuotasConfig) validate() []error {
	var errs []error
	if q.RetryAfter < time.Second {
		errs = append(errs, fmt.Errorf("quotas.retry_after: %s must be at least 1s", q.RetryAfter))
	}
	if q.LogInterval < time.Second {
		errs = append(errs, fmt.Errorf("quotas.log_interval: %s must be at least 1s", q.LogInterval))
	}
	if q.MaxLoggedClients < 1 {
		errs = append(errs, fmt.Errorf("quotas.max_logged_clients: %d must be at least 1", q.MaxLoggedClients))
	}
	if strings.ContainsAny(q.ClientAddressHeader, " :\t") {
		errs = append(errs, fmt.Errorf("quotas.client_address_header: %q is not a header name", q.ClientAddressHeader))
	}
	for _, s := range []struct {
		key string
		q   Quota
	}{{"per_client", q.PerClient}, {"per_session", q.PerSession}, {"per_trace", q.PerTrace}, {"no_session", q.NoSession}} {
		if s.q.MaxOpenSpans < 0 || s.q.MaxHeldSpans < 0 || s.q.MaxBytes < 0 {
			errs = append(errs, fmt.Errorf("quotas.%s: max_open_spans, max_held_spans and max_bytes must be 0 (off) or positive", s.key))
		}
	}
	return errs
}

// backgroundTimeout is background_timeout within [idle_timeout, max_duration].
func (c *Config) backgroundTimeout() time.Duration {
	return min(max(c.BackgroundTimeout, c.IdleTimeout), c.MaxDuration)
}
