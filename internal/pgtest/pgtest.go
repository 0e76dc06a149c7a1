// Package pgtest starts a private PostgreSQL server for tests and tools.
//
// The server lives in a temporary directory: initdb with trust
// authentication and the C locale, listening on a free loopback port with
// its Unix socket in the same directory, fsync off. PostgreSQL refuses to
// run as root; when the process is root, initdb and pg_ctl run as the
// "postgres" user (or $PGTEST_USER) and the directory is handed to it.
//
// Binaries are looked up in $PGTEST_BINDIR, then on PATH, then in
// /usr/lib/postgresql/<version>/bin (newest first). When they are missing,
// Start skips the test, unless $CI is set, in which case it fails it.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/viewd/viewd/internal/testenv"
)

// ErrNotFound is returned when no PostgreSQL binaries can be found.
var ErrNotFound = errors.New("pgtest: PostgreSQL binaries (initdb, pg_ctl) not found; install PostgreSQL or set PGTEST_BINDIR")

// Server is a running private PostgreSQL server.
type Server struct {
	binDir   string
	settings []string
	dir      string // the server's directory: data/, socket, log
	ownDir   bool   // dir was created by StartServer and is removed by Stop
	port     int
	cred     *syscall.Credential
	stopped  sync.Once
	stopErr  error
}

// Start starts a server for a test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t)
}

// StartWith is Start with extra server settings, each "name=value"
// (wal_level=logical for a logical replication upstream).
func StartWith(t testing.TB, settings ...string) *Server {
	t.Helper()
	if _, err := FindBinDir(); err != nil {
		testenv.SkipUnlessCI(t, "%v", err)
	}
	dir := ""
	if os.Geteuid() != 0 {
		// As root the directory must be reachable by the postgres user;
		// t.TempDir's parents are private to root, so StartServer makes
		// its own under os.TempDir().
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := StartServer(ctx, dir, settings...)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// FindBinDir returns the directory holding initdb and pg_ctl.
func FindBinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		if has(d) {
			return d, nil
		}
		return "", fmt.Errorf("pgtest: PGTEST_BINDIR=%s has no initdb and pg_ctl: %w", d, ErrNotFound)
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", ErrNotFound
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// StartServer initialises and starts a server in dir, which must be empty
// or absent (and, when running as root, reachable by the postgres user);
// with dir "" it uses a fresh temporary directory that Stop removes.
// settings are extra server settings, each "name=value". It returns once
// the server accepts connections.
func StartServer(ctx context.Context, dir string, settings ...string) (*Server, error) {
	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	for _, kv := range settings {
		if k, v, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsAny(kv, " '\"\\") || v == "" {
			return nil, fmt.Errorf("pgtest: bad setting %q: want name=value without spaces or quotes", kv)
		}
	}
	s := &Server{binDir: binDir, settings: settings}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return nil, err
		}
		s.cred = cred
	}
	if dir == "" {
		dir, err = os.MkdirTemp("", "pgtest-")
		if err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		s.ownDir = true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s.dir = dir
	if s.cred != nil {
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			s.cleanup()
			return nil, fmt.Errorf("pgtest: handing %s to uid %d: %w", dir, s.cred.Uid, err)
		}
	}
	if err := s.initdb(ctx); err != nil {
		s.cleanup()
		return nil, err
	}
	// A free port can be taken between choosing and binding it; retry.
	for attempt := 0; ; attempt++ {
		err = s.start(ctx)
		if err == nil {
			break
		}
		if attempt == 2 || ctx.Err() != nil {
			s.cleanup()
			return nil, err
		}
	}
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// unprivileged returns the credentials to run PostgreSQL under when the
// process is root.
func unprivileged() (*syscall.Credential, error) {
	name := os.Getenv("PGTEST_USER")
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root and PostgreSQL refuses to; no user %q to run it as (set PGTEST_USER): %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: user %s: %w", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logFile() string { return filepath.Join(s.dir, "postgres.log") }

// command builds a command for one of the PostgreSQL binaries, run as the
// unprivileged user when needed.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", "PGTZ=UTC")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: %s: %w\n%s", filepath.Base(cmd.Path), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

func (s *Server) initdb(ctx context.Context) error {
	return run(s.command(ctx, "initdb", "-D", s.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync"))
}

func (s *Server) start(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	// A Unix socket path must fit in sun_path (108 bytes); in a deep
	// directory, listen on TCP only.
	sockDir := s.dir
	if len(sockDir)+len("/.s.PGSQL.65535.lock") >= 100 || strings.ContainsAny(sockDir, " '\"") {
		sockDir = "''"
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s "+
		"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		port, sockDir)
	for _, kv := range s.settings {
		opts += " -c " + kv
	}
	// pg_ctl -w waits until the server accepts connections.
	return run(s.command(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", s.dataDir(), "-l", s.logFile(), "-o", opts))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := pgconn.Connect(cctx, s.URL())
		cancel()
		if err == nil {
			return c.Close(ctx)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: server did not accept connections: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Port is the TCP port the server listens on (on 127.0.0.1).
func (s *Server) Port() int { return s.port }

// URL is a connection URL for the postgres database as user postgres.
func (s *Server) URL() string { return s.ConnString("postgres") }

// ConnString is a connection URL for database db as user postgres.
func (s *Server) ConnString(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop stops the server (immediately: the data is throwaway) and removes
// its directory if StartServer created it. It is safe to call twice.
func (s *Server) Stop() error {
	s.stopped.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.stopErr = run(s.command(ctx, "pg_ctl", "stop", "-m", "immediate", "-w", "-D", s.dataDir()))
		s.cleanup()
	})
	return s.stopErr
}

func (s *Server) cleanup() {
	if s.ownDir {
		_ = os.RemoveAll(s.dir)
	}
}
