package coord

import (
	"testing"
	"time"
)

// TestLoadWindow: the memory loop holds its release while sources apply
// bulkUpdates or more updates per window (however often it is woken
// within one), and releases once a full window was quiet.
func TestLoadWindow(t *testing.T) {
	var w loadWindow
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	steps := []struct {
		at      time.Duration
		applied int64
		want    bool
	}{
		{0, 0, false},
		{100 * time.Millisecond, 10, false},                         // a trickle
		{time.Second, bulkUpdates + 10, true},                       // bulk within the window
		{time.Second + 20*time.Millisecond, bulkUpdates + 20, true}, // a kick right after
		{2 * time.Second, 2 * bulkUpdates, true},                    // the window was bulk
		{2*time.Second + 20*time.Millisecond, 2 * bulkUpdates, true},
		{4 * time.Second, 2*bulkUpdates + 5, false}, // a quiet window: release
		{4*time.Second + 20*time.Millisecond, 2*bulkUpdates + 5, false},
		{5 * time.Second, 3*bulkUpdates + 5, true}, // a new load
	}
	for i, s := range steps {
		if got := w.bulk(at(s.at), s.applied); got != s.want {
			t.Fatalf("step %d (at %s, %d applied): bulk %v, want %v", i, s.at, s.applied, got, s.want)
		}
	}
}
