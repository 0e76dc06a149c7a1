package dataflow

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/repr"
)

// Union returns the sum of collections of equal arity.
//
// Algebra: Union(A, B) = A + B, update by update, ok and err streams alike.
// Hazard: it is a multiset sum, not SQL's UNION (compose with Distinct).
func Union(cs ...*Collection) (*Collection, error) {
	if len(cs) == 0 {
		return nil, fmt.Errorf("dataflow: union of no collections")
	}
	g := cs[0].g
	for _, c := range cs[1:] {
		if c.g != g {
			return nil, fmt.Errorf("dataflow: union of collections of different graphs")
		}
		if c.arity != cs[0].arity {
			return nil, fmt.Errorf("dataflow: union of arities %d and %d", cs[0].arity, c.arity)
		}
	}
	out := g.newCollection(cs[0].arity)
	g.add(&unionOp{ins: cs, out: out, scale: 1})
	return out, nil
}

// Negate returns the collection with every diff negated (ok stream only:
// errors are not negated, they remain errors).
//
// Algebra: Negate(A) = -A; Union(A, Negate(B)) = A - B, the building block
// of EXCEPT ALL and antijoins. Hazard: the result may hold negative
// multiplicities; follow it with Threshold before a sink.
func (c *Collection) Negate() *Collection {
	out := c.g.newCollection(c.arity)
	c.g.add(&unionOp{ins: []*Collection{c}, out: out, scale: -1})
	return out
}

type unionOp struct {
	ins   []*Collection
	out   *Collection
	scale repr.Diff
}

func (o *unionOp) step(context.Context, repr.Timestamp) error {
	o.out.ok.Reset()
	o.out.errs.Reset()
	for _, c := range o.ins {
		if err := checkAppend(&o.out.ok, &c.ok); err != nil {
			return err
		}
		o.out.ok.Append(&c.ok, o.scale)
		o.out.errs.Append(&c.errs, 1)
	}
	// A copy, charged whole: Append is a memmove, quick to finish.
	return o.out.g.ctl.charge(o.out.ok.footprint() + o.out.errs.footprint())
}
