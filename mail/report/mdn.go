package report

import "strings"

// parseMDN fills the report from a message/disposition-notification part
// (RFC 8098 section 3.2).
func parseMDN(rep *Report, m *message) {
	rep.Kind = KindMDN
	mdn := &MDN{}
	for _, f := range parseFields(m.mdn[0]) {
		switch f.name {
		case "reporting-ua":
			mdn.ReportingUA = cleanText(f.value, 255)
		case "original-recipient":
			mdn.OriginalRecipient = decodeORCPT(f.value)
		case "final-recipient":
			mdn.FinalRecipient = recipientAddress(f.value)
		case "original-message-id":
			mdn.OriginalMessageID = firstMsgID(f.value)
		case "disposition":
			mdn.Disposition = cleanText(f.value, 255)
			if _, t, ok := strings.Cut(mdn.Disposition, ";"); ok {
				t = strings.TrimSpace(t)
				// "displayed/error" style modifiers follow a slash.
				t, _, _ = strings.Cut(t, "/")
				mdn.DispositionType = strings.ToLower(strings.TrimSpace(t))
			}
		}
	}
	rep.MDN = mdn
	// The original message id is the key tracking matches on; keep it in
	// the common field too.
	if rep.ReturnedMessageID == "" {
		rep.ReturnedMessageID = mdn.OriginalMessageID
	}
	if rep.InReplyTo == "" {
		rep.InReplyTo = mdn.OriginalMessageID
	}
}
