package wire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Defaults of Server's limits.
const (
	// DefaultMaxMessageSize bounds a frontend message body (1 GiB in
	// PostgreSQL; viewd keeps it smaller).
	DefaultMaxMessageSize = 64 << 20
	// DefaultStartupTimeout bounds the time a client may take to complete
	// startup.
	DefaultStartupTimeout = 10 * time.Second
)

// Server accepts PostgreSQL connections and serves them with a Backend.
type Server struct {
	backend Backend
	log     *slog.Logger

	// MaxMessageSize bounds the body of a frontend message; set before
	// Serve. Zero means DefaultMaxMessageSize.
	MaxMessageSize int
	// StartupTimeout bounds the startup phase; set before Serve. Zero means
	// DefaultStartupTimeout.
	StartupTimeout time.Duration

	// Authentication (WithAuth): trust without an Authenticator unless
	// set.
	auth     Authenticator
	authMode AuthMode
	// mockSecret salts the mock SCRAM credentials of roles that cannot
	// log in by password.
	mockSecret [32]byte

	// TLS (WithTLS): tlsCfg is the prepared configuration (nil when TLS
	// is disabled); tlsEndpoint the certificate's tls-server-end-point
	// channel binding data, nil when unknown.
	tlsCfg      *tls.Config
	tlsMode     TLSMode
	tlsEndpoint []byte

	mu    sync.Mutex
	conns map[uint32]*conn // by backend process ID
	wg    sync.WaitGroup
}

// Option configures a Server. Options are checked together when Serve
// starts, which fails on a contradiction.
type Option interface{ apply(*Server) }

type optionFunc func(*Server)

func (f optionFunc) apply(s *Server) { f(s) }

// WithAuth sets how clients authenticate: mode, with roles looked up
// through a. AuthPassword needs an Authenticator. Without this option (or
// with a nil Authenticator in AuthTrust) every user name is accepted
// without a password and reported as a superuser.
func WithAuth(mode AuthMode, a Authenticator) Option {
	return optionFunc(func(s *Server) { s.authMode, s.auth = mode, a })
}

// WithTLS offers TLS with cfg (which must hold a certificate) under mode.
// TLSDisable ignores cfg. The server announces ALPN "postgresql", refuses
// TLS below 1.2, accepts PostgreSQL 17's direct TLS (a connection that
// starts with a ClientHello naming ALPN "postgresql") as well as
// SSLRequest, and offers SCRAM-SHA-256-PLUS when cfg holds exactly one
// certificate. Without this option TLS is disabled.
func WithTLS(cfg *tls.Config, mode TLSMode) Option {
	return optionFunc(func(s *Server) { s.tlsCfg, s.tlsMode = cfg, mode })
}

// NewServer returns a server that runs sessions on backend. A nil logger
// discards logs.
func NewServer(backend Backend, logger *slog.Logger, opts ...Option) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{backend: backend, log: logger, conns: make(map[uint32]*conn)}
	_, _ = rand.Read(s.mockSecret[:]) // crypto/rand never fails on supported platforms
	for _, o := range opts {
		o.apply(s)
	}
	return s
}

// validate checks the options together and prepares the TLS state.
func (s *Server) validate() error {
	if s.authMode == AuthPassword && s.auth == nil {
		return errors.New("wire: password authentication needs an Authenticator")
	}
	return s.prepareTLS()
}

// Serve accepts connections on ln until ctx is cancelled or ln fails. On
// cancellation it closes ln, ends every session with a FATAL 57P01
// (admin_shutdown) and returns nil once every connection goroutine has
// stopped. Serve closes ln. It fails at once, closing ln, when the
// options contradict each other.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.validate(); err != nil {
		ln.Close()
		return err
	}
	// Connections live under their own context, cancelled with the cause
	// errShutdown once ctx is done, so that they can tell a shutdown from
	// other cancellations.
	connCtx, cancelConns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelConns(errShutdown)
	stop := context.AfterFunc(ctx, func() {
		cancelConns(errShutdown)
		ln.Close()
	})
	defer stop()

	var retry time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				cancelConns(errShutdown)
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				retry = min(max(2*retry, 5*time.Millisecond), time.Second)
				s.log.Warn("wire: accept failed; retrying", "err", err, "in", retry)
				select {
				case <-time.After(retry):
				case <-ctx.Done():
				}
				continue
			}
			cancelConns(errShutdown)
			ln.Close()
			s.wg.Wait()
			return fmt.Errorf("wire: accept: %w", err)
		}
		retry = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(connCtx, nc)
		}()
	}
}

// register assigns a fresh process ID and secret key to c.
func (s *Server) register(c *conn) {
	var b [8]byte
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
		pid := binary.BigEndian.Uint32(b[:4]) & 0x7fffffff
		if pid == 0 || s.conns[pid] != nil {
			continue
		}
		c.pid = pid
		c.secret = append([]byte(nil), b[4:8]...)
		s.conns[pid] = c
		return
	}
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.pid] == c {
		delete(s.conns, c.pid)
	}
}

// cancel handles a CancelRequest: it cancels the statement running on the
// connection with that process ID and secret key, if any. As in
// PostgreSQL, a request with a wrong key is ignored silently.
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.conns[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(c.secret, secret) != 1 {
		s.log.Debug("wire: cancel request for unknown session", "pid", pid)
		return
	}
	c.cancelRunning()
}
