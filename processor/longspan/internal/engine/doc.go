// Package engine is the longspan processor's rules, each written once, as functions
// of (journal transaction, items, now) that return what to pass on, release,
// snapshot and count. The processor classifies a request into Items, runs Ingest
// under the request's journal update and Tick under the emitter's, and acts on the
// Result: it passes spans on, delivers released batches, emits snapshots and counts.
// The engine needs no collector: its tests drive it with an in-memory Tx and a
// manual clock.
//
// The rules, their knobs (the processor's config keys) and what they count
// (otelcol_longspan_* metrics, by reason):
//
//   - Open span (Ingest): an open span is stored, or updates the one held
//     (spans_received{opened,updated}); a snapshot of a span that already ended, was
//     reconciled within supersede_window or released is dropped
//     (spans_dropped{stale_snapshot}).
//   - Ended span (Ingest): the end of a held span, or an ended span of a held trace,
//     is held with its trace (spans_received{ended,held}); of a trace with nothing
//     held it goes on at once (spans_received{passed}), or, when it has a parent and
//     parent_grace (or reroute_heartbeats) is set, is held for parent_grace
//     (spans_received{grace_held}); a repeat of one released already is dropped
//     (spans_received{repeat}).
//   - Supersede (Ingest): the real end of a span reconciled within supersede_window
//     goes on marked superseding (spans_received{superseding}, spans_superseding).
//   - Silence start: a span's client went silent at its last report, or at the
//     processor's start when later (silenceStart): downtime is not client silence.
//   - Idle deadline (Tick): an open span silent for idle_timeout (or its heartbeat's
//     frequency × heartbeat_factor, or background_timeout after app_background) on
//     the silence clock is reconciled (spans_reconciled{idle_timeout}).
//   - Max duration (Tick): an open span open longer than max_duration, from its
//     start in its client's clock, is reconciled (spans_reconciled{max_duration}).
//   - Descendants: the open descendants of a reconciled span, or of one its client
//     ended as interrupted, are reconciled (spans_reconciled{parent_reconciled}).
//   - Session (Ingest): a new session span (session_attributes, session_span_names)
//     or the end of one reconciles the open spans of the same session in other
//     traces started before it (spans_reconciled{session_ended}), and so does a
//     session.end log event (OpenTelemetry Android and Swift) for the spans started
//     before it (SessionEnd; counted by the processor in session_end_events); with
//     quotas.session_rule_same_client only those last reported by the same client
//     (session_rule_untrusted).
//   - Embrace session (embrace_apple_snapshots; Ingest and Tick): an open Embrace
//     Apple copy (SourceEmbrace) of a span other than its session's session span
//     lives by that session span (silence limit max_duration); when the session span
//     is reconciled, the session's open copies are reconciled at its last report
//     (spans_reconciled{session_ended}), trusted as the session rule is.
//   - Client interrupted (Ingest): an ended span with an Embrace interruption code
//     (emb.error_code) is held or passed marked client_interrupted; an open span
//     with longspan.client.hint=page_unload or app_terminated is reconciled at once
//     (spans_reconciled{client_interrupted}), an app_terminated one ending at its
//     longspan.client.last_seen_unix_nano.
//   - Background (Ingest): longspan.client.hint=app_background gives the span
//     background_timeout instead of idle_timeout, until a report without the hint;
//     the index counts such spans (Backgrounded; the processor's gauge
//     spans_backgrounded).
//   - Hold start: a trace's hold starts with its first ended span held next to open
//     ones, or at the processor's start for a recovered trace (holdStart).
//   - Grace (release gate): a trace with nothing open leaves once the grace clock
//     passes its gate: parent_grace after a span held for it, or with
//     watermark.enabled the arrival of the request that completed it
//     (traces_released, spans_released).
//   - Max trace hold (Tick): a trace holding ended spans next to open ones longer
//     than max_trace_hold releases them early (spans_released_early).
//   - Snapshots (Tick, MoreSnapshots): every snapshot.interval, each span open at
//     least snapshot.min_age gets a numbered snapshot, the round paced over the ticks
//     of the interval, a tick's share taken in slices of SnapshotHoldSlice open spans,
//     each in a journal update of its own (snapshots_emitted).
//   - Device clocks (Ingest, clock.go): a span's own times are in its client's
//     clock, estimated from longspan.client.now_unix_nano (offset = stamp − receipt,
//     kept per span in the journal, moved only past client_clock.tolerance:
//     clock_offset_moves); max_duration, the reconciled end, snapshot ends and
//     app_terminated's last-seen are judged in it. A start past max_future_skew of
//     that clock is never dropped: the span is taken to come from a clock that far
//     ahead (spans_clock_suspect{start_in_future}).
//   - Limits and quotas: Adds is what Ingest would store of a request, measured by
//     the same decision; the processor refuses the request past limits.* or quotas.*
//     (requests_refused).
//
// The silence and grace clocks are the wall clock, or with a front tier the
// watermark of what has arrived (Clocks).
package engine // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
