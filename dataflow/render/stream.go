package render

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// ScanSource gives a streamed peek the contents of catalog objects as of
// the read time (through read holds taken before the peek started).
type ScanSource interface {
	// Scan calls fn with each row of object id and its multiplicity until
	// fn returns false or the rows run out. It fails with the object's
	// errors, if it has any at the read time.
	Scan(ctx context.Context, id plan.GlobalID, fn func(row repr.Row, d repr.Diff) bool) error
}

// EmitFunc receives one streamed row and its (positive) multiplicity; the
// row is valid only during the call. Returning false stops the stream.
type EmitFunc func(row repr.Row, d repr.Diff) bool

// checkEvery is how many rows a stream produces between checks of its
// context.
const checkEvery = 1024

// Stream evaluates a plan of kind plan.PeekStream (scans of arranged
// collections, constants, Mfp, FlatMap and Union over them) as a pipeline,
// pushing each output row to emit as soon as it is produced: memory is
// that of one row per stage, whatever the result's size. It stops early
// when emit returns false, and within checkEvery rows of ctx ending (its
// error then wraps ctx.Err()). An evaluation error ends the stream with
// that error, after the rows already emitted (as PostgreSQL reports an
// error in the middle of a result).
func Stream(ctx context.Context, n plan.Node, src ScanSource, ev *expr.EvalCtx, emit EmitFunc) error {
	s := &streamer{ctx: ctx, src: src, ev: ev}
	_, err := s.run(n, emit)
	return err
}

type streamer struct {
	ctx   context.Context
	src   ScanSource
	ev    *expr.EvalCtx
	count int
}

// tick counts a produced row and reports the context's error every
// checkEvery rows.
func (s *streamer) tick() error {
	s.count++
	if s.count%checkEvery == 0 {
		if err := s.ctx.Err(); err != nil {
			return fmt.Errorf("render: stream: %w", err)
		}
	}
	return nil
}

// mfpStage applies an MFP to rows and passes the kept ones on.
type mfpStage struct {
	m       *expr.MapFilterProject
	ev      *expr.EvalCtx
	datums  []repr.Datum
	scratch []repr.Datum
	pk      repr.Packer
}

func (st *mfpStage) apply(ds []repr.Datum) (repr.Row, bool, error) {
	st.pk.Reset()
	keep, err := st.m.Apply(st.ev, ds, &st.scratch, &st.pk)
	if err != nil || !keep {
		return nil, false, err
	}
	return st.pk.Row(), true, nil
}

// run streams n into emit; it reports whether emit asked to stop.
func (s *streamer) run(n plan.Node, emit EmitFunc) (stopped bool, err error) {
	// wrap turns an inner error into the stream's error and records stops.
	var inner error
	guard := func(f func(row repr.Row, d repr.Diff) (bool, error)) func(repr.Row, repr.Diff) bool {
		return func(row repr.Row, d repr.Diff) bool {
			if inner != nil {
				return false
			}
			if inner = s.tick(); inner != nil {
				return false
			}
			more, err := f(row, d)
			if err != nil {
				inner = err
				return false
			}
			if !more {
				stopped = true
			}
			return more
		}
	}
	switch x := n.(type) {
	case plan.LConstant:
		if x.Err != nil {
			return false, x.Err
		}
		for _, r := range x.Rows {
			if r.Diff <= 0 {
				continue
			}
			if err := s.tick(); err != nil {
				return false, err
			}
			if !emit(r.Row, repr.Diff(r.Diff)) {
				return true, nil
			}
		}
		return false, nil
	case plan.LGet:
		st := &mfpStage{m: &x.MFP, ev: s.ev}
		identity := x.MFP.IsIdentity()
		err := s.src.Scan(s.ctx, x.Global, guard(func(row repr.Row, d repr.Diff) (bool, error) {
			if d < 0 {
				return false, pgcode.New(pgcode.InternalError, "negative multiplicity %d for row %s of %s", d, row, x.Name)
			}
			if identity {
				return emit(row, d), nil
			}
			st.datums = row.Unpack(st.datums[:0])
			out, keep, err := st.apply(st.datums)
			if err != nil || !keep {
				return true, err
			}
			return emit(out, d), nil
		}))
		if err == nil {
			err = inner
		}
		return stopped, err
	case plan.LMfp:
		st := &mfpStage{m: &x.MFP, ev: s.ev}
		stop, err := s.run(x.Input, func(row repr.Row, d repr.Diff) bool {
			if inner != nil {
				return false
			}
			st.datums = row.Unpack(st.datums[:0])
			out, keep, err := st.apply(st.datums)
			if err != nil {
				inner = err
				return false
			}
			if !keep {
				return true
			}
			if !emit(out, d) {
				stopped = true
				return false
			}
			return true
		})
		if err == nil {
			err = inner
		}
		return stop || stopped, err
	case plan.LFlatMap:
		st := &mfpStage{m: &x.MFP, ev: s.ev}
		var args, wide []repr.Datum
		stop, err := s.run(x.Input, func(row repr.Row, d repr.Diff) bool {
			if inner != nil {
				return false
			}
			st.datums = row.Unpack(st.datums[:0])
			args = args[:0]
			for _, a := range x.Args {
				v, err := expr.Eval(s.ev, a, st.datums)
				if err != nil {
					inner = err
					return false
				}
				args = append(args, v)
			}
			base := len(st.datums)
			err := x.Func.Eval(s.ev, args, func(out []repr.Datum) bool {
				if inner = s.tick(); inner != nil {
					return false
				}
				wide = append(append(wide[:0], st.datums[:base]...), out...)
				r, keep, err := st.apply(wide)
				if err != nil {
					inner = err
					return false
				}
				if keep && !emit(r, d) {
					stopped = true
					return false
				}
				return true
			})
			if err != nil && inner == nil {
				inner = err
			}
			return inner == nil && !stopped
		})
		if err == nil {
			err = inner
		}
		return stop || stopped, err
	case plan.LUnion:
		for _, in := range x.Inputs {
			stop, err := s.run(in, emit)
			if err != nil || stop {
				return stop, err
			}
		}
		return false, nil
	}
	return false, pgcode.New(pgcode.InternalError, "render: %T cannot be streamed", n)
}
