package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"mailroom/mail"
)

// Security choices as the user reads them.
const (
	secTLS      = "TLS from the start (usually port 465 / 993)"
	secStartTLS = "STARTTLS, required (usually port 587 / 143)"
	pwKeyring   = "Store the password in the system keyring"
	pwCommand   = "Run a command that prints the password"
	noPreset    = "Other / custom"
)

// Tracking default choices of the account dialog (Account.TrackOpens and
// TrackClicks) and the note under them.
const (
	trackUseGlobal = "Use the global setting"
	trackOnLabel   = "On"
	trackOffLabel  = "Off"
	trackHelp      = "New messages from this account start this way; each message can still be changed. " +
		"“Use the global setting” follows Settings. " +
		"Tracking needs a tracker: set Open tracking in Settings to Built-in tracker or Remote tracker."
)

func trackLabel(v string) string {
	switch v {
	case TrackOn:
		return trackOnLabel
	case TrackOff:
		return trackOffLabel
	}
	return trackUseGlobal
}

func trackValue(label string) string {
	switch label {
	case trackOnLabel:
		return TrackOn
	case trackOffLabel:
		return TrackOff
	}
	return TrackGlobal
}

// trackWords is an account's tracking default as the card says it.
func trackWords(v string) string {
	switch v {
	case TrackOn:
		return "on"
	case TrackOff:
		return "off"
	}
	return "as in Settings"
}

func secLabel(s mail.Security) string {
	if s == mail.StartTLS {
		return secStartTLS
	}
	if s == mail.ImplicitTLS {
		return secTLS
	}
	return ""
}

func secValue(label string) mail.Security {
	switch label {
	case secTLS:
		return mail.ImplicitTLS
	case secStartTLS:
		return mail.StartTLS
	}
	return ""
}

// accountsScreen lists accounts and opens the add/edit dialog.
type accountsScreen struct {
	e        *env
	m        *MainWindow
	root     *fyne.Container
	accounts []Account
	dlg      *accountDialog // the open dialog, for tests and screenshots
}

func newAccountsScreen(e *env, m *MainWindow) *accountsScreen {
	return &accountsScreen{e: e, m: m, root: container.NewStack()}
}

func (a *accountsScreen) view() fyne.CanvasObject { return a.root }

func (a *accountsScreen) activate() { a.reload() }

func (a *accountsScreen) reload() {
	if a.e.svc.Accounts == nil {
		a.show(nil)
		return
	}
	a.e.run(func() func() {
		ctx, cancel := a.e.callCtx()
		defer cancel()
		list, err := a.e.svc.Accounts.List(ctx)
		return func() {
			if err != nil {
				a.root.Objects = []fyne.CanvasObject{widget.NewLabel("Could not list accounts: " + err.Error())}
				a.root.Refresh()
				return
			}
			a.show(list)
		}
	})
}

