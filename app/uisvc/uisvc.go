// Package uisvc adapts Mailroom's services (package app and the tracking
// packages) to the small interfaces the UI declares in package ui. It is
// part of the composition root: ui never imports it, main hands its values
// to ui.
package uisvc

import (
	"context"
	"encoding/json"
	"fmt"

	"mailroom/app"
	"mailroom/mail"
	"mailroom/ui"
)

// Accounts implements ui.AccountService.
type Accounts struct {
	App *app.App
}

var _ ui.AccountService = (*Accounts)(nil)

func toUIAccount(a app.Account) ui.Account {
	return ui.Account{Name: a.Name, DisplayName: a.DisplayName, Email: a.Email,
		SMTPHost: a.SMTP.Host, SMTPPort: a.SMTP.Port, SMTPSecurity: a.SMTP.Security,
		IMAPHost: a.IMAP.Host, IMAPPort: a.IMAP.Port, IMAPSecurity: a.IMAP.Security,
		Username: a.SMTP.Username, CAFile: a.CAFile, PasswordSource: a.PasswordSource,
		TrackOpens: string(a.TrackOpens), TrackClicks: string(a.TrackClicks)}
}

// fromUIInput converts the dialog's input; the secret comes back apart.
func fromUIInput(in ui.AccountInput) (app.Account, string) {
	a := app.Account{Name: in.Name, DisplayName: in.DisplayName, Email: in.Email, CAFile: in.CAFile,
		PasswordSource: in.PasswordSource, PasswordCommand: in.PasswordCommand,
		TrackOpens: app.TrackDefault(in.TrackOpens), TrackClicks: app.TrackDefault(in.TrackClicks)}
	a.SMTP = mail.Endpoint{Host: in.SMTPHost, Port: in.SMTPPort, Security: in.SMTPSecurity, Username: in.Username, CAFile: in.CAFile}
	a.IMAP = mail.Endpoint{Host: in.IMAPHost, Port: in.IMAPPort, Security: in.IMAPSecurity, Username: in.Username, CAFile: in.CAFile}
	if a.IMAP.Security == "" {
		a.IMAP.Security = mail.ImplicitTLS
	}
	if a.PasswordSource == "" {
		a.PasswordSource = ui.PasswordKeyring
		if in.PasswordCommand != "" {
			a.PasswordSource = ui.PasswordCommand
		}
	}
	return a, in.Password
}

func (s *Accounts) List(ctx context.Context) ([]ui.Account, error) {
	list, err := s.App.Accounts.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.Account, 0, len(list))
	for _, a := range list {
		ua := toUIAccount(a)
		ua.Paused = s.App.AccountPaused(ctx, a.Name)
		out = append(out, ua)
	}
	return out, nil
}

func (s *Accounts) Add(ctx context.Context, in ui.AccountInput) error {
	a, secret := fromUIInput(in)
	return s.App.Accounts.Add(ctx, a, secret)
}

func (s *Accounts) Update(ctx context.Context, name string, in ui.AccountInput) error {
	a, secret := fromUIInput(in)
	if a.Name != name {
		return fmt.Errorf("renaming an account is not supported: remove %q and add %q", name, a.Name)
	}
	old, err := s.App.Accounts.Get(ctx, name)
	if err != nil {
		return err
	}
	if old == nil {
		return fmt.Errorf("no account named %q", name)
	}
	a.SavesSent = old.SavesSent // set by the CLI only; the dialog does not show it
	if a.PasswordSource == ui.PasswordCommand && a.PasswordCommand == "" {
		a.PasswordCommand = old.PasswordCommand
	}
	return s.App.Accounts.Update(ctx, a, secret)
}

func (s *Accounts) Remove(ctx context.Context, name string) error {
	return s.App.Accounts.Remove(ctx, name)
}

