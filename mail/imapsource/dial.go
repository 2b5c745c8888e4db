package imapsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"mailroom/mail"
)

// Dial connects to ep, protects the connection with TLS as ep.Security
// says, and authenticates with ep's credentials. It never authenticates
// over an unencrypted or unverified connection.
func Dial(ctx context.Context, ep mail.Endpoint, opt Options) (Source, error) {
	c, err := dial(ctx, ep, opt)
	if err != nil {
		return nil, err // never a typed nil inside the interface
	}
	return c, nil
}

// TLSConfig is the client TLS configuration for ep: certificates verified
// against opt.RootCAs, else ep.CAFile alone, else the system roots; TLS 1.2
// at least.
func TLSConfig(ep mail.Endpoint, opt Options) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: ep.Host, MinVersion: tls.VersionTLS12, RootCAs: opt.RootCAs}
	if cfg.RootCAs == nil && ep.CAFile != "" {
		pem, err := os.ReadFile(ep.CAFile)
		if err != nil {
			return nil, fmt.Errorf("imap: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("imap: CA file %s holds no PEM certificate", ep.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func dial(ctx context.Context, ep mail.Endpoint, opt Options) (*conn, error) {
	opt = opt.withDefaults()
	tlsCfg, err := TLSConfig(ep, opt)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opt.DialTimeout)
	defer cancel()

	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, fmt.Errorf("imap: connect %s: %w", ep.Addr(), err)
	}
	c := &conn{opt: opt, raw: &countingConn{Conn: raw}, changed: make(chan struct{}, 1)}
	// Until login completes, ctx bounds everything by closing the socket.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()

	copts := &imapclient.Options{
		TLSConfig: tlsCfg,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// EXISTS (new mail) and EXPUNGE during IDLE or NOOP wake
			// WaitForChange. The handler runs in the reader goroutine, so
			// it must not block: the channel holds one pending signal.
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					c.signal()
				}
			},
			Expunge: func(uint32) { c.signal() },
		},
	}
	switch ep.Security {
	case mail.ImplicitTLS:
		tc := tls.Client(c.raw, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("imap: TLS handshake with %s: %w", ep.Addr(), ctxErr(ctx, err))
		}
		c.client = imapclient.New(tc, copts)
		if err := c.client.WaitGreeting(); err != nil {
			c.client.Close()
			return nil, fmt.Errorf("imap: greeting: %w", ctxErr(ctx, err))
		}
	case mail.StartTLS:
		// NewStartTLS sends STARTTLS whatever the server advertises and
		// fails when the server refuses: there is no plaintext fallback.
		cl, err := imapclient.NewStartTLS(c.raw, copts)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("imap: STARTTLS with %s: %w", ep.Addr(), ctxErr(ctx, err))
		}
		c.client = cl
	default:
		raw.Close()
		return nil, fmt.Errorf("imap: security must be tls or starttls, not %q", ep.Security)
	}
	if err := c.login(ctx, ep); err != nil {
		c.client.Close()
		return nil, err
	}
	return c, nil
}

// login authenticates, preferring AUTHENTICATE PLAIN (RFC 4616) and falling
// back to LOGIN; by now the connection is TLS-protected and verified.
func (c *conn) login(ctx context.Context, ep mail.Endpoint) error {
	if c.client.State() == imap.ConnStateAuthenticated {
		return nil // PREAUTH over implicit TLS
	}
	if ep.Password == nil {
		return fmt.Errorf("imap: %w: no password source for %s", ErrAuthFailed, ep.Username)
	}
	pass, err := ep.Password(ctx)
	if err != nil {
		return fmt.Errorf("imap: password for %s: %w", ep.Username, err)
	}
	caps := c.client.Caps()
	switch {
	case caps.Has(imap.Cap("AUTH=PLAIN")):
		err = c.client.Authenticate(sasl.NewPlainClient("", ep.Username, pass))
	case caps.Has(imap.CapLoginDisabled):
		return fmt.Errorf("imap: %w: server offers neither AUTH=PLAIN nor LOGIN", ErrUnsupported)
	default:
		err = c.client.Login(ep.Username, pass).Wait()
	}
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) {
			// Only the server's NO/BAD means "wrong credentials"; the
			// words are the server's and hold no secret.
			return fmt.Errorf("%w as %s: %s", ErrAuthFailed, ep.Username, ie.Text)
		}
		return fmt.Errorf("imap: login: %w", ctxErr(ctx, err))
	}
	return nil
}

// conn implements Source over one imapclient.Client.
type conn struct {
	opt    Options
	raw    *countingConn
	client *imapclient.Client

	mu       sync.Mutex // serializes calls
	selected string
	readOnly bool
	broken   bool
	changed  chan struct{}

	bodies    atomic.Int64
	bodyBytes atomic.Int64
}

func (c *conn) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Stats reports the traffic of this connection so far.
func (c *conn) Stats() Stats {
	return Stats{
		BytesRead:     c.raw.read.Load(),
		BytesWritten:  c.raw.written.Load(),
		BodiesFetched: int(c.bodies.Load()),
		BodyBytes:     c.bodyBytes.Load(),
	}
}

// Broken reports whether the connection failed and must be redialed.
func (c *conn) Broken() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isBroken()
}

func (c *conn) isBroken() bool {
	if c.broken {
		return true
	}
	select {
	case <-c.client.Closed():
		c.broken = true
	default:
	}
	return c.broken
}

// begin serializes a call, bounds it by ctx and timeout (0: ctx only) and
// returns the function that ends it. When ctx ends first the socket is
// closed, which is the only way to interrupt a blocked IMAP read; the
// connection is broken from then on.
func (c *conn) begin(ctx context.Context, timeout time.Duration) (context.Context, func(*error), error) {
	c.mu.Lock()
	if c.isBroken() {
		c.mu.Unlock()
		return nil, nil, ErrBroken
	}
	cancel := func() {}
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	return ctx, func(errp *error) {
		fired := !stop()
		cancel()
		if *errp != nil {
			if fired {
				*errp = fmt.Errorf("%w (%v)", ctx.Err(), *errp)
			}
			if fired || !isServerRefusal(*errp) {
				c.broken = true
				c.raw.Close()
			}
		}
		c.mu.Unlock()
	}, nil
}

// isServerRefusal is true for errors after which the connection is still
// usable: a NO/BAD answer to one command, or our own per-message verdicts.
func isServerRefusal(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnsupported)
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// Close logs out politely (briefly) and closes the connection.
func (c *conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.isBroken() {
		done := make(chan struct{})
		go func() {
			c.client.Logout().Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	c.broken = true
	return c.client.Close()
}

// countingConn counts TCP payload bytes in each direction.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
}

func (cc *countingConn) Read(p []byte) (int, error) {
	n, err := cc.Conn.Read(p)
	cc.read.Add(int64(n))
	return n, err
}

func (cc *countingConn) Write(p []byte) (int, error) {
	n, err := cc.Conn.Write(p)
	cc.written.Add(int64(n))
	return n, err
}