func (a *accountsScreen) show(list []Account) {
	a.accounts = list
	add := widget.NewButtonWithIcon("Add account", theme.ContentAddIcon(), func() { a.openDialog(nil) })
	add.Importance = widget.HighImportance
	if len(list) == 0 {
		a.root.Objects = []fyne.CanvasObject{emptyState(theme.AccountIcon(), "Add an account to start",
			"Mailroom sends through your provider's SMTP server and reads delivery reports over IMAP.", add)}
		a.root.Refresh()
		return
	}
	cards := container.NewVBox()
	for _, acc := range list {
		cards.Add(a.card(acc))
	}
	title := widget.NewLabelWithStyle("Accounts", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	a.root.Objects = []fyne.CanvasObject{container.NewBorder(container.NewBorder(nil, nil, title, add), nil, nil, nil,
		container.NewVScroll(cards))}
	a.root.Refresh()
}

func (a *accountsScreen) card(acc Account) fyne.CanvasObject {
	lines := []string{
		fmt.Sprintf("Sends as %s", mail.Address{Name: acc.DisplayName, Address: acc.Email}.String()),
		fmt.Sprintf("SMTP %s:%d, %s", acc.SMTPHost, acc.SMTPPort, secWords(acc.SMTPSecurity)),
	}
	if acc.IMAPHost != "" {
		lines = append(lines, fmt.Sprintf("IMAP %s:%d, %s (delivery reports are read here)", acc.IMAPHost, acc.IMAPPort, secWords(acc.IMAPSecurity)))
	} else {
		lines = append(lines, "No IMAP server: delivery reports are not read for this account")
	}
	pw := "password in the system keyring"
	if acc.PasswordSource == PasswordCommand {
		pw = "password from a command"
	}
	lines = append(lines, "User "+acc.Username+", "+pw)
	if acc.CAFile != "" {
		lines = append(lines, "Trusts only the certificates in "+acc.CAFile)
	}
	if trackWords(acc.TrackOpens) != trackWords(TrackGlobal) || trackWords(acc.TrackClicks) != trackWords(TrackGlobal) {
		lines = append(lines, "New messages: Track opens "+trackWords(acc.TrackOpens)+", Track clicks "+trackWords(acc.TrackClicks))
	}
	info := widget.NewLabel(strings.Join(lines, "\n"))
	info.Wrapping = fyne.TextWrapWord
	name := acc.Name
	edit := widget.NewButtonWithIcon("Edit", theme.DocumentCreateIcon(), func() { a.openDialog(&acc) })
	remove := widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), func() { a.remove(name) })
	title := name
	if acc.Paused {
		title += " (paused)"
	}
	return widget.NewCard(title, "", container.NewBorder(nil, nil, nil, container.NewVBox(edit, remove), info))
}

func secWords(s mail.Security) string {
	switch s {
	case mail.ImplicitTLS:
		return "TLS"
	case mail.StartTLS:
		return "STARTTLS"
	}
	return "no security set"
}

func (a *accountsScreen) remove(name string) {
	dialog.ShowConfirm("Remove account", "Remove the account "+name+"? Its sent messages and their evidence stay; its password is deleted from the keyring.",
		func(ok bool) {
			if !ok {
				return
			}
			a.e.run(func() func() {
				ctx, cancel := a.e.callCtx()
				defer cancel()
				err := a.e.svc.Accounts.Remove(ctx, name)
				return func() {
					if err != nil {
						a.e.showError("Remove account", err)
					}
					a.reload()
				}
			})
		}, a.e.win)
}

// openDialog opens the add (acc == nil) or edit dialog.
func (a *accountsScreen) openDialog(acc *Account) {
	if a.dlg != nil && a.dlg.d != nil {
		a.dlg.d.Hide()
	}
	a.dlg = newAccountDialog(a, acc)
	a.dlg.show()
}

// openByName reads the account called name from the service and opens
// its edit dialog. The screen's own list may still be on its way (the
// app opens the dialog at start), so it is not what decides.
func (a *accountsScreen) openByName(name string) {
	if a.e.svc.Accounts == nil {
		a.openDialog(nil)
		return
	}
	a.e.run(func() func() {
		ctx, cancel := a.e.callCtx()
		defer cancel()
		list, err := a.e.svc.Accounts.List(ctx)
		return func() {
			if a.m.current != ScreenAccounts {
				return // the user went elsewhere meanwhile
			}
			if err != nil {
				a.e.showError("Open account "+name, err)
				return
			}
			for i := range list {
				if list[i].Name == name {
					a.openDialog(&list[i])
					return
				}
			}
			a.e.showError("Open account", fmt.Errorf("there is no account called %q", name))
		}
	})
}

