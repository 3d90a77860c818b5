// Package wal is the write-ahead journal under the spanjournal extension:
// "acknowledged means durable" and "nothing lost on kill -9" rest on it. Its
// files are github.com/tidwall/wal v1.2.1's binary format with tidwall's
// segment rules (the same batches give the same files, byte for byte:
// TestTidwallReadsOurSegments), and it adds what tidwall lacks: per-record
// checksums, group commit, repair of a torn tail on open, a single-goroutine
// replay, reads by location and front truncation that never stalls writers.
// It writes the segments itself (segments.go): tidwall's writer keeps an
// in-memory copy of the tail segment that grows by append, which cost 62 GB
// of allocation for 10 GB written while building 10 M held spans. It has no
// collector dependency.
//
// # Byte layout
//
// A journal is a directory of segment files named by the index of their
// first record as 20 zero-padded decimal digits (tidwall's naming), plus a
// LOCK file (flock, released by the kernel when the process dies). A
// segment is a sequence of tidwall binary entries; each entry holds one
// Record:
//
//	uvarint   n           tidwall's length prefix (n = bytes that follow)
//	uint32 LE crc         CRC-32C (Castagnoli) of the next n-4 bytes
//	byte      flags       bit 0: batch end; other bits must be 0
//	byte      type        Record.Type, owner defined
//	uint64 LE batchFirst  only if batch end: index of the batch's first record
//	[]byte    payload     Record.Data
//
// A record's index is not stored: it is the segment's first index plus the
// record's position in the file. tidwall's own format has only the length
// prefix, so a zero-filled or garbage tail left by a power loss would read
// back as valid entries; the CRC catches it (a record of zero bytes does not
// checksum to zero). The last record of every batch carries the batch
// end flag; recovery uses it to tell a torn final batch from older damage.
//
// # Recovery (Open)
//
//  1. Finish interrupted tidwall truncations with tidwall's own rules: a
//     NAME.START file (TruncateFront) removes every segment before it and is
//     renamed NAME; a NAME.END file (TruncateBack) removes every segment after
//     it and is renamed NAME; an orphan NAME.START.TEMP/NAME.END.TEMP is
//     removed; START and END together is an error for the operator. This
//     package never writes such files itself, see TruncateBefore.
//  2. Read every segment front to back, checking each record's CRC and that
//     each segment starts where the previous one ended. (Open reads the
//     whole journal once; Replay reads it again, usually from the page
//     cache. Compaction keeps both short. Each reads every segment into one
//     buffer, grown for the largest: a new one per segment made a journal of
//     7 GB allocate 15 GB at start-up, and collecting it took half the time:
//     1 M held spans came back in 1.9 s, now 0.8–1.0 s; 10 M in the testbed
//     in 20–23 s, now 13.4–15.9 s.)
//  3. A bad record in the last segment may be a torn tail. The committer
//     writes a batch only after the previous batch's fsync returned, so only
//     the final batch can be partly on disk (after a power loss, in any page
//     order: holes first, valid records after). The damage is a torn tail
//     if the bytes from it on are all zero, or if among the checksum-valid
//     records after it (found by walking the length prefixes, and by a
//     bounded byte-by-byte resync in case a length prefix is what got
//     damaged) there is no batch end, or the first batch end closes a batch
//     that began at or before the damaged index and nothing valid follows.
//     Otherwise a later batch exists, so the damaged batch had been fsynced
//     and acknowledged: that is corruption (step 4). A torn tail is cut back
//     to the last complete valid record before the damage: the cut bytes are
//     first written and fsynced to NAME.torn-<UTC time> beside the segment,
//     then the segment is truncated and fsynced, the cut is logged and
//     Hooks.OnRepair is called. Under SyncAlways only records never
//     acknowledged are cut (unless the disk itself damaged the final batch,
//     which looks the same).
//  4. Any other bad record or gap is a start-up error (ErrCorruptRecord) naming the
//     segment, index and offset. With Options.TruncateCorrupt the journal is
//     cut there instead: the segment's remaining bytes go to
//     NAME.corrupt-<time> and every later segment is renamed to
//     NAME.corrupt-<time>; all records from that index on are lost.
//  5. Open the tail segment for appending and take the next index from the
//     number of its records.
//
// Saved .torn-/.corrupt- files are never deleted by this package.
//
// # Group commit
//
// Submit puts records on the batch being formed and only the first
// caller of a batch wakes the committer goroutine. The committer cuts
// the batch, assigns consecutive indexes in queue order (so anything
// submitted earlier gets a lower index), encodes it into one buffer written
// with one write(2) per segment it touches, and under SyncAlways calls one
// fsync; then it releases every
// caller of the batch at once. Meanwhile the next batch fills. Before it
// cuts a batch that has fewer callers than the previous one, the committer
// waits up to 100 µs for the callers it just released to queue again, so N
// goroutines in lockstep keep producing batches of about N records.
//
// That shares an fsync only among callers that queued while the previous one
// ran. Callers that submit independently of each other at a moderate rate
// (a gateway's browsers: each request on its own, ~0.5 ms fsyncs, a request
// every ~2.5 ms) find no fsync running and get one each, and each fsync costs
// kernel CPU (0.1-0.3 ms on the test machine) however few records it makes
// durable. Options.MinSyncInterval bounds that: under SyncAlways it is the
// shortest time between the starts of two fsyncs, so a batch whose first
// record comes sooner after the previous fsync began is held until then and
// takes every record submitted meanwhile. A batch whose first record comes
// later is written at once. The cost is latency, at most the interval per
// Submit, and throughput for a caller that submits one record at a time and
// waits for it: at most 1/MinSyncInterval Submits per second, and N callers
// in lockstep N times that (BenchmarkSubmitWait, 5 ms: 1 goroutine 6,037 ->
// 183 records/s, 64 goroutines 105,070 -> 11,629); callers with more Submits
// in flight share each fsync. BenchmarkSubmitOpenLoop (Submits at a fixed
// rate, each on its own goroutine), MinSyncInterval 0 vs 5 ms on 2 cores: at
// 400 Submits/s 1.00 vs 2.18 Submits per fsync, 315 vs 107 µs of process CPU
// per Submit, ack p50 0.31 vs 3.5 ms; at 2,000/s 1.0 vs 6.1 Submits per
// fsync, 111 vs 69 µs. Hooks.OnCommit reports each batch's Submits and how
// long it was held. Close during a hold does not wait for it: the held batch
// fails with ErrClosed and is not written.
//
// # Sync policy
//
// SyncAlways (default) fsyncs every batch (and the directory when the batch
// started a new segment) before any caller returns: acknowledged records
// survive a process crash, an OS crash and a power loss. SyncNever returns
// once the batch has been written to the OS page cache with write(2): that
// survives a kill -9 or panic of the collector, since the kernel still holds
// the data, but an OS crash or power loss can lose the last seconds of
// acknowledged records, and because the page cache may reach the disk out of
// order it can also leave damage before the tail that needs TruncateCorrupt.
// SyncNever costs no fsync per batch and is for hosts where that risk is
// acceptable.
//
// # Errors during writes
//
// If the write or the fsync fails, every caller of that batch gets the
// error. The committer then closes the segment writer, repairs the tail
// segment, reopens it and re-reads LastIndex; the next batch is numbered from
// there, so an index already on disk is never handed out again. Some records
// of the failed batch may have survived; Replay delivers them like any other
// record. If the reopen fails, later batches fail with ErrUnavailable and
// each retries the reopen.
//
// # Replay
//
// Replay reads the segment files itself, in order, from the calling
// goroutine. tidwall's reads of older segments from several goroutines race
// (tidwall/wal issue #34), and Open has just verified every file anyway. A
// record's Data is valid only during the callback: the next segment is read
// into the same buffer.
//
// # Reading records back
//
// Pending.Locations (after Wait) and Replay give the Location of each
// record's Data: the segment's first index, the byte offset and the length.
// The segment writer reports where each entry of a batch starts, and it alone
// decides where a segment begins. ReadAt reads such bytes with pread on a descriptor of
// its own per segment, concurrently with the committer, which only appends.
// It does not check the record's CRC (it may read a part of a record); Open
// checked every record written before it. TruncateBefore closes the
// descriptors of the segments it removes; a Location in them no longer reads.
//
// # Compaction
//
// The owner compacts by writing a checkpoint of its live state (Submit
// orders it against concurrent mutations), waiting for it, and calling
// TruncateBefore with the checkpoint's first index. Everything before that
// is covered by the checkpoint, so a span open for weeks does not pin old
// segments: its state is rewritten into every checkpoint. TruncateBefore
// removes only whole segments, oldest first, and never the tail segment, by
// deleting files: no data is rewritten and the committer is never paused.
// (tidwall's TruncateFront would copy and fsync the segment holding the
// index under its write lock, stalling writers for 20-60 ms.) Records before
// the index in the remaining first segment are replayed again after a
// restart, so records must be idempotent upserts.
package wal
