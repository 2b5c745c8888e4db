package smtptest

import (
	"bufio"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailroom/mail"
)

// connState is what the proxy tells the backend about one connection.
type connState struct {
	id  int
	mu  sync.Mutex
	dot *Fault // fault decided for the "." being forwarded, taken by Data
}

func (c *connState) setDot(f *Fault) {
	c.mu.Lock()
	c.dot = f
	c.mu.Unlock()
}

func (c *connState) takeDot() *Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.dot
	c.dot = nil
	return f
}

// recConn records the bytes read from the client into dst and, when
// replies is set, the bytes written to it.
type recConn struct {
	net.Conn
	s       *Server
	dst     *[]byte
	replies *[]byte
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.s.mu.Lock()
		*c.dst = append(*c.dst, p[:n]...)
		c.s.mu.Unlock()
	}
	return n, err
}

func (c *recConn) Write(p []byte) (int, error) {
	if c.replies != nil {
		c.s.mu.Lock()
		*c.replies = append(*c.replies, p...)
		c.s.mu.Unlock()
	}
	return c.Conn.Write(p)
}

// proxy is the per-connection line-level layer in front of go-smtp.
type proxy struct {
	s      *Server
	id     int
	tr     *Transcript
	cl     net.Conn      // the client, clear text (TLS terminated)
	br     *bufio.Reader // reads cl
	counts map[string]int
}

func (s *Server) serveConn(id int, tr *Transcript, raw net.Conn) {
	rawRec := &recConn{Conn: raw, s: s, dst: &tr.Raw}
	p := &proxy{s: s, id: id, tr: tr, counts: map[string]int{}}
	implicit := s.cfg.Security == mail.ImplicitTLS
	if implicit {
		tc, ok := p.handshake(rawRec)
		if !ok {
			return
		}
		p.setClient(tc)
	} else {
		p.setClient(rawRec)
	}
	if f := p.fault("CONNECT", ""); f != nil {
		handled, alive := p.applyFault("CONNECT", f)
		if !alive {
			return
		}
		if handled {
			p.refuseAll()
			return
		}
	}
	if !implicit && !p.plainPhase(rawRec) {
		return
	}
	p.relay(!implicit)
}

func (p *proxy) setClient(c net.Conn) {
	p.cl = &recConn{Conn: c, s: p.s, dst: &p.tr.Plain, replies: &p.tr.Replies}
	p.br = bufio.NewReader(p.cl)
}

// handshake terminates TLS on the raw connection.
func (p *proxy) handshake(raw net.Conn) (*tls.Conn, bool) {
	tc := tls.Server(raw, p.s.tls)
	raw.SetDeadline(time.Now().Add(p.s.cfg.IdleTimeout))
	err := tc.Handshake()
	raw.SetDeadline(time.Time{})
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if err != nil {
		p.tr.HandshakeErr = err.Error()
		return nil, false
	}
	p.tr.TLS = true
	return tc, true
}

func (p *proxy) write(s string) bool {
	_, err := p.cl.Write([]byte(s))
	return err == nil
}

func (p *proxy) readLine() (string, bool) {
	p.cl.SetReadDeadline(time.Now().Add(p.s.cfg.IdleTimeout))
	line, err := p.br.ReadString('\n')
	return line, err == nil
}

// countPipelined counts a command read while more of the client's bytes
// were already waiting.
func (p *proxy) countPipelined() {
	if p.br.Buffered() > 0 {
		p.s.mu.Lock()
		p.tr.Pipelined++
		p.s.mu.Unlock()
	}
}

func (p *proxy) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-p.s.done:
		return false
	}
}

// fault counts the command and finds the fault to apply, if any.
func (p *proxy) fault(verb, arg string) *Fault {
	switch verb {
	case "MAIL", "RSET", "EHLO", "HELO":
		p.counts["RCPT"] = 0 // RCPT is counted per transaction
	}
	p.counts[verb]++
	return p.s.match(verb, arg, p.counts[verb])
}

// applyFault plays a fault. handled: a reply replaced the normal one;
// alive: the connection goes on.
func (p *proxy) applyFault(verb string, f *Fault) (handled, alive bool) {
	if f == nil {
		return false, true
	}
	if f.Delay > 0 && !p.sleep(f.Delay) {
		return true, false
	}
	if f.Disconnect {
		return true, false
	}
	if f.Code == 0 {
		return false, true
	}
	if !p.write(f.line(verb)) || f.Code == 421 || f.Close {
		return true, false
	}
	return true, true
}

// refuseAll is the rest of a conversation after a failed greeting
// (RFC 5321 3.1: wait for QUIT, refuse the rest).
func (p *proxy) refuseAll() {
	for {
		line, ok := p.readLine()
		if !ok {
			return
		}
		if verb, _ := splitCmd(line); verb == "QUIT" {
			p.write("221 2.0.0 Bye\r\n")
			return
		}
		if !p.write("503 5.5.1 No service\r\n") {
			return
		}
	}
}

