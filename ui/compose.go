package ui

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"mailroom/mail"
)

// Format labels as the user sees them.
const (
	labelPlain    = "Plain text"
	labelMarkdown = "Markdown"
)

// plainTrackingNote is shown when opens are tracked on a plain-text body.
const plainTrackingNote = "Plain-text messages cannot carry an open pixel; recipients will be marked not trackable."

// composeScreen writes a message. It saves a draft while the user types
// (debounced, off the UI goroutine) so a crash loses at most a second.
type composeScreen struct {
	e *env
	m *MainWindow

	root  *fyne.Container
	form  *fyne.Container
	empty fyne.CanvasObject

	accounts []Account
	from     *widget.Select
	fromErr  *widget.Label

	to, cc, bcc          *widget.Entry
	toErr, ccErr, bccErr *widget.Label
	suppressed           *widget.Label

	subject *widget.Entry
	body    *widget.Entry
	format  *widget.RadioGroup

	attachments []Attachment
	attachBox   *fyne.Container
	attachWarn  *widget.Label
	maxSize     int64

	trackOpens, trackClicks *widget.Check
	readReceipt             *widget.Check
	trackNote               *widget.Label
	// opensByHand and clicksByHand: the user set that box in this message
	// (or it came from a saved draft), so account defaults leave it alone.
	opensByHand, clicksByHand bool
	trackSeq                  int // the latest defaults lookup; older ones are dropped

	laterRow *fyne.Container
	date     *widget.DateEntry
	clock    *widget.Entry
	laterErr *widget.Label

	sendBtn, laterBtn *widget.Button
	status            *widget.Label

	draftID   string
	dirty     bool
	loading   bool // fields are being filled programmatically
	saving    bool
	saveAgain bool
	waiters   []func()
	sending   bool
	saveDeb   debouncer
	suppDeb   debouncer
	suppSeq   int
}

