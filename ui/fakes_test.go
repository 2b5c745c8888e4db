package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"mailroom/mail"
	"mailroom/tracking"
)

// The services below are small in-memory implementations of the UI's
// interfaces. The real ones live behind package app, which ui must not
// import (the import rules forbid the storage layer here); app's own
// tests drive the real services through these same interfaces.

type fakeAccounts struct {
	mu       sync.Mutex
	accounts []Account
	added    []AccountInput
	report   ConnectionReport
	auto     map[string]Account
	settings *fakeSettings // for TrackingDefaults
}

func (f *fakeAccounts) List(context.Context) ([]Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Account(nil), f.accounts...), nil
}

func (f *fakeAccounts) Add(_ context.Context, in AccountInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.accounts {
		if a.Name == in.Name {
			return fmt.Errorf("an account called %q exists", in.Name)
		}
	}
	f.added = append(f.added, in)
	f.accounts = append(f.accounts, in.Account)
	return nil
}

func (f *fakeAccounts) Update(_ context.Context, name string, in AccountInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.accounts {
		if a.Name == name {
			f.accounts[i] = in.Account
			return nil
		}
	}
	return errors.New("no such account")
}

// TrackingDefaults follows app.TrackingDefaults over the fake settings.
func (f *fakeAccounts) TrackingDefaults(ctx context.Context, account string) (opens, clicks bool, err error) {
	get := func(key string) string {
		if f.settings == nil {
			return ""
		}
		v, _ := f.settings.Get(ctx, key)
		return v
	}
	if mode := get("tracking.mode"); mode == "" || mode == "off" {
		return false, false, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.accounts {
		if a.Name == account {
			resolve := func(d, key string) bool {
				if d == TrackOn || d == TrackOff {
					return d == TrackOn
				}
				return get(key) == "true"
			}
			return resolve(a.TrackOpens, "tracking.default_opens"), resolve(a.TrackClicks, "tracking.default_clicks"), nil
		}
	}
	return false, false, fmt.Errorf("no account named %q", account)
}

func (f *fakeAccounts) Remove(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.accounts {
		if a.Name == name {
			f.accounts = append(f.accounts[:i], f.accounts[i+1:]...)
			return nil
		}
	}
	return errors.New("no such account")
}

func (f *fakeAccounts) Test(context.Context, AccountInput) (ConnectionReport, error) {
	return f.report, nil
}

func (f *fakeAccounts) Presets() []Preset { return DefaultPresets() }

func (f *fakeAccounts) Autoconfig(_ context.Context, email string) (Account, error) {
	_, domain, _ := strings.Cut(email, "@")
	if a, ok := f.auto[domain]; ok {
		return a, nil
	}
	return Account{}, errors.New("no configuration published for " + domain)
}

type fakeCompose struct {
	mu         sync.Mutex
	sent       []ComposeInput
	suppressed map[string]string
	maxSize    int64
	drafts     *fakeDrafts
}

func (f *fakeCompose) Validate(in ComposeInput) []FieldError {
	if in.Account == "" {
		return []FieldError{{FieldAccount, "no account"}}
	}
	return nil
}

func (f *fakeCompose) Send(ctx context.Context, in ComposeInput) (string, error) {
	f.mu.Lock()
	f.sent = append(f.sent, in)
	n := len(f.sent)
	f.mu.Unlock()
	if in.DraftID != "" && f.drafts != nil {
		f.drafts.Delete(ctx, in.DraftID)
	}
	return fmt.Sprintf("m%d", n), nil
}

func (f *fakeCompose) Suppressed(_ context.Context, addrs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range addrs {
		if r, ok := f.suppressed[strings.ToLower(a)]; ok {
			out[a] = r
		}
	}
	return out, nil
}

func (f *fakeCompose) MaxSize(context.Context, string) (int64, error) { return f.maxSize, nil }

type fakeDrafts struct {
	mu     sync.Mutex
	next   int
	drafts map[string]Draft
	saves  int
}

func newFakeDrafts() *fakeDrafts { return &fakeDrafts{drafts: map[string]Draft{}} }

func (f *fakeDrafts) Save(_ context.Context, d Draft) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves++
	if d.ID == "" {
		f.next++
		d.ID = fmt.Sprintf("d%d", f.next)
	}
	f.drafts[d.ID] = d
	return d.ID, nil
}

func (f *fakeDrafts) List(context.Context) ([]Draft, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Draft
	for _, d := range f.drafts {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

func (f *fakeDrafts) Load(_ context.Context, id string) (Draft, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.drafts[id]
	if !ok {
		return Draft{}, errors.New("no such draft")
	}
	return d, nil
}

func (f *fakeDrafts) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.drafts, id)
	return nil
}

