package submit

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// goSMTPLines returns the MAIL and RCPT lines go-smtp's Client writes for
// these options, to a peer offering the EHLO keywords ext.
func goSMTPLines(t *testing.T, ext []string, from string, mo *smtp.MailOptions, to string, ro *smtp.RcptOptions) (mailL, rcptL string) {
	cl, srv := net.Pipe()
	defer cl.Close()
	lines := make(chan string, 8)
	go func() {
		defer srv.Close()
		r := bufio.NewReader(srv)
		srv.Write([]byte("220 peer\r\n"))
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			l = strings.TrimSuffix(l, "\r\n")
			if strings.HasPrefix(l, "EHLO") {
				reply := "250-peer\r\n"
				for _, e := range ext {
					reply += "250-" + e + "\r\n"
				}
				srv.Write([]byte(reply + "250 HELP\r\n"))
				continue
			}
			lines <- l
			srv.Write([]byte("250 ok\r\n"))
		}
	}()
	c := smtp.NewClient(cl)
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from, mo); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(to, ro); err != nil {
		t.Fatal(err)
	}
	return <-lines, <-lines
}

// TestCommandLinesMatchGoSMTP: our MAIL and RCPT lines (written ourselves
// so they can be pipelined) are the ones go-smtp writes, byte for byte.
func TestCommandLinesMatchGoSMTP(t *testing.T) {
	notify := []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure, smtp.DSNNotifyDelayed}
	for _, tc := range []struct {
		name     string
		ext      []string
		from, to string
		original string // the recipient as written (ORCPT)
		size     int64
		utf8     bool
		dsn      bool
		envID    string
	}{
		{name: "bare", from: "a@x.test", to: "b@y.test", original: "b@y.test"},
		{name: "8bitmime and size", ext: []string{"8BITMIME", "SIZE 1000"}, from: "a@x.test", to: "b@y.test", original: "b@y.test", size: 512},
		{name: "size zero", ext: []string{"SIZE"}, from: "a@x.test", to: "b@y.test", original: "b@y.test"},
		{name: "dsn", ext: []string{"DSN", "8BITMIME"}, from: "a@x.test", to: "b+tag@y.test", original: "b+tag@y.test", dsn: true,
			envID: "msg=1+2"},
		{name: "dsn envid with specials", ext: []string{"DSN"}, from: "a@x.test", to: "b@y.test", original: "b=c@y.test", dsn: true, envID: "a+b=c!~"},
		{name: "utf8 with smtputf8", ext: []string{"DSN", "SMTPUTF8"}, from: "ä@x.test", to: "bé@y.test", original: "bé@y.test", utf8: true, dsn: true, envID: "e1"},
		{name: "utf8 orcpt without smtputf8", ext: []string{"DSN"}, from: "a@x.test", to: "b@xn--bcher-kva.test", original: "b@bücher.test", dsn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			has := func(kw string) bool {
				for _, e := range tc.ext {
					if strings.EqualFold(strings.Fields(e)[0], kw) {
						return true
					}
				}
				return false
			}
			mo := &smtp.MailOptions{Size: tc.size, UTF8: tc.utf8}
			var ro *smtp.RcptOptions
			if tc.dsn {
				mo.Return, mo.EnvelopeID = smtp.DSNReturnHeaders, tc.envID
				ro = &smtp.RcptOptions{Notify: notify, OriginalRecipientType: smtp.DSNAddressTypeRFC822, OriginalRecipient: tc.original}
				if !isASCII(tc.original) {
					ro.OriginalRecipientType = smtp.DSNAddressTypeUTF8
				}
			}
			wantMail, wantRcpt := goSMTPLines(t, tc.ext, tc.from, mo, tc.to, ro)
			if got := mailLine(tc.from, tc.size, tc.utf8, tc.dsn, tc.envID, has); got != wantMail {
				t.Errorf("MAIL\n got %q\nwant %q", got, wantMail)
			}
			if got := rcptLine(tc.to, tc.original, tc.dsn, has("SMTPUTF8")); got != wantRcpt {
				t.Errorf("RCPT\n got %q\nwant %q", got, wantRcpt)
			}
		})
	}
}
