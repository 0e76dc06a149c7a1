package dataflow

import "github.com/viewd/viewd/repr"

// Quiet reports whether a step of g at t would change nothing: no input
// holds updates at times <= t, no arrangement or output has a load
// waiting (Loader), no imported trace gained a non-empty batch
// since the last step, and no operator has work scheduled at or before t.
// A quiet graph may be advanced with AdvanceIdle instead of stepped, which
// costs nothing per operator; a coordinator with hundreds of idle views
// relies on it.
func (g *Graph) Quiet(t repr.Timestamp) bool {
	if next, ok := g.NextScheduled(); ok && next <= t {
		return false
	}
	for _, op := range g.ops {
		switch op := op.(type) {
		case *Input:
			if !inputQuiet(op, t) {
				return false
			}
		case *importOp:
			if feedBusy(op.feed, t) {
				return false
			}
		case *importPrefixOp:
			if !op.started || feedBusy(op.feed, t) {
				return false
			}
		case *importOutputOp:
			if (op.okFeed != nil && feedBusy(op.okFeed, t)) || feedBusy(op.errFeed, t) || op.logBusy() || (op.feedFrom > 0 && op.first+1 < op.feedFrom) {
				return false
			}
		case *arrangeOp:
			if op.out.load.pending() {
				return false
			}
		case *outputOp:
			if op.out.load.pending() {
				return false
			}
		case *subscribeOp:
			// A subscription reports progress at every step.
			return false
		}
	}
	return true
}

func inputQuiet(in *Input, t repr.Timestamp) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, x := range in.ptimes {
		if x <= t {
			return false
		}
	}
	for _, x := range in.etimes {
		if x <= t {
			return false
		}
	}
	return true
}

// feedBusy reports whether a feed holds a non-empty batch at a time <= t.
func feedBusy(f *batchFeed, t repr.Timestamp) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fb := range f.pending {
		if fb.t > t {
			break
		}
		for _, b := range fb.bs {
			if b != nil && b.Len() > 0 {
				return true
			}
		}
	}
	return false
}

// AdvanceIdle records a step at t in which nothing changed (Quiet(t) must
// hold): the graph's traces advance their uppers past t and its holds
// their since to t, and imported feeds drop their empty batches, without
// running any operator.
func (g *Graph) AdvanceIdle(t repr.Timestamp) {
	if g.stepped && t <= g.now {
		return
	}
	g.prev, g.hasPrev = g.now, g.stepped
	g.now, g.stepped = t, true
	g.eval.LogicalNow = t
	for _, op := range g.ops {
		switch op := op.(type) {
		case *arrangeOp:
			op.out.trace.Advance(t + 1)
			op.out.delta = nil
		case *outputOp:
			op.out.advance(t + 1)
		case *importOp:
			op.feed.take(t)
			op.a.delta = nil
		case *importPrefixOp:
			op.feed.take(t)
			op.out.ok.Reset()
		case *importOutputOp:
			if op.okFeed != nil {
				op.okFeed.take(t)
			}
			op.errFeed.take(t)
			op.last = t
		}
	}
	for _, r := range g.traces {
		r.SetSince(t)
	}
}