type fakeOutbox struct {
	mu      sync.Mutex
	msgs    []OutboxMessage
	retried []string
	paused  []string
}

func (f *fakeOutbox) List(context.Context) ([]OutboxMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]OutboxMessage(nil), f.msgs...), nil
}

func (f *fakeOutbox) RetryNow(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retried = append(f.retried, id)
	return nil
}

func (f *fakeOutbox) Cancel(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.msgs {
		if m.ID == id {
			f.msgs = append(f.msgs[:i], f.msgs[i+1:]...)
		}
	}
	return nil
}

func (f *fakeOutbox) Pause(_ context.Context, account string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = append(f.paused, account)
	for i := range f.msgs {
		if f.msgs[i].Account == account {
			f.msgs[i].AccountPaused = true
		}
	}
	return nil
}

func (f *fakeOutbox) Resume(_ context.Context, account string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.msgs {
		if f.msgs[i].Account == account {
			f.msgs[i].AccountPaused = false
		}
	}
	return nil
}

func (f *fakeOutbox) Changes(context.Context) <-chan struct{} { return nil }

// fakeTracking filters and pages an in-memory list of messages the way
// the real store is specified to (services.go: Query).
type fakeTracking struct {
	mu          sync.Mutex
	msgs        []MessageDetail
	queries     []Query
	pages       []int // offsets asked for
	unsuppress  []string
	resent      []string
	funnelCalls int
	unmatched   []UnmatchedReport
	reportTexts map[int64]string
}

func (f *fakeTracking) match(q Query, m MessageDetail) bool {
	if len(q.IDs) > 0 {
		ok := false
		for _, id := range q.IDs {
			ok = ok || id == m.ID
		}
		if !ok {
			return false
		}
	}
	if q.Account != "" && q.Account != m.Account {
		return false
	}
	if !q.From.IsZero() && m.Created.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !m.Created.Before(q.To) {
		return false
	}
	any := func(p func(RecipientDetail) bool) bool {
		for _, r := range m.Recipients {
			if p(r) {
				return true
			}
		}
		return false
	}
	if len(q.Statuses) > 0 && !any(func(r RecipientDetail) bool {
		for _, s := range q.Statuses {
			if r.Status == s {
				return true
			}
		}
		return false
	}) {
		return false
	}
	if q.HasBounces && !any(func(r RecipientDetail) bool { return r.Status == tracking.Bounced }) {
		return false
	}
	if q.Opened && !any(func(r RecipientDetail) bool { return r.Engagement.OpensTotal > 0 }) {
		return false
	}
	if s := strings.ToLower(q.Search); s != "" {
		if !strings.Contains(strings.ToLower(m.Subject), s) &&
			!any(func(r RecipientDetail) bool { return strings.Contains(strings.ToLower(r.Address), s) }) {
			return false
		}
	}
	return true
}

