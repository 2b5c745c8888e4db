package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

func TestComposeInvalidAddressShowsInlineError(t *testing.T) {
	m := newTestWindow(t, newFakes())
	m.ShowScreen(ScreenCompose)
	c := m.compose()

	test.Type(c.to, "bob@")
	if !c.toErr.Visible() || c.toErr.Text == "" {
		t.Fatalf("no inline error for %q", c.to.Text)
	}
	requireText(t, content(m), c.toErr.Text)

	c.to.SetText("")
	test.Type(c.to, "Jörg <jörg@bücher.example>, carol@example.org")
	if c.toErr.Visible() {
		t.Errorf("IDN address refused: %s", c.toErr.Text)
	}

	test.Type(c.cc, "not an address")
	if !c.ccErr.Visible() {
		t.Error("Cc not validated")
	}
	if c.toErr.Visible() {
		t.Error("an error in Cc marked To")
	}
}

func TestComposeSendValidatesAndQueues(t *testing.T) {
	f := newFakes()
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenCompose)
	c := m.compose()

	c.send()
	if len(f.compose.sent) != 0 {
		t.Fatal("sent without recipients")
	}
	if !c.toErr.Visible() {
		t.Error("no 'add a recipient' error")
	}

	test.Type(c.to, "bob@example.com")
	test.Type(c.subject, "Invoice 42")
	test.Type(c.body, "Hello")
	c.send()
	if len(f.compose.sent) != 1 {
		t.Fatalf("sent %d messages", len(f.compose.sent))
	}
	got := f.compose.sent[0]
	if got.Account != "work" || got.To != "bob@example.com" || got.Subject != "Invoice 42" || !got.At.IsZero() {
		t.Errorf("sent %+v", got)
	}
	if got.DraftID == "" {
		t.Error("the draft saved while typing is not named in the send, so it would linger")
	}
	if len(f.drafts.drafts) != 0 {
		t.Errorf("draft left after sending: %v", f.drafts.drafts)
	}
	if c.to.Text != "" || !strings.Contains(c.status.Text, "Queued as m1") {
		t.Errorf("form not reset after send: to=%q status=%q", c.to.Text, c.status.Text)
	}
}

func TestComposeSendLater(t *testing.T) {
	f := newFakes()
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenCompose)
	c := m.compose()
	test.Type(c.to, "bob@example.com")
	test.Tap(c.laterBtn)
	day := testNow.AddDate(0, 0, 1)
	c.date.SetDate(&day)
	test.Type(c.clock, "9h")
	c.sendLater()
	if !c.laterErr.Visible() || len(f.compose.sent) != 0 {
		t.Fatal("bad time accepted")
	}
	c.clock.SetText("09:30")
	c.sendLater()
	if len(f.compose.sent) != 1 {
		t.Fatal("not scheduled")
	}
	want := time.Date(day.Year(), day.Month(), day.Day(), 9, 30, 0, 0, time.Local)
	if at := f.compose.sent[0].At; !at.Equal(want) {
		t.Errorf("At = %v, want %v", at, want)
	}
}

func TestComposeDraftSurvivesReopen(t *testing.T) {
	f := newFakes()
	a := test.NewTempApp(t)
	m := newTestWindowOn(a, f)
	m.ShowScreen(ScreenCompose)
	c := m.compose()
	test.Type(c.to, "bob@example.com")
	test.Type(c.subject, "Quarterly report")
	test.Type(c.body, "Numbers attached.")
	c.format.SetSelected(labelMarkdown)
	test.Tap(c.trackOpens)
	m.Close()
	if len(f.drafts.drafts) != 1 {
		t.Fatalf("%d drafts after close, want 1 (saves: %d)", len(f.drafts.drafts), f.drafts.saves)
	}

	if acc := f.drafts.drafts["d1"].Input.Account; acc != "work" {
		t.Errorf("draft account %q", acc)
	}
	m2 := newTestWindowOn(a, f)
	m2.ShowScreen(ScreenDrafts)
	requireText(t, content(m2), "Quarterly report", "To: bob@example.com")
	m2.drafts().list.Select(0)
	if m2.CurrentScreen() != ScreenCompose {
		t.Fatalf("draft opened on %q", m2.CurrentScreen())
	}
	c2 := m2.compose()
	if c2.to.Text != "bob@example.com" || c2.subject.Text != "Quarterly report" || c2.body.Text != "Numbers attached." ||
		c2.format.Selected != labelMarkdown || !c2.trackOpens.Checked {
		t.Errorf("draft not restored: to=%q subject=%q body=%q format=%q opens=%v",
			c2.to.Text, c2.subject.Text, c2.body.Text, c2.format.Selected, c2.trackOpens.Checked)
	}
	// Editing the reopened draft updates it instead of adding another.
	test.Type(c2.subject, "!")
	if d := f.drafts.drafts["d1"]; len(f.drafts.drafts) != 1 || d.Input.Subject != "!Quarterly report" || d.Input.Account != "work" {
		t.Errorf("drafts after edit: %+v", f.drafts.drafts)
	}
}

