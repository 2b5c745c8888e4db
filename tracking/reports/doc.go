// Package reports turns what comes back after sending (delivery status
// notifications, non-standard bounces, read receipts, replies) into events
// on the right recipient, and keeps every report it saw.
//
// It owns the "reports" component of the database: the reports table (every
// fetched report, raw and parsed, with how many recipients it matched) and
// the per-account, per-mailbox IMAP sync state (UIDVALIDITY and the last UID
// looked at).
//
// Matching follows DESIGN.md section 2, strongest key first: the ENVID of
// the copy, the ORCPT, our tracking header or the returned Message-ID, and
// last the address among messages sent to it shortly before the report.
// Every event records the key that made the match.
//
// Invariants:
//   - Never dropped: a report that matches nothing is stored as unmatched
//     and listed by Unmatched; a report too large to download is stored as
//     skipped, with its size.
//   - Idempotent: the same report ingested twice (a rescan after UIDVALIDITY
//     changed, a copy in another folder, a crash before the sync state was
//     saved) adds no second event: rows are found again by location,
//     Message-ID or content hash, and events carry a dedup key.
//   - Nothing is rendered or followed: a returned message that carries our
//     tracking pixel never registers an open.
//   - Resumable: the sync position (the highest UID below which every
//     message was looked at) commits in the same transaction as the reports
//     it covers, so a broken connection or a failed batch loses nothing and
//     repeats nothing but the uncommitted batch.
//   - No network of its own: the sync loop reaches IMAP only through the
//     Source interface declared here, which app wires to mail/imapsource.
//     This package imports neither mail/imapsource nor go-imap.
//
// A large sync (a first sync, a rescan) is a pipeline: the new UIDs are cut
// into slices of 2,500; IMAP workers (the caller's connection and, with
// Syncer.Connections, extra ones from Dial) each SEARCH a slice, decide
// from the few header fields SEARCH's candidates come with what to
// download, and stream those bodies; one parse worker per core parses them;
// one storer matches and stores them in batches. The server searches the
// next slice while the last one is parsed and stored.
package reports
