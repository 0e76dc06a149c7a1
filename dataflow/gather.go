package dataflow

import (
	"bytes"
	"math"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// maxRowsBytes is the most packed bytes one Rows can hold: its ends are
// uint32 offsets. An operator whose output of one step would pass it
// fails the step with 54000 instead of wrapping the offsets (a variable
// for tests).
var maxRowsBytes = math.MaxUint32

// rowsTooLarge is the error of a step whose output would take n bytes.
func rowsTooLarge(n int) error {
	return pgcode.New(pgcode.ProgramLimitExceeded,
		"dataflow: one step's output of an operator would take %d bytes of rows, more than the %d a step can hold; load the input in smaller transactions",
		n, maxRowsBytes)
}

// gather sets out, which must be empty, to the consolidated union of
// parts (the workers' outputs of a step). Each part is consolidated on
// its own worker, and the sorted parts are merged straight into out,
// allocated once at their size; a single non-empty part becomes out
// without a copy. Concatenating the parts and then consolidating the
// whole, as operators did, had the step's output live three to four
// times over at its peak (the parts, the concatenation growing by
// doubling, the consolidated copy): a join over a large input, a view's
// first step over existing data, spent most of its memory there. Parts
// are released (or reset, when small) once merged.
func (g *Graph) gather(out *Rows, parts []*Rows) error {
	n, bytes := 0, 0
	for _, p := range parts {
		n += p.Len()
		bytes += len(p.data)
	}
	if bytes > maxRowsBytes {
		return rowsTooLarge(bytes)
	}
	err := g.parallel(n, func(w int) error {
		if w < len(parts) {
			return parts[w].consolidate(g.ctl)
		}
		return nil
	})
	if err != nil {
		return err
	}
	nonEmpty := -1
	for i, p := range parts {
		if p.Len() == 0 {
			continue
		}
		if nonEmpty >= 0 {
			nonEmpty = -2
			break
		}
		nonEmpty = i
	}
	switch nonEmpty {
	case -1:
		return nil
	case -2:
	default:
		*out, *parts[nonEmpty] = *parts[nonEmpty], *out
		return nil
	}
	n, bytes = 0, 0
	for _, p := range parts {
		n += p.Len()
		bytes += len(p.data)
	}
	out.Reserve(n, bytes)
	if err := mergeParts(out, parts, g.ctl); err != nil {
		return err
	}
	for _, p := range parts {
		p.trim()
	}
	return nil
}

// mergeParts appends to out the consolidated merge of the consolidated
// parts: equal rows' diffs summed, zero sums dropped. It polls c every
// meterEvery rows.
func mergeParts(out *Rows, parts []*Rows, c *stepCtl) error {
	heads := make([]int, len(parts))
	pfx := make([]uint64, len(parts))
	for i, p := range parts {
		if p.Len() > 0 {
			pfx[i] = p.Row(0).Prefix()
		}
	}
	polls := 0
	for {
		if polls++; polls%meterEvery == 0 {
			if err := c.err(); err != nil {
				return err
			}
		}
		// The least head row.
		best := -1
		var row repr.Row
		for i, p := range parts {
			if heads[i] >= p.Len() {
				continue
			}
			if best < 0 || pfx[i] < pfx[best] || pfx[i] == pfx[best] && bytes.Compare(p.Row(heads[i]), row) < 0 {
				best, row = i, p.Row(heads[i])
			}
		}
		if best < 0 {
			return nil
		}
		var d repr.Diff
		bp := pfx[best]
		for i, p := range parts {
			if heads[i] < p.Len() && pfx[i] == bp && bytes.Equal(p.Row(heads[i]), row) {
				d += p.diffs[heads[i]]
				heads[i]++
				if heads[i] < p.Len() {
					pfx[i] = p.Row(heads[i]).Prefix()
				}
			}
		}
		if d != 0 {
			out.Push(row, d)
		}
	}
}

// checkAppend returns rowsTooLarge when appending parts to out would pass
// what a Rows can hold.
func checkAppend(out *Rows, parts ...*Rows) error {
	n := len(out.data)
	for _, p := range parts {
		n += len(p.data)
	}
	if n > maxRowsBytes {
		return rowsTooLarge(n)
	}
	return nil
}
