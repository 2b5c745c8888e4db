package mailstack

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one daemon master the stack started. Its process group has the
// master's PID as ID: Postfix's master calls setsid() itself, Dovecot gets
// its own group (or session) from us. So every child of a daemon can be
// found, and killed, by that group ID.
type proc struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// Start is the process start time from /proc/PID/stat: it tells our
	// process apart from a later one that got the same PID.
	Start uint64 `json:"start"`

	done chan struct{} // closed once reaped; nil when not our child
}

type spawnMode int

const (
	ownGroup    spawnMode = iota // we put the child into a new process group
	selfSession                  // the program calls setsid() itself (Postfix's master)
	detachedRun                  // new session, outlives this process (cmd/mailstack)
)

// spawn starts argv with stdin on /dev/null and stdout/stderr on out (a
// file, never a pipe: Dovecot keeps its stderr open, a pipe would never hit
// EOF).
func spawn(name string, argv []string, out *os.File, mode spawnMode) (*proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	switch mode {
	case ownGroup:
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	case detachedRun:
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{Name: name, PID: cmd.Process.Pid}
	p.Start, _ = procStart(p.PID)
	if mode == detachedRun {
		cmd.Process.Release()
		return p, nil
	}
	p.done = make(chan struct{})
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// watchdogScript waits on a pipe from this process. "stop" means Stop ran;
// end of file means this process died (a crash, a go test timeout, kill -9)
// and the daemons must go too. PR_SET_PDEATHSIG cannot do this job: Linux
// clears it when a process changes its effective uid, which Postfix's master
// does while it runs.
const watchdogScript = `read -r word
[ "$word" = stop ] && exit 0
for g in $GROUPS_TO_KILL; do kill -s TERM -- "-$g" 2>/dev/null; done
sleep 2
for g in $GROUPS_TO_KILL; do kill -s KILL -- "-$g" 2>/dev/null; done
[ -n "$DIR_TO_REMOVE" ] && rm -rf -- "$DIR_TO_REMOVE"
exit 0
`

// startWatchdog starts the watchdog for the given process groups in a
// process group of its own (so a ^C to the test does not take it along) and
// returns the pipe end that keeps it waiting.
func startWatchdog(removeDir string, groups ...int) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = strconv.Itoa(g)
	}
	cmd := exec.Command("/bin/sh", "-c", watchdogScript)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GROUPS_TO_KILL=" + strings.Join(ids, " "), "DIR_TO_REMOVE=" + removeDir}
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start watchdog: %w", err)
	}
	go cmd.Wait()
	return w, nil
}

// alive reports whether the process still runs (zombies do not count).
func (p *proc) alive() bool {
	if p.done != nil {
		select {
		case <-p.done:
			return false
		default:
			return true
		}
	}
	st, ok := readStat(p.PID)
	return ok && st.state != 'Z' && st.start == p.Start
}

func (p *proc) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for p.alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// stop sends SIGTERM to the master's whole process group, waits, escalates
// to SIGKILL, and finally makes sure no process of the group is left.
//
// Signalling the whole group matters for Dovecot: told alone, its master
// spends about a second waiting for its children. Told together, they are
// usually gone in under 100 ms, but a Dovecot stopped right after it started
// sometimes sleeps on (its log and anvil processes outlive the TERM), hence
// the short grace period before SIGKILL: a test stack has nothing to save.
func (p *proc) stop() error {
	wasOurs := p.done != nil || p.alive()
	if p.alive() {
		if syscall.Kill(-p.PID, syscall.SIGTERM) != nil {
			syscall.Kill(p.PID, syscall.SIGTERM) // no group yet: setsid() not reached
		}
		if !p.waitGone(700 * time.Millisecond) {
			syscall.Kill(-p.PID, syscall.SIGKILL)
			syscall.Kill(p.PID, syscall.SIGKILL)
			p.waitGone(2 * time.Second)
		}
	}
	if !wasOurs {
		// A master found dead long after a detached start: its PID may be
		// reused by now, so its group ID proves nothing. Leave it.
		return nil
	}
	// Children exit at their own pace once the master is gone.
	deadline := time.Now().Add(1500 * time.Millisecond)
	for len(groupMembers(p.PID)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(groupMembers(p.PID)) == 0 {
		return nil
	}
	syscall.Kill(-p.PID, syscall.SIGKILL)
	deadline = time.Now().Add(2 * time.Second)
	for len(groupMembers(p.PID)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if left := groupMembers(p.PID); len(left) > 0 {
		return fmt.Errorf("%s: processes %v of group %d survive SIGKILL", p.Name, left, p.PID)
	}
	return nil
}

type stat struct {
	state byte
	pgrp  int
	start uint64
}

// readStat parses /proc/PID/stat. The command name may hold spaces and
// parentheses, so fields are counted after the last ')'.
func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return stat{}, false
	}
	pgrp, _ := strconv.Atoi(f[2])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return stat{state: f[0][0], pgrp: pgrp, start: start}, true
}

func procStart(pid int) (uint64, bool) {
	st, ok := readStat(pid)
	return st.start, ok
}

// groupMembers lists the live (non-zombie) processes of process group pgid.
// Zombies are skipped: reparented children are reaped by PID 1, which in a
// container may never do it.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.pgrp == pgid && st.state != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// listening reports whether process pid holds a listening socket on each of
// the loopback TCP ports. Matching socket inodes (rather than connecting)
// proves the listener is this daemon's and leaves no "lost connection"
// noise in the logs.
func listening(pid int, ports ...int) bool {
	listeners := tcpListeners()
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return false
	}
	held := map[string]bool{}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name())); err == nil {
			if inode, ok := strings.CutPrefix(target, "socket:["); ok {
				held[strings.TrimSuffix(inode, "]")] = true
			}
		}
	}
	for _, port := range ports {
		inode, ok := listeners[port]
		if !ok || !held[inode] {
			return false
		}
	}
	return true
}

// tcpListeners maps each listening IPv4 TCP port to its socket inode.
func tcpListeners() map[int]string {
	out := map[int]string{}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 10 || fl[3] != "0A" { // 0A = TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(fl[1], ":")
		if !ok {
			continue
		}
		if port, err := strconv.ParseInt(hexPort, 16, 32); err == nil {
			out[int(port)] = fl[9]
		}
	}
	return out
}
