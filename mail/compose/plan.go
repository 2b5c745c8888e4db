package compose

import (
	"strings"

	"mailroom/mail"
)

// CopyPlan is one copy of a message and the envelope recipients it goes to.
type CopyPlan struct {
	// Recipients are the RCPT TO addresses of this copy, in draft order
	// (To, then Cc, then Bcc), each address once.
	Recipients []mail.Address
	// Personal is true when the copy goes to a single recipient and may
	// therefore carry per-recipient content (tracking header, pixel).
	Personal bool
}

// Plan says how many copies a send needs. When nothing is personalized,
// one copy goes to every recipient. When something is (open tracking), each
// recipient gets a copy of their own, built with their own CopyOptions.
// Bcc recipients appear only here, in the envelope; no copy's header names
// them. An address listed twice (say in To and Bcc) is sent to once, in its
// first place.
func Plan(d Draft, personalized bool) []CopyPlan {
	var all []mail.Address
	seen := map[string]bool{}
	for _, l := range [][]mail.Address{d.To, d.Cc, d.Bcc} {
		for _, a := range l {
			k := recipientKey(a)
			if seen[k] {
				continue
			}
			seen[k] = true
			all = append(all, a)
		}
	}
	if len(all) == 0 {
		return nil
	}
	if !personalized {
		return []CopyPlan{{Recipients: all, Personal: len(all) == 1}}
	}
	plans := make([]CopyPlan, len(all))
	for i, a := range all {
		plans[i] = CopyPlan{Recipients: []mail.Address{a}, Personal: true}
	}
	return plans
}

// recipientKey identifies a mailbox for de-duplication: case-insensitive
// (as every real mail system treats local parts) with the domain in A-label
// form, so "x@bücher.example" and "x@xn--bcher-kva.example" are one.
func recipientKey(a mail.Address) string {
	s := a.Address
	if ascii, err := a.ASCIIDomain(); err == nil {
		s = ascii
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// NeedsSMTPUTF8 reports whether the message cannot be sent without the
// server's SMTPUTF8 extension (RFC 6531): some address, in a header or only
// in the envelope, has a non-ASCII local part. Non-ASCII domains do not
// count: Build writes them as A-labels, and the envelope can use
// mail.Address.ASCIIDomain.
func NeedsSMTPUTF8(d Draft) bool {
	for _, l := range [][]mail.Address{{d.From}, d.To, d.Cc, d.Bcc} {
		for _, a := range l {
			local, _, _ := strings.Cut(a.Address, "@")
			for i := 0; i < len(local); i++ {
				if local[i] >= 0x80 {
					return true
				}
			}
		}
	}
	return false
}
