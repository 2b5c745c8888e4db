package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"mailroom/internal/mailstack"
	"mailroom/tracking"
)

// TestOpenTrackingEndToEnd: a tracked message goes through the real
// Postfix; the pixel is taken from the copy delivered to bob's Maildir and
// fetched as Gmail's image proxy and as a browser; the built-in tracker
// records both, and the sync labels one machine-or-proxy. The recipient
// that bounces shows no open, and the Sent copy carries no pixel.
func TestOpenTrackingEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postfix and Dovecot")
	}
	st := mailstack.Start(t)
	dir := t.TempDir()
	_, port, _ := strings.Cut(st.SMTPSAddr, ":")
	_, iport, _ := strings.Cut(st.IMAPSAddr, ":")
	must := func(args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, dir, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		return out
	}
	must("account", "add", "work", "--email", "alice@example.test", "--smtp", "localhost:"+port, "--smtp-security", "tls",
		"--imap", "localhost:"+iport, "--imap-security", "tls", "--username", "alice", "--password-command", "echo alicepass",
		"--ca-file", st.CAFile)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	trackerAddr := l.Addr().String()
	l.Close()
	must("config", "set", "tracking.mode", "builtin")
	must("config", "set", "tracking.listen", trackerAddr)
	must("config", "set", "tracking.base_url", "http://"+trackerAddr)

	md := filepath.Join(dir, "body.md")
	os.WriteFile(md, []byte("Hello Bob,\n\nyour **invoice** is attached. See [the portal](https://portal.example.com/inv/7).\n"), 0o600)
	id := strings.TrimSpace(must("send", "--account", "work", "--to", "bob@example.test", "--to", "unknown@example.test",
		"--subject", "Tracked invoice", "--markdown-file", md, "--track-opens"))

	// The long-running worker serves the built-in tracker and sends.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		var out, errb bytes.Buffer
		done <- Run(ctx, &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, DataDir: dir}, []string{"run"})
	}()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	defer stop()

	statusOf := func() map[string]tracking.RecipientStatus {
		var msgs []tracking.MessageStatus
		json.Unmarshal([]byte(must("status", id, "--json")), &msgs)
		m := map[string]tracking.RecipientStatus{}
		for _, r := range msgs[0].Recipients {
			m[r.Address] = r
		}
		return m
	}
	var acceptedAt time.Time
	waitFor(t, 60*time.Second, "bob accepted", func() bool {
		for _, e := range statusOf()["bob@example.test"].Events {
			if e.Kind == tracking.EvAccepted {
				acceptedAt = e.At
				return true
			}
		}
		return false
	})
	delivered := st.WaitMessages(t, "bob", 1, 30*time.Second)
	pixel := pixelURL(t, delivered[0])
	if !strings.HasPrefix(pixel, "http://"+trackerAddr+"/o/") {
		t.Fatalf("pixel URL %q does not point at the built-in tracker", pixel)
	}
	// Hits within seconds of acceptance are judged scanners; wait that out
	// so the browser's hit can count as a person.
	if wait := time.Until(acceptedAt.Add(31 * time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	for _, ua := range []string{
		"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	} {
		req, _ := http.NewRequest("GET", pixel, nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" {
			t.Fatalf("pixel answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	stop() // the tracker's database keeps the hits; the next syncs read it
	waitFor(t, 60*time.Second, "opens synced and the bounce matched", func() bool {
		runCLI(t, dir, "", "run", "--once")
		s := statusOf()
		return s["bob@example.test"].Opens.Total == 2 && s["unknown@example.test"].Status == tracking.Bounced
	})
	s := statusOf()
	if o := s["bob@example.test"].Opens; o.Machine != 1 || o.Human != 1 {
		t.Fatalf("bob's opens = %+v; want one machine-or-proxy (Google) and one human-likely (browser)", o)
	}
	if o := s["unknown@example.test"].Opens; o.Total != 0 {
		t.Fatalf("the bounced copy registered %d opens", o.Total)
	}
	if !s["bob@example.test"].Trackable {
		t.Fatal("bob's copy should be marked trackable")
	}
	sent, _ := filepath.Glob(filepath.Join(st.MaildirPath("alice"), ".Sent", "cur", "*"))
	if len(sent) != 1 {
		t.Fatalf("alice's Sent has %d messages", len(sent))
	}
	b, _ := os.ReadFile(sent[0])
	if bytes.Contains(b, []byte("/o/")) || bytes.Contains(b, []byte("X-Mailroom-Tracking-Id")) {
		t.Fatal("the Sent copy carries the pixel or the tracking header")
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

var imgSrc = regexp.MustCompile(`<img[^>]+src="([^"]+/o/[^"]+\.gif)"`)

// pixelURL finds the tracking image in the HTML part of a delivered file.
func pixelURL(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ent, err := message.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	var found string
	ent.Walk(func(_ []int, e *message.Entity, err error) error {
		if err != nil {
			return err
		}
		if mt, _, _ := e.Header.ContentType(); mt == "text/html" {
			b, _ := io.ReadAll(e.Body)
			if m := imgSrc.FindSubmatch(b); m != nil {
				found = strings.ReplaceAll(string(m[1]), "&amp;", "&")
			}
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no tracking pixel in %s", path)
	}
	return found
}
