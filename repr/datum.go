package repr

import (
	"bytes"
	"cmp"
	"math"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Interval is PostgreSQL's interval: months, days and microseconds are kept
// apart because their lengths vary.
type Interval struct {
	Months int32
	Days   int32
	Micros int64
}

// MicrosPerDay and the like convert between interval units the way
// PostgreSQL does when it must (30-day months, 24-hour days).
const (
	MicrosPerSecond int64 = 1_000_000
	MicrosPerMinute       = 60 * MicrosPerSecond
	MicrosPerHour         = 60 * MicrosPerMinute
	MicrosPerDay          = 24 * MicrosPerHour
	DaysPerMonth          = 30
)

// Duration returns the interval as microseconds, months counted as 30 days
// and days as 24 hours (PostgreSQL's interval comparison rule).
func (iv Interval) Duration() float64 {
	return float64(iv.Months)*DaysPerMonth*float64(MicrosPerDay) + float64(iv.Days)*float64(MicrosPerDay) + float64(iv.Micros)
}

// cmpKey returns a 128-bit comparable form of the interval: PostgreSQL
// compares intervals by their span with 30-day months.
func (iv Interval) cmpKey() (hi int64, lo uint64) {
	days := int64(iv.Months)*DaysPerMonth + int64(iv.Days)
	// total = days*MicrosPerDay + Micros, computed in 128 bits.
	dayMicrosHi, dayMicrosLo := mul64(days, MicrosPerDay)
	return add128(dayMicrosHi, dayMicrosLo, iv.Micros)
}

func mul64(a, b int64) (hi int64, lo uint64) {
	neg := (a < 0) != (b < 0)
	ua, ub := uint64(a), uint64(b)
	if a < 0 {
		ua = uint64(-a)
	}
	if b < 0 {
		ub = uint64(-b)
	}
	h, l := mulu64(ua, ub)
	if neg {
		l = ^l + 1
		h = ^h
		if l == 0 {
			h++
		}
	}
	return int64(h), l
}

func mulu64(a, b uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t&mask32 + a0*b1
	hi = a1*b1 + t>>32 + w1>>32
	lo = a * b
	return
}

func add128(hi int64, lo uint64, x int64) (int64, uint64) {
	nlo := lo + uint64(x)
	carry := int64(0)
	if nlo < lo {
		carry = 1
	}
	ext := int64(0)
	if x < 0 {
		ext = -1
	}
	return hi + ext + carry, nlo
}

// Datum is one SQL value. The zero Datum is NULL.
//
// Field use by kind: i holds bool (0/1), integers, oids, float bits, dates
// (days since 1970-01-01), times (microseconds since midnight), timestamps
// (microseconds since 1970-01-01 00:00:00 UTC for timestamptz, the same wall
// clock for timestamp) and the microseconds of an interval; j holds an
// interval's months<<32|days; s holds text, bytea, jsonb (canonical text),
// uuid (16 bytes), arrays and records (packed rows); n holds numeric.
type Datum struct {
	kind Kind
	i    int64
	j    int64
	s    string
	n    *apd.Decimal
}

// Null is the NULL datum.
var Null = Datum{}

// True and False are the boolean datums.
var (
	True  = Datum{kind: KindBool, i: 1}
	False = Datum{kind: KindBool}
)

// BoolDatum returns a boolean datum.
func BoolDatum(b bool) Datum {
	if b {
		return True
	}
	return False
}

// Int2Datum returns a smallint datum.
func Int2Datum(v int16) Datum { return Datum{kind: KindInt2, i: int64(v)} }

// Int4Datum returns an integer datum.
func Int4Datum(v int32) Datum { return Datum{kind: KindInt4, i: int64(v)} }

// Int8Datum returns a bigint datum.
func Int8Datum(v int64) Datum { return Datum{kind: KindInt8, i: v} }

// IntDatum returns an integer datum of kind k (int2, int4 or int8); the
// caller has checked the range.
func IntDatum(k Kind, v int64) Datum { return Datum{kind: k, i: v} }

// OidDatum returns an oid datum.
func OidDatum(v uint32) Datum { return Datum{kind: KindOid, i: int64(v)} }

// Float4Datum returns a real datum.
func Float4Datum(v float32) Datum {
	return Datum{kind: KindFloat4, i: int64(math.Float64bits(float64(v)))}
}

// Float8Datum returns a double precision datum.
func Float8Datum(v float64) Datum { return Datum{kind: KindFloat8, i: int64(math.Float64bits(v))} }

// NumericDatum returns a numeric datum. The datum keeps d; callers must not
// modify it afterwards.
func NumericDatum(d *apd.Decimal) Datum { return Datum{kind: KindNumeric, n: d} }

// TextDatum returns a text datum.
func TextDatum(s string) Datum { return Datum{kind: KindText, s: s} }

// StringDatum returns a datum of string kind k (text, varchar or char).
func StringDatum(k Kind, s string) Datum { return Datum{kind: k, s: s} }

// ByteaDatum returns a bytea datum.
func ByteaDatum(b []byte) Datum { return Datum{kind: KindBytea, s: string(b)} }

// DateDatum returns a date datum: days since 1970-01-01.
func DateDatum(days int32) Datum { return Datum{kind: KindDate, i: int64(days)} }

// TimeDatum returns a time datum: microseconds since midnight.
func TimeDatum(micros int64) Datum { return Datum{kind: KindTime, i: micros} }

// TimestampDatum returns a timestamp (without time zone) datum:
// microseconds since 1970-01-01 00:00:00.
func TimestampDatum(micros int64) Datum { return Datum{kind: KindTimestamp, i: micros} }

// TimestampTzDatum returns a timestamptz datum: microseconds since the Unix
// epoch, UTC.
func TimestampTzDatum(micros int64) Datum { return Datum{kind: KindTimestampTz, i: micros} }

// IntervalDatum returns an interval datum.
func IntervalDatum(iv Interval) Datum {
	return Datum{kind: KindInterval, i: iv.Micros, j: int64(iv.Months)<<32 | int64(uint32(iv.Days))}
}

// UUIDDatum returns a uuid datum.
func UUIDDatum(u [16]byte) Datum { return Datum{kind: KindUUID, s: string(u[:])} }

// JsonbDatum returns a jsonb datum from canonical JSON text (see
// CanonicalJSON); the caller has canonicalised it.
func JsonbDatum(canonical string) Datum { return Datum{kind: KindJsonb, s: canonical} }

// ArrayDatum returns a one-dimensional array datum of the given elements.
func ArrayDatum(elems []Datum) Datum {
	var p Packer
	for _, e := range elems {
		p.Push(e)
	}
	return Datum{kind: KindArray, s: string(p.buf)}
}

// RecordDatum returns a record datum holding row's datums.
func RecordDatum(fields []Datum) Datum {
	var p Packer
	for _, e := range fields {
		p.Push(e)
	}
	return Datum{kind: KindRecord, s: string(p.buf)}
}

// Kind returns the datum's kind; KindNull for NULL.
func (d Datum) Kind() Kind { return d.kind }

// IsNull reports whether d is NULL.
func (d Datum) IsNull() bool { return d.kind == KindNull }

// Bool returns a boolean datum's value.
func (d Datum) Bool() bool { return d.i != 0 }

// Int returns an integer (or oid) datum's value.
func (d Datum) Int() int64 { return d.i }

// Float returns a real or double precision datum's value.
func (d Datum) Float() float64 { return math.Float64frombits(uint64(d.i)) }

// Numeric returns a numeric datum's value; callers must not modify it.
func (d Datum) Numeric() *apd.Decimal { return d.n }

// Str returns the bytes of a text, varchar, char, bytea, jsonb or uuid datum.
func (d Datum) Str() string { return d.s }

// Days returns a date datum's days since 1970-01-01.
func (d Datum) Days() int32 { return int32(d.i) }

// Micros returns a time or timestamp datum's microseconds.
func (d Datum) Micros() int64 { return d.i }

// Interval returns an interval datum's value.
func (d Datum) Interval() Interval {
	return Interval{Months: int32(d.j >> 32), Days: int32(uint32(d.j)), Micros: d.i}
}

// UUID returns a uuid datum's bytes.
func (d Datum) UUID() (u [16]byte) {
	copy(u[:], d.s)
	return u
}

// Elements returns the elements of an array datum or the fields of a record
// datum, appended to buf.
func (d Datum) Elements(buf []Datum) []Datum {
	return Row(d.s).Unpack(buf)
}

// ElementsRow returns the packed elements of an array or record datum.
func (d Datum) ElementsRow() Row { return Row(d.s) }

// WithKind returns d relabelled as kind k, for casts between kinds that share
// a representation (int widths, text/varchar/char, timestamp/timestamptz).
func (d Datum) WithKind(k Kind) Datum {
	if d.kind == KindNull {
		return d
	}
	d.kind = k
	return d
}

// Compare orders two datums as SQL's ORDER BY does with NULLS LAST: NULL
// sorts after every value. Datums of different kinds within the integer
// family, the float family, and the string family compare by value; other
// mixes compare by kind (callers cast to a common type first). jsonb
// compares in PostgreSQL's jsonb order (appendJSONBKey), as AppendKey's
// keys do.
func Compare(a, b Datum) int {
	if a.kind == KindNull || b.kind == KindNull {
		switch {
		case a.kind == b.kind:
			return 0
		case a.kind == KindNull:
			return 1
		default:
			return -1
		}
	}
	ak, bk := family(a.kind), family(b.kind)
	if ak != bk {
		return cmp.Compare(ak, bk)
	}
	switch ak {
	case KindBool, KindInt8, KindDate, KindTime, KindTimestamp, KindOid:
		return cmp.Compare(a.i, b.i)
	case KindFloat8:
		return compareFloat(a.Float(), b.Float())
	case KindNumeric:
		return compareNumeric(a.n, b.n)
	case KindText, KindBytea, KindUUID:
		return strings.Compare(a.s, b.s)
	case KindJsonb:
		return compareJSONB(a.s, b.s)
	case KindInterval:
		ah, al := a.Interval().cmpKey()
		bh, bl := b.Interval().cmpKey()
		if c := cmp.Compare(ah, bh); c != 0 {
			return c
		}
		return cmp.Compare(al, bl)
	case KindArray, KindRecord:
		return compareRows(Row(a.s), Row(b.s))
	}
	return 0
}

// compareRows compares two packed rows datum by datum (SQL array/record
// ordering: element-wise, shorter first on a tie).
func compareRows(a, b Row) int {
	ai, bi := a.Iter(), b.Iter()
	for {
		ad, aok := ai.Next()
		bd, bok := bi.Next()
		switch {
		case !aok && !bok:
			return 0
		case !aok:
			return -1
		case !bok:
			return 1
		}
		if c := Compare(ad, bd); c != 0 {
			return c
		}
	}
}

// family maps a kind to the representative kind it compares as.
func family(k Kind) Kind {
	switch k {
	case KindInt2, KindInt4, KindInt8:
		return KindInt8
	case KindFloat4, KindFloat8:
		return KindFloat8
	case KindText, KindVarchar, KindChar:
		return KindText
	case KindTimestamp, KindTimestampTz:
		return KindTimestamp
	}
	return k
}

// compareFloat orders floats as PostgreSQL does: NaN is greater than every
// other value and equal to itself; -0 equals 0.
func compareFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

func compareNumeric(a, b *apd.Decimal) int {
	an, bn := a.Form == apd.NaN, b.Form == apd.NaN
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return a.Cmp(b)
}

// Equal reports whether a and b are equal values (IS NOT DISTINCT FROM).
// Values of a kind whose equal values may differ in their bytes (numerics,
// floats, intervals, jsonb, and arrays and records, which may hold them)
// compare by value.
func Equal(a, b Datum) bool {
	if a.kind == b.kind && a.i == b.i && a.s == b.s && a.kind != KindNumeric {
		return true
	}
	switch a.kind {
	case KindNumeric, KindFloat4, KindFloat8, KindInterval, KindJsonb, KindArray, KindRecord:
		return Compare(a, b) == 0
	}
	if a.kind != b.kind {
		return Compare(a, b) == 0
	}
	return false
}

// SameBytes reports whether two rows hold identical bytes.
func SameBytes(a, b Row) bool { return bytes.Equal(a, b) }
