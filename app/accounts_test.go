package app

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"

	"mailroom/internal/sqlitedb"
	"mailroom/mail"
)

func testAccount(name string) Account {
	return Account{Name: name, Email: name + "@example.test", PasswordSource: "command", PasswordCommand: "echo x",
		SMTP: mail.Endpoint{Host: "smtp.example.test", Port: 465, Security: mail.ImplicitTLS, Username: name}}
}

// The per-account tracking defaults survive the database: added, read,
// listed, changed; an account added without them follows the global
// setting; a value the database would refuse is refused with words.
func TestAccountTrackingDefaultsRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := testApp(t) // "work", added without tracking defaults
	if got, _ := a.Accounts.Get(ctx, "work"); got.TrackOpens != TrackGlobal || got.TrackClicks != TrackGlobal {
		t.Fatalf("account added without defaults: opens %q, clicks %q; want global, global", got.TrackOpens, got.TrackClicks)
	}
	acct := testAccount("news")
	acct.TrackOpens, acct.TrackClicks = TrackOn, TrackOff
	if err := a.Accounts.Add(ctx, acct, ""); err != nil {
		t.Fatal(err)
	}
	got, err := a.Accounts.Get(ctx, "news")
	if err != nil || got.TrackOpens != TrackOn || got.TrackClicks != TrackOff {
		t.Fatalf("after add: %+v, %v", got, err)
	}
	acct.TrackOpens, acct.TrackClicks = TrackGlobal, TrackOn
	if err := a.Accounts.Update(ctx, acct, ""); err != nil {
		t.Fatal(err)
	}
	list, err := a.Accounts.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "news" || list[0].TrackOpens != TrackGlobal || list[0].TrackClicks != TrackOn {
		t.Fatalf("after update: %+v, %v", list, err)
	}
	acct.TrackOpens = "sometimes"
	if err := a.Accounts.Update(ctx, acct, ""); err == nil {
		t.Fatal("an unknown tracking default was accepted")
	}
	for in, want := range map[string]TrackDefault{"global": TrackGlobal, " On": TrackOn, "OFF": TrackOff} {
		if d, err := ParseTrackDefault(in); err != nil || d != want {
			t.Errorf("ParseTrackDefault(%q) = %q, %v", in, d, err)
		}
	}
	if _, err := ParseTrackDefault("yes"); err == nil {
		t.Error(`ParseTrackDefault("yes") accepted`)
	}
}

// An account stored before the migration follows the global settings
// afterwards, so existing accounts behave as they did.
func TestAccountTrackingDefaultsMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() >= "0004" {
			continue
		}
		b, _ := fs.ReadFile(migrations, "migrations/"+e.Name())
		old["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
	}
	db, err := sqlitedb.Open(filepath.Join(dir, "mailroom.db"), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, "accounts", old, "migrations"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO accounts(name, email, smtp_host, smtp_port, smtp_security, username,
		password_source, password_command, created_at) VALUES('legacy','l@example.test','smtp.example.test',465,'tls','l','command','echo x',1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	a, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err := a.Accounts.Get(ctx, "legacy")
	if err != nil || got == nil || got.TrackOpens != TrackGlobal || got.TrackClicks != TrackGlobal {
		t.Fatalf("legacy account after migration: %+v, %v", got, err)
	}
	if _, err := a.DB.W.ExecContext(ctx, `UPDATE accounts SET track_opens='maybe' WHERE name='legacy'`); err == nil {
		t.Error("the database accepts a tracking default other than global, on, off")
	}
}

// TrackingDefaults: "global" follows the global setting as it changes,
// "on" and "off" override it, and nothing is tracked by default while
// tracking is off (a default must not make a send fail).
func TestTrackingDefaultsFollowGlobalSetting(t *testing.T) {
	ctx := context.Background()
	a := testApp(t) // "work": global, global
	for _, acct := range []Account{testAccount("always"), testAccount("never")} {
		acct.TrackOpens, acct.TrackClicks = TrackOn, TrackOn
		if acct.Name == "never" {
			acct.TrackOpens, acct.TrackClicks = TrackOff, TrackOff
		}
		if err := a.Accounts.Add(ctx, acct, ""); err != nil {
			t.Fatal(err)
		}
	}
	set := func(k, v string) {
		t.Helper()
		if err := a.SetSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when, account string, wantOpens, wantClicks bool) {
		t.Helper()
		opens, clicks, err := a.TrackingDefaults(ctx, account)
		if err != nil || opens != wantOpens || clicks != wantClicks {
			t.Errorf("%s, account %s: opens %v clicks %v (%v); want %v %v", when, account, opens, clicks, err, wantOpens, wantClicks)
		}
	}
	set("tracking.default_opens", "true")
	check("tracking off", "always", false, false)
	check("tracking off", "work", false, false)

	set("tracking.mode", "builtin")
	check("global opens on", "work", true, false)
	check("global opens on", "always", true, true)
	check("global opens on", "never", false, false)

	set("tracking.default_opens", "false")
	set("tracking.default_clicks", "1")
	check("global clicks on", "work", false, true)
	check("global clicks on", "never", false, false)
	check("global clicks on", "always", true, true)

	if _, _, err := a.TrackingDefaults(ctx, "nobody"); err == nil {
		t.Error("no error for an unknown account")
	}
}
