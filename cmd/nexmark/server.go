package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/procstat"
)

// server is one viewd process on its own data directory.
type server struct {
	dir, addr, httpAddr, kafkaAddr string
	cmd                            *exec.Cmd
	exited                         chan struct{}
	conn                           *pgx.Conn
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer starts bin on dir (created if missing) and connects to it.
// With kafkaAddr, the embedded broker listens there (batches not fsynced:
// the topics are produced once, before any measurement). memLimit > 0 is
// viewd's --memory-limit in bytes.
func startServer(ctx context.Context, bin, dir, kafkaAddr string, workers int, memLimit int64) (*server, error) {
	s := &server{dir: dir, kafkaAddr: kafkaAddr}
	var err error
	if s.addr, err = freeAddr(); err != nil {
		return nil, err
	}
	if s.httpAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	args := []string{"--listen", s.addr, "--data-dir", filepath.Join(dir, "data"), "--http-listen", s.httpAddr, "--log-level", "warn"}
	if kafkaAddr != "" {
		args = append(args, "--embedded-kafka-listen", kafkaAddr, "--embedded-kafka-sync=false")
	} else {
		args = append(args, "--embedded-kafka-listen", "")
	}
	if workers > 0 {
		args = append(args, "--workers", strconv.Itoa(workers))
	}
	if memLimit > 0 {
		args = append(args, "--memory-limit", strconv.FormatInt(memLimit, 10))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "viewd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("viewd log: %w", err)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Its own process group: Ctrl-C reaches this command, which stops
	// viewd itself.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s.exited = make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cfg, err := pgx.ParseConfig("postgres://viewd@" + s.addr + "/viewd?sslmode=disable")
		if err != nil {
			s.stop()
			return nil, err
		}
		cfg.ConnectTimeout = 5 * time.Second
		if s.conn, err = pgx.ConnectConfig(ctx, cfg); err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("viewd exited during startup:\n%s", s.logTail(20))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("viewd did not accept connections within 2 minutes:\n%s", s.logTail(20))
		}
	}
}

// pid is the process id, or 0 once it has exited.
func (s *server) pid() int {
	select {
	case <-s.exited:
		return 0
	default:
		return s.cmd.Process.Pid
	}
}

// alive returns an error when the process has exited.
func (s *server) alive() error {
	if s.pid() == 0 {
		return fmt.Errorf("viewd exited:\n%s", s.logTail(20))
	}
	return nil
}

// stop sends SIGTERM, and SIGKILL after 10 s.
func (s *server) stop() {
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.conn.Close(ctx)
		cancel()
	}
	if s.pid() == 0 {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

// kill ends the process at once (past the RSS limit).
func (s *server) kill() {
	if pid := s.pid(); pid != 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// logTail returns the last n lines of the server's log.
func (s *server) logTail(n int) string {
	b, err := os.ReadFile(filepath.Join(s.dir, "viewd.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// usage is what a query cost the process.
type usage struct {
	wall    time.Duration
	cpu     time.Duration
	peakRSS int64
}

// meter measures the process from its creation to done.
type meter struct {
	s     *server
	start time.Time
	cpu0  int64
}

// startMeter resets the peak RSS and notes the CPU time and the clock.
func (s *server) startMeter() (*meter, error) {
	pid := s.pid()
	if pid == 0 {
		return nil, s.alive()
	}
	if err := procstat.ResetPeakRSS(pid); err != nil {
		return nil, err
	}
	cpu, err := procstat.CPUTicks(pid)
	if err != nil {
		return nil, err
	}
	return &meter{s: s, start: time.Now(), cpu0: cpu}, nil
}

func (m *meter) done() (usage, error) {
	wall := time.Since(m.start)
	pid := m.s.pid()
	if pid == 0 {
		return usage{}, m.s.alive()
	}
	cpu, err1 := procstat.CPUTicks(pid)
	peak, err2 := procstat.PeakRSS(pid)
	if err := errors.Join(err1, err2); err != nil {
		return usage{}, err
	}
	return usage{wall: wall, cpu: time.Duration(cpu-m.cpu0) * time.Second / procstat.TicksPerSecond, peakRSS: peak}, nil
}

// profile writes a CPU profile of the next secs seconds to path.
func (s *server) profile(ctx context.Context, secs int, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.httpAddr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profiling viewd: %w", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, resp.Body); err != nil {
		return fmt.Errorf("profiling viewd: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profiling viewd: %s: %s", resp.Status, strings.TrimSpace(buf.String()))
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// buildViewd builds ./cmd/viewd of the module in the working directory
// (or a parent) into dir.
func buildViewd(ctx context.Context, dir string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := wd
	for {
		if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/viewd/viewd\n")) {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", errors.New("not inside the viewd module: run from the repository or pass -viewd-bin")
		}
		root = parent
	}
	bin := filepath.Join(dir, "viewd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/viewd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/viewd: %w\n%s", err, bytes.TrimSpace(out))
	}
	return bin, nil
}