// accountDialog is the add/edit form with presets, autoconfig and a
// connection test that reports SMTP and IMAP separately.
type accountDialog struct {
	a        *accountsScreen
	editing  string // original name; "" when adding
	presets  []Preset
	preset   *widget.Select
	note     *widget.Label
	name     *widget.Entry
	display  *widget.Entry
	email    *widget.Entry
	username *widget.Entry
	smtpHost *widget.Entry
	smtpPort *widget.Entry
	smtpSec  *widget.Select
	imapHost *widget.Entry
	imapPort *widget.Entry
	imapSec  *widget.Select
	caFile   *widget.Entry
	pwSource *widget.RadioGroup
	password *widget.Entry
	command  *widget.Entry
	// trackOpens and trackClicks: the account's defaults for new messages.
	trackOpens  *widget.RadioGroup
	trackClicks *widget.RadioGroup
	smtpRes     *widget.Label
	imapRes     *widget.Label
	err         *widget.Label
	testBtn     *widget.Button
	saveBtn     *widget.Button
	content     *fyne.Container
	d           *dialog.CustomDialog
}

// relayout gives notes and results that just appeared their room.
func (d *accountDialog) relayout() {
	if d.content != nil {
		d.content.Refresh()
	}
}

func newAccountDialog(a *accountsScreen, acc *Account) *accountDialog {
	d := &accountDialog{a: a}
	if a.e.svc.Accounts != nil {
		d.presets = a.e.svc.Accounts.Presets()
	}
	names := []string{noPreset}
	for _, p := range d.presets {
		names = append(names, p.Name)
	}
	d.note = widget.NewLabel("")
	d.note.Wrapping = fyne.TextWrapWord
	d.note.Hide()
	d.preset = widget.NewSelect(names, d.applyPreset)
	d.name = widget.NewEntry()
	d.name.SetPlaceHolder("work (used by the command line: --account work)")
	d.display = widget.NewEntry()
	d.display.SetPlaceHolder("Alice Example")
	d.email = widget.NewEntry()
	d.email.SetPlaceHolder("alice@example.com")
	d.email.OnChanged = func(s string) {
		if d.username.Text == "" || strings.Contains(s, d.username.Text) {
			d.username.SetText(strings.TrimSpace(s))
		}
	}
	d.username = widget.NewEntry()
	d.smtpHost = widget.NewEntry()
	d.smtpPort = widget.NewEntry()
	d.smtpSec = widget.NewSelect([]string{secTLS, secStartTLS}, nil)
	d.imapHost = widget.NewEntry()
	d.imapHost.SetPlaceHolder("optional: where delivery reports arrive")
	d.imapPort = widget.NewEntry()
	d.imapSec = widget.NewSelect([]string{secTLS, secStartTLS}, nil)
	d.caFile = widget.NewEntry()
	d.caFile.SetPlaceHolder("optional PEM file, for company or test CAs")
	d.password = widget.NewPasswordEntry()
	d.command = widget.NewEntry()
	d.command.SetPlaceHolder("pass show mail/work")
	d.pwSource = widget.NewRadioGroup([]string{pwKeyring, pwCommand}, func(s string) {
		if s == pwCommand {
			d.password.Hide()
			d.command.Show()
		} else {
			d.command.Hide()
			d.password.Show()
		}
		d.relayout()
	})
	d.pwSource.Required = true
	d.pwSource.SetSelected(pwKeyring)
	trackChoice := func() *widget.RadioGroup {
		r := widget.NewRadioGroup([]string{trackUseGlobal, trackOnLabel, trackOffLabel}, nil)
		r.Horizontal = true
		r.Required = true
		r.SetSelected(trackUseGlobal)
		return r
	}
	d.trackOpens, d.trackClicks = trackChoice(), trackChoice()
	d.smtpRes = widget.NewLabel("")
	d.smtpRes.Wrapping = fyne.TextWrapWord
	d.smtpRes.Hide()
	d.imapRes = widget.NewLabel("")
	d.imapRes.Wrapping = fyne.TextWrapWord
	d.imapRes.Hide()
	d.err = newErrorLabel()

	if acc != nil {
		d.editing = acc.Name
		d.fill(*acc)
		d.preset.Selected = noPreset // set without the callback: keep the account's own servers
		for _, p := range d.presets {
			if p.SMTPHost == acc.SMTPHost {
				d.preset.Selected = p.Name
			}
		}
		if acc.PasswordSource == PasswordCommand {
			d.pwSource.SetSelected(pwCommand)
		}
		d.password.SetPlaceHolder("leave empty to keep the stored password")
		d.command.SetPlaceHolder("leave empty to keep the current command")
	} else {
		d.preset.SetSelected(noPreset)
		d.smtpPort.SetText("465")
		d.smtpSec.SetSelected(secTLS)
		d.imapPort.SetText("993")
		d.imapSec.SetSelected(secTLS)
	}
	return d
}