func (f *fakeTracking) filter(q Query) []MessageDetail {
	var out []MessageDetail
	for _, m := range f.msgs {
		if f.match(q, m) {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if q.Sort == OldestFirst {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Created.After(out[j].Created)
	})
	return out
}

func (f *fakeTracking) Page(_ context.Context, q Query, offset, limit int) ([]MessageRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	f.pages = append(f.pages, offset)
	all := f.filter(q)
	if offset >= len(all) {
		return nil, nil
	}
	all = all[offset:min(len(all), offset+limit)]
	rows := make([]MessageRow, 0, len(all))
	for _, m := range all {
		row := MessageRow{ID: m.ID, Account: m.Account, Subject: m.Subject, Created: m.Created, LastEvent: m.Created,
			RecipientCount: len(m.Recipients), StatusCounts: map[tracking.Status]int{}}
		for i, r := range m.Recipients {
			row.StatusCounts[r.Status]++
			if i < 3 {
				row.Recipients = append(row.Recipients, RecipientStatus{r.Address, r.Status, r.Engagement})
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (f *fakeTracking) Count(_ context.Context, q Query) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	return len(f.filter(q)), nil
}

func (f *fakeTracking) Counts(_ context.Context, q Query) (map[tracking.Status]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q.Statuses = nil
	out := map[tracking.Status]int{}
	for _, m := range f.filter(q) {
		for _, r := range m.Recipients {
			out[r.Status]++
		}
	}
	return out, nil
}

func (f *fakeTracking) Detail(_ context.Context, id string) (MessageDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.ID == id {
			return m, nil
		}
	}
	return MessageDetail{}, errors.New("no such message")
}

func (f *fakeTracking) Funnel(_ context.Context, from, to time.Time) (Funnel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.funnelCalls++
	counts := map[tracking.Status]int{}
	opened := 0
	for _, m := range f.filter(Query{From: from, To: to}) {
		for _, r := range m.Recipients {
			counts[r.Status]++
			if r.Engagement.OpensTotal > 0 {
				opened++
			}
		}
	}
	fn := FunnelFromCounts(counts, opened)
	fn.From, fn.To = from, to
	return fn, nil
}

func (f *fakeTracking) Export(_ context.Context, q Query, format string, w io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return json.NewEncoder(w).Encode(f.filter(q))
}

func (f *fakeTracking) Unsuppress(_ context.Context, addr string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unsuppress = append(f.unsuppress, addr)
	for i := range f.msgs {
		for j := range f.msgs[i].Recipients {
			if f.msgs[i].Recipients[j].Address == addr {
				f.msgs[i].Recipients[j].Suppressed = false
			}
		}
	}
	return nil
}

func (f *fakeTracking) Resend(_ context.Context, id, addr string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resent = append(f.resent, id+"/"+addr)
	return "r1", nil
}

func (f *fakeTracking) Changes(context.Context) <-chan struct{} { return nil }

func (f *fakeTracking) Unmatched(context.Context) ([]UnmatchedReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]UnmatchedReport(nil), f.unmatched...), nil
}

func (f *fakeTracking) ReportText(_ context.Context, id int64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.reportTexts[id]; ok {
		return t, nil
	}
	return "", fmt.Errorf("no report %d", id)
}

func (f *fakeTracking) lastQuery() Query {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queries) == 0 {
		return Query{}
	}
	return f.queries[len(f.queries)-1]
}

type fakeSettings struct {
	mu   sync.Mutex
	vals map[string]string
	sets map[string]string
}

func (f *fakeSettings) Get(_ context.Context, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.vals[key]; ok {
		return v, nil
	}
	for _, k := range DefaultSettingKeys() {
		if k.Key == key {
			return k.Default, nil
		}
	}
	return "", errors.New("unknown key")
}

func (f *fakeSettings) Set(_ context.Context, key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if key == "tracking.base_url" && value != "" && !strings.HasPrefix(value, "http") {
		return errors.New("must be an http(s) URL")
	}
	if f.vals == nil {
		f.vals = map[string]string{}
	}
	if f.sets == nil {
		f.sets = map[string]string{}
	}
	f.vals[key] = value
	f.sets[key] = value
	return nil
}

func (f *fakeSettings) Keys() []SettingKey {
	// Like the app: only keys, defaults and short help; the UI adds labels.
	var out []SettingKey
	for _, k := range DefaultSettingKeys() {
		out = append(out, SettingKey{Key: k.Key, Default: k.Default, Help: k.Help})
	}
	return append(out, SettingKey{Key: "experimental.flag", Default: "x"})
}

// fakes is one set of services with handles on each fake.
type fakes struct {
	accounts *fakeAccounts
	compose  *fakeCompose
	drafts   *fakeDrafts
	outbox   *fakeOutbox
	tracking *fakeTracking
	settings *fakeSettings
}

func newFakes() *fakes {
	d := newFakeDrafts()
	settings := &fakeSettings{}
	return &fakes{
		accounts: &fakeAccounts{accounts: []Account{{Name: "work", DisplayName: "Alice", Email: "alice@example.com",
			SMTPHost: "smtp.example.com", SMTPPort: 465, SMTPSecurity: mail.ImplicitTLS, Username: "alice@example.com",
			PasswordSource: PasswordKeyring}}, settings: settings},
		compose:  &fakeCompose{drafts: d, suppressed: map[string]string{}},
		drafts:   d,
		outbox:   &fakeOutbox{},
		tracking: &fakeTracking{},
		settings: settings,
	}
}

func (f *fakes) services() Services {
	return Services{Accounts: f.accounts, Compose: f.compose, Drafts: f.drafts, Outbox: f.outbox,
		Tracking: f.tracking, Settings: f.settings}
}

// seedMessage builds a message with recipients in the given statuses.
func seedMessage(id, subject string, created time.Time, rs ...RecipientDetail) MessageDetail {
	return MessageDetail{ID: id, MessageID: "<" + id + "@example.com>", Account: "work", From: "alice@example.com",
		Subject: subject, Created: created, Recipients: rs}
}
