package sqllogictest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A Target provides a fresh database for each file run.
type Target interface {
	// Open prepares a database for one run of one file. The returned
	// cleanup releases it.
	Open(ctx context.Context, name string) (Dialer, func(), error)
	// Close releases the target (for example stops a server it started).
	Close() error
}

// URLTarget runs files against an existing server. Each run gets a fresh
// database (CREATE DATABASE, dropped afterwards). If the server refuses to
// create databases, runs share the database of the URL, and the caller must
// run files one at a time and rely on them cleaning up after themselves.
type URLTarget struct {
	URL string
	Log *slog.Logger

	seq    atomic.Int64
	shared atomic.Bool
}

var _ Target = (*URLTarget)(nil)

// Open implements Target.
func (t *URLTarget) Open(ctx context.Context, name string) (Dialer, func(), error) {
	if t.shared.Load() {
		return PgDialer(t.URL), func() {}, nil
	}
	db := fmt.Sprintf("slt_%d_%d_%s", os.Getpid(), t.seq.Add(1), sanitize(name))
	if err := t.admin(ctx, "CREATE DATABASE "+db); err != nil {
		var se *ServerError
		if !errors.As(err, &se) {
			return nil, nil, err
		}
		t.shared.Store(true)
		t.logger().Warn("sqllogictest: cannot create a database per file; files share the URL's database",
			"err", err)
		return PgDialer(t.URL), func() {}, nil
	}
	cs, err := withDatabase(t.URL, db)
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := t.admin(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.logger().Warn("sqllogictest: dropping database", "db", db, "err", err)
		}
	}
	return PgDialer(cs), cleanup, nil
}

func (t *URLTarget) logger() *slog.Logger {
	if t.Log != nil {
		return t.Log
	}
	return slog.Default()
}

// admin runs one statement on a connection of its own.
func (t *URLTarget) admin(ctx context.Context, sql string) error {
	c, err := PgDialer(t.URL)(ctx)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		return fmt.Errorf("sqllogictest: %s: %w", sql, err)
	}
	return nil
}

// Shared reports whether runs share the URL's database because the server
// refused CREATE DATABASE. It is known after the first Open.
func (t *URLTarget) Shared() bool { return t.shared.Load() }

// Close implements Target.
func (t *URLTarget) Close() error { return nil }

// sanitize turns a file name into a lower-case identifier fragment.
func sanitize(name string) string {
	base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	var b strings.Builder
	for _, c := range strings.ToLower(base) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 30 {
			break
		}
	}
	return b.String()
}

// withDatabase replaces the database of a connection string.
func withDatabase(connString, db string) (string, error) {
	u, err := url.Parse(connString)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// keyword/value form: a later dbname wins.
		return connString + " dbname=" + db, nil
	}
	u.Path = "/" + db
	return u.String(), nil
}

// ViewdTarget starts a fresh viewd process, with a fresh data directory,
// for every file run.
type ViewdTarget struct {
	// Bin is the viewd binary.
	Bin string
	// User and Database are used in the connection URL.
	User, Database string
	// Args are extra command-line arguments for viewd.
	Args []string
	// StartTimeout bounds the wait for the server to accept connections.
	StartTimeout time.Duration
	Log          *slog.Logger
}

var _ Target = (*ViewdTarget)(nil)

// BuildViewd builds ./cmd/viewd of the repository at root into dir and
// returns the binary's path.
func BuildViewd(ctx context.Context, root, dir string) (string, error) {
	if fi, err := os.Stat(filepath.Join(root, "cmd", "viewd")); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("sqllogictest: %s/cmd/viewd does not exist (yet): pass --url or --postgres, or --viewd-bin", root)
	}
	bin := filepath.Join(dir, "viewd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/viewd")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("sqllogictest: building ./cmd/viewd: %w\n%s", err, out)
	}
	return bin, nil
}

// RepoRoot finds the root of the viewd module from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("sqllogictest: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/viewd/viewd\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("sqllogictest: not inside the viewd module (no go.mod for github.com/viewd/viewd)")
		}
		dir = parent
	}
}

// Open implements Target: it starts viewd on a free port with a fresh data
// directory and waits until it accepts connections.
func (t *ViewdTarget) Open(ctx context.Context, name string) (Dialer, func(), error) {
	dataDir, err := os.MkdirTemp("", "slt-viewd-"+sanitize(name)+"-")
	if err != nil {
		return nil, nil, fmt.Errorf("sqllogictest: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("sqllogictest: finding a free port: %w", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	logPath := filepath.Join(dataDir, "viewd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, nil, fmt.Errorf("sqllogictest: %w", err)
	}
	args := append([]string{"--listen", addr, "--data-dir", filepath.Join(dataDir, "data")}, t.Args...)
	cmd := exec.Command(t.Bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, nil, fmt.Errorf("sqllogictest: starting %s: %w", t.Bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
		_ = os.RemoveAll(dataDir)
	}
	user, db := t.User, t.Database
	if user == "" {
		user = "viewd"
	}
	if db == "" {
		db = "viewd"
	}
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: addr, Path: "/" + db, RawQuery: "sslmode=disable"}
	connString := u.String()
	timeout := t.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := pgconn.Connect(cctx, connString)
		cancel()
		if err == nil {
			_ = c.Close(ctx)
			break
		}
		select {
		case werr := <-exited:
			exited <- werr
			logTail, _ := os.ReadFile(logPath)
			stop()
			return nil, nil, fmt.Errorf("sqllogictest: viewd exited before accepting connections (%v); log:\n%s", werr, tail(logTail, 2000))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, nil, fmt.Errorf("sqllogictest: viewd did not accept connections on %s within %s: %w", addr, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return PgDialer(connString), stop, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Close implements Target.
func (t *ViewdTarget) Close() error { return nil }
