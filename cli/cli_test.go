package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	code, out, errs := runCLI(t, dir, "", "account", "add", "work", "--email", "alice@example.test",
		"--smtp", "mail.example.test:465", "--smtp-security", "tls", "--imap", "mail.example.test:993",
		"--imap-security", "tls", "--username", "alice", "--password-command", "cat "+secretFile)
	if code != 0 {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	code, out, errs = runCLI(t, dir, "", "account", "list")
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