func (d *accountDialog) fill(acc Account) {
	d.name.SetText(acc.Name)
	d.display.SetText(acc.DisplayName)
	d.email.SetText(acc.Email)
	d.username.SetText(acc.Username)
	d.fillServers(acc)
	d.caFile.SetText(acc.CAFile)
	d.trackOpens.SetSelected(trackLabel(acc.TrackOpens))
	d.trackClicks.SetSelected(trackLabel(acc.TrackClicks))
}

func (d *accountDialog) fillServers(acc Account) {
	d.smtpHost.SetText(acc.SMTPHost)
	if acc.SMTPPort > 0 {
		d.smtpPort.SetText(strconv.Itoa(acc.SMTPPort))
	}
	d.smtpSec.SetSelected(secLabel(acc.SMTPSecurity))
	d.imapHost.SetText(acc.IMAPHost)
	if acc.IMAPPort > 0 {
		d.imapPort.SetText(strconv.Itoa(acc.IMAPPort))
	}
	if acc.IMAPHost != "" {
		d.imapSec.SetSelected(secLabel(acc.IMAPSecurity))
	}
}

func (d *accountDialog) applyPreset(name string) {
	defer d.relayout()
	for _, p := range d.presets {
		if p.Name != name {
			continue
		}
		d.fillServers(Account{SMTPHost: p.SMTPHost, SMTPPort: p.SMTPPort, SMTPSecurity: p.SMTPSecurity,
			IMAPHost: p.IMAPHost, IMAPPort: p.IMAPPort, IMAPSecurity: p.IMAPSecurity})
		if p.IMAPHost == "" {
			d.imapPort.SetText("")
		}
		if p.Note != "" {
			d.note.SetText(p.Note)
			d.note.Show()
		} else {
			d.note.Hide()
		}
		return
	}
	d.note.Hide()
}

func (d *accountDialog) autoconfig() {
	defer d.relayout()
	email := strings.TrimSpace(d.email.Text)
	if _, err := mail.ParseAddress(email); err != nil {
		setErrorLabel(d.err, "Type the e-mail address first: "+err.Error())
		return
	}
	setErrorLabel(d.err, "")
	d.note.SetText("Looking up the settings for " + email + "…")
	d.note.Show()
	d.a.e.run(func() func() {
		ctx, cancel := d.a.e.callCtx()
		defer cancel()
		acc, err := d.a.e.svc.Accounts.Autoconfig(ctx, email)
		return func() {
			if err != nil {
				d.note.SetText("No settings found automatically (" + err.Error() + "). Choose a provider or fill the servers in.")
				return
			}
			d.fillServers(acc)
			d.note.SetText("Settings found for " + email + ". Check them, then test the connection.")
			d.relayout()
		}
	})
}

