package repr

import "math"

// Timestamp is a logical time, milliseconds since the Unix epoch by default.
type Timestamp uint64

// MaxTimestamp is the largest timestamp; an upper of MaxTimestamp means a
// collection is closed: no further update will ever arrive.
const MaxTimestamp Timestamp = math.MaxUint64

// Diff is the change in multiplicity that an update carries.
type Diff int64

// Update is one change to a collection: Row's multiplicity changes by Diff at
// Time.
type Update struct {
	Row  Row
	Time Timestamp
	Diff Diff
}