func newComposeScreen(e *env, m *MainWindow) *composeScreen {
	c := &composeScreen{e: e, m: m}
	c.saveDeb.d = e.debounce
	c.suppDeb.d = e.debounce / 2

	c.from = widget.NewSelect(nil, func(string) {
		c.loadMaxSize()
		if !c.loading {
			c.applyTrackingDefaults() // the new account's defaults
		}
		c.changed()
	})
	c.from.PlaceHolder = "Choose the sending account"
	c.fromErr = newErrorLabel()

	addrEntry := func(place string, errL **widget.Label) *widget.Entry {
		en := widget.NewEntry()
		en.SetPlaceHolder(place)
		*errL = newErrorLabel()
		el := *errL
		en.OnChanged = func(s string) {
			setErrorLabel(el, addressError(s))
			c.relayout()
			c.checkSuppressed()
			c.changed()
		}
		return en
	}
	c.to = addrEntry("alice@example.com, Bob <bob@example.org>", &c.toErr)
	c.cc = addrEntry("", &c.ccErr)
	c.bcc = addrEntry("", &c.bccErr)
	c.suppressed = widget.NewLabel("")
	c.suppressed.Importance = widget.WarningImportance
	c.suppressed.Wrapping = fyne.TextWrapWord
	c.suppressed.Hide()

	c.subject = widget.NewEntry()
	c.subject.OnChanged = func(string) { c.changed() }
	c.body = widget.NewMultiLineEntry()
	c.body.SetPlaceHolder("Write your message…")
	c.body.Wrapping = fyne.TextWrapWord
	c.body.OnChanged = func(string) { c.changed() }
	c.format = widget.NewRadioGroup([]string{labelPlain, labelMarkdown}, func(string) {
		c.updateTrackNote()
		c.changed()
	})
	c.format.Horizontal = true
	c.format.Required = true
	c.format.Selected = labelPlain // no callback: the tracking checks do not exist yet

	c.attachBox = container.NewVBox()
	c.attachWarn = widget.NewLabel("")
	c.attachWarn.Importance = widget.WarningImportance
	c.attachWarn.Wrapping = fyne.TextWrapWord
	c.attachWarn.Hide()
	attach := widget.NewButtonWithIcon("Attach…", theme.MailAttachmentIcon(), c.pickAttachment)

	c.trackOpens = widget.NewCheck("Track opens", func(bool) {
		if !c.loading {
			c.opensByHand = true
		}
		c.updateTrackNote()
		c.changed()
	})
	c.trackClicks = widget.NewCheck("Track clicks", func(bool) {
		if !c.loading {
			c.clicksByHand = true
		}
		c.updateTrackNote()
		c.changed()
	})
	// A read receipt is the recipient's own answer (their program asks
	// them), unlike a pixel: it needs no tracker and works in plain text.
	c.readReceipt = widget.NewCheck("Ask for a read receipt", func(bool) { c.changed() })
	c.trackNote = widget.NewLabel(plainTrackingNote)
	c.trackNote.Importance = widget.WarningImportance
	c.trackNote.Wrapping = fyne.TextWrapWord
	c.trackNote.Hide()

	c.date = widget.NewDateEntry()
	c.date.OnChanged = func(*time.Time) { c.changed() }
	c.clock = widget.NewEntry()
	c.clock.SetPlaceHolder("HH:MM")
	c.clock.OnChanged = func(string) { c.changed() }
	c.laterErr = newErrorLabel()
	schedule := widget.NewButtonWithIcon("Schedule", theme.HistoryIcon(), c.sendLater)
	c.laterRow = container.NewVBox(
		container.NewHBox(widget.NewLabel("Send on"), container.NewGridWrap(fyne.NewSize(160, c.date.MinSize().Height), c.date),
			widget.NewLabel("at"), container.NewGridWrap(fyne.NewSize(80, c.clock.MinSize().Height), c.clock), schedule),
		c.laterErr)
	c.laterRow.Hide()

	c.sendBtn = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), c.send)
	c.sendBtn.Importance = widget.HighImportance
	c.laterBtn = widget.NewButtonWithIcon("Send later…", theme.HistoryIcon(), func() {
		if c.laterRow.Visible() {
			c.laterRow.Hide()
		} else {
			c.laterRow.Show()
		}
		c.relayout()
	})
	saveBtn := widget.NewButtonWithIcon("Save draft", theme.DocumentSaveIcon(), func() {
		c.dirty = true
		c.saveDraft()
	})
	discard := widget.NewButtonWithIcon("Discard", theme.DeleteIcon(), c.discard)
	c.status = widget.NewLabel("")
	c.status.Wrapping = fyne.TextWrapWord

	field := func(obj fyne.CanvasObject, notes ...fyne.CanvasObject) fyne.CanvasObject {
		return container.NewVBox(append([]fyne.CanvasObject{obj}, notes...)...)
	}
	head := container.New(layout.NewFormLayout(),
		widget.NewLabel("From"), field(c.from, c.fromErr),
		widget.NewLabel("To"), field(c.to, c.toErr),
		widget.NewLabel("Cc"), field(c.cc, c.ccErr),
		widget.NewLabel("Bcc"), field(c.bcc, c.bccErr, c.suppressed),
		widget.NewLabel("Subject"), c.subject,
		widget.NewLabel("Format"), c.format,
	)
	foot := container.NewVBox(
		container.NewHBox(attach, widget.NewLabel("Attachments:")), c.attachBox, c.attachWarn,
		container.NewHBox(c.trackOpens, c.trackClicks, c.readReceipt), c.trackNote,
		c.laterRow,
		container.NewHBox(c.sendBtn, c.laterBtn, layout.NewSpacer(), saveBtn, discard),
		c.status,
	)
	c.form = container.NewBorder(head, foot, nil, nil, c.body)
	// Straight to the add dialog (over the Accounts screen): the button
	// says what it does, not where it leads.
	toAccounts := widget.NewButtonWithIcon("Add an account", theme.AccountIcon(), func() { m.ShowAccountDialog("") })
	toAccounts.Importance = widget.HighImportance
	c.empty = emptyState(theme.AccountIcon(), "Add an account to start",
		"Mailroom sends through your own provider. Add its SMTP settings first.", toAccounts)
	c.root = container.NewStack(container.NewPadded(c.form))
	c.refreshAttachments()
	return c
}

func (c *composeScreen) view() fyne.CanvasObject { return c.root }

func (c *composeScreen) activate() {
	c.loadAccounts() // then applies the From account's tracking defaults
}

