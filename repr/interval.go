package repr

import (
	"fmt"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
)

// Interval type modifiers, as PostgreSQL encodes them: the fields a
// qualified interval keeps (interval '3' MONTH, DAY TO SECOND(3)) in the
// high 16 bits, as a mask of the Interval* field bits below, and the
// fractional-second precision in the low 16 bits. A plain interval has
// NoTypmod; interval(3) has the full range.
const (
	IntervalMonth  int32 = 1 << 1
	IntervalYear   int32 = 1 << 2
	IntervalDay    int32 = 1 << 3
	IntervalHour   int32 = 1 << 10
	IntervalMinute int32 = 1 << 11
	IntervalSecond int32 = 1 << 12

	// IntervalFullRange is the range of an interval without fields.
	IntervalFullRange int32 = 0x7FFF
	// IntervalFullPrecision is the precision of an interval without one.
	IntervalFullPrecision int32 = 0xFFFF
	// MaxIntervalPrecision is the largest fractional-second precision.
	MaxIntervalPrecision int32 = 6
)

// IntervalType returns interval with field range rng (a mask of
// Interval* bits, or IntervalFullRange) and fractional-second precision
// (or IntervalFullPrecision). It is plain interval when both are full.
func IntervalType(rng, precision int32) ScalarType {
	if rng == IntervalFullRange && precision == IntervalFullPrecision {
		return TypeInterval
	}
	return ScalarType{Kind: KindInterval, Typmod: rng<<16 | precision}
}

// IntervalRangePrecision returns a qualified interval type's field range
// and precision; ok is false for plain interval.
func (t ScalarType) IntervalRangePrecision() (rng, precision int32, ok bool) {
	if t.Kind != KindInterval || t.Typmod < 0 {
		return IntervalFullRange, IntervalFullPrecision, false
	}
	return t.Typmod >> 16 & 0x7FFF, t.Typmod & 0xFFFF, true
}

// intervalRangeNames are the SQL qualifiers of each valid range, as
// PostgreSQL's format_type prints them.
var intervalRangeNames = map[int32]string{
	IntervalYear:                 "year",
	IntervalMonth:                "month",
	IntervalDay:                  "day",
	IntervalHour:                 "hour",
	IntervalMinute:               "minute",
	IntervalSecond:               "second",
	IntervalYear | IntervalMonth: "year to month",
	IntervalDay | IntervalHour:   "day to hour",
	IntervalDay | IntervalHour | IntervalMinute:                  "day to minute",
	IntervalDay | IntervalHour | IntervalMinute | IntervalSecond: "day to second",
	IntervalHour | IntervalMinute:                                "hour to minute",
	IntervalHour | IntervalMinute | IntervalSecond:               "hour to second",
	IntervalMinute | IntervalSecond:                              "minute to second",
}

// intervalTypeString prints a qualified interval type: "interval month",
// "interval(3)", "interval day to second(2)".
func intervalTypeString(t ScalarType) string {
	rng, prec, ok := t.IntervalRangePrecision()
	if !ok {
		return "interval"
	}
	var b strings.Builder
	b.WriteString("interval")
	if rng != IntervalFullRange {
		b.WriteString(" " + intervalRangeNames[rng])
	}
	if prec != IntervalFullPrecision {
		fmt.Fprintf(&b, "(%d)", prec)
	}
	return b.String()
}

// CheckIntervalTypmod validates a range and precision from SQL: the
// range must be one of the qualifiers' and the precision 0..6 (larger is
// reduced to 6, as PostgreSQL does with a warning).
func CheckIntervalTypmod(rng, precision int32) (int32, error) {
	if _, ok := intervalRangeNames[rng]; !ok && rng != IntervalFullRange {
		return 0, pgcode.New(pgcode.InvalidParameterValue, "invalid INTERVAL type modifier")
	}
	if precision == IntervalFullPrecision {
		return precision, nil
	}
	if precision < 0 {
		return 0, pgcode.New(pgcode.InvalidParameterValue, "INTERVAL(%d) precision must not be negative", precision)
	}
	return min(precision, MaxIntervalPrecision), nil
}

