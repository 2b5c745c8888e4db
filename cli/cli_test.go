package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailroom/tracking"
	"mailroom/tracking/reports"
)

// runCLI runs one command line against dataDir and returns exit code,
// stdout and stderr.
func runCLI(t *testing.T, dataDir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, DataDir: dataDir}
	code := Run(context.Background(), env, args)
	return code, out.String(), errb.String()
}

func TestAccountAddWithPasswordCommandStoresNoSecret(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "pw")
	const secret = "s3cret-Pa55word-that-must-not-leak"
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	code, _, errs := runCLI(t, dir, "", "account", "add", "work", "--email", "alice@example.test",
		"--smtp", "mail.example.test:465", "--smtp-security", "tls", "--imap", "mail.example.test:993",
		"--imap-security", "tls", "--username", "alice", "--password-command", "cat "+secretFile)
	if code != 0 {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	code, out, errs := runCLI(t, dir, "", "account", "list")
	if code != 0 || !strings.Contains(out, "work") || !strings.Contains(out, "alice@example.test") {
		t.Fatalf("list: exit %d: %q %q", code, out, errs)
	}
	// The database (and its WAL) must not contain the password.
	files, _ := filepath.Glob(filepath.Join(dir, "mailroom.db*"))
	if len(files) == 0 {
		t.Fatal("no database file")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("%s contains the password", f)
		}
	}
	code, _, _ = runCLI(t, dir, "", "doctor")
	if code != 0 {
		t.Fatalf("doctor exit %d", code)
	}
	if code, _, _ = runCLI(t, dir, "", "account", "remove", "work"); code != 0 {
		t.Fatal("remove failed")
	}
	_, out, _ = runCLI(t, dir, "", "account", "list", "--json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("list after remove = %q", out)
	}
}

func TestStatusJSONOnEmptyDatabase(t *testing.T) {
	code, out, errs := runCLI(t, t.TempDir(), "", "status", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var v []any
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 0 {
		t.Fatalf("status --json = %q (%v); want []", out, err)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"frobnicate"},
		{"account"},
		{"account", "add", "x"},
		{"account", "add", "x", "--email", "a@example.test", "--smtp", "nohostport", "--smtp-security", "tls", "--username", "a", "--password-command", "true"},
		{"account", "add", "x", "--email", "a@example.test", "--smtp", "h:465", "--smtp-security", "plain", "--username", "a", "--password-command", "true"},
		{"status", "--bogus"},
		{"status", "a", "b"},
		{"config", "set", "outbox.jitter", "7"},
		{"config", "get", "no.such.key"},
		{"inspect"},
		{"version", "extra"},
	} {
		code, _, errs := runCLI(t, dir, "", args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errs)
		}
		if errs == "" {
			t.Errorf("%v: no message on stderr", args)
		}
	}
}

