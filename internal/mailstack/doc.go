// Package mailstack starts a real, private, loopback-only mail system for
// end-to-end tests: Postfix (SMTP, submission with SASL, real queue and real
// DSNs) and Dovecot (IMAP/IMAPS and the SASL service Postfix asks), both from
// the Debian packages, each with its own generated configuration.
//
// What it owns: one directory per stack (certificates, configuration, Postfix
// queue, Maildirs, logs, Dovecot base_dir), the loopback ports it picked for
// that stack, and the two daemon process groups it started. It never reads or
// changes /etc/postfix or /etc/dovecot and never listens beyond 127.0.0.1;
// mail for any domain but [Domain] is bounced locally.
//
// Tests use it like this:
//
//	func TestSomething(t *testing.T) {
//		if testing.Short() {
//			t.Skip("needs Postfix and Dovecot (internal/mailstack)")
//		}
//		st := mailstack.Start(t)
//		// st.SMTPSAddr, st.SubmissionAddr, st.IMAPSAddr, st.TLSConfig(), st.Account("alice") ...
//		files := st.WaitMessages(t, "bob", 1, 10*time.Second)
//		_ = files
//	}
//
// Start never skips under -short by itself: each caller decides, as above, so
// that the rule is visible in the test. Start skips the test when it cannot
// run (not root, packages missing, not Linux); when CI=true or
// MAILROOM_REQUIRE_MAILSTACK=1 it fails the test instead, naming what is
// missing and the apt-get command that installs it. The daemons are stopped
// by PID (TERM, then KILL of the whole process group) in t.Cleanup; if the
// test binary dies first (crash, go test -timeout, kill -9), a small watchdog
// process stops them and removes the directory.
//
// Every stack has its own directory, ports, Postfix queue and Dovecot
// base_dir, so test binaries of several packages may run stacks at the same
// time. Startup takes well under a second on an idle machine.
//
// The addresses of the test domain:
//
//	alice, bob, postmaster, perf, bulk   mailboxes; password is the name + "pass"
//	tempfail@                            450 4.2.0 at RCPT
//	reject@                              550 5.1.1 at RCPT
//	bounce@                              accepted, then an immediate DSN failed 5.1.1
//	defer@                               accepted, deferred 4.4.1: DELAY DSN, then FAILED DSN at queue expiry
//	any other local name                 on submission ports: accepted, then DSN failed 5.1.1;
//	                                     on the plain SMTP port: 550 5.1.1 at RCPT
//	anyone@deadhost.test                 accepted, next hop is a closed port: deferred, as defer@
//	any other domain                     authenticated: accepted, then DSN failed 5.7.1
//
// Queue timings are shortened (see [Option]) so that delay warnings and
// expiry bounces arrive in seconds or minutes. [Stack.Flush] asks Postfix to
// retry deferred mail now.
//
// The same stack runs outside tests with cmd/mailstack (start/stop), and
// mailstack.sh beside this file installs the packages.
package mailstack
