// Package reports benchmarks the first report sync of a large mailbox
// against a plain go-imap reference measured in the same run.
//
// BenchmarkFirstSync fills a Dovecot Maildir (internal/mailstack) with
// 20,000 messages of which 1,000 are delivery reports, lets Dovecot index
// it, then, in every iteration, times (a) a bare go-imap loop that fetches
// exactly the 1,000 report bodies by UID (one UID FETCH, one connection)
// and (b) tracking/reports' SyncOnce into a fresh database, which has to
// find the reports itself (UID SEARCH in slices, on up to Syncer.Connections
// connections), fetch, parse, match and store them.
//
// The first iteration is reported apart ("cold"): Dovecot's cache holds no
// header field yet, so its SEARCH opens and parses every message file,
// which is what a user's first sync meets. Dovecot then caches the fields
// searched, and the later iterations ("warm") search from its cache. For
// each iteration it prints both times, their ratio (target <= 1.5), the
// CPU time used by this process and by Dovecot for each contender (the
// machine may be shared; CPU time is less noisy than wall time), the load
// average, and how many bodies of non-report messages the sync downloaded,
// counted by UID (target 0).
//
//	go test ./bench/reports -run '^$' -bench . -benchtime 3x
//
// BENCH_REPORTS_CONNECTIONS=1 limits the sync to the caller's connection.
// It needs root, Postfix and Dovecot (it is skipped otherwise, and under
// -short).
package reports
