package wire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
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

	mu    sync.Mutex
	conns map[uint32]*conn // by backend process ID
	wg    sync.WaitGroup
}

// NewServer returns a server that runs sessions on backend. A nil logger
// discards logs.
func NewServer(backend Backend, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{backend: backend, log: logger, conns: make(map[uint32]*conn)}
}

// Serve accepts connections on ln until ctx is cancelled or ln fails. On
// cancellation it closes ln, ends every session with a FATAL 57P01
// (admin_shutdown) and returns nil once every connection goroutine has
// stopped. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
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
