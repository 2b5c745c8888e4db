package submit

import (
	"bytes"
	"net"
	"time"
)

// deadlineConn is the TCP connection under everything (TLS included).
// Each Write gets its own deadline: the session sets read deadlines for
// each reply only, so a server that stops reading a command or the body
// would otherwise block a write forever.
type deadlineConn struct {
	net.Conn
	writeTimeout time.Duration
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if c.writeTimeout > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
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
