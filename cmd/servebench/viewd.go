package main

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
	"time"

	"github.com/viewd/viewd/internal/procstat"
)

// buildViewd builds ./cmd/viewd of the module containing the working
// directory into dir and returns the binary's path.
func buildViewd(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "viewd")
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/viewd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/viewd in %s: %w\n%s", root, err, bytes.TrimSpace(out))
	}
	return bin, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the viewd module: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/viewd/viewd\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the viewd module: run from the repository or pass -viewd-bin")
		}
		dir = parent
	}
}

// viewdProc is a viewd server process that can be stopped and started
// again on the same data directory and address.
type viewdProc struct {
	bin, dataDir, addr, logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	waitErr error
	killed  bool // servebench killed the running process
}

func newViewd(bin, dir string) (*viewdProc, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finding a free port for viewd: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return nil, fmt.Errorf("finding a free port for viewd: %w", err)
	}
	return &viewdProc{bin: bin, dataDir: filepath.Join(dir, "data"), addr: addr, logPath: filepath.Join(dir, "viewd.log")}, nil
}

// connString is a pgx connection string for database viewd as user viewd.
func (p *viewdProc) connString() string {
	return "postgres://viewd@" + p.addr + "/viewd?sslmode=disable"
}

// start runs the binary and returns once it accepts connections.
func (p *viewdProc) start(ctx context.Context) error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("viewd log: %w", err)
	}
	cmd := exec.Command(p.bin, "--listen", p.addr, "--data-dir", p.dataDir, "--embedded-kafka-listen", "")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C on the terminal reaches servebench,
	// which then stops viewd itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", p.bin, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.waitErr, p.killed = cmd, exited, nil, false
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(exited)
	}()
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for {
		if err := p.alive(); err != nil {
			return fmt.Errorf("viewd during startup: %w\n%s", err, p.logTail(20))
		}
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for viewd to listen: %w", ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("viewd did not listen on %s within 2 minutes\n%s", p.addr, p.logTail(20))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pid is the running process's id, or 0.
func (p *viewdProc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	select {
	case <-p.exited:
		return 0
	default:
	}
	return p.cmd.Process.Pid
}

// alive returns an error when the process is not running.
func (p *viewdProc) alive() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return errors.New("viewd is not started")
	}
	select {
	case <-p.exited:
		if p.killed {
			return errors.New("servebench killed viewd")
		}
		if p.waitErr != nil {
			return fmt.Errorf("viewd exited: %w", p.waitErr)
		}
		return errors.New("viewd exited")
	default:
		return nil
	}
}

// stop sends SIGTERM and waits up to grace for the process to exit, then
// kills it. It returns how long the process took to exit and whether it
// had to be killed.
func (p *viewdProc) stop(grace time.Duration) (time.Duration, bool) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return 0, false
	}
	start := time.Now()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
		return time.Since(start), false
	case <-time.After(grace):
	}
	p.kill()
	return time.Since(start), true
}

// kill sends SIGKILL and waits for the process to exit.
func (p *viewdProc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.killed = true
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

// logTail returns the last n lines of the server's log.
func (p *viewdProc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "viewd log (" + p.logPath + "):\n  " + strings.Join(lines, "\n  ")
}

// waitIdle waits until the process uses under 10% of one core over a
// second, for at most max. It returns how long that took and whether the
// process became idle.
func waitIdle(ctx context.Context, pid int, max time.Duration) (time.Duration, bool) {
	start := time.Now()
	prev, err := procstat.CPUTicks(pid)
	if err != nil {
		return 0, false
	}
	for time.Since(start) < max {
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(time.Second):
		}
		cur, err := procstat.CPUTicks(pid)
		if err != nil {
			return time.Since(start), false
		}
		if cur-prev < 10 {
			return time.Since(start), true
		}
		prev = cur
	}
	return time.Since(start), false
}