// input reads and checks the form.
func (d *accountDialog) input() (AccountInput, error) {
	var in AccountInput
	in.Name = strings.TrimSpace(d.name.Text)
	in.DisplayName = strings.TrimSpace(d.display.Text)
	in.Email = strings.TrimSpace(d.email.Text)
	in.Username = strings.TrimSpace(d.username.Text)
	in.SMTPHost = strings.TrimSpace(d.smtpHost.Text)
	in.SMTPSecurity = secValue(d.smtpSec.Selected)
	in.IMAPHost = strings.TrimSpace(d.imapHost.Text)
	in.IMAPSecurity = secValue(d.imapSec.Selected)
	in.CAFile = strings.TrimSpace(d.caFile.Text)
	in.TrackOpens = trackValue(d.trackOpens.Selected)
	in.TrackClicks = trackValue(d.trackClicks.Selected)
	var errs []string
	if in.Name == "" {
		errs = append(errs, "Give the account a short name.")
	} else if strings.ContainsAny(in.Name, " \t/\\") {
		errs = append(errs, "The name must not contain spaces or slashes.")
	}
	if _, err := mail.ParseAddress(in.Email); err != nil {
		errs = append(errs, "E-mail address: "+err.Error())
	}
	port := func(s, what string) int {
		p, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || p < 1 || p > 65535 {
			errs = append(errs, what+" port must be a number from 1 to 65535.")
		}
		return p
	}
	if in.SMTPHost == "" {
		errs = append(errs, "The SMTP server is required.")
	}
	in.SMTPPort = port(d.smtpPort.Text, "SMTP")
	if in.SMTPSecurity == "" {
		errs = append(errs, "Choose how the SMTP connection is secured.")
	}
	if in.IMAPHost != "" {
		in.IMAPPort = port(d.imapPort.Text, "IMAP")
		if in.IMAPSecurity == "" {
			errs = append(errs, "Choose how the IMAP connection is secured.")
		}
	} else {
		in.IMAPSecurity = ""
	}
	if in.Username == "" {
		errs = append(errs, "The user name is required (often the e-mail address).")
	}
	if d.pwSource.Selected == pwCommand {
		in.PasswordSource = PasswordCommand
		in.PasswordCommand = strings.TrimSpace(d.command.Text)
		if in.PasswordCommand == "" && d.editing == "" {
			errs = append(errs, "Type the command that prints the password.")
		}
	} else {
		in.PasswordSource = PasswordKeyring
		in.Password = d.password.Text
		if in.Password == "" && d.editing == "" {
			errs = append(errs, "Type the password (or an app password).")
		}
	}
	if len(errs) > 0 {
		return in, errors.New(strings.Join(errs, "\n"))
	}
	return in, nil
}

func (d *accountDialog) test() {
	defer d.relayout()
	in, err := d.input()
	if err != nil {
		setErrorLabel(d.err, err.Error())
		return
	}
	setErrorLabel(d.err, "")
	d.smtpRes.SetText("SMTP: testing…")
	d.imapRes.SetText("IMAP: testing…")
	d.smtpRes.Show()
	d.imapRes.Show()
	d.testBtn.Disable()
	d.a.e.run(func() func() {
		ctx, cancel := d.a.e.callCtx()
		defer cancel()
		rep, err := d.a.e.svc.Accounts.Test(ctx, in)
		return func() {
			d.testBtn.Enable()
			if err != nil {
				d.smtpRes.SetText("The test could not run: " + err.Error())
				d.imapRes.SetText("")
				return
			}
			d.smtpRes.SetText(checkWords("SMTP (sending)", rep.SMTP))
			d.imapRes.SetText(checkWords("IMAP (delivery reports)", rep.IMAP))
			d.relayout()
		}
	})
}

// checkWords is one server's test result as a short paragraph.
func checkWords(what string, c CheckResult) string {
	var s string
	switch {
	case c.Skipped:
		s = "➖ " + what + ": not tested."
	case c.OK:
		s = "✔ " + what + ": works."
	default:
		s = "✖ " + what + ": failed."
	}
	if c.Summary != "" {
		s += " " + c.Summary
	}
	if c.Detail != "" {
		s += "\n    " + strings.ReplaceAll(c.Detail, "\n", "\n    ")
	}
	return s
}

