// Package viewdtest starts viewd servers for black-box tests: it builds
// ./cmd/viewd once per test binary, runs it on free loopback ports with a
// fresh data directory, and stops it when the test ends.
//
// go test's result cache does not know that such tests depend on the
// server's code: run them with -count=1 (as .ci/test does) after changing
// it.
package viewdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// Binary builds ./cmd/viewd (once per process) and returns its path. With
// VIEWD_TEST_RACE=1 the server is built with the race detector, so that
// black-box tests race-check the coordinator and the wire layer (CI runs
// tests/e2e that way).
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "viewdtest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "viewd")
		args := []string{"build", "-o", buildBin}
		if os.Getenv("VIEWD_TEST_RACE") == "1" {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/viewd")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("viewdtest: go build ./cmd/viewd: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/viewd/viewd\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("viewdtest: not inside the viewd module")
		}
		dir = parent
	}
}

// Server is a running viewd process.
type Server struct {
	Addr      string // pgwire host:port
	KafkaAddr string // embedded broker host:port, if started with one
	DataDir   string
	cmd       *exec.Cmd
	log       *bytes.Buffer
	logMu     *sync.Mutex
	exited    chan error
}

// Options configure Start.
type Options struct {
	// DataDir reuses a data directory (restart tests); empty means a fresh
	// temporary one.
	DataDir string
	// Kafka starts the embedded broker on a free port.
	Kafka bool
	// Args are extra command-line flags.
	Args []string
}

// FreeAddr returns a free loopback host:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Start runs viewd and waits until it accepts connections. The server is
// stopped (SIGTERM, then SIGKILL) when the test ends; its log is printed if
// the test failed.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := Binary(t)
	if o.DataDir == "" {
		o.DataDir = filepath.Join(t.TempDir(), "data")
	}
	s := &Server{Addr: FreeAddr(t), DataDir: o.DataDir, log: &bytes.Buffer{}, logMu: &sync.Mutex{}, exited: make(chan error, 1)}
	args := []string{"--listen", s.Addr, "--data-dir", o.DataDir, "--log-level", "debug"}
	if o.Kafka {
		s.KafkaAddr = FreeAddr(t)
		args = append(args, "--embedded-kafka-listen", s.KafkaAddr)
	} else {
		args = append(args, "--embedded-kafka-listen", "")
	}
	args = append(args, o.Args...)
	s.cmd = exec.Command(bin, args...)
	w := lockedWriter{mu: s.logMu, b: s.log}
	s.cmd.Stdout, s.cmd.Stderr = w, w
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("viewdtest: start viewd: %v", err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.Stop()
		if strings.Contains(s.Log(), "WARNING: DATA RACE") {
			// A server built with VIEWD_TEST_RACE=1 found a race.
			t.Errorf("viewdtest: the race detector reported a data race in viewd")
		}
		if t.Failed() {
			t.Logf("viewd log:\n%s", s.Log())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.exited:
			s.exited <- err
			t.Fatalf("viewdtest: viewd exited during startup: %v\n%s", err, s.Log())
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("viewdtest: viewd did not accept connections within 60s\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URL returns a connection URL for database viewd.
func (s *Server) URL() string {
	return "postgres://viewd@" + s.Addr + "/viewd?sslmode=disable"
}

// Connect opens a pgx connection, closed when the test ends.
func (s *Server) Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatalf("viewdtest: connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Pid returns the server's process ID (to read /proc/PID/status).
func (s *Server) Pid() int {
	if s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Log returns what the server has logged so far.
func (s *Server) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Stop terminates the server (SIGTERM, then SIGKILL after 10s).
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.exited <- err
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		err := <-s.exited
		s.exited <- err
	}
}

// Kill terminates the server at once (kill -9), for crash tests.
func (s *Server) Kill() {
	if s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	err := <-s.exited
	s.exited <- err
}
