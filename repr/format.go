package repr

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
)

// AppendText appends d's PostgreSQL text output form (the form the wire
// protocol's text format and psql show) to buf. NULL appends nothing: callers
// signal NULL out of band. Timestamps with time zone print in UTC.
func AppendText(buf []byte, d Datum) []byte {
	switch d.kind {
	case KindNull:
		return buf
	case KindBool:
		if d.i != 0 {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case KindInt2, KindInt4, KindInt8:
		return strconv.AppendInt(buf, d.i, 10)
	case KindOid:
		return strconv.AppendUint(buf, uint64(uint32(d.i)), 10)
	case KindFloat4:
		return AppendFloat(buf, d.Float(), 32)
	case KindFloat8:
		return AppendFloat(buf, d.Float(), 64)
	case KindNumeric:
		return AppendNumeric(buf, d.n, -1)
	case KindText, KindVarchar, KindChar, KindJsonb:
		return append(buf, d.s...)
	case KindBytea:
		buf = append(buf, `\x`...)
		return hex.AppendEncode(buf, []byte(d.s))
	case KindDate:
		return AppendDate(buf, d.Days())
	case KindTime:
		return appendClock(buf, d.i)
	case KindTimestamp:
		return AppendTimestamp(buf, d.i, false)
	case KindTimestampTz:
		return AppendTimestamp(buf, d.i, true)
	case KindInterval:
		return AppendInterval(buf, d.Interval())
	case KindUUID:
		return appendUUID(buf, d.s)
	case KindArray:
		return appendArray(buf, Row(d.s))
	case KindRecord:
		return appendRecord(buf, Row(d.s))
	}
	return buf
}

// AppendTextTyped is AppendText with the column's type applied: numeric(p,s)
// prints s decimal places.
func AppendTextTyped(buf []byte, d Datum, t ScalarType) []byte {
	if d.kind == KindArray && t.IsVector() {
		it := Row(d.s).Iter()
		for first := true; ; first = false {
			e, ok := it.Next()
			if !ok {
				return buf
			}
			if !first {
				buf = append(buf, ' ')
			}
			buf = AppendText(buf, e)
		}
	}
	if d.kind == KindNumeric {
		if _, s, ok := t.NumericPrecisionScale(); ok {
			return AppendNumeric(buf, d.n, int(s))
		}
	}
	return AppendText(buf, d)
}

// Text returns d's text output form; "NULL" for NULL.
func (d Datum) Text() string {
	if d.kind == KindNull {
		return "NULL"
	}
	return string(AppendText(nil, d))
}

// String prints d as a SQL literal, for debugging and plans: strings quoted,
// NULL bare.
func (d Datum) String() string {
	switch d.kind {
	case KindNull:
		return "NULL"
	case KindBool:
		if d.i != 0 {
			return "true"
		}
		return "false"
	case KindInt2, KindInt4, KindInt8, KindFloat4, KindFloat8, KindNumeric, KindOid:
		return string(AppendText(nil, d))
	}
	return QuoteString(string(AppendText(nil, d)))
}

// QuoteString quotes s as a SQL string literal.
func QuoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// AppendFloat formats a float the way PostgreSQL 12+ does with
// extra_float_digits = 1: the shortest text that reads back exactly, in
// exponent form when the decimal exponent is below -4 or at least 15 (6 for
// real).
func AppendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(buf, "-0"...)
		}
		return append(buf, '0')
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	// e is like "-1.2345e+06".
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	neg := strings.HasPrefix(mant, "-")
	digits := strings.Replace(strings.TrimPrefix(mant, "-"), ".", "", 1)
	limit := 15
	if bits == 32 {
		limit = 6
	}
	if neg {
		buf = append(buf, '-')
	}
	if exp < -4 || exp >= limit {
		buf = append(buf, digits[0])
		if len(digits) > 1 {
			buf = append(buf, '.')
			buf = append(buf, digits[1:]...)
		}
		buf = append(buf, 'e')
		if exp < 0 {
			buf = append(buf, '-')
			exp = -exp
		} else {
			buf = append(buf, '+')
		}
		if exp < 10 {
			buf = append(buf, '0')
		}
		return strconv.AppendInt(buf, int64(exp), 10)
	}
	if exp < 0 {
		buf = append(buf, "0."...)
		for i := 0; i < -exp-1; i++ {
			buf = append(buf, '0')
		}
		return append(buf, digits...)
	}
	if len(digits) <= exp+1 {
		buf = append(buf, digits...)
		for i := len(digits); i <= exp; i++ {
			buf = append(buf, '0')
		}
		return buf
	}
	buf = append(buf, digits[:exp+1]...)
	buf = append(buf, '.')
	return append(buf, digits[exp+1:]...)
}

