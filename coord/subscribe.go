package coord

import (
	"context"
	"errors"
	"io"
	"sort"
	"sync"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/dataflow/render"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/wire"
)

// subscribeDesc is SUBSCRIBE's output: mz_timestamp, [mz_progressed],
// mz_diff, then the query's columns (nullable: progress rows carry NULLs).
func subscribeDesc(p *sql.SubscribePlan) *repr.RelationDesc {
	d := &repr.RelationDesc{Names: []string{"mz_timestamp"}, Types: []repr.ColumnType{numType}}
	if p.Progress {
		d.Names = append(d.Names, "mz_progressed")
		d.Types = append(d.Types, boolType)
	}
	d.Names = append(d.Names, "mz_diff")
	d.Types = append(d.Types, repr.ColumnType{Type: repr.TypeInt8, Nullable: p.Progress})
	for i, t := range p.Query.Desc.Types {
		if p.Progress {
			t.Nullable = true
		}
		d.Types = append(d.Types, t)
		d.Names = append(d.Names, p.Query.Desc.Names[i])
	}
	return d
}

// subscription is a live SUBSCRIBE: a dataflow stepped with the others,
// whose changes queue up until the client reads them.
type subscription struct {
	c        *Coordinator
	graph    *dataflow.Graph
	progress bool
	snapshot bool
	project  []int
	first    repr.Timestamp
	upTo     repr.Timestamp
	hasUpTo  bool

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []repr.Row
	err    error
	done   bool
	closed bool
}

// subscribe starts a SUBSCRIBE.
func (s *session) subscribe(ctx context.Context, p *sql.SubscribePlan) (*subscription, error) {
	c := s.c
	var asOf, upTo repr.Timestamp
	hasAsOf, hasUpTo := false, false
	if p.AsOf != nil {
		d, _, err := c.evalConstant(ctx, p.AsOf.Expr)
		if err != nil {
			return nil, err
		}
		if asOf, err = datumTimestamp(d); err != nil {
			return nil, err
		}
		hasAsOf = true
	}
	if p.UpTo != nil {
		d, _, err := c.evalConstant(ctx, p.UpTo.Expr)
		if err != nil {
			return nil, err
		}
		if upTo, err = datumTimestamp(d); err != nil {
			return nil, err
		}
		hasUpTo = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.freshCatalogLocked(p.Query.Expr); err != nil {
		return nil, err
	}
	if !hasAsOf || (p.AtLeast && asOf < c.now) {
		asOf = c.now
	}
	if asOf > c.now {
		wctx, cancel := context.WithTimeout(ctx, asOfWait)
		err := c.waitForLocked(wctx, asOf)
		cancel()
		if err != nil {
			return nil, pgcode.New(pgcode.QueryCanceled, "timed out waiting for timestamp %d to become complete", asOf)
		}
	}
	if asOf < c.since {
		return nil, pgcode.New(pgcode.InvalidParameterValue, "timestamp %d is not valid for all inputs: the earliest readable timestamp is %d", asOf, c.since)
	}
	if err := c.sourceErrors(p.Query.Expr); err != nil {
		return nil, err
	}
	lir, err := c.optimizeLocked(p.Query.Expr)
	if err != nil {
		return nil, err
	}
	g := dataflow.NewGraph(c.graphOptions())
	coll, err := render.Render(g, lir, outputsOnly{c.imports()}, asOf)
	if err != nil {
		g.Close()
		return nil, err
	}
	sub := &subscription{c: c, graph: g, progress: p.Progress, snapshot: p.Snapshot, project: p.Query.Finishing.Project, first: asOf, upTo: upTo, hasUpTo: hasUpTo}
	sub.cond = sync.NewCond(&sub.mu)
	coll.Subscribe(sub.deliver)
	if err := g.Step(ctx, asOf); err != nil {
		g.Close()
		return nil, err
	}
	c.subscribes[sub] = true
	return sub, nil
}

// outputsOnly hides existing arrangements from a SUBSCRIBE's dataflow, whose
// first step may be in the past: collection imports catch up on history,
// arrangement imports do not.
type outputsOnly struct{ render.Imports }

func (o outputsOnly) Arrangement(*dataflow.Graph, plan.GlobalID, []expr.Scalar) (*dataflow.Arranged, bool, error) {
	return nil, false, nil
}

func (o outputsOnly) IndexRead(*dataflow.Graph, plan.GlobalID, []expr.Scalar, []repr.Row) (*dataflow.Collection, bool, error) {
	return nil, false, nil
}

// deliver is the dataflow's subscribe callback: it runs inside a step,
// under the coordinator's lock, and only queues rows.
func (sub *subscription) deliver(t repr.Timestamp, ok, errs []repr.Update) error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed || sub.done {
		return nil
	}
	if len(errs) > 0 {
		sub.err = dataflow.DecodeErrRow(errs[0].Row)
		sub.cond.Broadcast()
		return nil
	}
	if sub.hasUpTo && t >= sub.upTo {
		sub.done = true
		sub.cond.Broadcast()
		return nil
	}
	if t != sub.first || sub.snapshot {
		sort.SliceStable(ok, func(i, j int) bool { return string(ok[i].Row) < string(ok[j].Row) })
		var p repr.Packer
		ts := repr.NumericDatum(apd.New(int64(t), 0))
		for _, u := range ok {
			p.Reset()
			p.Push(ts)
			if sub.progress {
				p.Push(repr.False)
			}
			p.Push(repr.Int8Datum(int64(u.Diff)))
			ds := u.Row.Datums()
			for _, c := range sub.project {
				p.Push(ds[c])
			}
			sub.queue = append(sub.queue, p.Clone())
		}
	}
	if sub.progress {
		var p repr.Packer
		p.Push(repr.NumericDatum(apd.New(int64(t)+1, 0)))
		p.Push(repr.True)
		p.Push(repr.Null)
		for range sub.project {
			p.Push(repr.Null)
		}
		sub.queue = append(sub.queue, p.Clone())
	}
	sub.cond.Broadcast()
	return nil
}