func (d *accountDialog) save() {
	defer d.relayout()
	in, err := d.input()
	if err != nil {
		setErrorLabel(d.err, err.Error())
		return
	}
	setErrorLabel(d.err, "")
	d.saveBtn.Disable()
	editing := d.editing
	d.a.e.run(func() func() {
		ctx, cancel := d.a.e.callCtx()
		defer cancel()
		var err error
		if editing == "" {
			err = d.a.e.svc.Accounts.Add(ctx, in)
		} else {
			err = d.a.e.svc.Accounts.Update(ctx, editing, in)
		}
		return func() {
			d.saveBtn.Enable()
			if err != nil {
				setErrorLabel(d.err, "Not saved: "+err.Error())
				d.relayout()
				return
			}
			d.d.Hide()
			d.a.dlg = nil
			d.a.reload()
			if c := d.a.m.built.compose; c != nil {
				c.loadAccounts() // else Compose loads them when first shown
			}
		}
	})
}

func (d *accountDialog) show() {
	auto := widget.NewButtonWithIcon("Autoconfig", theme.SearchIcon(), d.autoconfig)
	if d.a.e.svc.Accounts == nil {
		auto.Disable()
	}
	trackNote := widget.NewLabel(trackHelp)
	trackNote.Wrapping = fyne.TextWrapWord
	browse := widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() {
		dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
			if err == nil && r != nil {
				d.caFile.SetText(r.URI().Path())
				r.Close()
			}
		}, d.a.e.win)
	})
	form := container.New(layout.NewFormLayout(),
		widget.NewLabel("Provider"), d.preset,
		widget.NewLabel("Name"), d.name,
		widget.NewLabel("Your name"), d.display,
		widget.NewLabel("E-mail"), container.NewBorder(nil, nil, nil, auto, d.email),
		widget.NewLabel("User name"), d.username,
		widget.NewLabel("SMTP server"), container.NewBorder(nil, nil, nil,
			container.NewGridWrap(fyne.NewSize(80, d.smtpPort.MinSize().Height), d.smtpPort), d.smtpHost),
		widget.NewLabel("SMTP security"), d.smtpSec,
		widget.NewLabel("IMAP server"), container.NewBorder(nil, nil, nil,
			container.NewGridWrap(fyne.NewSize(80, d.imapPort.MinSize().Height), d.imapPort), d.imapHost),
		widget.NewLabel("IMAP security"), d.imapSec,
		widget.NewLabel("CA file"), container.NewBorder(nil, nil, nil, browse, d.caFile),
		widget.NewLabel("Password"), container.NewVBox(d.pwSource, d.password, d.command),
		widget.NewLabel("Track opens"), d.trackOpens,
		widget.NewLabel("Track clicks"), container.NewVBox(d.trackClicks, trackNote),
	)
	d.testBtn = widget.NewButtonWithIcon("Test connection", theme.ViewRefreshIcon(), d.test)
	d.saveBtn = widget.NewButtonWithIcon("Save", theme.ConfirmIcon(), d.save)
	d.saveBtn.Importance = widget.HighImportance
	cancel := widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		d.d.Hide()
		d.a.dlg = nil
	})
	if d.a.e.svc.Accounts == nil {
		d.testBtn.Disable()
		d.saveBtn.Disable()
	}
	security := widget.NewLabel("Mailroom always encrypts: TLS 1.2 or newer with verified certificates, never plain text. " +
		"Passwords go to the system keyring, never into Mailroom's files.")
	security.Wrapping = fyne.TextWrapWord
	content := container.NewBorder(nil,
		container.NewVBox(d.err, d.smtpRes, d.imapRes, container.NewHBox(d.testBtn, layout.NewSpacer(), cancel, d.saveBtn)),
		nil, nil, container.NewVScroll(
			// Room on the right for the scroll bar, which overlays content.
			container.New(layout.NewCustomPaddedLayout(0, 0, 0, 3*theme.Padding()), container.NewVBox(form, d.note, security))))
	title := "Add account"
	if d.editing != "" {
		title = "Edit account " + d.editing
	}
	d.content = content
	d.d = dialog.NewCustomWithoutButtons(title, content, d.a.e.win)
	d.d.Resize(dialogSize(d.a.e.win, fyne.NewSize(720, 700)))
	d.d.Show()
}
