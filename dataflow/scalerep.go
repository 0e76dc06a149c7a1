package dataflow

import "github.com/viewd/viewd/repr"

// scaleReps records, for one canonical key (numerics packed without their
// display scale, see keyer), the packings of that key with display scales
// that the group's rows carry, each with its multiplicity. Rows whose key
// prints as its canonical packing (no trailing zeros) are not recorded, so
// groups of keys without numerics, or of numerics without trailing zeros,
// keep no entries.
//
// The group shows its key with, per column, the largest display scale
// among the recorded packings present (multiplicity > 0), or canonical
// when none is (for a float, -0 when some row has -0: repr.PreferShown):
// a function of the group's current rows alone, so that a
// maintained view's output does not depend on the order updates arrived
// in. (PostgreSQL shows the first row its plan meets; for a column of one
// declared scale, numeric(p,s), both rules show that scale.)
type scaleReps []scaleRep

type scaleRep struct {
	row string
	n   repr.Diff
}

// add adds d to the multiplicity of packing row, dropping it at zero. It
// returns the bytes of state it added.
func (r *scaleReps) add(row repr.Row, d repr.Diff) int {
	for i := range *r {
		e := &(*r)[i]
		if e.row == string(row) {
			e.n += d
			if e.n == 0 {
				*r = append((*r)[:i], (*r)[i+1:]...)
			}
			return 0
		}
	}
	*r = append(*r, scaleRep{row: string(row), n: d})
	return len(row) + 24
}

// bytes returns the bytes the packings hold, as add counts them.
func (r scaleReps) bytes() int {
	n := 0
	for _, e := range r {
		n += len(e.row) + 24
	}
	return n
}

// present reports whether some recorded packing has multiplicity > 0.
func (r scaleReps) present() bool {
	for _, e := range r {
		if e.n > 0 {
			return true
		}
	}
	return false
}

// display packs canon with, per column, the largest display scale of the
// present packings into pk (which it resets). ds is scratch for canon's
// datums, returned for reuse.
func (r scaleReps) display(canon repr.Row, pk *repr.Packer, ds []repr.Datum) []repr.Datum {
	ds = canon.Unpack(ds[:0])
	n := len(ds)
	for _, e := range r {
		if e.n <= 0 {
			continue
		}
		it := repr.Row(e.row).Iter()
		for i := 0; i < n; i++ {
			v, ok := it.Next()
			if !ok {
				break
			}
			if repr.PreferShown(ds[i], v) {
				ds[i] = v
			}
		}
	}
	pk.Reset()
	pk.PushAll(ds)
	return ds
}
