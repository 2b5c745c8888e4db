package mailstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// errPortTaken marks a start that failed because another process bound one
// of the ports between freePorts and the daemon's bind; launch retries.
var errPortTaken = errors.New("port taken by another process")

func launch(c config) (*Stack, error) {
	dir, owned, err := makeRoot(c.dir)
	if err != nil {
		return nil, err
	}
	s, err := launchIn(dir, owned, c)
	if err != nil && owned {
		os.RemoveAll(dir)
	}
	if s != nil {
		if err := s.saveState(); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, err
}

func launchIn(dir string, owned bool, c config) (*Stack, error) {
	l := newLayout(dir)
	if err := prepareDirs(l); err != nil {
		return nil, err
	}
	pool, err := writePKI(l)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		ports, err := c.pickPorts(5)
		if err != nil {
			return nil, err
		}
		l.SMTPPort, l.SubmissionPort, l.SMTPSPort, l.IMAPPort, l.IMAPSPort = ports[0], ports[1], ports[2], ports[3], ports[4]
		if err := writeConfig(l, c); err != nil {
			return nil, err
		}
		s := &Stack{
			Dir:            dir,
			Domain:         Domain,
			SMTPAddr:       hostPort(l.SMTPPort),
			SubmissionAddr: hostPort(l.SubmissionPort),
			SMTPSAddr:      hostPort(l.SMTPSPort),
			IMAPAddr:       hostPort(l.IMAPPort),
			IMAPSAddr:      hostPort(l.IMAPSPort),
			CAFile:         l.CAFile,
			cfg:            c,
			l:              l,
			caPool:         pool,
			ownsDir:        owned,
		}
		lastErr = s.startDaemons()
		if lastErr == nil {
			return s, nil
		}
		s.stopDaemons()
		if !errors.Is(lastErr, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

// makeRoot creates the stack's root directory. Postfix and Dovecot switch to
// the users postfix, dovecot, dovenull and uid 5000, so the root and all its
// parents must be world-traversable: t.TempDir() and os.MkdirTemp give 0700,
// and TMPDIR may live somewhere private. Unix socket paths are limited to
// about 100 bytes, so the root stays short.
func makeRoot(want string) (dir string, owned bool, err error) {
	if want != "" {
		if err := os.MkdirAll(want, 0o755); err != nil {
			return "", false, err
		}
		if ents, _ := os.ReadDir(want); len(ents) > 0 {
			return "", false, fmt.Errorf("mailstack: %s is not empty", want)
		}
		abs, err := filepath.Abs(want)
		if err != nil {
			return "", false, err
		}
		return abs, false, os.Chmod(abs, 0o755)
	}
	base := os.TempDir()
	if len(base) > 40 || !traversable(base) {
		base = "/tmp"
	}
	dir, err = os.MkdirTemp(base, "mailstack-")
	if err != nil {
		return "", false, err
	}
	return dir, true, os.Chmod(dir, 0o755)
}

// traversable reports whether every directory from / to dir lets others in.
func traversable(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func prepareDirs(l layout) error {
	pf, err := lookupIDs("postfix")
	if err != nil {
		return err
	}
	dovecotGID, err := user.LookupGroup("dovecot")
	if err != nil {
		return err
	}
	dgid, _ := strconv.Atoi(dovecotGID.Gid)
	postdropGroup, err := user.LookupGroup("postdrop")
	if err != nil {
		return err
	}
	postdrop, _ := strconv.Atoi(postdropGroup.Gid)
	type d struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}
	dirs := []d{
		{l.PKIDir, 0o755, 0, 0},
		{l.PostfixDir, 0o755, 0, 0},
		{l.PostfixDataDir, 0o700, pf[0], pf[1]},
		{l.DovecotDir, 0o755, 0, 0},
		{l.DovecotStateDir, 0o755, 0, 0},
		{l.LogDir, 0o755, 0, 0},
		{l.MailDir, 0o755, vmailUID, vmailUID},
		{filepath.Join(l.MailDir, Domain), 0o755, vmailUID, vmailUID},
	}
	// The queue as postfix-files describes it. "postfix check" would make
	// it too, but that is a shell script forking ~100 programs: 0.3 s on an
	// idle machine, several seconds on a busy one.
	dirs = append(dirs, d{l.QueueDir, 0o755, 0, 0}, d{filepath.Join(l.QueueDir, "pid"), 0o755, 0, 0},
		d{filepath.Join(l.QueueDir, "maildrop"), 0o730, pf[0], postdrop},
		d{filepath.Join(l.QueueDir, "public"), 0o710, pf[0], postdrop})
	for _, q := range []string{"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace"} {
		dirs = append(dirs, d{filepath.Join(l.QueueDir, q), 0o700, pf[0], 0})
	}
	// Every login gets its Maildir up front, so tests can watch it and IMAP
	// works before the first delivery.
	for _, u := range Users {
		home := filepath.Join(l.MailDir, Domain, u)
		dirs = append(dirs, d{home, 0o700, vmailUID, vmailUID}, d{filepath.Join(home, "Maildir"), 0o700, vmailUID, vmailUID})
		for _, sub := range []string{"cur", "new", "tmp"} {
			dirs = append(dirs, d{filepath.Join(home, "Maildir", sub), 0o700, vmailUID, vmailUID})
		}
	}
	for _, x := range dirs {
		if err := os.MkdirAll(x.path, x.mode); err != nil {
			return err
		}
		if err := os.Chown(x.path, x.uid, x.gid); err != nil {
			return err
		}
		if err := os.Chmod(x.path, x.mode); err != nil {
			return err
		}
	}
	// The passdb is read by Dovecot's auth process, which runs as dovecot.
	if err := os.WriteFile(l.DovecotUsers, nil, 0o640); err != nil {
		return err
	}
	return os.Chown(l.DovecotUsers, 0, dgid)
}

func lookupIDs(name string) ([2]int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return [2]int{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return [2]int{uid, gid}, nil
}

// startDaemons starts Dovecot and Postfix side by side and waits until both
// hold their listening sockets and Dovecot's SASL socket exists.
func (s *Stack) startDaemons() error {
	l, b := s.l, s.cfg.bin
	for _, f := range []string{l.PostfixLog, l.DovecotLog, l.DaemonStderr} {
		os.Remove(f) // a retry starts with clean logs
	}
	mode, pfMode := ownGroup, selfSession
	if s.cfg.detached {
		mode, pfMode = detachedRun, detachedRun
	}
	stderrLog, err := os.OpenFile(l.DaemonStderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer stderrLog.Close()
	dv, err := spawn("dovecot", []string{b.dovecot, "-F", "-c", l.DovecotConf}, stderrLog, mode)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, dv)
	// Postfix's master, run directly rather than through "postfix start":
	// its PID is then ours, and it does not fork. It points its own stdio
	// at /dev/null.
	pf, err := spawn("postfix", []string{b.master, "-c", l.PostfixDir}, stderrLog, pfMode)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, pf)
	if !s.cfg.detached {
		rm := ""
		if s.ownsDir {
			rm = s.Dir
		}
		if s.watchdog, err = startWatchdog(rm, dv.PID, pf.PID); err != nil {
			return err
		}
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		dvUp := dv.alive() && listening(dv.PID, l.IMAPPort, l.IMAPSPort) && exists(l.AuthSocket)
		pfUp := pf.alive() && listening(pf.PID, l.SMTPPort, l.SubmissionPort, l.SMTPSPort)
		if dvUp && pfUp {
			return nil
		}
		if !dv.alive() {
			return s.startFailure("dovecot exited during startup", l.IMAPPort, l.IMAPSPort)
		}
		if !pf.alive() {
			return s.startFailure("postfix exited during startup", l.SMTPPort, l.SubmissionPort, l.SMTPSPort)
		}
		if time.Now().After(deadline) {
			return s.startFailure(fmt.Sprintf("not ready after 20s (dovecot ready: %v, postfix ready: %v)", dvUp, pfUp))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startFailure explains a failed start. A daemon that died while one of its
// ports has a listener lost a race for that port (errPortTaken). That is
// judged from /proc/net/tcp, not from the logs: Postfix's master writes
// nothing at all when it fails before its log daemon runs.
func (s *Stack) startFailure(what string, ports ...int) error {
	logs := tail(s.l.PostfixLog, 15) + "\n" + tail(s.l.DovecotLog, 15) + "\n" + tail(s.l.DaemonStderr, 10)
	if strings.HasPrefix(what, "postfix") {
		// postconf reports unknown or malformed parameters on stderr.
		out, _ := exec.Command(s.cfg.bin.postconf, "-c", s.l.PostfixDir, "-n").CombinedOutput()
		var warn []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "warning") || strings.Contains(line, "fatal") {
				warn = append(warn, line)
			}
		}
		logs += "\n--- postconf -n warnings: " + strings.Join(warn, "\n")
	}
	err := fmt.Errorf("mailstack: %s in %s\n%s", what, s.Dir, logs)
	listeners := tcpListeners()
	for _, p := range ports {
		if _, taken := listeners[p]; taken {
			return fmt.Errorf("%w (%d): %w", errPortTaken, p, err)
		}
	}
	return err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// stopDaemons stops Postfix and Dovecot in parallel.
func (s *Stack) stopDaemons() error {
	if s.watchdog != nil {
		fmt.Fprintln(s.watchdog, "stop")
		s.watchdog.Close()
		s.watchdog = nil
	}
	errs := make([]error, len(s.procs))
	var wg sync.WaitGroup
	for i, p := range s.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.stop()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stop stops both daemons by PID and, when the stack created its directory,
// removes it (set MAILSTACK_KEEP=1 to keep it for a post-mortem). Calling it
// again does nothing.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.stopDaemons()
		if s.ownsDir && os.Getenv("MAILSTACK_KEEP") != "1" {
			if err := os.RemoveAll(s.Dir); err != nil {
				s.stopErr = errors.Join(s.stopErr, err)
			}
		}
	})
	return s.stopErr
}

// state is what cmd/mailstack stop needs to find a detached stack again.
type state struct {
	Dir       string   `json:"dir"`
	OwnsDir   bool     `json:"owns_dir"`
	Procs     []*proc  `json:"procs"`
	Env       []string `json:"env"`
	StartedAt string   `json:"started_at"`
}

func (s *Stack) saveState() error {
	b, err := json.MarshalIndent(state{Dir: s.Dir, OwnsDir: s.ownsDir, Procs: s.procs, Env: s.Env(),
		StartedAt: time.Now().UTC().Format(time.RFC3339)}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(s.l.StateFile, b, 0o644)
}

// StopDir stops the stack whose directory is dir (started by
// cmd/mailstack start), by the PIDs recorded there, and removes the
// directory if the stack created it.
func StopDir(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "mailstack.json"))
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	s := &Stack{Dir: st.Dir, procs: st.Procs, ownsDir: st.OwnsDir}
	return s.Stop()
}