func TestComposeWarnings(t *testing.T) {
	f := newFakes()
	f.compose.suppressed["bob@example.com"] = "bounced 5.1.1 on 2 May"
	f.compose.maxSize = 1000
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenCompose)
	c := m.compose()

	test.Type(c.to, "bob@example.com")
	if !c.suppressed.Visible() || !strings.Contains(c.suppressed.Text, "bob@example.com is on the suppression list (bounced 5.1.1 on 2 May)") {
		t.Errorf("suppression warning: %q", c.suppressed.Text)
	}

	test.Tap(c.trackOpens)
	if !c.trackNote.Visible() || c.trackNote.Text != plainTrackingNote {
		t.Error("no plain-text tracking note")
	}
	c.format.SetSelected(labelMarkdown)
	if c.trackNote.Visible() {
		t.Error("tracking note shown for Markdown")
	}

	c.attachments = []Attachment{{Path: "/tmp/x.pdf", Name: "x.pdf", Size: 2048}}
	c.refreshAttachments()
	requireText(t, content(m), "x.pdf — 2.0 KB")
	if !c.attachWarn.Visible() || !strings.Contains(c.attachWarn.Text, "at most 1000 B") {
		t.Errorf("size warning: %q", c.attachWarn.Text)
	}
}

func TestComposeAttachmentReadsSize(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/a.txt"
	if err := writeFile(path, strings.Repeat("x", 3000)); err != nil {
		t.Fatal(err)
	}
	m := newTestWindow(t, newFakes())
	m.ShowScreen(ScreenCompose)
	m.compose().addAttachment(path, "a.txt")
	if len(m.compose().attachments) != 1 || m.compose().attachments[0].Size != 3000 {
		t.Fatalf("attachments: %+v", m.compose().attachments)
	}
}

func TestComposeDraftLoadChecksSuppression(t *testing.T) {
	f := newFakes()
	f.compose.suppressed["bob@example.net"] = "bounced"
	id, _ := f.drafts.Save(context.Background(), Draft{Input: ComposeInput{Account: "work", To: "dana@example.com, bob@example.net", Cc: "eve@"}})
	m := newTestWindow(t, f)
	m.OpenDraft(id)
	if !m.compose().suppressed.Visible() || !m.compose().ccErr.Visible() {
		t.Errorf("suppressed %v %q, cc error %v", m.compose().suppressed.Visible(), m.compose().suppressed.Text, m.compose().ccErr.Visible())
	}
}

func TestComposeStartsWithTrackingDefaults(t *testing.T) {
	f := newFakes()
	f.settings.vals = map[string]string{"tracking.mode": "builtin", "tracking.default_opens": "true"}
	m := newTestWindow(t, f)
	m.NewMessage()
	if !m.compose().trackOpens.Checked || m.compose().trackClicks.Checked {
		t.Fatalf("new message: track opens %v, clicks %v; want the settings' defaults (true, false)",
			m.compose().trackOpens.Checked, m.compose().trackClicks.Checked)
	}
	f.settings.vals["tracking.mode"] = "off"
	m.compose().trackOpens.SetChecked(false)
	m.NewMessage()
	if m.compose().trackOpens.Checked {
		t.Fatal("with tracking off, a new message must not start tracked")
	}
}

// twoMoreAccounts adds "news" (opens off, clicks on) and "quiet" (both
// off) beside the fakes' "work", which follows the global settings.
func twoMoreAccounts(f *fakes) {
	base := f.accounts.accounts[0]
	news, quiet := base, base
	news.Name, news.Email, news.TrackOpens, news.TrackClicks = "news", "news@example.com", TrackOff, TrackOn
	quiet.Name, quiet.Email, quiet.TrackOpens, quiet.TrackClicks = "quiet", "quiet@example.com", TrackOff, TrackOff
	f.accounts.accounts = append(f.accounts.accounts, news, quiet)
}

func (c *composeScreen) pickFrom(t *testing.T, name string) {
	t.Helper()
	for _, a := range c.accounts {
		if a.Name == name {
			c.from.SetSelected(accountLabel(a)) // as the user's choice in the picker
			return
		}
	}
	t.Fatalf("no account %q in From", name)
}

func requireTracking(t *testing.T, c *composeScreen, when string, opens, clicks bool) {
	t.Helper()
	if c.trackOpens.Checked != opens || c.trackClicks.Checked != clicks {
		t.Errorf("%s: Track opens %v, Track clicks %v; want %v, %v", when, c.trackOpens.Checked, c.trackClicks.Checked, opens, clicks)
	}
}

