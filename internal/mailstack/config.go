package mailstack

import (
	"bytes"
	"embed"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"text/template"
	"time"
)

//go:embed conf/*.tmpl
var confFS embed.FS

var templates = template.Must(template.ParseFS(confFS, "conf/*.tmpl"))

// vmailUID owns the Maildirs. It needs no passwd entry: neither virtual(8)
// nor Dovecot looks it up.
const vmailUID = 5000

// layout is where everything of one stack lives, and its ports.
type layout struct {
	Dir, Instance, Domain                   string
	PKIDir, CAFile, KeyFile, ChainFile      string
	PostfixDir, QueueDir, PostfixDataDir    string
	DovecotDir, DovecotConf, DovecotUsers   string
	DovecotRunDir, DovecotStateDir, DHFile  string
	AuthSocket, MailDir, LogDir, PostfixLog string
	DovecotLog, DaemonStderr, StateFile     string

	SMTPPort, SubmissionPort, SMTPSPort, IMAPPort, IMAPSPort int
}

func newLayout(dir string) layout {
	j := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	l := layout{
		Dir:      dir,
		Instance: filepath.Base(dir), // Dovecot titles its processes dovecot-<instance>/...
		Domain:   Domain,

		PKIDir: j("pki"), CAFile: j("pki", "ca.crt"), KeyFile: j("pki", "server.key"), ChainFile: j("pki", "server-chain.crt"),

		PostfixDir: j("postfix"), QueueDir: j("spool"), PostfixDataDir: j("postfix-data"),

		DovecotDir: j("dovecot"), DovecotConf: j("dovecot", "dovecot.conf"), DovecotUsers: j("dovecot", "users"),
		DovecotRunDir: j("run"), DovecotStateDir: j("dovecot-state"),
		AuthSocket: j("run", "auth-postfix"),

		MailDir: j("mail"), LogDir: j("log"),
		PostfixLog: j("log", "postfix.log"), DovecotLog: j("log", "dovecot.log"), DaemonStderr: j("log", "daemons.stderr"),
		StateFile: j("mailstack.json"),
	}
	if _, err := os.Stat("/usr/share/dovecot/dh.pem"); err == nil {
		l.DHFile = "/usr/share/dovecot/dh.pem"
	}
	return l
}

// tmplData is what the configuration templates see.
type tmplData struct {
	layout
	VMailUID                              int
	VirtualTransport, DovecotProtocols    string
	LMTP                                  bool
	QueueRunDelay, MinBackoff, MaxBackoff string
	DelayWarning, QueueLifetime           string
	Mailboxes                             []string
	Users                                 []Account
}

// writeConfig renders the Postfix and Dovecot configuration for l and c.
func writeConfig(l layout, c config) error {
	d := tmplData{
		layout:           l,
		VMailUID:         vmailUID,
		VirtualTransport: "virtual",
		DovecotProtocols: "imap",
		LMTP:             c.lmtp,
		QueueRunDelay:    postfixTime(c.queueRunDelay),
		MinBackoff:       postfixTime(c.minBackoff),
		MaxBackoff:       postfixTime(c.maxBackoff),
		DelayWarning:     postfixTime(c.delayWarning),
		QueueLifetime:    postfixTime(c.queueLifetime),
		// bounce@ and defer@ must exist as mailboxes so that the plain port
		// accepts them too; their transport entries decide what happens next.
		Mailboxes: append(append([]string{}, Users...), "bounce", "defer"),
	}
	if c.lmtp {
		d.VirtualTransport = "lmtp:unix:" + filepath.Join(l.DovecotRunDir, "lmtp")
		d.DovecotProtocols = "imap lmtp"
	}
	for _, u := range Users {
		d.Users = append(d.Users, Account{Name: u, Address: u + "@" + Domain, Password: u + "pass"})
	}
	files := []struct{ tmpl, path string }{
		{"main.cf.tmpl", filepath.Join(l.PostfixDir, "main.cf")},
		{"master.cf.tmpl", filepath.Join(l.PostfixDir, "master.cf")},
		{"vmailbox", filepath.Join(l.PostfixDir, "vmailbox")},
		{"recipient_access", filepath.Join(l.PostfixDir, "recipient_access")},
		{"transport", filepath.Join(l.PostfixDir, "transport")},
		{"dovecot.conf.tmpl", l.DovecotConf},
		{"users", l.DovecotUsers},
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := templates.ExecuteTemplate(&buf, f.tmpl, d); err != nil {
			return fmt.Errorf("render %s: %w", f.tmpl, err)
		}
		if err := os.WriteFile(f.path, buf.Bytes(), 0o644); err != nil {
			return err
		}
		// Postfix re-reads a file whose mtime is under two seconds old
		// ("pausing to let it cool down", 300 ms at a time): that alone
		// cost about 2 s per start. Backdate what we just wrote.
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(f.path, old, old); err != nil {
			return err
		}
	}
	return nil
}

// freePorts asks the kernel for n distinct free loopback ports. Another
// process may take one before the daemons bind it; Launch retries then.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