// applyTrackingDefaults sets "Track opens" / "Track clicks" to the From
// account's defaults (AccountService.TrackingDefaults). A box the user set
// by hand in this message, or that a reopened draft brought, keeps its
// value.
func (c *composeScreen) applyTrackingDefaults() {
	account := c.accountName()
	if c.e.svc.Accounts == nil || account == "" || (c.opensByHand && c.clicksByHand) {
		return
	}
	c.trackSeq++
	seq := c.trackSeq
	c.e.run(func() func() {
		ctx, cancel := c.e.callCtx()
		defer cancel()
		wantOpens, wantClicks, err := c.e.svc.Accounts.TrackingDefaults(ctx, account)
		return func() {
			if seq != c.trackSeq || err != nil {
				return // superseded, or unreadable: change nothing
			}
			changed := false
			was := c.loading
			c.loading = true
			if !c.opensByHand && c.trackOpens.Checked != wantOpens {
				c.trackOpens.SetChecked(wantOpens)
				changed = true
			}
			if !c.clicksByHand && c.trackClicks.Checked != wantClicks {
				c.trackClicks.SetChecked(wantClicks)
				changed = true
			}
			c.loading = was
			c.updateTrackNote()
			if changed {
				c.changed() // an open draft records the new values
			}
		}
	})
}

// loadAccounts fills the From picker, or shows "Add an account to start".
func (c *composeScreen) loadAccounts() {
	if c.e.svc.Accounts == nil {
		return
	}
	c.e.run(func() func() {
		ctx, cancel := c.e.callCtx()
		defer cancel()
		list, err := c.e.svc.Accounts.List(ctx)
		return func() {
			if err != nil {
				c.status.SetText("Could not list accounts: " + err.Error())
				return
			}
			prev := c.accountName()
			c.accounts = list
			if len(list) == 0 {
				c.root.Objects = []fyne.CanvasObject{c.empty}
				c.root.Refresh()
				return
			}
			c.root.Objects = []fyne.CanvasObject{container.NewPadded(c.form)}
			c.root.Refresh()
			opts := make([]string, len(list))
			for i, a := range list {
				opts[i] = accountLabel(a)
			}
			was := c.loading
			c.loading = true
			c.from.SetOptions(opts)
			c.from.SetSelectedIndex(0)
			for _, a := range list {
				if a.Name == prev {
					c.from.SetSelected(accountLabel(a))
				}
			}
			c.loading = was
			c.applyTrackingDefaults()
		}
	})
}

func accountLabel(a Account) string {
	if a.Email == "" {
		return a.Name
	}
	return fmt.Sprintf("%s <%s>", a.Name, a.Email)
}

// accountName maps the From picker's label back to Account.Name.
func (c *composeScreen) accountName() string { return c.selectedAccount().Name }

// selectedAccount is the From account (zero when none is chosen).
func (c *composeScreen) selectedAccount() Account {
	for _, a := range c.accounts {
		if accountLabel(a) == c.from.Selected {
			return a
		}
	}
	return Account{}
}

func (c *composeScreen) selectAccount(name string) {
	for _, a := range c.accounts {
		if a.Name == name {
			c.from.SetSelected(accountLabel(a))
			return
		}
	}
	if name != "" {
		// The account list may not be loaded yet: keep the name so the
		// selection is not lost.
		c.from.SetOptions(append(c.from.Options, name))
		c.accounts = append(c.accounts, Account{Name: name})
		c.from.SetSelected(name)
	}
}

// relayout lays the form out again after a note or an error appeared or
// went: Fyne does not grow a laid-out container when a child is shown.
func (c *composeScreen) relayout() {
	if c.form != nil {
		c.form.Refresh()
	}
}

// addressError is the inline message for an address field, "" when fine.
func addressError(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	if _, err := mail.ParseAddressList(s); err != nil {
		return strings.ReplaceAll(err.Error(), "mail: ", "")
	}
	return ""
}

// input is the form as a ComposeInput (UI goroutine).
func (c *composeScreen) input() ComposeInput {
	in := ComposeInput{
		Account:     c.accountName(),
		To:          c.to.Text,
		Cc:          c.cc.Text,
		Bcc:         c.bcc.Text,
		Subject:     c.subject.Text,
		Body:        c.body.Text,
		Format:      FormatPlain,
		Attachments: append([]Attachment(nil), c.attachments...),
		TrackOpens:  c.trackOpens.Checked,
		TrackClicks: c.trackClicks.Checked,
		ReadReceipt: c.readReceipt.Checked,
		DraftID:     c.draftID,
	}
	if c.format.Selected == labelMarkdown {
		in.Format = FormatMarkdown
	}
	if t, err := c.laterTime(); err == nil && c.laterRow.Visible() {
		in.At = t
	}
	return in
}

