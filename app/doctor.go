package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
)

// Finding is one result of a configuration check.
type Finding struct {
	Subject string
	Message string
	Error   bool // false: a warning that does not fail `mailroom doctor`
}

// Doctor checks what can be checked without the network: every account's
// CA file parses, its password source answers, reports can be fetched.
func (a *App) Doctor(ctx context.Context) []Finding {
	var out []Finding
	accts, err := a.Accounts.List(ctx)
	if err != nil {
		return []Finding{{"accounts", err.Error(), true}}
	}
	if len(accts) == 0 {
		out = append(out, Finding{"accounts", "none yet: add one with `mailroom account add`", false})
	}
	for _, acct := range accts {
		subj := "account " + acct.Name
		if acct.CAFile != "" {
			if _, err := LoadCAFile(acct.CAFile); err != nil {
				out = append(out, Finding{subj, err.Error(), true})
			}
		}
		if _, err := a.Accounts.Creds.Password(ctx, acct); err != nil {
			out = append(out, Finding{subj, "password: " + err.Error(), true})
		}
		if acct.IMAP.Host == "" {
			out = append(out, Finding{subj, "no IMAP server: bounces and delivery reports cannot be read", false})
		}
	}
	var sentErrors int
	if um, err := a.Reports.Unmatched(ctx); err == nil && len(um) > 0 {
		out = append(out, Finding{"reports", fmt.Sprintf("%d report(s) matched no sent message; they are kept (mailroom reports)", len(um)), false})
	}
	a.DB.R.QueryRowContext(ctx, `SELECT count(*) FROM sent_copies WHERE appended_at=0 AND error<>''`).Scan(&sentErrors)
	if sentErrors > 0 {
		out = append(out, Finding{"sent folder", fmt.Sprintf("%d Sent copy(ies) could not be appended; the last error is kept in sent_copies.error", sentErrors), false})
	}
	for _, s := range SettingKeys {
		v, err := a.Store.Setting(ctx, s.Key, s.Default)
		if err == nil {
			err = s.Check(v)
		}
		if err != nil {
			out = append(out, Finding{"setting " + s.Key, err.Error(), true})
		}
	}
	return out
}

// LoadCAFile reads a PEM bundle into a pool, with a clear error.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
