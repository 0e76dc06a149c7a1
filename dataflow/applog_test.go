package dataflow

import (
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/viewd/viewd/repr"
)

// appendHistory is the naive model of an append log: every update sent,
// with its time.
type appendHistory []repr.Update

func (h appendHistory) asOf(t repr.Timestamp) coll {
	out := coll{}
	for _, u := range h {
		if u.Time <= t {
			out.add(u.Row, u.Diff)
		}
	}
	return out
}

// scanColl sums a reader's scan as of t.
func scanColl(t *testing.T, r *OutputReader, at repr.Timestamp) coll {
	t.Helper()
	out := coll{}
	if err := r.Scan(at, func(row repr.Row, d repr.Diff) bool {
		if d == 0 {
			t.Fatalf("scan gave a zero multiplicity for %v", ints(string(row)))
		}
		out.add(row, d)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// cursorColl walks a cursor, checking the rows come in order.
func cursorColl(t *testing.T, r *OutputReader, at repr.Timestamp) coll {
	t.Helper()
	c, err := r.Cursor(at)
	if err != nil {
		t.Fatal(err)
	}
	out := coll{}
	var prev string
	for ; c.KeyValid(); c.StepKey() {
		if k := string(c.Key()); prev != "" && k <= prev {
			t.Fatalf("cursor keys out of order")
		}
		prev = string(c.Key())
		if n := c.Count(); n != 0 {
			out.add(c.Key(), n)
		}
	}
	return out
}

// TestOracleAppendLog feeds random append streams (and, in some cases,
// retractions) to an append-only output and an arranged one, and at every
// step compares reads at random readable times (Read, a held reader's
// Scan, Cursor and Count, readers held across later steps) and graphs
// importing the output (one following every step, one whose first step
// is in the past, one created late) with a naive recomputation from the
// whole history. Segments are shrunk so that a step spans several.
func TestOracleAppendLog(t *testing.T) {
	defer func(n int) { logSegBytes = n }(logSegBytes)
	forSeeds(t, 40, func(t *testing.T, seed uint64, w int) {
		// A quarter of the seeds retract (a log that must consolidate its reads).
		logSegBytes = 16 << (seed % 5) // 16 to 256 bytes: a few rows each
		testAppendLogCase(t, seed, w, seed%4 == 3)
	})
}

func testAppendLogCase(t *testing.T, seed uint64, w int, retract bool) {
	ctx := t.Context()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d W=%d retract=%v: %s", seed, w, retract, fmt.Sprintf(format, args...))
	}
	gn := newGen(seed, 8)
	gn.appendOnly = !retract
	// The arrangement's loader warns of the unsorted snapshot.
	g := NewGraph(Options{Workers: w, ParallelMin: 8, Logger: slog.New(slog.DiscardHandler)})
	in := g.NewInput("in", 2)
	log := in.Collection().MaterializeAppendOnly(0)
	arr := in.Collection().Materialize(0)
	if log.Ordered() || !arr.Ordered() {
		fail("Ordered: log %v, arrangement %v", log.Ordered(), arr.Ordered())
	}

	// A snapshot loaded before the first step, in no order, with a row
	// twice: it lands at the first step's time.
	var hist appendHistory
	cur := coll{}
	loadLog, loadArr := log.Loader("log"), arr.Loader("arr")
	if gn.r.IntN(2) == 0 {
		ups := gn.updates(cur, 2, 12)
		if len(ups) > 0 {
			ups = append(ups, ups[0])
		}
		for _, u := range ups {
			loadLog.Push(u.Row, nil, u.Diff)
			loadArr.Push(u.Row, nil, u.Diff)
			hist = append(hist, repr.Update{Row: u.Row, Diff: u.Diff}) // time set at the first step
			cur.add(u.Row, u.Diff)
		}
	}
	if _, err := loadLog.Finish(); err != nil {
		fail("load: %v", err)
	}
	if _, err := loadArr.Finish(); err != nil {
		fail("load: %v", err)
	}
	loaded := len(hist)

	// g2 imports the log and is stepped at every step; late ones are
	// made after some steps, their first step in the past.
	g2 := NewGraph(Options{Workers: w, ParallelMin: 8})
	imp, err := g2.ImportOutput(log)
	if err != nil {
		fail("import: %v", err)
	}
	impOut := imp.Materialize(0)
	errsOnly, err := g2.ImportOutputErrors(log)
	if err != nil {
		fail("import errors: %v", err)
	}
	errsOut := errsOnly.Materialize(0)
	defer g2.Close()

	type held struct {
		r  *OutputReader
		at repr.Timestamp
	}
	var holds []held
	defer func() {
		for _, h := range holds {
			h.r.Release()
		}
	}()
	var times []repr.Timestamp
	ts := repr.Timestamp(0)
	for s := range 30 {
		ts += repr.Timestamp(1 + gn.r.IntN(3))
		if s == 0 {
			for i := range loaded {
				hist[i].Time = ts
			}
		}
		if gn.r.IntN(5) != 0 {
			ups := gn.updates(cur, 2, 10)
			for i := range ups {
				ups[i].Time = ts
				cur.add(ups[i].Row, ups[i].Diff)
			}
			hist = append(hist, ups...)
			if err := in.Send(ups...); err != nil {
				fail("send: %v", err)
			}
		}
		in.Advance(ts + 1)
		if err := g.Step(ctx, ts); err != nil {
			fail("step %d: %v", ts, err)
		}
		times = append(times, ts)
		// g2 steps at ts, or skips the time when it is quiet (idle).
		if g2.Quiet(ts) && gn.r.IntN(2) == 0 {
			g2.AdvanceIdle(ts)
		} else if err := g2.Step(ctx, ts); err != nil {
			fail("import step %d: %v", ts, err)
		}
		if got, want := log.Upper(), ts+1; got != want {
			fail("upper %d, want %d", got, want)
		}
		want := hist.asOf(ts)
		if ok, _, err := impOut.Read(ts); err != nil {
			fail("read import: %v", err)
		} else if d := diffColls(want, fromRows(ok)); d != "" {
			fail("import as of %d differs:\n%s", ts, d)
		}
		if ok, _, err := errsOut.Read(ts); err != nil || ok.Len() != 0 {
			fail("the errors-only import has rows (%v)", err)
		}

		// Reads at random readable times.
		for range 3 {
			x := times[gn.r.IntN(len(times))]
			if x < log.Since() {
				continue
			}
			want := hist.asOf(x)
			for name, o := range map[string]*Output{"log": log, "arrangement": arr} {
				ok, errs, err := o.Read(x)
				if err != nil || errs.Len() > 0 {
					fail("%s read as of %d: %v", name, x, err)
				}
				if d := diffColls(want, fromRows(ok)); d != "" {
					fail("%s as of %d differs:\n%s", name, x, d)
				}
				for i := range ok.Len() {
					if i > 0 && string(ok.Row(i-1)) >= string(ok.Row(i)) {
						fail("%s Read is not consolidated", name)
					}
				}
				r := o.Reader(x)
				if d := diffColls(want, scanColl(t, r, x)); d != "" {
					fail("%s scan as of %d differs:\n%s", name, x, d)
				}
				if d := diffColls(want, cursorColl(t, r, x)); d != "" {
					fail("%s cursor as of %d differs:\n%s", name, x, d)
				}
				probe := irow(gn.r.Int64N(8), gn.r.Int64N(8))
				if gn.r.IntN(2) == 0 && len(hist) > 0 {
					probe = hist[gn.r.IntN(len(hist))].Row
				}
				if n, err := r.Count(x, probe); err != nil || n != want[string(probe)] {
					fail("%s count of %v as of %d: %d (%v), want %d", name, ints(string(probe)), x, n, err, want[string(probe)])
				}
				if gn.r.IntN(3) == 0 {
					holds = append(holds, held{r, x})
				} else {
					r.Release()
				}
			}
		}
		// Readers held from earlier steps still read their times; some
		// are released, so that the frontier moves and the log compacts.
		kept := holds[:0]
		for _, h := range holds {
			if d := diffColls(hist.asOf(h.at), scanColl(t, h.r, h.at)); d != "" {
				fail("held reader as of %d differs after later steps:\n%s", h.at, d)
			}
			if gn.r.IntN(3) == 0 {
				h.r.Release()
				continue
			}
			kept = append(kept, h)
		}
		holds = kept

		// A graph created now whose first step is in the past (an
		// AS OF read or a SUBSCRIBE AS OF), then one at ts.
		if s%6 == 5 {
			x := times[gn.r.IntN(len(times))]
			if x >= log.Since() {
				g3 := NewGraph(Options{Workers: w, ParallelMin: 8})
				c3, err := g3.ImportOutput(log)
				if err != nil {
					fail("late import: %v", err)
				}
				var got coll = coll{}
				c3.Subscribe(func(_ repr.Timestamp, ok, _ []repr.Update) error {
					for _, u := range ok {
						got.add(u.Row, u.Diff)
					}
					return nil
				})
				steps := []repr.Timestamp{x}
				if ts > x {
					steps = append(steps, ts)
				}
				for _, at := range steps {
					if err := g3.Step(ctx, at); err != nil {
						fail("late import step at %d: %v", at, err)
					}
					if d := diffColls(hist.asOf(at), got); d != "" {
						fail("late import (first step %d) as of %d differs:\n%s", x, at, d)
					}
				}
				g3.Close()
			}
		}
		if s%3 == 2 && ts > 4 {
			log.SetSince(ts - 4)
			arr.SetSince(ts - 4)
		}
	}
	if _, packed, _ := log.log.stats(); packed == 0 && len(hist) > 0 {
		fail("the log holds no bytes")
	}
	if g.StateBytes() <= 0 && len(hist) > 0 {
		fail("StateBytes does not count the log")
	}
}

// TestAppendLogCompactsRepeats: a log whose rows repeat (few distinct
// values) consolidates its sealed segments once every reader is past
// them, and not those a held reader may still read history of; reads,
// a reader held at an old time and an import stay exact, and the log ends
// far smaller than its rows.
func TestAppendLogCompactsRepeats(t *testing.T) {
	defer func(n int) { logSegBytes = n }(logSegBytes)
	logSegBytes = 512
	ctx := t.Context()
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("in", 1)
	log := in.Collection().MaterializeAppendOnly(0)
	g2 := NewGraph(Options{Workers: 2})
	imp, err := g2.ImportOutput(log)
	if err != nil {
		t.Fatal(err)
	}
	impOut := imp.Materialize(0)
	defer g2.Close()
	var hist appendHistory
	var held *OutputReader
	const steps, per = 60, 200
	for s := repr.Timestamp(1); s <= steps; s++ {
		var ups []repr.Update
		for i := range per {
			ups = append(ups, repr.Update{Row: irow(int64((int(s)*per + i) % 5)), Time: s, Diff: 1})
		}
		hist = append(hist, ups...)
		if err := in.Send(ups...); err != nil {
			t.Fatal(err)
		}
		if err := g.Step(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := g2.Step(ctx, s); err != nil {
			t.Fatal(err)
		}
		switch s {
		case 10:
			held = log.Reader(10)
		case 40:
			if d := diffColls(hist.asOf(10), scanColl(t, held, 10)); d != "" {
				t.Fatalf("the reader held at 10 differs:\n%s", d)
			}
			if _, packed, _ := log.log.stats(); packed < 30*per*len(irow(1)) {
				t.Fatalf("segments after the held reader's time were compacted: %d bytes", packed)
			}
			held.Release()
		}
		log.SetSince(s)
		for _, x := range []repr.Timestamp{s, s - 1} {
			if x < log.Since() || x == 0 {
				continue
			}
			ok, _, err := log.Read(x)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffColls(hist.asOf(x), fromRows(ok)); d != "" {
				t.Fatalf("as of %d:\n%s", x, d)
			}
		}
		ok, _, err := impOut.Read(s)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffColls(hist.asOf(s), fromRows(ok)); d != "" {
			t.Fatalf("import as of %d:\n%s", s, d)
		}
	}
	updates, packed, _ := log.log.stats()
	if all := steps * per; updates > all/10 {
		t.Fatalf("the log holds %d of %d updates (%d bytes): its repeats were not consolidated", updates, all, packed)
	}
}

// TestAppendLogKeepsDistinctRows: a log of distinct rows is sampled, not
// sorted: its segments stay as they came.
func TestAppendLogKeepsDistinctRows(t *testing.T) {
	defer func(n int) { logSegBytes = n }(logSegBytes)
	logSegBytes = 4096
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("in", 1)
	log := in.Collection().MaterializeAppendOnly(0)
	const steps, per = 20, 500
	for s := repr.Timestamp(1); s <= steps; s++ {
		var ups []repr.Update
		for i := range per {
			// Descending within a step: a sorted segment would differ.
			ups = append(ups, repr.Update{Row: irow(int64(int(s)*per + per - i)), Time: s, Diff: 1})
		}
		if err := in.Send(ups...); err != nil {
			t.Fatal(err)
		}
		if err := g.Step(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		log.SetSince(s)
	}
	r := log.Reader(steps)
	defer r.Release()
	var prev repr.Row
	n := 0
	if err := r.Scan(steps, func(row repr.Row, _ repr.Diff) bool {
		if v, p := ints(string(row))[0], int64(0); prev != nil {
			if p = ints(string(prev))[0]; v != p-1 && v != p+2*per-1 {
				t.Fatalf("row %d after %d: the log was reordered", v, p)
			}
		}
		if false {
			t.Fatalf("row %v after %v: the log was reordered", ints(string(row)), ints(string(prev)))
		}
		prev = row.Clone()
		n++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != steps*per {
		t.Fatalf("%d rows", n)
	}
	v := log.log.view()
	for i := range len(v.segs) - 1 {
		if !v.seg(i).checked {
			t.Fatalf("sealed segment %d was not looked at", i)
		}
	}
}

// TestAppendLogConcurrentReaders reads an append log from several
// goroutines while steps append to it (run with -race): every read as of
// a completed time sees exactly that time's contents.
func TestAppendLogConcurrentReaders(t *testing.T) {
	defer func(n int) { logSegBytes = n }(logSegBytes)
	logSegBytes = 256
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("in", 1)
	log := in.Collection().MaterializeAppendOnly(0)
	const steps = 300
	// Step s adds rows 0..s-1 once each: as of s the count is s(s+1)/2.
	want := func(s repr.Timestamp) int64 { return int64(s) * int64(s+1) / 2 }
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	done := make(chan struct{})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				up := log.Upper()
				if up < 2 {
					continue
				}
				at := up - 1
				r := log.Reader(at)
				var n int64
				err := r.Scan(at, func(_ repr.Row, d repr.Diff) bool { n += int64(d); return true })
				r.Release()
				if err != nil {
					errc <- err
					return
				}
				if n != want(at) {
					errc <- fmt.Errorf("as of %d: %d rows, want %d", at, n, want(at))
					return
				}
			}
		})
	}
	for s := repr.Timestamp(1); s <= steps; s++ {
		var ups []repr.Update
		for i := range int64(s) {
			ups = append(ups, repr.Update{Row: irow(i), Time: s, Diff: 1})
		}
		if err := in.Send(ups...); err != nil {
			t.Fatal(err)
		}
		if err := g.Step(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
}

// TestAppendLogMemory: an append log of n distinct rows holds no more
// than the arranged output of the same rows, measured as the heap the
// graph keeps after its steps (runtime.MemStats after a GC).
func TestAppendLogMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds two graphs of 400K rows to measure their heaps (CI runs it: no -short)")
	}
	const n, steps = 400_000, 20
	build := func(appendOnly bool) (heap float64, state int64) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g := NewGraph(Options{Workers: 2})
		in := g.NewInput("in", 2)
		var o *Output
		if appendOnly {
			o = in.Collection().MaterializeAppendOnly(0)
		} else {
			o = in.Collection().Materialize(0)
		}
		for s := range steps {
			ups := make([]repr.Update, 0, n/steps)
			for i := range n / steps {
				k := int64(s*(n/steps) + i)
				ups = append(ups, repr.Update{Row: irow(k, k*31%1000), Time: repr.Timestamp(s + 1), Diff: 1})
			}
			if err := in.Send(ups...); err != nil {
				t.Fatal(err)
			}
			if err := g.Step(t.Context(), repr.Timestamp(s+1)); err != nil {
				t.Fatal(err)
			}
			o.SetSince(repr.Timestamp(s + 1))
		}
		if !appendOnly {
			for _, sp := range o.ok.shards {
				sp.finishMerges()
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		state = g.StateBytes()
		runtime.KeepAlive(g)
		runtime.KeepAlive(o)
		return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n, state
	}
	packed := len(irow(n/2, 500))
	logHeap, logState := build(true)
	arrHeap, arrState := build(false)
	t.Logf("%d rows of about %d packed bytes: append log %.1f heap bytes/row (StateBytes %.1f), arrangement %.1f (%.1f)",
		n, packed, logHeap, float64(logState)/n, arrHeap, float64(arrState)/n)
	if logHeap > arrHeap {
		t.Fatalf("the append log keeps %.1f heap bytes per row, the arrangement %.1f", logHeap, arrHeap)
	}
}

// TestAppendLogScanAppended: the rows appended after a held time come
// exactly, in the order they came, although the log consolidates the
// segments before that time (repeated rows); the reader's hold moves from
// one increment's time to the next. A read after a time before the hold,
// or of an arranged output, is an error.
func TestAppendLogScanAppended(t *testing.T) {
	defer func(n int) { logSegBytes = n }(logSegBytes)
	logSegBytes = 512
	ctx := t.Context()
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("in", 2)
	log := in.Collection().MaterializeAppendOnly(0)
	arr := in.Collection().Materialize(0)
	var hist appendHistory
	var held *OutputReader
	heldAt := repr.Timestamp(0)
	const steps, per = 60, 50
	for s := repr.Timestamp(1); s <= steps; s++ {
		var ups []repr.Update
		for i := range per {
			ups = append(ups, repr.Update{Row: irow(int64((int(s)*per+i)%5), int64(s)), Time: s, Diff: 1})
		}
		hist = append(hist, ups...)
		if err := in.Send(ups...); err != nil {
			t.Fatal(err)
		}
		if err := g.Step(ctx, s); err != nil {
			t.Fatal(err)
		}
		if s%12 == 0 {
			r := log.Reader(s)
			if held != nil {
				var got, want []string
				if err := held.ScanAppended(heldAt, s, func(row repr.Row, d repr.Diff) bool {
					got = append(got, fmt.Sprint(row, d))
					return true
				}); err != nil {
					t.Fatal(err)
				}
				for _, u := range hist {
					if u.Time > heldAt && u.Time <= s {
						want = append(want, fmt.Sprint(u.Row, u.Diff))
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("appended in (%d, %d]: %d rows, want %d", heldAt, s, len(got), len(want))
				}
				if err := held.ScanAppended(heldAt-1, s, func(repr.Row, repr.Diff) bool { return true }); err == nil {
					t.Fatalf("a read after %d with a hold at %d: no error", heldAt-1, heldAt)
				}
				held.Release()
			}
			held, heldAt = r, s
		}
		log.SetSince(s)
	}
	if held.Retracts() {
		t.Fatal("an append-only log retracts")
	}
	held.Release()
	if updates, _, _ := log.log.stats(); updates > steps*per/2 {
		t.Fatalf("the log holds %d of %d updates: its repeats were not consolidated", updates, steps*per)
	}
	ar := arr.Reader(steps)
	defer ar.Release()
	if err := ar.ScanAppended(steps, steps, func(repr.Row, repr.Diff) bool { return true }); err == nil || !ar.Retracts() {
		t.Fatal("ScanAppended of an arranged output: no error")
	}
}
