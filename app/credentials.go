package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// keyringService is the service name under which secrets are filed in the
// OS keyring (Secret Service, macOS Keychain, Windows Credential Manager).
const keyringService = "mailroom"

// Credentials fetches and stores account secrets. Secrets are never written
// to SQLite, config files or logs: they live in the OS keyring, or come
// from a password command run at the moment of use (like msmtp's
// passwordeval) on machines without a keyring.
type Credentials struct {
	// Keyring is the backend; nil means the OS keyring.
	Keyring KeyringBackend
}

// KeyringBackend is the subset of go-keyring Mailroom uses.
type KeyringBackend interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

type osKeyring struct{}

func (osKeyring) Set(s, u, p string) error        { return keyring.Set(s, u, p) }
func (osKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (osKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

func (c Credentials) backend() KeyringBackend {
	if c.Keyring != nil {
		return c.Keyring
	}
	return osKeyring{}
}

// ErrNoKeyring explains what to do when no keyring is reachable.
var ErrNoKeyring = errors.New("no OS keyring is reachable" + keyringHint())

func keyringHint() string {
	if runtime.GOOS == "linux" || runtime.GOOS == "freebsd" {
		return " (the Secret Service over D-Bus: GNOME Keyring or KWallet must be running);" +
			" use a password command instead, e.g. --password-command 'pass show mail/work'"
	}
	return "; use a password command instead, e.g. --password-command 'CMD'"
}

// Store saves a secret for an account in the keyring.
func (c Credentials) Store(account, secret string) error {
	if secret == "" {
		return errors.New("the password is empty")
	}
	if err := c.backend().Set(keyringService, account, secret); err != nil {
		return fmt.Errorf("%w: %v", ErrNoKeyring, err)
	}
	return nil
}

// Forget removes an account's secret; a missing secret is not an error.
func (c Credentials) Forget(account string) error {
	err := c.backend().Delete(keyringService, account)
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("%w: %v", ErrNoKeyring, err)
}

// PasswordError is a failure to get an account's password from its source
// (the password command, the keyring): nothing a server said, so "Test
// connection" and the outbox must not report it as a refused sign-in.
type PasswordError struct{ Err error }

func (e *PasswordError) Error() string { return e.Err.Error() }
func (e *PasswordError) Unwrap() error { return e.Err }

// Password returns the secret for an account by its configured source.
func (c Credentials) Password(ctx context.Context, a Account) (string, error) {
	p, err := c.password(ctx, a)
	if err != nil {
		return "", &PasswordError{err}
	}
	return p, nil
}

func (c Credentials) password(ctx context.Context, a Account) (string, error) {
	switch a.PasswordSource {
	case "command":
		return RunPasswordCommand(ctx, a.PasswordCommand)
	case "keyring":
		p, err := c.backend().Get(keyringService, a.Name)
		if errors.Is(err, keyring.ErrNotFound) {
			return "", fmt.Errorf("no password for account %q in the keyring: add it again with --password-stdin", a.Name)
		}
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrNoKeyring, err)
		}
		return p, nil
	}
	return "", fmt.Errorf("account %q has no password source", a.Name)
}

// RunPasswordCommand runs cmd through the shell and returns its first line.
// Its stderr is reported on failure; its stdout (the secret) never is.
func RunPasswordCommand(ctx context.Context, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var c *exec.Cmd
	if runtime.GOOS == "windows" {
		c = exec.CommandContext(ctx, "cmd", "/C", cmd)
	} else {
		c = exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("password command failed: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", errors.New("password command printed nothing")
	}
	return line, nil
}