// AppendNumeric formats a decimal in plain notation. With scale >= 0 it
// rounds or pads to that many decimal places.
func AppendNumeric(buf []byte, n *apd.Decimal, scale int) []byte {
	if n == nil {
		return append(buf, '0')
	}
	switch n.Form {
	case apd.NaN, apd.NaNSignaling:
		return append(buf, "NaN"...)
	case apd.Infinite:
		if n.Negative {
			return append(buf, "-Infinity"...)
		}
		return append(buf, "Infinity"...)
	}
	if scale >= 0 && int(-n.Exponent) != scale {
		var q apd.Decimal
		ctx := apd.BaseContext.WithPrecision(1000)
		ctx.Rounding = apd.RoundHalfUp
		if _, err := ctx.Quantize(&q, n, int32(-scale)); err == nil {
			n = &q
		}
	}
	s := n.Text('f')
	if n.IsZero() && len(s) > 0 && s[0] == '-' {
		s = s[1:] // numeric has no negative zero
	}
	return append(buf, s...)
}

// pgEpochDays is 2000-01-01 in days since 1970-01-01.
const pgEpochDays = 10957

// AppendDate formats days since 1970-01-01 as YYYY-MM-DD (with " BC" for
// years before 1).
func AppendDate(buf []byte, days int32) []byte {
	t := time.Unix(int64(days)*86400, 0).UTC()
	return appendYMD(buf, t.Year(), int(t.Month()), t.Day(), true)
}

func appendYMD(buf []byte, y, m, d int, withBC bool) []byte {
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	buf = appendPadded(buf, int64(y), 4)
	buf = append(buf, '-')
	buf = appendPadded(buf, int64(m), 2)
	buf = append(buf, '-')
	buf = appendPadded(buf, int64(d), 2)
	if bc && withBC {
		buf = append(buf, " BC"...)
	}
	return buf
}

func appendPadded(buf []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		buf = append(buf, '0')
	}
	return append(buf, s...)
}

// appendClock formats microseconds since midnight as HH:MM:SS[.ffffff].
func appendClock(buf []byte, micros int64) []byte {
	h := micros / MicrosPerHour
	micros -= h * MicrosPerHour
	m := micros / MicrosPerMinute
	micros -= m * MicrosPerMinute
	s := micros / MicrosPerSecond
	frac := micros - s*MicrosPerSecond
	buf = appendPadded(buf, h, 2)
	buf = append(buf, ':')
	buf = appendPadded(buf, m, 2)
	buf = append(buf, ':')
	buf = appendPadded(buf, s, 2)
	return appendFraction(buf, frac)
}

func appendFraction(buf []byte, frac int64) []byte {
	if frac == 0 {
		return buf
	}
	f := []byte(strconv.FormatInt(frac+1_000_000, 10)[1:])
	for len(f) > 0 && f[len(f)-1] == '0' {
		f = f[:len(f)-1]
	}
	buf = append(buf, '.')
	return append(buf, f...)
}

