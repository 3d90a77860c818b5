// Package spanjournal is the collector extension that owns the longspan journal:
// the write-ahead log on disk and the open, held and released span state that every
// longspan processor instance shares.
//
// # Who changes the state
//
// The journal owns the state; processors (longspan, and longspan_ack's
// acknowledgements) change it only inside Journal.Update (or UpdateAsync, the same
// without the wait: the tick's several short updates share one group commit), through
// the methods of Tx. A Span, Trace or Released the journal hands out is read-only to
// everyone else. Each Tx method changes memory and, for journaled state, queues the
// records that restate the change; Update writes them (group commit) before it
// returns. One kind of record rides instead: Tx.ForgetPassed's drops of acknowledged
// batches go out with the next Update's write (an Update that only acknowledges, or
// only reports deliveries, writes nothing and costs no fsync), because losing them in
// a crash only sends those batches again. Inside the extension,
// replay and the checkpoint (which restates, never changes, the state) work under the
// same lock, and the payload cache and Span locations change when a write becomes
// durable (Journal.place), under it too. Delivery of released batches (what is due, what is in flight, retry
// backoff, retention) is journal state too: see delivery.go for why.
//
// # Payloads stay on disk
//
// A span's payload is written once, in its recSpan record, and read back from there:
// once Update's records are durable (wal.Pending.Locations), the span drops its bytes
// and keeps only their wal.Location. Journal.Payloads reads them back outside the lock
// with wal.Log.ReadAt (pread on a descriptor of its own; tidwall's reads of older
// segments race with its writer, tidwall/wal issue #34); Tx.Payloads reads under it.
// Replay does not copy payloads either: it keeps the location of each one within the
// record it read. A location only moves forward (Span.place), to the newest record
// restating the span.
//
// A checkpoint (checkpoint.go) copies every live span and released batch forward,
// reading payloads back from the older segments, then drops those segments. It
// restates in chunks, each submitted under the journal lock like an Update, so every
// record restates the state as of its position in the journal; a chunk's payloads are
// read back before, outside the lock, so ingestion does not wait on the disk. A reader outside the
// lock holds Journal.truncating while it reads locations it copied under the lock, and
// the checkpoint drops segments only with it held for writing.
//
// # Journaled and memory-only state
//
// Journaled, and rebuilt by replay after a restart:
//   - every held span with all its fields (Span; recSpan), open, ended or reconciled,
//     the client it came from and that client's clock offset included (span format
//     3; format 2 records, written before offsets were kept, replay with offset zero,
//     "not known", and format 1 records, before clients were kept, with no client
//     either). The offset rides in Origin, which the spans of a session share: the
//     processor changes a span's offset only when its estimate moves past a
//     tolerance, so a session keeps one Origin (and one copy of it in memory);
//   - released batches until their retention ends (Released.TraceID, Batch, At, Early,
//     Spans; recRelease, recReleasedBatch, recForget);
//   - the ids of spans open here that were closed, when, and whether reconciled or
//     ended by their client (recReconciled);
//   - snapshot numbers: each round's numbers in one record without payloads
//     (Tx.NextSnapshotSeq; recSnapshotSeqs), so numbering never repeats.
//
// Memory only, lost on restart by design:
//   - Trace.HeldSince: recovered traces count their hold from the processor's start;
//   - Trace.GraceUntil (parent_grace): a recovered trace has no grace left;
//   - delivery bookkeeping (in flight, delivered, attempts, next attempt): every
//     journaled batch is delivered again after a restart, marked Released.Replayed;
//   - forgetting closed ids (Tx.ForgetClosed): replay restores them and the next
//     call forgets them again;
//   - the session index, the counters and the Usage of every trace, session and
//     client (the processor's quotas), derived from the above.
//
//go:generate go tool mdatagen metadata.yaml
package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"