// plainPhase speaks the clear-text part of a STARTTLS session by hand and
// returns after a successful TLS handshake.
func (p *proxy) plainPhase(raw net.Conn) bool {
	if !p.write("220 localhost ESMTP smtptest\r\n") {
		return false
	}
	for {
		line, ok := p.readLine()
		if !ok {
			return false
		}
		verb, arg := splitCmd(line)
		handled, alive := p.applyFault(verb, p.fault(verb, arg))
		if !alive {
			return false
		}
		if handled {
			continue
		}
		switch verb {
		case "EHLO", "HELO":
			caps := []string{"localhost", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE"}
			if p.s.cfg.NoSTARTTLS {
				caps = append(caps, "AUTH PLAIN LOGIN") // the trap
			} else {
				caps = append(caps, "STARTTLS")
			}
			p.write(multiline(250, caps))
		case "STARTTLS":
			if p.s.cfg.NoSTARTTLS {
				p.write("502 5.5.1 STARTTLS not available\r\n")
				continue
			}
			p.write("220 2.0.0 Ready to start TLS\r\n")
			// Whatever the client pipelined after STARTTLS is dropped with
			// the clear-text reader (RFC 3207 section 5 / CVE-2011-0411).
			tc, ok := p.handshake(raw)
			if !ok {
				return false
			}
			p.setClient(tc)
			p.counts = map[string]int{"EHLO": p.counts["EHLO"]}
			return true
		case "AUTH":
			mech, _, _ := strings.Cut(arg, " ")
			p.s.mu.Lock()
			p.s.auths = append(p.s.auths, AuthAttempt{Conn: p.id, Mechanism: strings.ToUpper(mech), InClear: true})
			p.s.mu.Unlock()
			p.write("530 5.7.0 Must issue a STARTTLS command first\r\n")
		case "QUIT":
			p.write("221 2.0.0 Bye\r\n")
			return false
		case "NOOP", "RSET":
			p.write("250 2.0.0 OK\r\n")
		default:
			p.write("530 5.7.0 Must issue a STARTTLS command first\r\n")
		}
	}
}

// relay connects the client to go-smtp through a pipe and passes commands
// and replies, applying faults. dropGreeting: after STARTTLS the client
// expects no second greeting.
func (p *proxy) relay(dropGreeting bool) {
	s := p.s
	srvEnd, prxEnd := net.Pipe()
	defer prxEnd.Close()
	st := &connState{id: p.id}
	s.mu.Lock()
	s.conns[srvEnd] = st
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, srvEnd)
		s.mu.Unlock()
	}()
	select {
	case s.pipe.ch <- srvEnd:
	case <-s.done:
		return
	}
	// Close the pipe when the server stops, to unblock go-smtp.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-s.done:
			prxEnd.Close()
		case <-stop:
		}
	}()

	sr := bufio.NewReader(prxEnd)
	greeting, _, ok := readReply(sr)
	if !ok || (!dropGreeting && !p.write(greeting)) {
		return
	}
	for {
		line, ok := p.readLine()
		if !ok {
			return
		}
		p.countPipelined()
		verb, arg := splitCmd(line)
		handled, alive := p.applyFault(verb, p.fault(verb, arg))
		if !alive {
			return
		}
		if handled {
			continue
		}
		if _, err := prxEnd.Write([]byte(line)); err != nil {
			return
		}
		reply, code, ok := readReply(sr)
		if !ok {
			return
		}
		switch {
		case verb == "AUTH":
			// SASL exchange: relay responses while the server says 334.
			for code == 334 {
				if !p.write(reply) {
					return
				}
				if line, ok = p.readLine(); !ok {
					return
				}
				if _, err := prxEnd.Write([]byte(line)); err != nil {
					return
				}
				if reply, code, ok = readReply(sr); !ok {
					return
				}
			}
		case verb == "DATA" && code == 354:
			if !p.write(reply) {
				return
			}
			var f *Fault
			if reply, code, f, ok = p.body(sr, prxEnd, st); !ok {
				return
			}
			if f != nil && f.Close {
				p.write(reply)
				return
			}
		}
		if (verb == "EHLO" || verb == "HELO") && s.cfg.NoPipelining {
			reply = withoutKeyword(reply, "PIPELINING")
		}
		if !p.write(reply) || code == 421 || verb == "QUIT" {
			return
		}
	}
}

// withoutKeyword removes one keyword's line from an EHLO reply.
func withoutKeyword(reply, keyword string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(reply, "\r\n"), "\r\n") {
		if text := l[min(4, len(l)):]; !strings.EqualFold(text, keyword) {
			lines = append(lines, text)
		}
	}
	return multiline(250, lines)
}

// body relays the message up to ".", decides the "." fault, and returns
// the reply to send and the fault played (ok false: close without a reply).
func (p *proxy) body(sr *bufio.Reader, srv net.Conn, st *connState) (reply string, code int, f *Fault, ok bool) {
	for {
		var line string
		if line, ok = p.readLine(); !ok {
			return "", 0, nil, false
		}
		if line != ".\r\n" {
			if _, err := srv.Write([]byte(line)); err != nil {
				return "", 0, nil, false
			}
			continue
		}
		f = p.fault(".", "")
		p.counts["RCPT"] = 0
		st.setDot(f)
		if _, err := srv.Write([]byte(line)); err != nil {
			return "", 0, nil, false
		}
		reply, code, ok = readReply(sr)
		if !ok {
			return "", 0, nil, false
		}
		delay := p.s.cfg.FinalReplyDelay
		if f != nil {
			delay += f.Delay
		}
		if delay > 0 && !p.sleep(delay) {
			return "", 0, nil, false
		}
		if f != nil && f.Disconnect {
			return "", 0, nil, false
		}
		return reply, code, f, true
	}
}

// readReply reads one (possibly multi-line) reply from go-smtp.
func readReply(r *bufio.Reader) (string, int, bool) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", 0, false
		}
		b.WriteString(line)
		if len(line) < 4 || line[3] != '-' {
			code := 0
			for _, c := range line[:min(3, len(line))] {
				code = code*10 + int(c-'0')
			}
			return b.String(), code, true
		}
	}
}

func splitCmd(line string) (verb, arg string) {
	line = strings.TrimRight(line, "\r\n")
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), arg
}

func multiline(code int, lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		b.WriteString(strconv.Itoa(code) + sep + l + "\r\n")
	}
	return b.String()
}
