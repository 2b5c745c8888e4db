package report

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPrefiltersNeverHideAMatch checks the substring tests that guard the
// slow regexps: wherever a regexp matches (in every line and every whole
// message of the corpora, and in hand-written cases), its guard lets it run.
func TestPrefiltersNeverHideAMatch(t *testing.T) {
	texts := []string{
		"smtp; 550 5.1.1 in reply to RCPT TO command",
		"host said: 452 (in reply to end of DATA command)",
		"Remote server replied AFTER DATA: 554 rejected",
		"the SMTP COMMAND was MAIL FROM",
		">>> RCPT TO:<a@example.net>\n<<< 550 no",
		"RCPT TO response: 550",
		"----- Original Message -----\nFrom: a@example.net",
		"Below this line is a copy of the message.",
		"------ This is a copy of the message, including all the headers. ------",
		"--- The header of the original message is following. ---",
		"Received: from x by y\n\tfor z\nSubject: hi",
		"Return-Path: <a@example.net>\nFrom: a@example.net",
	}
	for _, dir := range []string{"testdata", corpusDir} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			s := strings.ReplaceAll(string(b), "\r\n", "\n")
			texts = append(texts, s)
			texts = append(texts, strings.Split(s, "\n")...)
			return nil
		})
	}
	type guard struct {
		name string
		re   *regexp.Regexp
		ok   func(string) bool
	}
	folded := func(words ...string) func(string) bool {
		return func(s string) bool {
			lower, fold := foldForPrefilter(s)
			return !fold || containsAny(lower, words)
		}
	}
	hasAny := func(words ...string) func(string) bool {
		return func(s string) bool { return containsAny(s, words) }
	}
	guards := []guard{
		{"inReplyToRe", inReplyToRe, folded(inReplyToWords...)},
		{"rcptResponseRe", rcptResponseRe, folded("rcpt")},
		{"transcriptRe", transcriptRe, hasAny(">>>")},
		{"originalMarkerRe", originalMarkerRe, folded(originalMarkerWords...)},
		{"inlineHeaderRe", inlineHeaderRe, hasAny("Received:", "Return-Path:", "DKIM-Signature:")},
		{"anchorRe", anchorRe, hasAny("@")},
		{"rcptToRe", rcptToRe, hasAny("@")},
		{"labelAnchorRe", labelAnchorRe, hasAny("@")},
		{"tailAnchorRe", tailAnchorRe, hasAny("@")},
	}
	matched := map[string]int{}
	for _, s := range texts {
		for _, g := range guards {
			if g.re.MatchString(s) {
				matched[g.name]++
				if !g.ok(s) {
					t.Errorf("%s matches %.200q but its guard skips it", g.name, s)
				}
			}
		}
	}
	for _, g := range guards {
		if matched[g.name] == 0 {
			t.Errorf("%s matched nothing: the test checks nothing for it", g.name)
		}
	}
	t.Logf("%d texts; matches per regexp: %v", len(texts), matched)
}