// load fills the form from a draft.
func (c *composeScreen) load(d Draft) {
	c.loading = true
	c.saveDeb.stop()
	in := d.Input
	c.draftID = d.ID
	c.selectAccount(in.Account)
	c.to.SetText(in.To)
	c.cc.SetText(in.Cc)
	c.bcc.SetText(in.Bcc)
	c.subject.SetText(in.Subject)
	c.body.SetText(in.Body)
	if in.Format == FormatMarkdown {
		c.format.SetSelected(labelMarkdown)
	} else {
		c.format.Selected = labelPlain // no callback: the tracking checks do not exist yet
	}
	c.attachments = append([]Attachment(nil), in.Attachments...)
	c.refreshAttachments()
	c.trackOpens.SetChecked(in.TrackOpens)
	c.trackClicks.SetChecked(in.TrackClicks)
	c.readReceipt.SetChecked(in.ReadReceipt)
	// A saved draft keeps its tracking choices; a new message takes the
	// account's defaults (reset applies them).
	c.opensByHand, c.clicksByHand = d.ID != "", d.ID != ""
	c.trackSeq++ // drop a defaults lookup still under way
	if !in.At.IsZero() {
		t := in.At.Local()
		c.date.SetDate(&t)
		c.clock.SetText(t.Format("15:04"))
		c.laterRow.Show()
	} else {
		c.date.SetDate(nil)
		c.clock.SetText("")
		c.laterRow.Hide()
	}
	c.dirty = false
	c.loading = false
	c.status.SetText("Draft opened.")
	c.relayout()
	c.checkSuppressed()
}

// reset empties the form for a new message (keeping the account).
func (c *composeScreen) reset() {
	c.load(Draft{Input: ComposeInput{Account: c.accountName()}})
	c.status.SetText("")
	for _, l := range []*widget.Label{c.toErr, c.ccErr, c.bccErr, c.fromErr, c.laterErr} {
		setErrorLabel(l, "")
	}
	c.suppressed.Hide()
	c.relayout()
	c.applyTrackingDefaults()
}

// changed marks the form dirty and schedules a draft save.
func (c *composeScreen) changed() {
	if c.loading {
		return
	}
	c.dirty = true
	c.saveDeb.trigger(c.saveDraft)
}

// isEmpty reports a form with nothing worth saving.
func (c *composeScreen) isEmpty() bool {
	in := c.input()
	return strings.TrimSpace(in.To+in.Cc+in.Bcc+in.Subject+in.Body) == "" && len(in.Attachments) == 0
}

// saveDraft stores the form as a draft off the UI goroutine. A save that
// starts while another runs is queued behind it, so the second one knows
// the draft's id and no duplicate draft appears.
func (c *composeScreen) saveDraft() {
	if c.e.svc.Drafts == nil || !c.dirty || c.sending {
		c.releaseWaiters()
		return
	}
	if c.saving {
		c.saveAgain = true
		return
	}
	if c.isEmpty() && c.draftID == "" {
		c.dirty = false
		c.releaseWaiters()
		return
	}
	c.saving = true
	c.dirty = false
	d := Draft{ID: c.draftID, Updated: c.e.now(), Input: c.input()}
	c.e.run(func() func() {
		ctx, cancel := c.e.callCtx()
		defer cancel()
		id, err := c.e.svc.Drafts.Save(ctx, d)
		return func() {
			c.saving = false
			if err != nil {
				c.dirty = true
				c.status.SetText("Draft not saved: " + err.Error())
			} else {
				c.draftID = id
				c.status.SetText("Draft saved at " + c.e.now().Local().Format("15:04:05"))
			}
			if c.saveAgain || (c.dirty && len(c.waiters) > 0 && err == nil) {
				c.saveAgain = false
				c.saveDraft()
				return
			}
			c.releaseWaiters()
		}
	})
}

func (c *composeScreen) releaseWaiters() {
	if c.saving {
		return
	}
	w := c.waiters
	c.waiters = nil
	for _, f := range w {
		f()
	}
}

// flush saves any pending change now and then calls done (on the UI
// goroutine), e.g. before the window closes.
func (c *composeScreen) flush(done func()) {
	c.saveDeb.stop()
	c.waiters = append(c.waiters, done)
	if c.saving {
		return
	}
	c.saveDraft()
}

func (c *composeScreen) discard() {
	id := c.draftID
	c.draftID = ""
	c.dirty = false
	c.reset()
	if id == "" || c.e.svc.Drafts == nil {
		return
	}
	c.e.run(func() func() {
		ctx, cancel := c.e.callCtx()
		defer cancel()
		err := c.e.svc.Drafts.Delete(ctx, id)
		return func() {
			if err != nil {
				c.e.showError("Delete draft", err)
				return
			}
			c.status.SetText("Draft discarded.")
		}
	})
}

