package sources

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// parseText converts a string an upstream sent for a column of type t into a
// datum with PostgreSQL's input rules (repr.ParseText), then applies the
// type's modifier (numeric(p,s) rounding and overflow, varchar(n) length).
// Timestamps also accept the ISO 8601 forms CDC producers write ("T"
// separator, "Z" or numeric zone) when repr.ParseText does not.
func parseText(s string, t repr.ScalarType) (repr.Datum, error) {
	d, err := repr.ParseText(s, t)
	if err != nil {
		if t.Kind == repr.KindTimestamp || t.Kind == repr.KindTimestampTz {
			if d, ok := parseISOTimestamp(strings.TrimSpace(s), t); ok {
				return d, nil
			}
		}
		return repr.Null, err
	}
	switch t.Kind {
	case repr.KindNumeric:
		return numericDatum(d.Numeric(), t)
	case repr.KindVarchar, repr.KindChar:
		if t.Typmod >= 0 && utf8.RuneCountInString(d.Str()) > int(t.Typmod) {
			return repr.Null, pgcode.New(pgcode.StringDataRightTruncation, "value too long for type %s", t)
		}
	}
	return d, nil
}

// parseISOTimestamp parses ISO 8601 timestamps. A zone given for a
// timestamp without time zone is ignored, as PostgreSQL does (the wall
// clock is kept); an unzoned timestamptz is UTC, the session zone of
// sources.
func parseISOTimestamp(s string, t repr.ScalarType) (repr.Datum, bool) {
	tm, _, ok := parseISOTime(s)
	if !ok {
		return repr.Null, false
	}
	if t.Kind == repr.KindTimestamp {
		y, mo, d := tm.Date()
		wall := time.Date(y, mo, d, tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond(), time.UTC)
		return repr.TimestampDatum(wall.UnixMicro()), true
	}
	return repr.TimestampTzDatum(tm.UnixMicro()), true
}

var isoLayouts = []struct {
	layout string
	zoned  bool
}{
	{"2006-01-02T15:04:05.999999999Z07:00", true},
	{"2006-01-02 15:04:05.999999999Z07:00", true},
	{"2006-01-02T15:04:05.999999999Z07", true},
	{"2006-01-02 15:04:05.999999999Z07", true},
	{"2006-01-02T15:04:05.999999999", false},
	{"2006-01-02 15:04:05.999999999", false},
	{"2006-01-02", false},
}

func parseISOTime(s string) (time.Time, bool, bool) {
	for _, l := range isoLayouts {
		if tm, err := time.Parse(l.layout, s); err == nil {
			return tm, l.zoned, true
		}
	}
	return time.Time{}, false, false
}

// intDatum range-checks v for the integer type t.
func intDatum(t repr.ScalarType, v int64) (repr.Datum, error) {
	lo, hi := int64(-1<<63), int64(1<<63-1)
	switch t.Kind {
	case repr.KindInt2:
		lo, hi = -1<<15, 1<<15-1
	case repr.KindInt4:
		lo, hi = -1<<31, 1<<31-1
	}
	if v < lo || v > hi {
		return repr.Null, pgcode.New(pgcode.NumericValueOutOfRange, "%s out of range: %d", t, v)
	}
	return repr.IntDatum(t.Kind, v), nil
}

var numericCtx = apd.BaseContext.WithPrecision(1000)

// numericDatum applies numeric(p,s)'s scale and precision to d.
func numericDatum(d *apd.Decimal, t repr.ScalarType) (repr.Datum, error) {
	if p, s, ok := t.NumericPrecisionScale(); ok {
		var q apd.Decimal
		if _, err := numericCtx.Quantize(&q, d, -s); err != nil {
			return repr.Null, pgcode.New(pgcode.NumericValueOutOfRange, "numeric field overflow")
		}
		if q.Form == apd.Finite && !q.IsZero() && int32(q.NumDigits())+q.Exponent > p-s {
			return repr.Null, pgcode.New(pgcode.NumericValueOutOfRange, "numeric field overflow").
				WithDetail("A field with precision %d, scale %d must round to an absolute value less than 10^%d.", p, s, p-s)
		}
		d = &q
	}
	return repr.NumericDatum(d), nil
}