// intervalDefaultUnit is the unit of a bare number in interval input for
// a field range: its rightmost field (PostgreSQL's DecodeInterval), so
// that interval '3' MONTH is 3 months; seconds for the full range.
func intervalDefaultUnit(rng int32) string {
	switch rng {
	case IntervalYear:
		return "year"
	case IntervalMonth, IntervalYear | IntervalMonth:
		return "month"
	case IntervalDay:
		return "day"
	case IntervalHour, IntervalDay | IntervalHour:
		return "hour"
	case IntervalMinute, IntervalHour | IntervalMinute, IntervalDay | IntervalHour | IntervalMinute:
		return "minute"
	}
	return "second"
}

// intervalScales[p] is the microsecond step of precision p.
var intervalScales = [...]int64{1_000_000, 100_000, 10_000, 1_000, 100, 10, 1}

// AdjustInterval applies an interval type modifier to iv, as
// PostgreSQL's AdjustIntervalForTypmod: fields below the range's
// rightmost field are dropped (interval '1 day 3 hours' DAY is 1 day;
// YEAR keeps whole years of the months), and the time is rounded to the
// fractional-second precision, half away from zero.
func AdjustInterval(iv Interval, typmod int32) Interval {
	if typmod < 0 {
		return iv
	}
	t := ScalarType{Kind: KindInterval, Typmod: typmod}
	rng, prec, _ := t.IntervalRangePrecision()
	truncTime := func(unit int64) { iv.Micros = iv.Micros / unit * unit }
	switch rng {
	case IntervalYear:
		iv.Months = iv.Months / 12 * 12
		iv.Days, iv.Micros = 0, 0
	case IntervalMonth, IntervalYear | IntervalMonth:
		iv.Days, iv.Micros = 0, 0
	case IntervalDay:
		iv.Micros = 0
	case IntervalHour, IntervalDay | IntervalHour:
		truncTime(MicrosPerHour)
	case IntervalMinute, IntervalDay | IntervalHour | IntervalMinute, IntervalHour | IntervalMinute:
		truncTime(MicrosPerMinute)
	}
	if prec >= 0 && prec < MaxIntervalPrecision {
		scale := intervalScales[prec]
		if iv.Micros >= 0 {
			iv.Micros = (iv.Micros + scale/2) / scale * scale
		} else {
			iv.Micros = -((-iv.Micros + scale/2) / scale * scale)
		}
	}
	return iv
}

// ParseIntervalTypmod parses interval input for a qualified interval
// type: a bare number counts in the range's rightmost field, a two-part
// clock is MM:SS for MINUTE TO SECOND, and the result is adjusted to the
// modifier (AdjustInterval).
func ParseIntervalTypmod(s string, typmod int32) (Interval, error) {
	if typmod < 0 {
		return ParseInterval(s)
	}
	t := ScalarType{Kind: KindInterval, Typmod: typmod}
	rng, _, _ := t.IntervalRangePrecision()
	iv, err := parseInterval(s, intervalDefaultUnit(rng), rng == IntervalMinute|IntervalSecond)
	if err != nil {
		return Interval{}, err
	}
	return AdjustInterval(iv, typmod), nil
}

// SpanMicros returns the interval's span in microseconds, months counted
// as 30 days and days as 24 hours, exactly: what PostgreSQL's interval
// comparison and hashing use (interval_cmp_value). Equal intervals ('1
// day' and '24 hours', '1 mon' and '30 days') have equal spans, so the
// span serves as their canonical key.
func (iv Interval) SpanMicros() *apd.Decimal {
	days := apd.New(int64(iv.Months)*DaysPerMonth+int64(iv.Days), 0)
	span := new(apd.Decimal)
	_, _ = apd.BaseContext.WithPrecision(40).Mul(span, days, apd.New(MicrosPerDay, 0))
	_, _ = apd.BaseContext.WithPrecision(40).Add(span, span, apd.New(iv.Micros, 0))
	return span
}
