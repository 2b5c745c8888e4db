package submit

import (
	"bytes"
	"net"
	"sync"
	"time"
)

// deadlineConn is the TCP connection under everything (TLS included). Each
// Write gets its own deadline, because go-smtp clears all deadlines after
// the DATA command and would otherwise block forever on a server that
// stops reading the body. It also remembers whether any write failed, which
// tells "the final '.' was never fully written" (Deferred) apart from "the
// reply after '.' never came" (Uncertain).
type deadlineConn struct {
	net.Conn
	writeTimeout time.Duration

	mu          sync.Mutex
	writeFailed bool
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if c.writeTimeout > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
			c.markFailed()
			return 0, err
		}
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.markFailed()
	}
	return n, err
}

func (c *deadlineConn) markFailed() {
	c.mu.Lock()
	c.writeFailed = true
	c.mu.Unlock()
}

// resetWriteFailed starts a new observation window (before the body).
func (c *deadlineConn) resetWriteFailed() {
	c.mu.Lock()
	c.writeFailed = false
	c.mu.Unlock()
}

func (c *deadlineConn) failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeFailed
}

// replayConn hands go-smtp's Client a greeting it has already been given:
// we read the greeting (and, for STARTTLS, EHLO and STARTTLS) ourselves so
// each failure is attributed to its command, but go-smtp insists on reading
// a 220 before its first EHLO.
type replayConn struct {
	net.Conn
	pre *bytes.Reader
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.pre.Len() > 0 {
		return c.pre.Read(p)
	}
	return c.Conn.Read(p)
}

// oneByteReader makes a bufio.Reader read exactly up to the end of a reply
// and never beyond, so no byte a server sends before TLS can be mistaken
// for a reply after TLS (the STARTTLS response-injection attack).
type oneByteReader struct{ c net.Conn }

func (r oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return r.c.Read(p)
}
