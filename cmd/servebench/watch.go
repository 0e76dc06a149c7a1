package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/viewd/viewd/internal/procstat"
)

// errRSS is the cause of a step cancelled because viewd's memory passed
// the limit.
var errRSS = errors.New("viewd's RSS passed -max-rss")

// watchdog samples viewd's RSS every 50 ms for the whole run. When it
// passes the limit, the running step is cancelled; if it is still past the
// limit 5 s later (or ever passes 1.5 times the limit), viewd is killed. The machine is shared: a benchmark
// must not push it into swap or the OOM killer.
type watchdog struct {
	proc  *viewdProc
	limit int64

	mu       sync.Mutex
	cancel   context.CancelCauseFunc // of the running step, or nil
	overTime time.Time               // when RSS first passed the limit, or zero
	peak     int64                   // highest RSS seen
	tripped  int                     // how many times the limit was passed
	kills    int                     // how many times viewd was killed
}

func (w *watchdog) run(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pid := w.proc.pid()
		if pid == 0 {
			continue
		}
		rss, err := procstat.RSS(pid)
		if err != nil {
			continue
		}
		w.mu.Lock()
		if rss > w.peak {
			w.peak = rss
		}
		var kill bool
		if rss > w.limit {
			if w.overTime.IsZero() {
				w.overTime = time.Now()
				w.tripped++
				log.Printf("viewd's RSS is %s, past -max-rss %s: cancelling the step", mib(rss), mib(w.limit))
			}
			if w.cancel != nil {
				w.cancel(fmt.Errorf("%w (%s > %s)", errRSS, mib(rss), mib(w.limit)))
			}
			kill = time.Since(w.overTime) > 5*time.Second || rss > w.limit/2*3
		} else {
			w.overTime = time.Time{}
		}
		w.mu.Unlock()
		if kill {
			w.mu.Lock()
			w.kills++
			w.mu.Unlock()
			log.Printf("viewd's RSS is %s, still past -max-rss after the cancel: killing it", mib(rss))
			w.proc.kill()
		}
	}
}

// step returns a context for one viewd step: cancelled when ctx is, when
// timeout passes, or when viewd's RSS passes the limit (with cause errRSS).
func (w *watchdog) step(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	cctx, cancelCause := context.WithCancelCause(ctx)
	tctx, cancelTimeout := context.WithTimeout(cctx, timeout)
	w.mu.Lock()
	w.cancel = cancelCause
	w.mu.Unlock()
	return tctx, func() {
		cancelTimeout()
		cancelCause(context.Canceled)
		w.mu.Lock()
		w.cancel = nil
		w.mu.Unlock()
	}
}

// peakRSS returns the highest RSS seen so far.
func (w *watchdog) peakRSS() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

// counts returns how many times the limit was passed and viewd killed.
func (w *watchdog) counts() (tripped, kills int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tripped, w.kills
}

// samplePeak samples a process's RSS every 50 ms until the returned
// function is called, which returns the highest value seen (0 if none).
func samplePeak(pid int) func() int64 {
	done := make(chan struct{})
	result := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, err := procstat.RSS(pid); err == nil && rss > peak {
				peak = rss
			}
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-result
	}
}
