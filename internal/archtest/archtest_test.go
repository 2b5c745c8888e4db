package archtest

import (
	"strings"
	"testing"
)

func TestImportRules(t *testing.T) {
	pkgs, err := List("../..", "./...")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, v := range Check(pkgs, Rules) {
		t.Error(v)
	}
}

// TestCheckCatchesViolations proves the checker is not vacuous: each rule
// fires on a package that breaks it, including through a transitive import.
func TestCheckCatchesViolations(t *testing.T) {
	bad := []Package{
		{"mailroom/mail/report", []string{"fmt", "mailroom/tracking"}, nil},
		{"mailroom/tracking/outbox", []string{"github.com/emersion/go-smtp"}, nil},
		{"mailroom/ui", []string{"fyne.io/fyne/v2", "database/sql"}, nil},
		{"mailroom/ui/detail", []string{"mailroom/app"}, nil},
		{"mailroom/app", []string{"fyne.io/fyne/v2/app"}, nil},
		{"mailroom/cmd/mailroom-tracker", []string{"fyne.io/fyne/v2"}, nil},
		{"mailroom/tracking/reports", []string{"github.com/emersion/go-imap/v2/imapclient"}, nil},
		{Path: "mailroom/app", Imports: []string{"github.com/emersion/go-imap/v2"}},
	}
	got := Check(bad, Rules)
	for _, want := range []string{
		"mailroom/mail/report imports mailroom/tracking",
		"mailroom/tracking/outbox imports github.com/emersion/go-smtp",
		"mailroom/ui imports database/sql",
		"mailroom/ui/detail imports mailroom/app",
		"mailroom/app imports fyne.io/fyne/v2/app",
		"mailroom/cmd/mailroom-tracker imports fyne.io/fyne/v2",
		"mailroom/tracking/reports imports github.com/emersion/go-imap/v2/imapclient",
		"mailroom/app imports github.com/emersion/go-imap/v2 (go-imap/v2 is a beta",
	} {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, want)
		}
		if !found {
			t.Errorf("violation not reported: %s", want)
		}
	}
	ok := []Package{
		{"mailroom/mail/imapsource", []string{"github.com/emersion/go-imap/v2"}, nil},
		{"mailroom", []string{"fyne.io/fyne/v2/app"}, nil},
		{"mailroom/ui", []string{"fyne.io/fyne/v2", "mailroom/tracking", "mailroom/mail"}, nil},
		{Path: "mailroom/cli", Deps: []string{"github.com/emersion/go-imap/v2"}}, // through app → imapsource: fine
	}
	if v := Check(ok, Rules); len(v) != 0 {
		t.Errorf("false positives: %v", v)
	}
}
