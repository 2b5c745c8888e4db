package mailstack

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
)

// InstallCommand installs what the harness needs on Debian/Ubuntu. The
// preseed keeps the postfix package from writing a system configuration.
const InstallCommand = `echo "postfix postfix/main_mailer_type select No configuration" | sudo debconf-set-selections && ` +
	`sudo apt-get install -y --no-install-recommends postfix dovecot-core dovecot-imapd dovecot-lmtpd`

// binaries are the absolute paths of the programs the harness runs.
type binaries struct {
	postfix, postconf, postqueue, master string
	dovecot                              string
}

// findPrereqs locates the programs and accounts the stack needs and explains
// every missing piece.
func findPrereqs(lmtp bool) (binaries, error) {
	var b binaries
	var missing []string
	if runtime.GOOS != "linux" {
		return b, fmt.Errorf("mailstack: the Postfix/Dovecot harness runs on Linux only (this is %s)", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		missing = append(missing, fmt.Sprintf("root (euid is %d; Postfix's master and Dovecot must start as root)", os.Geteuid()))
	}
	look := func(name, pkg string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
				return p
			}
		}
		missing = append(missing, fmt.Sprintf("%s (package %s)", name, pkg))
		return ""
	}
	b.postfix = look("postfix", "postfix")
	b.postconf = look("postconf", "postfix")
	b.postqueue = look("postqueue", "postfix")
	b.dovecot = look("dovecot", "dovecot-core")
	if b.postconf != "" {
		out, err := exec.Command(b.postconf, "-dh", "daemon_directory").Output()
		dir := strings.TrimSpace(string(out))
		if err != nil || dir == "" {
			dir = "/usr/lib/postfix/sbin"
		}
		b.master = filepath.Join(dir, "master")
		if _, err := os.Stat(b.master); err != nil {
			missing = append(missing, b.master+" (package postfix)")
		}
	}
	if b.dovecot != "" {
		libexec := dovecotLibexec()
		if _, err := os.Stat(filepath.Join(libexec, "imap")); err != nil {
			missing = append(missing, filepath.Join(libexec, "imap")+" (package dovecot-imapd)")
		}
		if lmtp {
			if _, err := os.Stat(filepath.Join(libexec, "lmtp")); err != nil {
				missing = append(missing, filepath.Join(libexec, "lmtp")+" (package dovecot-lmtpd)")
			}
		}
	}
	for _, u := range []string{"postfix", "dovecot", "dovenull"} {
		if _, err := user.Lookup(u); err != nil {
			missing = append(missing, "user "+u+" (created by the packages)")
		}
	}
	if _, err := user.LookupGroup("postdrop"); err != nil {
		missing = append(missing, "group postdrop (created by the postfix package)")
	}
	switch {
	case len(missing) == 1 && os.Geteuid() != 0:
		return b, fmt.Errorf("mailstack: cannot start the Postfix/Dovecot test stack: not root (euid %d); "+
			"Postfix's master and Dovecot must start as root, so run these tests as root "+
			"(for example in the project's CI container)", os.Geteuid())
	case len(missing) > 0:
		return b, fmt.Errorf("mailstack: cannot start the Postfix/Dovecot test stack; missing: %s.\n"+
			"Install with:\n  %s\nand run the tests as root (for example in the project's CI container)",
			strings.Join(missing, "; "), InstallCommand)
	}
	return b, nil
}

// dovecotLibexec is where Dovecot keeps its service binaries on Debian.
func dovecotLibexec() string {
	for _, d := range []string{"/usr/lib/dovecot", "/usr/libexec/dovecot"} {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return "/usr/lib/dovecot"
}

// required reports whether a missing stack must fail the test instead of
// skipping it.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("MAILROOM_REQUIRE_MAILSTACK") == "1"
}
