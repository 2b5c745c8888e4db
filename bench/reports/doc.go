// Package reports benchmarks the first report sync of a large mailbox
// against a plain go-imap reference measured in the same run.
//
// BenchmarkFirstSync fills a Dovecot Maildir (internal/mailstack) with
// 20,000 messages of which 1,000 are delivery reports, lets Dovecot index
// it, then times (a) a bare go-imap loop that fetches exactly the 1,000
// report bodies by UID and (b) tracking/reports' SyncOnce into a fresh
// database, which has to find the reports itself (one UID SEARCH), fetch,
// parse, match and store them. It prints both times, their ratio (target
// <= 1.5) and how many non-report bodies the sync downloaded (target 0).
//
//	go test ./bench/reports -run '^$' -bench . -benchtime 1x
//
// It needs root, Postfix and Dovecot (it is skipped otherwise, and under
// -short).
package reports