func TestBadAccountIsARuntimeErrorWithClearMessage(t *testing.T) {
	code, _, errs := runCLI(t, t.TempDir(), "", "account", "add", "x", "--email", "not-an-address",
		"--smtp", "h.example:465", "--smtp-security", "tls", "--username", "a", "--password-command", "true")
	if code != ExitRuntime || !strings.Contains(errs, "email") {
		t.Fatalf("exit %d, %q", code, errs)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCLI(t, dir, "", "config", "set", "tracking.mode", "builtin"); code != 0 {
		t.Fatal(errs)
	}
	_, out, _ := runCLI(t, dir, "", "config", "get", "tracking.mode")
	if strings.TrimSpace(out) != "builtin" {
		t.Fatalf("got %q", out)
	}
}

func TestInspectPostfixDSN(t *testing.T) {
	file := "../mail/report/testdata/postfix-dsn/10-failed-unknown-user-virtual.eml"
	if _, err := os.Stat(file); err != nil {
		t.Skip("corpus copy missing")
	}
	code, out, errs := runCLI(t, t.TempDir(), "", "inspect", file, "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var v struct {
		Kind       string `json:"kind"`
		Recipients []struct {
			Address, Action, Status, Class string
		} `json:"recipients"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Kind != "dsn" || len(v.Recipients) != 1 || v.Recipients[0].Status != "5.1.1" || v.Recipients[0].Class != "permanent-address" {
		t.Fatalf("inspect = %s", out)
	}
}

func TestReportsListsUnmatched(t *testing.T) {
	dir := t.TempDir()
	file := "../mail/report/testdata/postfix-dsn/10-failed-unknown-user-virtual.eml"
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Skip("corpus copy missing")
	}
	env := &Env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, DataDir: dir}
	ap, err := env.open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ap.Reports.Ingest(context.Background(), raw, reportsMeta()); err != nil {
		t.Fatal(err)
	}
	ap.Close()
	code, out, errs := runCLI(t, dir, "", "reports")
	if code != 0 || !strings.Contains(out, "dsn") {
		t.Fatalf("reports: exit %d %q %q", code, out, errs)
	}
	if code, out, _ := runCLI(t, dir, "", "doctor"); code != 0 || !strings.Contains(out, "matched no sent message") {
		t.Fatalf("doctor does not mention the unmatched report: %d %q", code, out)
	}
}

func reportsMeta() reports.Meta {
	return reports.Meta{Account: "work", Mailbox: "INBOX", UIDValidity: 1, UID: 7, ReceivedAt: time.Now()}
}

// account add/edit take the per-account tracking defaults and account
// list shows them.
func TestAccountTrackingDefaultFlags(t *testing.T) {
	dir := t.TempDir()
	add := func(name string, extra ...string) (int, string) {
		args := append([]string{"account", "add", name, "--email", name + "@example.test", "--smtp", "smtp.example.test:465",
			"--smtp-security", "tls", "--username", name, "--password-command", "echo x"}, extra...)
		code, _, errs := runCLI(t, dir, "", args...)
		return code, errs
	}
	if code, errs := add("news", "--track-opens", "on", "--track-clicks", "off"); code != 0 {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	if code, errs := add("work"); code != 0 {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	if code, errs := add("bad", "--track-opens", "sometimes"); code != ExitUsage || !strings.Contains(errs, "global") {
		t.Errorf("add --track-opens sometimes: exit %d, %q; want 2 and the valid values", code, errs)
	}
	type row struct{ Name, TrackOpens, TrackClicks string }
	list := func() []row {
		t.Helper()
		code, out, errs := runCLI(t, dir, "", "account", "list", "--json")
		if code != 0 {
			t.Fatalf("list: %s", errs)
		}
		var rows []struct {
			Name        string `json:"name"`
			TrackOpens  string `json:"track_opens"`
			TrackClicks string `json:"track_clicks"`
		}
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		var got []row
		for _, r := range rows {
			got = append(got, row{r.Name, r.TrackOpens, r.TrackClicks})
		}
		return got
	}
	if got := list(); len(got) != 2 || got[0] != (row{"news", "on", "off"}) || got[1] != (row{"work", "global", "global"}) {
		t.Fatalf("list --json: %+v", got)
	}
	_, out, _ := runCLI(t, dir, "", "account", "list")
	if !strings.Contains(out, "TRACK OPENS") || !regexpLine(out, `^news\s.*\son\s+off\s*$`) || !regexpLine(out, `^work\s.*\sglobal\s+global\s*$`) {
		t.Errorf("account list does not show the tracking defaults:\n%s", out)
	}

	code, _, errs := runCLI(t, dir, "", "account", "edit", "news", "--track-clicks", "global")
	if code != 0 {
		t.Fatalf("edit: exit %d: %s", code, errs)
	}
	if got := list(); got[0] != (row{"news", "on", "global"}) {
		t.Errorf("after edit --track-clicks global: %+v", got[0])
	}
	code, _, errs = runCLI(t, dir, "", "account", "edit", "news", "--name", "News Desk", "--track-opens", "OFF")
	if code != 0 {
		t.Fatalf("edit: exit %d: %s", code, errs)
	}
	if got := list(); got[0] != (row{"news", "off", "global"}) {
		t.Errorf("after edit --track-opens OFF: %+v", got[0])
	}
	for _, args := range [][]string{
		{"account", "edit", "news"},
		{"account", "edit", "news", "--track-clicks", "yes"},
		{"account", "edit", "--track-clicks", "on"},
	} {
		if code, _, errs := runCLI(t, dir, "", args...); code != ExitUsage || errs == "" {
			t.Errorf("%v: exit %d (%q), want 2", args, code, errs)
		}
	}
	if code, _, errs := runCLI(t, dir, "", "account", "edit", "nobody", "--track-opens", "on"); code != ExitRuntime || !strings.Contains(errs, "nobody") {
		t.Errorf("edit of an unknown account: exit %d, %q", code, errs)
	}
}

func regexpLine(text, re string) bool { return regexp.MustCompile(`(?m)` + re).MatchString(text) }

// mailroom send without tracking flags uses the account's default; an
// explicit flag wins; with tracking off nothing is tracked and the send
// still works.
func TestSendUsesAccountTrackingDefaults(t *testing.T) {
	dir := t.TempDir()
	must := func(args ...string) (string, string) {
		t.Helper()
		code, out, errs := runCLI(t, dir, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		return out, errs
	}
	must("account", "add", "news", "--email", "news@example.test", "--smtp", "smtp.example.test:465", "--smtp-security", "tls",
		"--username", "news", "--password-command", "echo x", "--track-opens", "on")
	md := filepath.Join(dir, "body.md")
	os.WriteFile(md, []byte("Hello, see [the site](https://example.com/)."), 0o600)
	send := func(flags ...string) (id string, opens, clicks bool, stderr string) {
		t.Helper()
		out, errs := must(append([]string{"send", "--account", "news", "--to", "bob@example.test", "--subject", "s",
			"--markdown-file", md}, flags...)...)
		id = strings.TrimSpace(out)
		env := &Env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, DataDir: dir}
		ap, err := env.open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer ap.Close()
		if err := ap.DB.R.QueryRow(`SELECT track_opens, track_clicks FROM messages WHERE id=?`, id).Scan(&opens, &clicks); err != nil {
			t.Fatalf("message %s: %v", id, err)
		}
		return id, opens, clicks, errs
	}
	check := func(what string, wantOpens, wantClicks bool, flags ...string) string {
		t.Helper()
		_, opens, clicks, errs := send(flags...)
		if opens != wantOpens || clicks != wantClicks {
			t.Errorf("%s: tracked opens %v, clicks %v; want %v, %v", what, opens, clicks, wantOpens, wantClicks)
		}
		return errs
	}
	if errs := check("tracking off, account opens on", false, false); errs != "" {
		t.Errorf("tracking off: stderr %q", errs)
	}
	must("config", "set", "tracking.mode", "builtin")
	must("config", "set", "tracking.default_clicks", "true")
	errs := check("no flags: account opens on, clicks global (on)", true, true)
	if !strings.Contains(errs, "tracking opens and clicks: the default for account news") {
		t.Errorf("no note on stderr about the default tracking: %q", errs)
	}
	check("--no-track-opens", false, true, "--no-track-opens")
	check("--track-opens=false --no-track-clicks", false, false, "--track-opens=false", "--no-track-clicks")
	must("config", "set", "tracking.default_clicks", "false")
	check("global clicks off", true, false)
	check("--track-clicks", true, true, "--track-clicks")
	must("account", "edit", "news", "--track-opens", "off", "--track-clicks", "on")
	check("account edited to opens off, clicks on", false, true)
	if code, _, _ := runCLI(t, dir, "", "send", "--account", "news", "--to", "bob@example.test", "--track-opens", "--no-track-opens"); code != ExitUsage {
		t.Errorf("--track-opens --no-track-opens: exit %d, want 2", code)
	}
}

// Beside a status set by a delivery report, `mailroom status` shows the
// report's words, not the outbox's earlier "accepted for delivery".
func TestStatusEvidence(t *testing.T) {
	r := tracking.RecipientStatus{Status: tracking.Bounced, LastReply: "The server accepted the message for delivery.",
		Events: []tracking.EventStatus{
			{Kind: tracking.EvAccepted, Source: tracking.SrcSMTP, Code: 250},
			{Kind: tracking.EvBounced, Source: tracking.SrcDSN, EnhancedCode: "5.1.1", Text: "unknown user"},
			{Kind: tracking.EvOpened, Source: tracking.SrcPixel},
		}}
	if got := statusEvidence(r); got != "report: 5.1.1 unknown user" {
		t.Errorf("bounced: %q", got)
	}
	r.Status = tracking.Rejected
	if got := statusEvidence(r); got != r.LastReply {
		t.Errorf("rejected: %q, want the outbox's words", got)
	}
	r.Status = tracking.Canceled
	r.Events = append(r.Events, tracking.EventStatus{Kind: tracking.EvCanceled, Source: tracking.SrcUser, Text: "Canceled before the server accepted it."})
	if got := statusEvidence(r); got != "Canceled before the server accepted it." {
		t.Errorf("canceled: %q", got)
	}
}

// --text-file - reads the body from standard input (a script's pipe);
// two bodies cannot both come from it.
func TestSendBodyFromStdin(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCLI(t, dir, "", "account", "add", "news", "--email", "news@example.test", "--smtp", "smtp.example.test:465",
		"--smtp-security", "tls", "--username", "news", "--password-command", "echo x"); code != 0 {
		t.Fatalf("account add: %s", errs)
	}
	code, out, errs := runCLI(t, dir, "Piped body line one.\nLine two.\n", "send", "--account", "news", "--to", "bob@example.test",
		"--subject", "piped", "--text-file", "-")
	if code != 0 {
		t.Fatalf("send: exit %d: %s", code, errs)
	}
	env := &Env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, DataDir: dir}
	ap, err := env.open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer ap.Close()
	var body []byte
	if err := ap.DB.R.QueryRow(`SELECT body FROM copies WHERE message=?`, strings.TrimSpace(out)).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "Piped body line one.") {
		t.Errorf("the queued copy lacks the piped body:\n%s", body)
	}
	if code, _, _ := runCLI(t, dir, "x", "send", "--account", "news", "--to", "bob@example.test", "--subject", "s",
		"--text-file", "-", "--html-file", "-"); code != ExitUsage {
		t.Errorf("two bodies from standard input: exit %d, want %d", code, ExitUsage)
	}
}