// AppendTimestamp formats microseconds since the epoch as
// YYYY-MM-DD HH:MM:SS[.ffffff], with "+00" when tz (UTC).
func AppendTimestamp(buf []byte, micros int64, tz bool) []byte {
	secs := micros / MicrosPerSecond
	frac := micros % MicrosPerSecond
	if frac < 0 {
		frac += MicrosPerSecond
		secs--
	}
	t := time.Unix(secs, 0).UTC()
	y := t.Year()
	buf = appendYMD(buf, y, int(t.Month()), t.Day(), false)
	buf = append(buf, ' ')
	buf = appendClock(buf, int64(t.Hour())*MicrosPerHour+int64(t.Minute())*MicrosPerMinute+int64(t.Second())*MicrosPerSecond+frac)
	if tz {
		buf = append(buf, "+00"...)
	}
	if y <= 0 {
		buf = append(buf, " BC"...)
	}
	return buf
}

// AppendInterval formats an interval in PostgreSQL's default
// (IntervalStyle postgres) form, e.g. "1 year 2 mons 3 days 04:05:06",
// "-1 days +02:00:00": a unit is plural unless its value is exactly 1, and
// a positive part after a negative one carries a "+".
func AppendInterval(buf []byte, iv Interval) []byte {
	start := len(buf)
	before := false // the previous part was negative
	unit := func(v int64, name string) {
		if v == 0 {
			return
		}
		if len(buf) > start {
			buf = append(buf, ' ')
		}
		if before && v > 0 {
			buf = append(buf, '+')
		}
		buf = strconv.AppendInt(buf, v, 10)
		buf = append(buf, ' ')
		buf = append(buf, name...)
		if v != 1 {
			buf = append(buf, 's')
		}
		before = v < 0
	}
	unit(int64(iv.Months/12), "year")
	unit(int64(iv.Months%12), "mon")
	unit(int64(iv.Days), "day")
	if iv.Micros != 0 || len(buf) == start {
		if len(buf) > start {
			buf = append(buf, ' ')
		}
		us := iv.Micros
		if us < 0 {
			buf = append(buf, '-')
			us = -us
		} else if before {
			buf = append(buf, '+')
		}
		h := us / MicrosPerHour
		us -= h * MicrosPerHour
		buf = appendPadded(buf, h, 2)
		buf = append(buf, ':')
		m := us / MicrosPerMinute
		us -= m * MicrosPerMinute
		buf = appendPadded(buf, m, 2)
		buf = append(buf, ':')
		sec := us / MicrosPerSecond
		buf = appendPadded(buf, sec, 2)
		buf = appendFraction(buf, us-sec*MicrosPerSecond)
	}
	return buf
}

func appendUUID(buf []byte, s string) []byte {
	var u [16]byte
	copy(u[:], s)
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return append(buf, out[:]...)
}

// appendArray formats a one-dimensional array as {a,b,NULL}.
func appendArray(buf []byte, elems Row) []byte {
	buf = append(buf, '{')
	it := elems.Iter()
	first := true
	for {
		d, ok := it.Next()
		if !ok {
			break
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		if d.IsNull() {
			buf = append(buf, "NULL"...)
			continue
		}
		buf = appendQuotedElem(buf, string(AppendText(nil, d)), d.kind == KindArray, func(s string) bool {
			return s == "" || strings.EqualFold(s, "NULL") || strings.ContainsAny(s, "{},\"\\ \t\n\r\v\f")
		})
	}
	return append(buf, '}')
}

// appendRecord formats a record as (a,b,).
func appendRecord(buf []byte, fields Row) []byte {
	buf = append(buf, '(')
	it := fields.Iter()
	first := true
	for {
		d, ok := it.Next()
		if !ok {
			break
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		if d.IsNull() {
			continue
		}
		buf = appendQuotedElem(buf, string(AppendText(nil, d)), false, func(s string) bool {
			return s == "" || strings.ContainsAny(s, "(),\"\\ \t\n\r\v\f")
		})
	}
	return append(buf, ')')
}

func appendQuotedElem(buf []byte, s string, nested bool, needs func(string) bool) []byte {
	if nested || !needs(s) {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			buf = append(buf, '\\')
		}
		buf = append(buf, s[i])
	}
	return append(buf, '"')
}