// Switching From applies the new account's defaults to the tracking boxes,
// except a box the user changed by hand in this message.
func TestComposeFromSwitchAppliesAccountDefaults(t *testing.T) {
	f := newFakes()
	twoMoreAccounts(f)
	f.settings.vals = map[string]string{"tracking.mode": "remote", "tracking.default_opens": "true"}
	m := newTestWindow(t, f)
	m.NewMessage()
	c := m.compose()
	requireTracking(t, c, "new message from work (global: opens on, clicks off)", true, false)

	c.pickFrom(t, "news")
	requireTracking(t, c, "From switched to news (opens off, clicks on)", false, true)

	test.Type(c.to, "bob@example.com")
	test.Tap(c.trackOpens) // the user wants opens tracked in this message
	c.pickFrom(t, "quiet")
	requireTracking(t, c, "From switched to quiet after ticking Track opens by hand", true, false)
	c.pickFrom(t, "work")
	requireTracking(t, c, "From switched to work", true, false)
	c.pickFrom(t, "news")
	requireTracking(t, c, "From switched back to news", true, true)

	test.Tap(c.trackClicks) // unticked by hand: now both are the user's
	c.pickFrom(t, "work")
	requireTracking(t, c, "both set by hand, From switched to work", true, false)
	c.pickFrom(t, "news")
	requireTracking(t, c, "both set by hand, From switched to news", true, false)

	c.send()
	if len(f.compose.sent) != 1 {
		t.Fatalf("sent %d messages", len(f.compose.sent))
	}
	if got := f.compose.sent[0]; got.Account != "news" || !got.TrackOpens || got.TrackClicks {
		t.Errorf("sent from %s with opens %v clicks %v; want news, true, false", got.Account, got.TrackOpens, got.TrackClicks)
	}
	// The next message starts again from the account's defaults.
	requireTracking(t, c, "next message from news", false, true)
	c.pickFrom(t, "work")
	requireTracking(t, c, "next message, From switched to work", true, false)

	// The global setting changed meanwhile: "work" follows it.
	f.settings.vals["tracking.default_clicks"] = "true"
	c.pickFrom(t, "quiet")
	c.pickFrom(t, "work")
	requireTracking(t, c, "work after tracking.default_clicks turned on", true, true)

	// With tracking off nothing starts ticked, whatever the account says.
	f.settings.vals["tracking.mode"] = "off"
	c.pickFrom(t, "news")
	requireTracking(t, c, "news with tracking off", false, false)
}

// A reopened draft keeps the tracking it was saved with, also when From
// changes; the account list arriving late applies the defaults of the
// account it selects.
func TestComposeDraftKeepsTrackingAndLateAccountsApplyDefaults(t *testing.T) {
	f := newFakes()
	twoMoreAccounts(f)
	f.settings.vals = map[string]string{"tracking.mode": "builtin", "tracking.default_opens": "true"}
	id, _ := f.drafts.Save(context.Background(), Draft{Input: ComposeInput{Account: "work", To: "bob@example.com", TrackClicks: true}})
	m := newTestWindow(t, f)
	m.OpenDraft(id)
	c := m.compose()
	requireTracking(t, c, "draft from work saved with clicks only", false, true)
	c.pickFrom(t, "quiet")
	requireTracking(t, c, "draft, From switched to quiet", false, true)

	q := &queueRunner{}
	f2 := newFakes()
	f2.accounts.accounts[0].TrackClicks = TrackOn
	f2.settings.vals = map[string]string{"tracking.mode": "builtin"}
	m2 := newMainWindow(test.NewTempApp(t), f2.services(), options{sync: true, run: q.run})
	m2.Show()
	m2.ShowScreen(ScreenCompose)
	q.drain()
	requireTracking(t, m2.compose(), "new message once work (clicks on) arrived", false, true)
}

// "Ask for a read receipt" goes with the send, survives a draft and is
// off again on a new message.
func TestComposeReadReceipt(t *testing.T) {
	f := newFakes()
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenCompose)
	c := m.compose()
	test.Type(c.to, "bob@example.com")
	test.Tap(c.readReceipt)
	if !c.input().ReadReceipt {
		t.Fatal("the check is not in the input")
	}
	id, err := f.drafts.Save(context.Background(), Draft{Input: c.input()})
	if err != nil {
		t.Fatal(err)
	}
	c.reset()
	if c.readReceipt.Checked {
		t.Error("a new message starts with a read receipt asked for")
	}
	m.OpenDraft(id)
	if !m.compose().readReceipt.Checked {
		t.Error("the draft lost its read receipt request")
	}
	m.compose().send()
	if len(f.compose.sent) != 1 || !f.compose.sent[0].ReadReceipt {
		t.Fatalf("sent %+v", f.compose.sent)
	}
}
