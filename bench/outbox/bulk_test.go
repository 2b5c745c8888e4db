//go:build unix

// Postfix's smtp-sink and smtp-source, process groups: Unix only.

package outbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/mail"
	"mailroom/tracking"
	ob "mailroom/tracking/outbox"
	"mailroom/tracking/reports"
	"mailroom/tracking/store"
	"mailroom/tracking/view"
)

const (
	copies   = 5000
	size     = 5120
	sessions = 2
)

var (
	sinkBin   = "/usr/sbin/smtp-sink"
	sourceBin = "/usr/sbin/smtp-source"
)

func freePort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

// startSink runs smtp-sink on a loopback port until the benchmark ends,
// with extra options before the address.
func startSink(b *testing.B, extra ...string) string {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(b))
	args := append([]string{}, extra...)
	if os.Geteuid() == 0 {
		args = append(args, "-u", "postfix") // required as root
	}
	args = append(args, addr, "256")
	cmd := exec.Command(sinkBin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			b.Fatalf("smtp-sink did not start: %v\n%s", err, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reference times smtp-source: the same count, size and session count,
// each session reused (-d).
func reference(b *testing.B, addr string) time.Duration {
	start := time.Now()
	out, err := exec.Command(sourceBin, "-s", strconv.Itoa(sessions), "-d", "-m", strconv.Itoa(copies),
		"-l", strconv.Itoa(size), "-f", "alice@example.test", "-t", "bob@example.test",
		"-M", "bench.example.test", addr).CombinedOutput()
	if err != nil {
		b.Fatalf("smtp-source: %v\n%s", err, out)
	}
	return time.Since(start)
}

// bulkMessage is one message with a personalized ~5 KB copy per recipient.
func bulkMessage(run int) ob.Message {
	subj := fmt.Sprintf("bulk-%d-%d", run, time.Now().UnixNano())
	head := fmt.Sprintf("From: Alice <alice@example.test>\r\nSubject: Your invoice\r\nMessage-ID: <%s@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n", subj)
	line := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 2)[:70] + "\r\n"
	m := ob.Message{Account: "bench", From: "alice@example.test", Subject: "Your invoice", MessageID: "<" + subj + "@example.test>"}
	for i := 0; i < copies; i++ {
		to := fmt.Sprintf("user%d@example.test", i)
		var sb strings.Builder
		sb.WriteString(head)
		fmt.Fprintf(&sb, "To: <%s>\r\n\r\nDear user %d,\r\n", to, i)
		for sb.Len() < size-2 {
			sb.WriteString(line)
		}
		m.Copies = append(m.Copies, ob.Copy{EnvID: fmt.Sprintf("%s.%d", subj, i), TrackingID: strconv.Itoa(i),
			Body: []byte(sb.String()), Recipients: []ob.Recipient{{Address: to, Trackable: true}}})
	}
	return m
}

// nopSession accepts everything without a network: with it the outbox's
// rate is its database work alone (claim, body-sent mark, result).
type nopSession struct{}

func (nopSession) Send(ctx context.Context, env mail.Envelope, body io.Reader) (mail.SubmitResult, error) {
	io.Copy(io.Discard, body)
	res := mail.SubmitResult{BodySent: true, Final: &mail.Reply{Command: ".", Code: 250}}
	for _, a := range env.Recipients {
		res.Rcpts = append(res.Rcpts, mail.RcptResult{Address: a, Outcome: mail.Accepted, Reply: *res.Final})
	}
	return res, nil
}
func (nopSession) MaxSize() int64 { return 0 }
func (nopSession) Close() error   { return nil }

// clientOnly sends the same copies through mail/submit's sessions
// (sessions connections) without the outbox or a database: the ceiling of
// the outbox with this client.
func clientOnly(b *testing.B, addr string, m ob.Message) (wall, cpu time.Duration) {
	start, cpu0 := time.Now(), cpuTime()
	errs := make(chan error, sessions)
	for s := 0; s < sessions; s++ {
		go func(s int) {
			sess, err := plainDialer{addr}.Dial(context.Background(), "")
			if err != nil {
				errs <- err
				return
			}
			defer sess.Close()
			for k := s; k < len(m.Copies); k += sessions {
				c := m.Copies[k]
				env := mail.Envelope{From: m.From, EnvID: c.EnvID, Recipients: []string{c.Recipients[0].Address}}
				if _, err := sess.Send(context.Background(), env, bytes.NewReader(c.Body)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(s)
	}
	for s := 0; s < sessions; s++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start), cpuTime() - cpu0
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// viaOutbox enqueues the bulk message and sends it through the Runner
// (to the sink, or to nopSession when addr is empty); it returns the
// enqueue and send durations and the CPU time the send took.
func viaOutbox(b *testing.B, addr string, run int) (enq, send, sendCPU time.Duration) {
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(b.TempDir(), "bench.db"), sqlitedb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	st, err := store.OpenStore(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	// The same components as the app (app.Open): their migrations add the
	// search trigger and the indexes every enqueue and status change pays.
	if _, err := view.Open(ctx, st); err != nil {
		b.Fatal(err)
	}
	o, err := ob.Open(ctx, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := reports.Open(ctx, st); err != nil {
		b.Fatal(err)
	}
	p := ob.DefaultPolicy()
	p.MaxConnections = sessions
	o.Policy = &p
	m := bulkMessage(run)
	start := time.Now()
	id, err := o.Enqueue(ctx, m)
	if err != nil {
		b.Fatal(err)
	}
	enq = time.Since(start)
	var d ob.Dialer = plainDialer{addr}
	if addr == "" {
		d = ob.DialerFunc(func(context.Context, string) (mail.Session, error) { return nopSession{}, nil })
	}
	r := &ob.Runner{Outbox: o, Dialer: d}
	start, cpu0 := time.Now(), cpuTime()
	if err := r.RunOnce(ctx); err != nil {
		b.Fatal(err)
	}
	send, sendCPU = time.Since(start), cpuTime()-cpu0
	pr, err := o.Progress(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	if pr.ByStatus[tracking.Accepted] != copies {
		b.Fatalf("progress %+v: not everything accepted", pr)
	}
	return enq, send, sendCPU
}

func BenchmarkBulkSend(b *testing.B) {
	if testing.Short() {
		b.Skip("needs smtp-sink; skipped under -short")
	}
	if !plaintextBuild {
		b.Skip("run with -tags mailroom_plaintext_bench (scripts/bench.sh does): smtp-sink speaks no TLS, and only that tag gives mail/submit a plaintext dialer")
	}
	for _, bin := range []string{sinkBin, sourceBin} {
		if _, err := os.Stat(bin); err != nil {
			b.Skipf("%s missing (Debian package postfix): %v", bin, err)
		}
	}
	addr := startSink(b)
	// The same sink without PIPELINING (-p): the outbox as smtp-source
	// speaks, one command at a time.
	lockstepAddr := startSink(b, "-p")
	var ratios, rates, refRates, clientRatios, cpus, lockstepRatios []float64
	for i := 0; i < b.N; i++ {
		load := loadavg()
		// Each measurement starts with this process's garbage collected:
		// the collector would otherwise run beside smtp-source, on the
		// same two cores, with the previous round's garbage.
		runtime.GC()
		ref := reference(b, addr)
		msg := bulkMessage(i)
		runtime.GC()
		client, clientCPU := clientOnly(b, addr, msg)
		runtime.GC()
		enq, send, sendCPU := viaOutbox(b, addr, i)
		runtime.GC()
		_, dbOnly, dbCPU := viaOutbox(b, "", i)
		runtime.GC()
		enqL, sendL, _ := viaOutbox(b, lockstepAddr, i)
		refRate := float64(copies) / ref.Seconds()
		total := enq + send
		rate := float64(copies) / total.Seconds()
		sendRate := float64(copies) / send.Seconds()
		ratio := rate / refRate
		fmt.Printf("outbox bulk send: %d personalized copies of %d B, %d sessions, smtp-sink on loopback\n", copies, size, sessions)
		fmt.Printf("  smtp-source -> smtp-sink      %8.0f msg/s  (%v)\n", refRate, ref.Round(time.Millisecond))
		fmt.Printf("  outbox enqueue + send         %8.0f msg/s  (enqueue %v, send %v)\n", rate, enq.Round(time.Millisecond), send.Round(time.Millisecond))
		fmt.Printf("  outbox send only              %8.0f msg/s\n", sendRate)
		fmt.Printf("  outbox database work alone    %8.0f msg/s  (no-op session, no network)\n", float64(copies)/dbOnly.Seconds())
		clientRate := float64(copies) / client.Seconds()
		fmt.Printf("  submit client alone           %8.0f msg/s  (same copies, no outbox, no database: the ceiling, ratio %.2f)\n",
			clientRate, clientRate/refRate)
		lockstepRate := float64(copies) / (enqL + sendL).Seconds()
		fmt.Printf("  outbox, server without PIPELINING %4.0f msg/s  (enqueue + send, one command at a time as smtp-source: ratio %.2f)\n",
			lockstepRate, lockstepRate/refRate)
		fmt.Printf("  ratio outbox/smtp-source      %8.2f  (target >= 0.5)\n", ratio)
		fmt.Printf("  ratio outbox/client alone     %8.2f\n", rate/clientRate)
		perCopy := func(d time.Duration) float64 { return float64(d.Microseconds()) / copies }
		fmt.Printf("  CPU per copy, this process    outbox send %.0f us, database alone %.0f us, client alone %.0f us\n",
			perCopy(sendCPU), perCopy(dbCPU), perCopy(clientCPU))
		fmt.Printf("  load average                  %s before, %s after\n", load, loadavg())
		ratios, rates, refRates = append(ratios, ratio), append(rates, rate), append(refRates, refRate)
		clientRatios, cpus = append(clientRatios, clientRate/refRate), append(cpus, perCopy(sendCPU))
		lockstepRatios = append(lockstepRatios, lockstepRate/refRate)
	}
	if b.N > 1 {
		// Each round's ratio compares neighbours in time; the median of
		// those moves less with other work on the machine than one round.
		fmt.Printf("outbox bulk send, median of %d rounds: ratio %.2f (rounds %s; target >= 0.5), outbox %.0f msg/s, smtp-source %.0f msg/s; without PIPELINING ratio %.2f (rounds %s)\n",
			b.N, median(ratios), fmtRounds(ratios), median(rates), median(refRates), median(lockstepRatios), fmtRounds(lockstepRatios))
	}
	b.ReportMetric(median(rates), "msg/s")
	b.ReportMetric(median(refRates), "ref-msg/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(median(clientRatios), "client-ratio")
	b.ReportMetric(median(lockstepRatios), "lockstep-ratio")
	b.ReportMetric(median(cpus), "cpu-us/copy")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtRounds(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, ", ")
}
