package dataflow

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// FlatMap applies a table function to each row: for each input row it
// evaluates args, calls the function, and appends each row it emits to the
// input row; the MFP then runs over those columns (input arity plus the
// function's columns).
//
// Algebra: linear, row by row: every emitted row carries the input row's
// diff, so a retraction retracts exactly what the insertion produced.
// Hazards: the function must be deterministic; an error (from args, the
// function or the MFP) becomes an err update with the input row's diff;
// a function that emits many rows per input row multiplies work.
func (c *Collection) FlatMap(tf *expr.TableFunc, args []expr.Scalar, m expr.MapFilterProject) (*Collection, error) {
	if m.InputArity != c.arity+len(tf.Cols) {
		return nil, fmt.Errorf("dataflow: flat map MFP expects %d columns, %s gives %d", m.InputArity, tf.Name, c.arity+len(tf.Cols))
	}
	out := c.g.newCollection(len(m.Projection))
	c.g.add(&flatMapOp{in: c, out: out, tf: tf, args: args, plan: newMFPPlan(m)})
	return out, nil
}

type flatMapOp struct {
	in, out *Collection
	tf      *expr.TableFunc
	args    []expr.Scalar
	plan    *mfpPlan
	datums  []repr.Datum
	argv    []repr.Datum
	wide    []repr.Datum
	scratch []repr.Datum
	pk      repr.Packer
}

func (o *flatMapOp) step(context.Context, repr.Timestamp) error {
	g := o.in.g
	o.out.ok.Reset()
	o.out.errs.Reset()
	o.out.errs.Append(&o.in.errs, 1)
	m := g.meter(&o.out.ok, &o.out.errs)
	for i := range o.in.ok.Len() {
		if err := m.tick(); err != nil {
			return err
		}
		row, d := o.in.ok.Row(i), o.in.ok.Diff(i)
		o.datums = row.Unpack(o.datums[:0])
		o.argv = o.argv[:0]
		var err error
		for _, a := range o.args {
			var v repr.Datum
			if v, err = evalScalar(&g.eval, a, o.datums); err != nil {
				break
			}
			o.argv = append(o.argv, v)
		}
		if err == nil {
			// The MFP's error is kept apart: Eval's own (nil) result must
			// not overwrite it.
			var mfpErr, stop error
			err = o.tf.Eval(&g.eval, o.argv, func(out []repr.Datum) bool {
				if mfpErr != nil {
					return false
				}
				if err := m.tick(); err != nil {
					stop = err
					return false
				}
				o.wide = append(append(o.wide[:0], o.datums...), out...)
				o.pk.Reset()
				keep, e := o.plan.apply(&g.eval, o.wide, &o.scratch, &o.pk)
				switch {
				case e != nil:
					mfpErr = e
				case keep:
					o.out.ok.Push(o.pk.Row(), d)
				}
				return true
			})
			if stop != nil {
				return stop
			}
			if err == nil {
				err = mfpErr
			}
		}
		if err != nil {
			o.out.errs.Push(ErrRow(err), d)
		}
	}
	return m.poll()
}

// trim drops the operator's references into the step's rows.
func (o *flatMapOp) trim() {
	o.datums = clearDatums(o.datums)
	o.argv = clearDatums(o.argv)
	o.wide = clearDatums(o.wide)
	o.scratch = clearDatums(o.scratch)
}
