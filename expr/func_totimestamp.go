package expr

import (
	"strconv"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// to_timestamp(text, text) and to_date(text, text): PostgreSQL's
// formatting.c in its default (non-FX) mode, for the template patterns
// YYYY YYY YY Y, MM, DD, DDD, HH24 HH12 HH, MI, SS, MS, US, FF1-FF6, AM
// PM A.M. P.M. (any case), Month MONTH month Mon MON mon, Day Dy (skipped),
// TZH TZM, "quoted text" (skipped by length), the FM and FX prefixes
// (ignored). A blank or other separator in the template skips any blanks
// and one separator in the input; a number reads its digits up to the
// next non-digit, or only its width when another pattern follows with no
// separator (YYYYMMDD). Missing fields are 1 BC, January, day 1,
// midnight. The session time zone is UTC (EvalCtx.TimeZone is not read
// by the time functions yet).

// parsedTime is what a to_timestamp template read.
type parsedTime struct {
	year, month, day, doy   int64
	hour, minute, sec, frac int64 // frac in microseconds
	pm, hasAmPm, clock12    bool
	tzSec                   int64
}

// toTimestampPattern is one template pattern: its text and, for numbers,
// the width of a fixed-width read.
type toTimestampPattern struct {
	name  string
	width int
}

// toTimestampPatterns, longest first where one is a prefix of another.
var toTimestampPatterns = []toTimestampPattern{
	{"YYYY", 4}, {"YYY", 3}, {"YY", 2}, {"Y", 1},
	{"HH24", 2}, {"HH12", 2}, {"HH", 2}, {"MI", 2}, {"SS", 2}, {"MS", 3}, {"US", 6},
	{"FF1", 1}, {"FF2", 2}, {"FF3", 3}, {"FF4", 4}, {"FF5", 5}, {"FF6", 6},
	{"MONTH", 0}, {"MON", 0}, {"MM", 2}, {"DDD", 3}, {"DD", 2}, {"DAY", 0}, {"DY", 0},
	{"A.M.", 0}, {"P.M.", 0}, {"AM", 0}, {"PM", 0}, {"TZH", 2}, {"TZM", 2},
}

func matchPattern(tmpl string) (toTimestampPattern, bool) {
	for _, p := range toTimestampPatterns {
		if len(tmpl) >= len(p.name) && strings.EqualFold(tmpl[:len(p.name)], p.name) {
			return p, true
		}
	}
	return toTimestampPattern{}, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// parseToTimestamp reads s with template tmpl.
func parseToTimestamp(s, tmpl string) (parsedTime, error) {
	pt := parsedTime{year: 0, month: 1, day: 1} // year 0 is 1 BC, as PostgreSQL defaults it
	yearDigits := 0
	in := 0
	skipBlanks := func() {
		for in < len(s) && s[in] == ' ' {
			in++
		}
	}
	badValue := func(field, detail string) error {
		v := s[in:]
		if len(v) > 10 {
			v = v[:10]
		}
		return pgcode.New(pgcode.InvalidDatetimeFormat, "invalid value %q for %q", v, field).WithDetail("%s", detail)
	}
	for t := 0; t < len(tmpl); {
		rest := tmpl[t:]
		if len(rest) >= 2 && (strings.EqualFold(rest[:2], "FM") || strings.EqualFold(rest[:2], "FX")) {
			t += 2
			continue
		}
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				end = len(rest) - 1
			}
			in = min(in+len([]rune(rest[1:1+end])), len(s))
			t += end + 2
			continue
		}
		p, ok := matchPattern(rest)
		if !ok {
			// A separator or other literal: skip blanks and one
			// non-alphanumeric character of the input.
			t++
			skipBlanks()
			if rest[0] != ' ' && in < len(s) && !isDigit(s[in]) && !isAlpha(s[in]) {
				in++
			}
			continue
		}
		t += len(p.name)
		skipBlanks()
		name := strings.ToUpper(p.name)
		switch name {
		case "MONTH", "MON":
			m, n := matchMonth(s[in:], name == "MON")
			if m == 0 {
				return pt, badValue(p.name, "The given value did not match any of the allowed values for this field.")
			}
			pt.month, in = m, in+n
			continue
		case "DAY", "DY":
			for in < len(s) && isAlpha(s[in]) {
				in++
			}
			continue
		case "AM", "PM", "A.M.", "P.M.":
			up := strings.ToUpper(s[in:min(in+len(name), len(s))])
			switch up {
			case "AM", "A.M.":
				pt.pm = false
			case "PM", "P.M.":
				pt.pm = true
			default:
				return pt, badValue(p.name, "The given value did not match any of the allowed values for this field.")
			}
			pt.hasAmPm, in = true, in+len(name)
			continue
		}
		// A number: fixed width when another pattern follows directly.
		limit := len(s)
		if _, next := matchPattern(tmpl[t:]); next && p.width > 0 {
			limit = min(in+p.width, len(s))
		}
		neg := false
		if name == "TZH" && in < len(s) && (s[in] == '-' || s[in] == '+') {
			neg = s[in] == '-'
			in++
			limit = min(limit+1, len(s))
		}
		start := in
		for in < limit && isDigit(s[in]) {
			in++
		}
		if in == start {
			return pt, badValue(p.name, "Value must be an integer.")
		}
		digits := s[start:in]
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return pt, pgcode.New(pgcode.DatetimeFieldOverflow, "value for %q in source string is out of range", p.name)
		}
		switch name {
		case "YYYY", "YYY", "YY", "Y":
			pt.year, yearDigits = v, len(digits)
			if name != "YYYY" && yearDigits > len(name) {
				yearDigits = 4 // more digits than the pattern: taken as written
			}
		case "MM":
			pt.month = v
		case "DD":
			pt.day = v
		case "DDD":
			pt.doy = v
		case "HH24":
			pt.hour = v
		case "HH12", "HH":
			pt.hour, pt.clock12 = v, true
		case "MI":
			pt.minute = v
		case "SS":
			pt.sec = v
		case "MS":
			pt.frac = scaleFraction(v, len(digits), 3) * 1000
		case "US", "FF1", "FF2", "FF3", "FF4", "FF5", "FF6":
			pt.frac = scaleFraction(v, len(digits), 6)
		case "TZH":
			pt.tzSec = v * 3600
			if neg {
				pt.tzSec = -pt.tzSec
			}
		case "TZM":
			if pt.tzSec < 0 {
				pt.tzSec -= v * 60
			} else {
				pt.tzSec += v * 60
			}
		}
	}
	switch {
	case yearDigits == 1:
		pt.year += 2000
	case yearDigits == 2 && pt.year < 70:
		pt.year += 2000
	case yearDigits == 2:
		pt.year += 1900
	case yearDigits == 3 && pt.year < 520:
		pt.year += 2000
	case yearDigits == 3:
		pt.year += 1000
	}
	return pt, nil
}

