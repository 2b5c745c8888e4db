// Package outbox benchmarks the durable outbox (tracking/outbox) against
// Postfix's own load generator, measured in the same run.
//
// BenchmarkBulkSend starts Postfix's smtp-sink on a loopback port and
// times (a) `smtp-source -s 2 -d -m 5000 -l 5120` (two sessions, each
// reused, 5 KB messages) and (b) one bulk message of 5,000 personalized
// ~5 KB copies, one recipient each, enqueued (one synchronous=FULL
// transaction) and sent through the outbox's Runner with two connections,
// every attempt committed before it is sent and every result after (the
// result's commit also claims the next copies for that connection, each
// committed before any byte of it is sent), on a
// database with the same components as the app (view's search trigger
// and indexes, reports' index). It
// prints both rates, the same enqueue and send through a second smtp-sink
// that does not offer PIPELINING (-p: one command at a time, as
// smtp-source speaks), the outbox's send-only rate, its rate with a no-op
// session (the database work alone, the limit), the rate of mail/submit's
// sessions sending the same copies without the outbox (the ceiling), the
// ratio (target >= 0.5), the CPU time this process spent per copy (outbox
// send, database alone, client alone: steadier than the rates when other
// work shares the cores) and the load average.
//
//	go test -tags mailroom_plaintext_bench ./bench/outbox -run '^$' -bench . -benchtime 3x
//
// Each round (each -benchtime iteration) measures smtp-source and the
// outbox back to back; with more than one round it also prints the median
// of the rounds' ratios, which moves less with other work on the machine
// than a single round (bench.sh runs 3). go test runs one round with
// b.N=1 first: its figures print but are not in the median.
//
// smtp-sink speaks neither TLS nor AUTH, and mail/submit refuses to send
// in clear. The build tag mailroom_plaintext_bench adds one function to
// mail/submit, DialPlaintextForBenchmark, that opens its usual session
// without TLS: the transactions measured are the app's, PIPELINING
// included (smtp-sink offers it; smtp-source does not use it, see its
// manual's BUGS). Without the tag the benchmark skips. It needs
// /usr/sbin/smtp-sink and smtp-source (Debian package postfix) and is
// skipped without them and under -short.
package outbox
