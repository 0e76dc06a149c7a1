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
	if t.Kind == repr.KindTimestamp || t.Kind == repr.KindTimestampTz {
		if us, ok := fastISOTimestamp(s, t.Kind == repr.KindTimestampTz); ok {
			if t.Kind == repr.KindTimestamp {
				return repr.TimestampDatum(us), nil
			}
			return repr.TimestampTzDatum(us), nil
		}
	}
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

// fastISOTimestamp parses the one timestamp form CDC producers and
// Nexmark write nearly always, YYYY-MM-DD{T| }HH:MM:SS[.f{1,6}][Z|±HH:MM],
// giving what repr.ParseTimestamp gives for it, without its allocations.
// Any other form (or value out of the ordinary ranges) is left to
// repr.ParseTimestamp: ok is false.
func fastISOTimestamp(s string, tz bool) (int64, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	num := func(i, n int) (int64, bool) {
		var v int64
		for j := i; j < i+n; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || y < 1 || mo < 1 || mo > 12 || d < 1 || d > repr.DaysInMonth(y, mo) ||
		h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	us := repr.DaysFromCivil(y, mo, d)*repr.MicrosPerDay + h*repr.MicrosPerHour + mi*repr.MicrosPerMinute + sec*repr.MicrosPerSecond
	i := 19
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n := i - start
		if n == 0 || n > 6 {
			return 0, false
		}
		f, _ := num(start, n)
		for ; n < 6; n++ {
			f *= 10
		}
		us += f
	}
	switch rest := s[i:]; {
	case rest == "" || rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(i+1, 2)
		om, ok2 := num(i+4, 2)
		if !ok1 || !ok2 || oh > 15 || om > 59 {
			return 0, false
		}
		if tz {
			off := oh*repr.MicrosPerHour + om*repr.MicrosPerMinute
			if rest[0] == '-' {
				off = -off
			}
			us -= off
		}
	default:
		return 0, false
	}
	return us, true
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