// checkSuppressed warns about addresses on the suppression list.
func (c *composeScreen) checkSuppressed() {
	if c.e.svc.Compose == nil || c.loading {
		return
	}
	c.suppDeb.trigger(func() {
		var addrs []string
		for _, en := range []*widget.Entry{c.to, c.cc, c.bcc} {
			list, err := mail.ParseAddressList(en.Text)
			if err != nil {
				continue
			}
			for _, a := range list {
				addrs = append(addrs, a.Address)
			}
		}
		if len(addrs) == 0 {
			c.suppressed.Hide()
			c.relayout()
			return
		}
		c.suppSeq++
		seq := c.suppSeq
		c.e.run(func() func() {
			ctx, cancel := c.e.callCtx()
			defer cancel()
			got, err := c.e.svc.Compose.Suppressed(ctx, addrs)
			return func() {
				if seq != c.suppSeq || err != nil {
					return // a newer check superseded this one
				}
				c.showSuppressed(got)
			}
		})
	})
}

func (c *composeScreen) showSuppressed(got map[string]string) {
	defer c.relayout()
	if len(got) == 0 {
		c.suppressed.Hide()
		return
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		lines = append(lines, suppressedLine(k, got[k])+".")
	}
	lines = append(lines, "Mail to a suppressed address will most likely bounce again; remove it from the list in its message's detail if it was fixed.")
	c.suppressed.SetText(strings.Join(lines, "\n"))
	c.suppressed.Show()
}

// suppressedLine says that addr is on the suppression list, and why when
// the reason is known.
func suppressedLine(addr, reason string) string {
	if reason == "" {
		return addr + " is on the suppression list"
	}
	return addr + " is on the suppression list (" + reason + ")"
}

func (c *composeScreen) updateTrackNote() {
	if c.trackOpens.Checked && c.format.Selected != labelMarkdown {
		c.trackNote.Show()
	} else {
		c.trackNote.Hide()
	}
	c.relayout()
}

// ---- attachments ----

func (c *composeScreen) pickAttachment() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			c.e.showError("Attach file", err)
			return
		}
		if r == nil {
			return // canceled
		}
		u := r.URI()
		r.Close()
		c.addAttachment(u.Path(), u.Name())
	}, c.e.win)
	d.Show()
}

// addAttachment reads the file's size off the UI goroutine.
func (c *composeScreen) addAttachment(path, name string) {
	c.e.run(func() func() {
		fi, err := os.Stat(path)
		return func() {
			if err != nil {
				c.e.showError("Attach file", err)
				return
			}
			c.attachments = append(c.attachments, Attachment{Path: path, Name: name, Size: fi.Size()})
			c.refreshAttachments()
			c.changed()
		}
	})
}

func (c *composeScreen) refreshAttachments() {
	c.attachBox.RemoveAll()
	var total int64
	for i, a := range c.attachments {
		i := i
		total += a.Size
		rm := widget.NewButtonWithIcon("", theme.ContentRemoveIcon(), func() {
			c.attachments = append(c.attachments[:i:i], c.attachments[i+1:]...)
			c.refreshAttachments()
			c.changed()
		})
		name := widget.NewLabel(fmt.Sprintf("%s — %s", a.Name, fmtSize(a.Size)))
		name.Truncation = fyne.TextTruncateEllipsis // a long file name must not widen the window
		c.attachBox.Add(container.NewBorder(nil, nil, widget.NewIcon(theme.FileIcon()), rm, name))
	}
	if len(c.attachments) == 0 {
		c.attachBox.Add(widget.NewLabel("none"))
	}
	c.checkSize(total)
}

// checkSize warns when the message will exceed the server's SIZE limit.
// Base64 grows attachments by a third, so that is what is compared.
func (c *composeScreen) checkSize(total int64) {
	defer c.relayout()
	est := total*4/3 + int64(len(c.body.Text))
	if c.maxSize > 0 && est > c.maxSize {
		c.attachWarn.SetText(fmt.Sprintf("With its attachments the message will be about %s once encoded; "+
			"the server accepts at most %s, so it would be refused. Share large files by link instead.",
			fmtSize(est), fmtSize(c.maxSize)))
		c.attachWarn.Show()
		return
	}
	c.attachWarn.Hide()
}

