// Package submit owns SMTP submission (RFC 6409) from Mailroom to the
// user's provider: connecting with implicit TLS (465) or mandatory STARTTLS
// (587), verifying the certificate, authenticating (PLAIN, LOGIN, XOAUTH2),
// and running transactions that report, per recipient, what the server
// said and what it means for the outbox (mail.Outcome).
//
// Invariants:
//   - Nothing but the TLS handshake happens before TLS: no AUTH, no MAIL,
//     no message byte. STARTTLS is required, never opportunistic; TLS 1.2
//     is the minimum; certificates are always verified (system pool, the
//     account's CA file, or Options.RootCAs in tests).
//   - Every command has a deadline, every write of the body has its own
//     deadline (a wrapped net.Conn), and the reply after "." has the long
//     RFC 5321 4.5.3.2.6 deadline.
//   - Message bytes go on the wire only through mail/wire: CR and LF only
//     as CRLF, no line over 998 octets; wire.DotWriter dot-stuffs and
//     writes the one terminating ".".
//   - Once "." has been written, a broken connection is Uncertain, never
//     Deferred: the outbox must not resend blindly.
//
// Classification, per recipient (Dial errors apply to every recipient):
//
//	connect, DNS, TLS, certificate, no STARTTLS, STARTTLS refused   Unreachable
//	5xx greeting or EHLO; no greeting at all                        Unreachable
//	4xx or 421 greeting/EHLO/AUTH; connection lost before MAIL      Deferred
//	5xx to AUTH (535, 534, 530 ...); 530 to MAIL                    AuthFailed
//	4xx to MAIL, RCPT, DATA or after "."                            Deferred
//	5xx to MAIL, RCPT, DATA or after "." (even if the server closes) Rejected
//	452 or 4.5.3 to RCPT (too many recipients)                      TooManyRecipients
//	after a 452 (one command at a time), or never reached           NotAttempted
//	421 or a lost connection before "."                             Deferred, for all not yet accepted
//	lost connection or timeout after "." was written                Uncertain
//	250 after "."                                                   Accepted
//
// A 5xx to one RCPT settles only that recipient; with no recipient left,
// no message is sent (one command at a time DATA is not sent; pipelined,
// the server refuses it, and a DATA it accepts anyway gets "." alone). A
// line over 998 octets is Rejected (the message cannot be sent as it is).
//
// The greeting, EHLO and STARTTLS before TLS are spoken here rather than by
// github.com/emersion/go-smtp (v0.25.1), so that each failure is attributed
// to its command, a server that omits STARTTLS is refused, and no byte the
// server sent in clear can be read as a reply after TLS. go-smtp's Client
// takes over once TLS is up, for EHLO and AUTH. The transactions are
// spoken here again (commands.go, txn.go): go-smtp's Client waits for each
// reply before the next command, where a server offering PIPELINING
// (RFC 2920) takes MAIL, every RCPT and DATA in one write (in groups of
// up to maxGroup commands), which halves the round trips of a message. Without PIPELINING the same code sends one
// command at a time.
package submit