// scaleFraction reads digits of a fraction pattern with width unit digits
// as PostgreSQL does: "5" for MS is 500 ms (a short value is the leading
// digits), "05" is 50.
func scaleFraction(v int64, digits, unit int) int64 {
	for ; digits < unit; digits++ {
		v *= 10
	}
	for ; digits > unit; digits-- {
		v /= 10
	}
	return v
}

// matchMonth matches a month name (abbreviated: three letters) at the
// start of s, any case; it returns the month and the bytes read.
func matchMonth(s string, abbrev bool) (int64, int) {
	for i, name := range monthNamesFull {
		n := name
		if abbrev {
			n = name[:3]
		}
		if len(s) >= len(n) && strings.EqualFold(s[:len(n)], n) {
			return int64(i + 1), len(n)
		}
	}
	return 0, 0
}

// micros validates the fields and returns the time as microseconds since
// 1970-01-01 UTC.
func (pt parsedTime) micros(input string) (int64, error) {
	outOfRange := func() error {
		return pgcode.New(pgcode.DatetimeFieldOverflow, "date/time field value out of range: %q", input)
	}
	if pt.clock12 {
		if pt.hour < 1 || pt.hour > 12 {
			return 0, pgcode.New(pgcode.InvalidDatetimeFormat, "hour \"%d\" is invalid for the 12-hour clock", pt.hour).
				WithHint("Use the 24-hour clock, or give an hour between 1 and 12.")
		}
	}
	if pt.hasAmPm || pt.clock12 {
		switch {
		case pt.pm && pt.hour < 12:
			pt.hour += 12
		case !pt.pm && pt.hour == 12:
			pt.hour = 0
		}
	}
	if pt.doy > 0 {
		days := repr.DaysFromCivil(pt.year, 1, 1) + pt.doy - 1
		pt.year, pt.month, pt.day = repr.CivilFromDays(days)
	}
	if pt.month < 1 || pt.month > 12 || pt.day < 1 || pt.day > repr.DaysInMonth(pt.year, pt.month) ||
		pt.hour > 24 || pt.minute > 59 || pt.sec > 60 {
		return 0, outOfRange()
	}
	days := repr.DaysFromCivil(pt.year, pt.month, pt.day)
	us := days*repr.MicrosPerDay + pt.hour*repr.MicrosPerHour + pt.minute*repr.MicrosPerMinute +
		pt.sec*repr.MicrosPerSecond + pt.frac - pt.tzSec*repr.MicrosPerSecond
	return us, nil
}

func init() {
	defFunc("to_timestamp", ts(tText, tText), tTimestampTz, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		pt, err := parseToTimestamp(a[0].Str(), a[1].Str())
		if err != nil {
			return repr.Null, err
		}
		us, err := pt.micros(a[0].Str())
		if err != nil {
			return repr.Null, err
		}
		return repr.TimestampTzDatum(us), nil
	})
	defFunc("to_date", ts(tText, tText), tDate, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		pt, err := parseToTimestamp(a[0].Str(), a[1].Str())
		if err != nil {
			return repr.Null, err
		}
		pt.hour, pt.minute, pt.sec, pt.frac, pt.tzSec, pt.clock12, pt.hasAmPm = 0, 0, 0, 0, 0, false, false
		us, err := pt.micros(a[0].Str())
		if err != nil {
			return repr.Null, err
		}
		return repr.DateDatum(int32(floorDiv(us, repr.MicrosPerDay))), nil
	})
}