func (c *composeScreen) loadMaxSize() {
	name := c.accountName()
	if c.e.svc.Compose == nil || name == "" {
		return
	}
	c.e.run(func() func() {
		ctx, cancel := c.e.callCtx()
		defer cancel()
		n, err := c.e.svc.Compose.MaxSize(ctx, name)
		return func() {
			if err == nil && name == c.accountName() {
				c.maxSize = n
				c.refreshAttachments()
			}
		}
	})
}

// ---- sending ----

func (c *composeScreen) send() { c.submit(time.Time{}) }

func (c *composeScreen) sendLater() {
	defer c.relayout()
	t, err := c.laterTime()
	if err != nil {
		setErrorLabel(c.laterErr, err.Error())
		return
	}
	if !t.After(c.e.now()) {
		setErrorLabel(c.laterErr, "Choose a time in the future.")
		return
	}
	setErrorLabel(c.laterErr, "")
	c.submit(t)
}

func (c *composeScreen) laterTime() (time.Time, error) {
	if c.date.Date == nil {
		return time.Time{}, fmt.Errorf("Choose a date.")
	}
	hm, err := time.Parse("15:04", strings.TrimSpace(c.clock.Text))
	if err != nil {
		return time.Time{}, fmt.Errorf("Write the time as HH:MM, for example 09:30.")
	}
	d := c.date.Date.Local()
	return time.Date(d.Year(), d.Month(), d.Day(), hm.Hour(), hm.Minute(), 0, 0, time.Local), nil
}

// validate checks what the UI can see; it reports whether the form may go.
func (c *composeScreen) validate() bool {
	defer c.relayout()
	ok := true
	set := func(l *widget.Label, msg string) {
		setErrorLabel(l, msg)
		if msg != "" {
			ok = false
		}
	}
	set(c.toErr, addressError(c.to.Text))
	set(c.ccErr, addressError(c.cc.Text))
	set(c.bccErr, addressError(c.bcc.Text))
	if ok && strings.TrimSpace(c.to.Text+c.cc.Text+c.bcc.Text) == "" {
		set(c.toErr, "Add at least one recipient.")
	}
	if c.accountName() == "" {
		set(c.fromErr, "Choose the account to send from.")
	} else {
		setErrorLabel(c.fromErr, "")
	}
	return ok
}

// showFieldErrors puts the service's findings under their fields.
func (c *composeScreen) showFieldErrors(errs []FieldError) {
	var other []string
	for _, fe := range errs {
		switch fe.Field {
		case FieldTo:
			setErrorLabel(c.toErr, fe.Message)
		case FieldCc:
			setErrorLabel(c.ccErr, fe.Message)
		case FieldBcc:
			setErrorLabel(c.bccErr, fe.Message)
		case FieldAccount:
			setErrorLabel(c.fromErr, fe.Message)
		case FieldAt:
			setErrorLabel(c.laterErr, fe.Message)
		default:
			other = append(other, fe.Message)
		}
	}
	if len(other) > 0 {
		c.status.SetText(strings.Join(other, "\n"))
	}
	c.relayout()
}

// submit validates and enqueues; at zero means now. Pending draft saves
// finish first so the queued message carries the draft's id (the service
// deletes that draft) and no late save resurrects it.
func (c *composeScreen) submit(at time.Time) {
	if c.sending || c.e.svc.Compose == nil {
		return
	}
	if !c.validate() {
		c.status.SetText("Fix the marked fields first.")
		return
	}
	c.flush(func() {
		in := c.input()
		in.At = at
		c.sending = true
		c.sendBtn.Disable()
		c.status.SetText("Queuing…")
		c.e.run(func() func() {
			errs := c.e.svc.Compose.Validate(in)
			if len(errs) > 0 {
				return func() {
					c.sending = false
					c.sendBtn.Enable()
					c.showFieldErrors(errs)
					if c.status.Text == "Queuing…" {
						c.status.SetText("Fix the marked fields first.")
					}
				}
			}
			ctx, cancel := c.e.callCtx()
			defer cancel()
			id, err := c.e.svc.Compose.Send(ctx, in)
			return func() {
				c.sending = false
				c.sendBtn.Enable()
				if err != nil {
					c.status.SetText("Not queued: " + err.Error())
					return
				}
				c.draftID = ""
				c.reset()
				if at.IsZero() {
					c.status.SetText(fmt.Sprintf("Queued as %s. Follow it in the Outbox and in Sent.", id))
				} else {
					c.status.SetText(fmt.Sprintf("Scheduled for %s as %s.", at.Local().Format("15:04 on 2 Jan 2006"), id))
				}
			}
		})
	})
}
