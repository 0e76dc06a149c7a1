package dataflow

import (
	"math"

	"github.com/viewd/viewd/repr"
)

// timeCol stores a batch's times as offsets from base in the narrowest
// width the range [base, hi] needs. Its invariant: base <= every time <=
// hi (bounds, not necessarily attained: a merge sizes its output's column
// from its inputs' bounds before it has seen the times).
type timeCol struct {
	base, hi repr.Timestamp
	width    uint8 // 0, 1, 2, 4, 8
	w8       []uint8
	w16      []uint16
	w32      []uint32
	w64      []uint64
}

// constTimes returns the column of updates all at time t.
func constTimes(t repr.Timestamp) timeCol { return timeCol{base: t, hi: t} }

func (c *timeCol) at(j int) repr.Timestamp {
	switch c.width {
	case 0:
		return c.base
	case 1:
		return c.base + repr.Timestamp(c.w8[j])
	case 2:
		return c.base + repr.Timestamp(c.w16[j])
	case 4:
		return c.base + repr.Timestamp(c.w32[j])
	}
	return c.base + repr.Timestamp(c.w64[j])
}

func (c *timeCol) bytes() int { return cap(c.w8) + 2*cap(c.w16) + 4*cap(c.w32) + 8*cap(c.w64) }

// timeWidth returns the bytes per update that offsets up to r need.
func timeWidth(r uint64) uint8 {
	switch {
	case r == 0:
		return 0
	case r <= math.MaxUint8:
		return 1
	case r <= math.MaxUint16:
		return 2
	case r <= math.MaxUint32:
		return 4
	}
	return 8
}

// timeColFor returns an empty column for n updates at times in [lo, hi],
// its storage allocated whole (so that appending never copies).
func timeColFor(lo, hi repr.Timestamp, n int) timeCol {
	c := timeCol{base: lo, hi: hi, width: timeWidth(uint64(hi - lo))}
	switch c.width {
	case 1:
		c.w8 = make([]uint8, 0, n)
	case 2:
		c.w16 = make([]uint16, 0, n)
	case 4:
		c.w32 = make([]uint32, 0, n)
	case 8:
		c.w64 = make([]uint64, 0, n)
	}
	return c
}

// push appends time t of update n (the column holds n times). A time
// outside [base, hi] re-encodes the column wider (a writer that was given
// no bounds: a loader's).
func (c *timeCol) push(n int, t repr.Timestamp) {
	if t < c.base || t > c.hi {
		c.widen(n, t)
	}
	switch c.width {
	case 1:
		c.w8 = append(c.w8, uint8(t-c.base))
	case 2:
		c.w16 = append(c.w16, uint16(t-c.base))
	case 4:
		c.w32 = append(c.w32, uint32(t-c.base))
	case 8:
		c.w64 = append(c.w64, uint64(t-c.base))
	}
}

// widen re-encodes the column's n times to cover t as well.
func (c *timeCol) widen(n int, t repr.Timestamp) {
	lo, hi := min(c.base, t), max(c.hi, t)
	if n == 0 {
		lo, hi = t, t
	}
	out := timeColFor(lo, hi, max(2*n, 16))
	for j := range n {
		out.push(j, c.at(j))
	}
	*c = out
}

// truncate keeps the first n times.
func (c *timeCol) truncate(n int) {
	switch c.width {
	case 1:
		c.w8 = c.w8[:n]
	case 2:
		c.w16 = c.w16[:n]
	case 4:
		c.w32 = c.w32[:n]
	case 8:
		c.w64 = c.w64[:n]
	}
}

// diffCol stores diffs: a prefix of them in small (int8) and the rest in
// wide (int64), the updates from the first whose diff did not fit an int8
// on; both empty (nil) when every diff is +1.
type diffCol struct {
	small []int8
	wide  []repr.Diff
}

func (c *diffCol) at(j int) repr.Diff {
	if j < len(c.small) {
		return repr.Diff(c.small[j])
	}
	if c.wide == nil {
		return 1
	}
	return c.wide[j-len(c.small)]
}

func (c *diffCol) bytes() int { return cap(c.small) + 8*cap(c.wide) }

// push appends diff d of update n (the column holds n diffs); room is the
// number of updates the column is expected to hold in all, which sizes
// wide when a diff first needs it.
func (c *diffCol) push(n int, d repr.Diff, room int) {
	if c.wide == nil {
		if d >= math.MinInt8 && d <= math.MaxInt8 {
			c.small = append(c.small, int8(d))
			return
		}
		c.wide = make([]repr.Diff, 0, max(room-n, 1))
	}
	c.wide = append(c.wide, d)
}

// set sets the diff of the last update, n-1, to d.
func (c *diffCol) set(n int, d repr.Diff, room int) {
	j := n - 1
	if j >= len(c.small) {
		c.wide[j-len(c.small)] = d
		return
	}
	if d >= math.MinInt8 && d <= math.MaxInt8 {
		c.small[j] = int8(d)
		return
	}
	// The last update is in small, so wide is empty: the update moves
	// to it.
	c.small = c.small[:j]
	c.push(j, d, room)
}

// truncate keeps the first n diffs.
func (c *diffCol) truncate(n int) {
	if n >= len(c.small) {
		c.wide = c.wide[:n-len(c.small)]
		return
	}
	c.small, c.wide = c.small[:n], c.wide[:0]
}