// Streaming tells the wire layer to flush each row.
func (sub *subscription) Streaming() bool { return true }

// Next implements wire.Rows: it blocks until a row is queued, the
// subscription ends or ctx is done.
func (sub *subscription) Next(ctx context.Context) (repr.Row, error) {
	stop := context.AfterFunc(ctx, func() {
		sub.mu.Lock()
		sub.cond.Broadcast()
		sub.mu.Unlock()
	})
	defer stop()
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for {
		if len(sub.queue) > 0 {
			r := sub.queue[0]
			sub.queue = sub.queue[1:]
			return r, nil
		}
		if sub.err != nil {
			return nil, sub.err
		}
		if sub.done || sub.closed {
			return nil, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sub.cond.Wait()
	}
}

// fetch returns up to n queued rows (all when n < 0), waiting for the first
// until ctx ends; a timeout returns what is there.
func (sub *subscription) fetch(ctx context.Context, n int64, wait bool) ([]repr.Row, error) {
	var out []repr.Row
	for n < 0 || int64(len(out)) < n {
		sub.mu.Lock()
		ready := len(sub.queue) > 0 || sub.err != nil || sub.done || sub.closed
		sub.mu.Unlock()
		if !ready && (len(out) > 0 || !wait) {
			break
		}
		r, err := sub.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				break // the FETCH timeout: return what arrived
			}
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Close implements wire.Rows: it drops the dataflow.
func (sub *subscription) Close() {
	sub.c.mu.Lock()
	sub.closeLocked(nil)
	sub.c.mu.Unlock()
}

// closeLocked ends the subscription (with err, if any); the caller holds
// the coordinator's lock.
func (sub *subscription) closeLocked(err error) {
	sub.mu.Lock()
	if !sub.closed {
		sub.closed = true
		if err != nil && sub.err == nil {
			sub.err = err
		}
		sub.cond.Broadcast()
	}
	sub.mu.Unlock()
	if sub.c.subscribes[sub] {
		delete(sub.c.subscribes, sub)
		sub.graph.Close()
	}
}

var _ wire.Rows = (*subscription)(nil)
