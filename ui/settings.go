package ui

import (
	"fmt"
	"sort"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Setting sections, in screen order.
const (
	secRetry   = "Retry policy"
	secTrack   = "Open tracking"
	secNotify  = "Notifications"
	secReports = "Delivery reports"
	secOther   = "Other"
)

var sectionOrder = []string{secRetry, secTrack, secNotify, secReports, secOther}

// sectionAliases put keys the UI does not know, grouped by the service's
// section names, into the screen's matching card.
var sectionAliases = map[string]string{
	"Outbox": secRetry, "Retry": secRetry, "Tracking": secTrack, "Notifications": secNotify,
	"Notify": secNotify, "Reports": secReports,
}

// DefaultSettingKeys describes the settings of `mailroom config` for the
// settings screen. A SettingsService may return these. For the keys it
// returns, the screen takes the grouping from this list and the label,
// help and kind from the service when set, from this list otherwise;
// keys unknown here keep the service's section (or "Other").
func DefaultSettingKeys() []SettingKey {
	b := func(key, sec, label, help, def string) SettingKey {
		return SettingKey{Key: key, Section: sec, Label: label, Help: help, Kind: KindBool, Default: def}
	}
	t := func(key, sec, label, help, def string) SettingKey {
		return SettingKey{Key: key, Section: sec, Label: label, Help: help, Kind: KindText, Default: def}
	}
	return []SettingKey{
		t("outbox.retry_schedule", secRetry, "Retry schedule", "Gaps between attempts, e.g. 1m,5m,15m,30m,60m,120m.", "1m,5m,15m,30m,60m,120m"),
		t("outbox.retry_every", secRetry, "Then retry every", "Gap once the schedule runs out.", "4h"),
		t("outbox.jitter", secRetry, "Jitter", "Random spread of each gap (0.1 = ±10%) so retries do not arrive in bursts.", "0.1"),
		t("outbox.lifetime", secRetry, "Give up after", "The outbox marks a message expired after this long (RFC 5321 suggests 4–5 days).", "5d"),
		t("outbox.min_gap", secRetry, "Never retry faster than", "Floor between two attempts of one message.", "1m"),
		{Key: "outbox.uncertain_policy", Section: secRetry, Label: "After an uncertain send", Kind: KindChoice,
			Choices: []string{"retry", "hold"}, Default: "retry",
			Help: "When the connection broke after the message was sent: retry (may deliver twice) or hold for you to decide."},
		t("outbox.max_connections", secRetry, "Connections per account", "Parallel connections to one account's server.", "2"),
		t("outbox.rate_per_minute", secRetry, "Messages per minute", "Per account; 0 means no limit.", "0"),
		{Key: "tracking.mode", Section: secTrack, Label: "Open tracking", Kind: KindChoice,
			Choices: []string{"off", "builtin", "remote"}, Default: "off",
			Help: "Off: no pixel. Built-in: a small server in Mailroom (needs a public URL). Remote: a mailroom-tracker server you run."},
		t("tracking.listen", secTrack, "Listen address", "Where the built-in tracker listens, e.g. 127.0.0.1:8425 behind a reverse proxy.", "127.0.0.1:8425"),
		t("tracking.base_url", secTrack, "Public URL", "The tracker's address as recipients reach it, e.g. https://t.example.com.", ""),
		t("tracking.remote_url", secTrack, "Remote tracker URL", "The API URL of your mailroom-tracker server.", ""),
		t("tracking.retention", secTrack, "Keep hits for", "How long the built-in tracker keeps opens.", "180d"),
		b("tracking.default_opens", secTrack, "Track opens by default", "New messages start with “Track opens” ticked, except from accounts that set their own default (Accounts → Edit).", "false"),
		b("tracking.default_clicks", secTrack, "Track clicks by default", "New messages start with “Track clicks” ticked, except from accounts that set their own default (Accounts → Edit).", "false"),
		b("notify.bounce", secNotify, "When a message bounces", "", "true"),
		b("notify.expired", secNotify, "When the outbox gives up", "", "true"),
		b("notify.first_open", secNotify, "On the first open likely by a person", "", "false"),
		b("reports.junk", secReports, "Also watch the Junk folder", "Some providers file bounces as junk.", "false"),
		t("reports.file_into", secReports, "File processed reports into", "IMAP folder to move reports to once read; empty leaves them.", ""),
	}
}

var choiceWords = map[string]string{
	"off": "Off", "builtin": "Built-in tracker", "remote": "Remote tracker",
	"retry": "Retry (may duplicate)", "hold": "Hold for me to decide",
}

// trackingDeps says which tracking keys matter in which mode.
var trackingDeps = map[string][]string{
	"tracking.listen":         {"builtin"},
	"tracking.base_url":       {"builtin"},
	"tracking.retention":      {"builtin"},
	"tracking.remote_url":     {"remote"},
	"tracking.default_opens":  {"builtin", "remote"},
	"tracking.default_clicks": {"builtin", "remote"},
}

// settingsScreen edits the settings through SettingsService.
type settingsScreen struct {
	e      *env
	m      *MainWindow
	root   *fyne.Container
	fields map[string]*settingField
	status *widget.Label
}

type settingField struct {
	key   SettingKey
	entry *widget.Entry
	check *widget.Check
	sel   *widget.Select
	err   *widget.Label
	value string // as loaded
}

func (f *settingField) get() string {
	switch {
	case f.check != nil:
		return strconv.FormatBool(f.check.Checked)
	case f.sel != nil:
		for v, w := range choiceWords {
			if w == f.sel.Selected {
				return v
			}
		}
		return f.sel.Selected
	}
	return f.entry.Text
}

func (f *settingField) set(v string) {
	f.value = v
	switch {
	case f.check != nil:
		b, _ := strconv.ParseBool(v)
		f.check.SetChecked(b)
	case f.sel != nil:
		if w, ok := choiceWords[v]; ok {
			f.sel.SetSelected(w)
		} else {
			f.sel.SetSelected(v)
		}
	default:
		f.entry.SetText(v)
	}
}

func (f *settingField) enable(on bool) {
	var w fyne.Disableable
	switch {
	case f.check != nil:
		w = f.check
	case f.sel != nil:
		w = f.sel
	default:
		w = f.entry
	}
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

func newSettingsScreen(e *env, m *MainWindow) *settingsScreen {
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	return &settingsScreen{e: e, m: m, root: container.NewStack(), status: status}
}

func (s *settingsScreen) view() fyne.CanvasObject { return s.root }

func (s *settingsScreen) activate() {
	if s.e.svc.Settings == nil {
		s.root.Objects = []fyne.CanvasObject{emptyState(theme.SettingsIcon(), "Settings are not available", "", nil)}
		s.root.Refresh()
		return
	}
	s.build(mergeSettingKeys(s.e.svc.Settings.Keys()))
	s.load()
}

// mergeSettingKeys completes the service's keys with the UI's labels.
func mergeSettingKeys(keys []SettingKey) []SettingKey {
	known := map[string]SettingKey{}
	for _, k := range DefaultSettingKeys() {
		known[k.Key] = k
	}
	out := make([]SettingKey, 0, len(keys))
	for _, k := range keys {
		if d, ok := known[k.Key]; ok {
			// The screen groups known keys its own way; the service's
			// words (label, help) win when it has them.
			k.Section = d.Section
			if k.Label == "" {
				k.Label = d.Label
			}
			if k.Help == "" {
				k.Help = d.Help
			}
			if k.Kind == "" {
				k.Kind = d.Kind
				k.Choices = d.Choices
			}
		}
		if alias, ok := sectionAliases[k.Section]; ok {
			k.Section = alias
		}
		if k.Section == "" {
			k.Section = secOther
		}
		if k.Label == "" {
			k.Label = k.Key
		}
		if k.Kind == "" {
			k.Kind = KindText
		}
		out = append(out, k)
	}
	return out
}

func (s *settingsScreen) build(keys []SettingKey) {
	s.fields = map[string]*settingField{}
	bySection := map[string][]SettingKey{}
	for _, k := range keys {
		bySection[k.Section] = append(bySection[k.Section], k)
	}
	sections := append([]string(nil), sectionOrder...)
	var extra []string
	for sec := range bySection {
		found := false
		for _, o := range sectionOrder {
			found = found || o == sec
		}
		if !found {
			extra = append(extra, sec)
		}
	}
	sort.Strings(extra)
	sections = append(sections, extra...)

	page := container.NewVBox()
	for _, sec := range sections {
		ks := bySection[sec]
		if len(ks) == 0 {
			continue
		}
		grid := container.New(layout.NewFormLayout())
		for _, k := range ks {
			f := &settingField{key: k, err: newErrorLabel()}
			var w fyne.CanvasObject
			switch k.Kind {
			case KindBool:
				f.check = widget.NewCheck("", nil)
				w = f.check
			case KindChoice:
				opts := make([]string, len(k.Choices))
				for i, c := range k.Choices {
					if cw, ok := choiceWords[c]; ok {
						opts[i] = cw
					} else {
						opts[i] = c
					}
				}
				f.sel = widget.NewSelect(opts, nil)
				if k.Key == "tracking.mode" {
					f.sel.OnChanged = func(string) { s.updateDeps() }
				}
				w = f.sel
			default:
				f.entry = widget.NewEntry()
				f.entry.SetPlaceHolder(k.Default)
				w = f.entry
			}
			help := widget.NewLabel(k.Help)
			help.Wrapping = fyne.TextWrapWord
			help.SizeName = theme.SizeNameCaptionText
			s.fields[k.Key] = f
			grid.Add(widget.NewLabel(k.Label))
			grid.Add(container.NewVBox(w, help, f.err))
		}
		page.Add(widget.NewCard(sec, "", grid))
	}
	save := widget.NewButtonWithIcon("Save changes", theme.DocumentSaveIcon(), s.save)
	save.Importance = widget.HighImportance
	revert := widget.NewButtonWithIcon("Revert", theme.ContentUndoIcon(), s.load)
	s.root.Objects = []fyne.CanvasObject{container.NewBorder(nil,
		container.NewBorder(nil, nil, container.NewHBox(save, revert), nil, s.status), nil, nil, container.NewVScroll(page))}
	s.root.Refresh()
}

// updateDeps enables only the tracking fields the chosen mode uses.
func (s *settingsScreen) updateDeps() {
	mode := "off"
	if f, ok := s.fields["tracking.mode"]; ok {
		mode = f.get()
	}
	for key, modes := range trackingDeps {
		f, ok := s.fields[key]
		if !ok {
			continue
		}
		on := false
		for _, m := range modes {
			on = on || m == mode
		}
		f.enable(on)
	}
}

func (s *settingsScreen) load() {
	keys := make([]string, 0, len(s.fields))
	for k := range s.fields {
		keys = append(keys, k)
	}
	s.e.run(func() func() {
		ctx, cancel := s.e.callCtx()
		defer cancel()
		vals := map[string]string{}
		errs := map[string]error{}
		for _, k := range keys {
			v, err := s.e.svc.Settings.Get(ctx, k)
			if err != nil {
				errs[k] = err
				continue
			}
			vals[k] = v
		}
		return func() {
			for k, f := range s.fields {
				if v, ok := vals[k]; ok {
					f.set(v)
				}
				if err := errs[k]; err != nil {
					setErrorLabel(f.err, err.Error())
				} else {
					setErrorLabel(f.err, "")
				}
			}
			s.updateDeps()
			s.status.SetText("")
			s.root.Refresh()
		}
	})
}

// save stores every changed field; errors appear beside their field.
func (s *settingsScreen) save() {
	changed := map[string]string{}
	for k, f := range s.fields {
		if v := f.get(); v != f.value {
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		s.status.SetText("Nothing changed.")
		return
	}
	s.e.run(func() func() {
		ctx, cancel := s.e.callCtx()
		defer cancel()
		errs := map[string]error{}
		for k, v := range changed {
			if err := s.e.svc.Settings.Set(ctx, k, v); err != nil {
				errs[k] = err
			}
		}
		return func() {
			for k, v := range changed {
				f := s.fields[k]
				if err := errs[k]; err != nil {
					setErrorLabel(f.err, err.Error())
					continue
				}
				setErrorLabel(f.err, "")
				f.value = v
			}
			if len(errs) > 0 {
				s.status.SetText(fmt.Sprintf("%d of %d changes not saved; see the marked fields.", len(errs), len(changed)))
			} else {
				s.status.SetText(fmt.Sprintf("Saved %s.", plural(len(changed), "change", "changes")))
			}
			s.root.Refresh()
		}
	})
}
