// Package imapsource owns Mailroom's IMAP connection: dialing with TLS
// (implicit TLS or required STARTTLS, certificates verified, TLS 1.2 at
// least), authenticating only after TLS, finding the mailboxes that may hold
// reports (SPECIAL-USE \Junk, \Sent), choosing report candidates on the
// server with SEARCH so that ordinary mail is never downloaded, fetching a
// candidate with a size cap and without setting \Seen, appending the Sent
// copy, filing processed reports, and waiting for new mail with IDLE (or by
// polling when the server has no IDLE).
//
// It is the only package that imports github.com/emersion/go-imap/v2, which
// is a beta with breaking changes between releases: everything else sees the
// small [Source] interface and plain Go types, so an upgrade of go-imap
// touches this package only.
//
// Invariants:
//   - No credentials are sent before the connection is encrypted and the
//     server's certificate verified; there is no plaintext mode and no
//     way to skip certificate verification.
//   - Message bodies are fetched with BODY.PEEK (RFC 3501 section 6.4.5),
//     never BODY, so reading a report never marks it \Seen.
//   - A fetch never transfers more than the caller's byte cap plus one byte:
//     the body is requested as a partial BODY.PEEK[]<0.cap+1>.
//   - A Source is one connection. After any network or protocol error it is
//     unusable (Broken reports it); callers close it and dial again. Reconnect
//     with backoff lives in the caller (tracking/reports), which knows what
//     it was doing.
package imapsource
