package imapsource

import (
	"bufio"
	"bytes"
	"mime"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/textproto"
)

// candidateHeaders are the header fields fetched for each candidate: enough
// to say why it was picked and, for replies, whether it answers one of our
// messages, before anyone decides to download the body.
var candidateHeaders = []string{"From", "Message-ID", "In-Reply-To", "References", "Date",
	"Content-Type", "Auto-Submitted", "X-Failed-Recipients", "Subject"}

// bounceSubjects are subject words of non-standard bounces whose sender is
// neither MAILER-DAEMON nor postmaster (a hosted service's own address).
var bounceSubjects = []string{"Undeliver", "Returned mail", "Delivery Status Notification",
	"Delivery Failure", "failure notice", "Mail delivery failed"}

// searchCriteria builds "UID from:to [SINCE day] (OR ...)" over every
// sign of a report (to 0 is "*"). Each key is a substring match done by
// the server (RFC 3501 section 6.4.4), so ordinary mail is told apart
// without downloading it. SINCE compares the internal date's day, which
// servers check from their index before any header.
func searchCriteria(from, to uint32, notBefore time.Time) *imap.SearchCriteria {
	var set imap.UIDSet
	set.AddRange(imap.UID(from), imap.UID(to)) // 0 is "*"
	hdr := func(k, v string) imap.SearchCriteria {
		return imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: k, Value: v}}}
	}
	keys := []imap.SearchCriteria{
		hdr("Content-Type", "report"),
		hdr("Auto-Submitted", "auto-"),
		hdr("From", "mailer-daemon"),
		hdr("From", "postmaster"),
		// An empty value matches every message that has the field at all.
		hdr("X-Failed-Recipients", ""),
		hdr("In-Reply-To", "@"),
		hdr("References", "@"),
	}
	for _, s := range bounceSubjects {
		keys = append(keys, hdr("Subject", s))
	}
	c := &imap.SearchCriteria{UID: []imap.UIDSet{set}, Or: orTree(keys)}
	if !notBefore.IsZero() {
		// go-imap writes only the date (RFC 3501 date: DD-Mon-YYYY).
		y, m, d := notBefore.UTC().Date()
		c.Since = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return c
}

// orTree folds keys into IMAP's binary OR: OR a (OR b (OR c d)).
func orTree(keys []imap.SearchCriteria) [][2]imap.SearchCriteria {
	if len(keys) < 2 {
		return nil
	}
	acc := keys[len(keys)-1]
	for i := len(keys) - 2; i >= 1; i-- {
		acc = imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{keys[i], acc}}}
	}
	return [][2]imap.SearchCriteria{{keys[0], acc}}
}

// describeCandidate describes a candidate from its size and header fields.
// needStructure says that only its BODYSTRUCTURE can tell whether a report
// part is nested inside (a multipart other than multipart/report, a
// message/* type, or an unreadable Content-Type); see addStructure.
func describeCandidate(b *imapclient.FetchMessageBuffer, hdr *imap.FetchItemBodySection) (c Candidate, needStructure bool) {
	c = Candidate{UID: uint32(b.UID), Size: b.RFC822Size}
	sec := b.FindBodySection(hdr)
	h, _ := textproto.ReadHeader(bufio.NewReaderSize(bytes.NewReader(sec), min(len(sec), 4096)))
	get := func(k string) string { return strings.TrimSpace(h.Get(k)) }
	c.From, c.MessageID, c.InReplyTo, c.References = get("From"), get("Message-Id"), get("In-Reply-To"), get("References")
	c.Date = parseDate(get("Date"))
	ct := strings.ToLower(get("Content-Type"))
	if mt, params, err := mime.ParseMediaType(ct); err == nil {
		c.MediaType = mt
		if mt == "multipart/report" {
			c.ReportType = strings.ToLower(params["report-type"])
		}
		needStructure = (strings.HasPrefix(mt, "multipart/") && mt != "multipart/report") || strings.HasPrefix(mt, "message/")
	} else if ct == "" {
		c.MediaType = "text/plain" // RFC 2045 section 5.2
	} else {
		needStructure = true
	}
	from := strings.ToLower(c.From)
	add := func(ok bool, r string) {
		if ok {
			c.Reasons = append(c.Reasons, r)
		}
	}
	add(strings.Contains(ct, "report") || c.MediaType == "multipart/report", ReasonReportType)
	add(strings.HasPrefix(strings.ToLower(get("Auto-Submitted")), "auto-"), ReasonAutoSubmitted)
	add(strings.Contains(from, "mailer-daemon"), ReasonMailerDaemon)
	add(strings.Contains(from, "postmaster"), ReasonPostmaster)
	add(len(h.Values("X-Failed-Recipients")) > 0, ReasonFailedRcpts)
	add(strings.Contains(c.InReplyTo, "@"), ReasonInReplyTo)
	add(!strings.Contains(c.InReplyTo, "@") && strings.Contains(c.References, "@"), ReasonReferences)
	subj := strings.ToLower(get("Subject"))
	for _, s := range bounceSubjects {
		if strings.Contains(subj, strings.ToLower(s)) {
			add(true, ReasonSubject)
			break
		}
	}
	if len(c.Reasons) == 0 {
		c.Reasons = []string{ReasonOther}
	}
	return c, needStructure
}

// addStructure completes a candidate with its BODYSTRUCTURE: the media
// type as the server parsed it, and a report part nested anywhere inside
// (a bounce forwarded as an attachment, a report inside a digest).
func addStructure(c *Candidate, bs imap.BodyStructure) {
	c.MediaType = bs.MediaType()
	if mp, ok := bs.(*imap.BodyStructureMultiPart); ok && mp.Extended != nil && c.ReportType == "" {
		c.ReportType = strings.ToLower(mp.Extended.Params["report-type"])
	}
	if c.MediaType == "multipart/report" && !slices.Contains(c.Reasons, ReasonReportType) {
		c.Reasons = append(c.Reasons, ReasonReportType)
	}
	if hasReportPart(bs) {
		c.Reasons = append(c.Reasons, ReasonReportPart)
	}
	if len(c.Reasons) > 1 {
		c.Reasons = slices.DeleteFunc(c.Reasons, func(r string) bool { return r == ReasonOther })
	}
}

// parseDate reads a Date field; zero when absent or unreadable. The common
// RFC 5322 form is tried first: net/mail.ParseDate tries its layouts in
// turn, and describing 1,800 candidates spent most of its time there.
func parseDate(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	if d, err := time.Parse(time.RFC1123Z, v); err == nil {
		return d
	}
	d, _ := mail.ParseDate(v)
	return d
}

// hasReportPart reports a machine-readable report part anywhere in the
// structure (a bounce forwarded as an attachment, a report inside a digest).
func hasReportPart(bs imap.BodyStructure) bool {
	found := false
	bs.Walk(func(_ []int, part imap.BodyStructure) bool {
		switch part.MediaType() {
		case "message/delivery-status", "message/global-delivery-status",
			"message/disposition-notification", "message/global-disposition-notification":
			found = true
		}
		return !found
	})
	return found
}

func sortCandidates(cs []Candidate) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].UID < cs[j].UID })
}