func (s *Accounts) Test(ctx context.Context, in ui.AccountInput) (ui.ConnectionReport, error) {
	a, secret := fromUIInput(in)
	if a.PasswordSource == ui.PasswordCommand && a.PasswordCommand == "" && a.Name != "" {
		// Editing: an empty command field keeps the saved command (as
		// Update does), so the test must use it too.
		old, err := s.App.Accounts.Get(ctx, a.Name)
		if err != nil {
			return ui.ConnectionReport{}, err
		}
		if old != nil {
			a.PasswordCommand = old.PasswordCommand
		}
	}
	rep := s.App.CheckAccount(ctx, a, secret)
	conv := func(c app.CheckResult) ui.CheckResult {
		return ui.CheckResult{OK: c.OK, Skipped: c.Skipped, Summary: c.Summary, Detail: c.Detail}
	}
	return ui.ConnectionReport{SMTP: conv(rep.SMTP), IMAP: conv(rep.IMAP)}, nil
}

func (s *Accounts) Presets() []ui.Preset { return ui.DefaultPresets() }

func (s *Accounts) Autoconfig(ctx context.Context, email string) (ui.Account, error) {
	a, err := s.App.Autoconfig(ctx, email)
	if err != nil {
		return ui.Account{}, err
	}
	return toUIAccount(a), nil
}

func (s *Accounts) TrackingDefaults(ctx context.Context, account string) (opens, clicks bool, err error) {
	return s.App.TrackingDefaults(ctx, account)
}

// Settings implements ui.SettingsService over app's settings registry.
type Settings struct {
	App *app.App
}

var _ ui.SettingsService = (*Settings)(nil)

func (s *Settings) Get(ctx context.Context, key string) (string, error) {
	return s.App.GetSetting(ctx, key)
}

func (s *Settings) Set(ctx context.Context, key, value string) error {
	return s.App.SetSetting(ctx, key, value)
}

// Keys describes app's settings registry for the settings screen.
func (s *Settings) Keys() []ui.SettingKey {
	out := make([]ui.SettingKey, 0, len(app.SettingKeys))
	for _, k := range app.SettingKeys {
		kind := ui.KindText
		switch {
		case k.Bool:
			kind = ui.KindBool
		case len(k.Choices) > 0:
			kind = ui.KindChoice
		}
		out = append(out, ui.SettingKey{Key: k.Key, Section: k.Section, Label: k.Label, Help: k.Help,
			Kind: kind, Choices: k.Choices, Default: k.Default})
	}
	return out
}

// Drafts implements ui.DraftService; the compose form is stored as JSON.
type Drafts struct {
	App *app.App
}

var _ ui.DraftService = (*Drafts)(nil)

func (d *Drafts) Save(ctx context.Context, dr ui.Draft) (string, error) {
	b, err := json.Marshal(dr.Input)
	if err != nil {
		return "", err
	}
	return d.App.Drafts.Save(ctx, dr.ID, string(b))
}

func decodeDraft(r app.DraftRecord) (ui.Draft, error) {
	d := ui.Draft{ID: r.ID, Updated: r.Updated}
	if err := json.Unmarshal([]byte(r.Payload), &d.Input); err != nil {
		return d, fmt.Errorf("draft %s is damaged: %w", r.ID, err)
	}
	return d, nil
}

func (d *Drafts) List(ctx context.Context) ([]ui.Draft, error) {
	recs, err := d.App.Drafts.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.Draft, 0, len(recs))
	for _, r := range recs {
		dr, err := decodeDraft(r)
		if err != nil {
			continue // a damaged draft must not hide the others
		}
		out = append(out, dr)
	}
	return out, nil
}

func (d *Drafts) Load(ctx context.Context, id string) (ui.Draft, error) {
	r, err := d.App.Drafts.Load(ctx, id)
	if err != nil {
		return ui.Draft{}, err
	}
	return decodeDraft(r)
}

func (d *Drafts) Delete(ctx context.Context, id string) error { return d.App.Drafts.Delete(ctx, id) }
