// Package report parses delivery reports that come back after a message was
// sent: RFC 3464/6522 delivery status notifications (and their RFC 6533
// internationalized form), RFC 8098 message disposition notifications, the
// non-standard bounce texts that many mail systems still send, and plain
// replies.
//
// It owns the translation from "a message in the inbox" to a Report: which
// recipients the report is about, what happened to each (Action, Status,
// reply code, the remote server's words) and which class of outcome that is
// (permanent address failure, other permanent failure, transient, success).
// It also extracts the keys that tie a report to the message we sent
// (Original-Envelope-Id, Original-Recipient, the returned Message-ID and our
// tracking header) but does no matching itself: that is tracking's job.
//
// Invariants:
//   - Pure: no network, no SQL, no UI. Parse reads at most MaxSize bytes.
//   - Parse never panics; broken input yields a best-effort Report (Kind
//     "not-a-report" when nothing useful is found) rather than an error.
//   - Detection is by structure and wording (headers, MIME types, RFC fields,
//     common bounce phrasing), never by file names or by the name of the
//     software that produced the report.
//   - Content is treated as untrusted text: nothing here renders it.
package report
