package mailstack

import (
	"net"
	"testing"
)

// TestPortCollisionRetry occupies a port handed to the first attempt, as a
// parallel test binary might between freePorts and the bind: the start must
// succeed on fresh ports, whether Postfix (SMTP) or Dovecot (IMAPS) lost.
func TestPortCollisionRetry(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postfix and Dovecot (internal/mailstack)")
	}
	t.Parallel()
	for _, idx := range []int{0, 4} {
		t.Run([]string{"smtp", "", "", "", "imaps"}[idx], func(t *testing.T) { testCollision(t, idx) })
	}
}

func testCollision(t *testing.T, idx int) {
	c := defaultConfig()
	bin, err := findPrereqs(false)
	if err != nil {
		t.Skip(err)
	}
	c.bin = bin
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	calls := 0
	c.pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 && err == nil {
			ports[idx] = taken.Addr().(*net.TCPAddr).Port
		}
		return ports, err
	}
	s, err := launch(c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if calls != 2 {
		t.Fatalf("picked ports %d times, want 2", calls)
	}
	for _, a := range []string{s.SMTPAddr, s.IMAPSAddr} {
		if a == taken.Addr().String() {
			t.Fatalf("stack listens on the taken port %s", a)
		}
	}
}
