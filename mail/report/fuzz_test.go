package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that no input makes Parse panic or loop, and that what
// it returns is consistent. Seeds: the RFC examples in report_test.go, the
// Postfix reports in testdata, and crashers kept in testdata/fuzz.
func FuzzParse(f *testing.F) {
	f.Add([]byte(rfc3464Example))
	f.Add([]byte("Content-Type: multipart/report; report-type=disposition-notification; boundary=x\n\n--x\nContent-Type: message/disposition-notification\n\nOriginal-Message-ID: <a@b>\nDisposition: automatic-action/MDN-sent-automatically; deleted\n--x--\n"))
	f.Add([]byte("From: MAILER-DAEMON@x\nSubject: failure notice\n\n<a@b.example>:\nRemote host said: 550 5.1.1 no such user\n"))
	f.Add([]byte("Content-Type: multipart/report; boundary=\"\n\n--\n"))
	files, _ := filepath.Glob(filepath.Join("testdata", "postfix-dsn", "*.eml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rep *Report
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			if len(data) == 0 || strings.TrimSpace(string(data)) == "" {
				err = ErrEmpty
				return
			}
			// Unrecovered: the fuzzer must see panics that Parse would hide.
			rep = parseUnrecovered(data)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Parse did not return within 10s")
		}
		if err != nil {
			return
		}
		switch rep.Kind {
		case KindDSN, KindMDN, KindBounce, KindReply, KindNotAReport:
		default:
			t.Fatalf("unknown kind %q", rep.Kind)
		}
		for _, rc := range rep.Recipients {
			switch rc.Class {
			case ClassPermanentAddress, ClassPermanentOther, ClassTransient, ClassSuccess:
			default:
				t.Fatalf("recipient %+v has no class", rc)
			}
			if len(rc.Diagnostic) > maxDiagnostic {
				t.Fatalf("diagnostic of %d bytes", len(rc.Diagnostic))
			}
		}
		if _, err := rep.InspectJSON(); err != nil {
			t.Fatalf("InspectJSON: %v", err)
		}
	})
}
