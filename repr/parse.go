package repr

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zone names in timestamptz input resolve the same on every host
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
)

// inputTypeName is the type name PostgreSQL's input functions use in their
// error messages.
func inputTypeName(t ScalarType) string {
	switch t.Kind {
	case KindTime:
		return "time"
	case KindTimestamp:
		return "timestamp"
	case KindTimestampTz:
		return "timestamp with time zone"
	case KindJsonb:
		return "json"
	case KindArray:
		return t.String()
	}
	return t.Kind.String()
}

// InvalidInput returns PostgreSQL's error for s as input of type t: 22P02,
// or 22007 (invalid_datetime_format) for the date and time types.
func InvalidInput(t ScalarType, s string) *pgcode.Error {
	code := pgcode.InvalidTextRepresentation
	switch t.Kind {
	case KindDate, KindTime, KindTimestamp, KindTimestampTz, KindInterval:
		code = pgcode.InvalidDatetimeFormat
	}
	return pgcode.New(code, "invalid input syntax for type %s: %s", inputTypeName(t), quoteForError(s))
}

func quoteForError(s string) string {
	return `"` + s + `"`
}

func outOfRange(s string, t ScalarType) *pgcode.Error {
	return pgcode.New(pgcode.NumericValueOutOfRange, "value %s is out of range for type %s", quoteForError(s), t.Kind)
}

func datetimeOutOfRange(s string) *pgcode.Error {
	return pgcode.New(pgcode.DatetimeFieldOverflow, "date/time field value out of range: %s", quoteForError(s))
}

// isSpace is PostgreSQL's scanner_isspace.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// ParseText converts text to a datum of type t as PostgreSQL's input
// function for t does. Type modifiers (varchar(n), numeric(p,s)) are not
// applied here: that is the cast layer's job (expr). Errors are
// *pgcode.Error: 22P02 for bad syntax, 22003 or 22008 for out-of-range
// values.
func ParseText(s string, t ScalarType) (Datum, error) {
	switch t.Kind {
	case KindNull, KindText:
		return TextDatum(s), nil
	case KindVarchar, KindChar:
		return StringDatum(t.Kind, s), nil
	case KindBool:
		b, ok := ParseBool(s)
		if !ok {
			return Null, pgcode.New(pgcode.InvalidTextRepresentation, "invalid input syntax for type boolean: %s", quoteForError(s))
		}
		return BoolDatum(b), nil
	case KindInt2, KindInt4, KindInt8, KindOid:
		return parseInt(s, t)
	case KindFloat4, KindFloat8:
		return parseFloat(s, t)
	case KindNumeric:
		d, err := ParseNumeric(s)
		if err != nil {
			return Null, err
		}
		return NumericDatum(d), nil
	case KindBytea:
		b, err := parseBytea(s)
		if err != nil {
			return Null, err
		}
		return ByteaDatum(b), nil
	case KindDate:
		days, err := ParseDate(s)
		if err != nil {
			return Null, err
		}
		return DateDatum(days), nil
	case KindTime:
		us, _, err := splitClockZone(trimSpace(s), s, t)
		if err != nil {
			return Null, err
		}
		return TimeDatum(us), nil
	case KindTimestamp, KindTimestampTz:
		us, err := ParseTimestamp(s, t.Kind == KindTimestampTz)
		if err != nil {
			return Null, err
		}
		if t.Kind == KindTimestamp {
			return TimestampDatum(us), nil
		}
		return TimestampTzDatum(us), nil
	case KindInterval:
		iv, err := ParseIntervalTypmod(s, t.Typmod)
		if err != nil {
			return Null, err
		}
		return IntervalDatum(iv), nil
	case KindUUID:
		u, ok := parseUUID(s)
		if !ok {
			return Null, InvalidInput(t, s)
		}
		return UUIDDatum(u), nil
	case KindJsonb:
		c, err := CanonicalJSON(s)
		if err != nil {
			return Null, err
		}
		return JsonbDatum(c), nil
	case KindArray:
		return parseArray(s, t)
	case KindRecord:
		return Null, pgcode.New(pgcode.FeatureNotSupported, "input of anonymous composite types is not implemented")
	}
	return Null, pgcode.New(pgcode.FeatureNotSupported, "repr: no input function for type %s", t)
}

// ParseBool parses PostgreSQL's boolean input forms: t/true/y/yes/on/1 and
// f/false/n/no/off/0, any unique prefix of the words, in any case, with
// surrounding whitespace.
func ParseBool(s string) (bool, bool) {
	s = strings.ToLower(trimSpace(s))
	if s == "" {
		return false, false
	}
	prefixOf := func(word string, min int) bool {
		return len(s) >= min && len(s) <= len(word) && word[:len(s)] == s
	}
	switch {
	case prefixOf("true", 1), prefixOf("yes", 1), prefixOf("on", 2), s == "1":
		return true, true
	case prefixOf("false", 1), prefixOf("no", 1), prefixOf("off", 2), s == "0":
		return false, true
	}
	return false, false
}

func parseInt(s string, t ScalarType) (Datum, error) {
	ts := trimSpace(s)
	if ts == "" || strings.ContainsAny(ts, "_ ") {
		return Null, InvalidInput(t, s)
	}
	if t.Kind == KindOid {
		v, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || v < math.MinInt32 || v > math.MaxUint32 {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrSyntax {
				return Null, InvalidInput(t, s)
			}
			return Null, outOfRange(s, t)
		}
		return OidDatum(uint32(v)), nil
	}
	bits := 64
	switch t.Kind {
	case KindInt2:
		bits = 16
	case KindInt4:
		bits = 32
	}
	v, err := strconv.ParseInt(ts, 10, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return Null, outOfRange(s, t)
		}
		return Null, InvalidInput(t, s)
	}
	return IntDatum(t.Kind, v), nil
}

func parseFloat(s string, t ScalarType) (Datum, error) {
	ts := trimSpace(s)
	bits := 64
	if t.Kind == KindFloat4 {
		bits = 32
	}
	var f float64
	switch strings.ToLower(ts) {
	case "nan", "+nan", "-nan":
		f = math.NaN()
	case "infinity", "+infinity", "inf", "+inf":
		f = math.Inf(1)
	case "-infinity", "-inf":
		f = math.Inf(-1)
	default:
		if ts == "" || strings.ContainsAny(ts, "_xXpP") || strings.HasPrefix(strings.ToLower(strings.TrimLeft(ts, "+-")), "in") || strings.HasPrefix(strings.ToLower(strings.TrimLeft(ts, "+-")), "na") {
			return Null, InvalidInput(t, s)
		}
		v, err := strconv.ParseFloat(ts, bits)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return Null, pgcode.New(pgcode.NumericValueOutOfRange, "%s is out of range for type %s", quoteForError(ts), t.Kind)
			}
			return Null, InvalidInput(t, s)
		}
		if v == 0 {
			// Underflow: a non-zero mantissa that rounded to zero.
			mant, _, _ := strings.Cut(strings.ToLower(ts), "e")
			if strings.ContainsAny(mant, "123456789") {
				return Null, pgcode.New(pgcode.NumericValueOutOfRange, "%s is out of range for type %s", quoteForError(ts), t.Kind)
			}
		}
		f = v
	}
	if bits == 32 {
		return Float4Datum(float32(f)), nil
	}
	return Float8Datum(f), nil
}

// ParseNumeric parses numeric input: decimal digits with optional sign,
// point and exponent, or NaN / Infinity / -Infinity.
func ParseNumeric(s string) (*apd.Decimal, error) {
	ts := trimSpace(s)
	switch strings.ToLower(ts) {
	case "nan":
		return &apd.Decimal{Form: apd.NaN}, nil
	case "infinity", "+infinity", "inf", "+inf":
		return &apd.Decimal{Form: apd.Infinite}, nil
	case "-infinity", "-inf":
		return &apd.Decimal{Form: apd.Infinite, Negative: true}, nil
	}
	valid := ts != ""
	seenDigit := false
	for i := 0; i < len(ts) && valid; i++ {
		c := ts[i]
		switch {
		case c >= '0' && c <= '9':
			seenDigit = true
		case c == '.' || c == 'e' || c == 'E':
		case (c == '+' || c == '-') && (i == 0 || ts[i-1] == 'e' || ts[i-1] == 'E'):
		default:
			valid = false
		}
	}
	if !valid || !seenDigit {
		return nil, InvalidInput(TypeNumeric, s)
	}
	d, _, err := apd.NewFromString(ts)
	if err != nil || d.Form != apd.Finite {
		return nil, InvalidInput(TypeNumeric, s)
	}
	if d.IsZero() {
		d.Negative = false // numeric has no negative zero
	}
	return d, nil
}

func parseBytea(s string) ([]byte, error) {
	if strings.HasPrefix(s, `\x`) {
		var out []byte
		h := s[2:]
		for i := 0; i < len(h); {
			if isSpace(h[i]) {
				i++
				continue
			}
			if i+1 >= len(h) {
				return nil, pgcode.New(pgcode.InvalidParameterValue, "invalid hexadecimal data: odd number of digits")
			}
			b, err := hex.DecodeString(h[i : i+2])
			if err != nil {
				bad := h[i]
				if isHex(bad) {
					bad = h[i+1]
				}
				return nil, pgcode.New(pgcode.InvalidParameterValue, "invalid hexadecimal digit: %s", quoteForError(string(bad)))
			}
			out = append(out, b[0])
			i += 2
		}
		if out == nil {
			out = []byte{}
		}
		return out, nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]):
			out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
		default:
			return nil, pgcode.New(pgcode.InvalidTextRepresentation, "invalid input syntax for type bytea")
		}
	}
	return out, nil
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	t := trimSpace(s)
	if strings.HasPrefix(t, "{") {
		if !strings.HasSuffix(t, "}") {
			return u, false
		}
		t = t[1 : len(t)-1]
	}
	n := 0
	for i := 0; i < len(t); {
		if n == 32 {
			return u, false
		}
		if t[i] == '-' {
			// A hyphen may follow any group of four digits.
			if n == 0 || n%4 != 0 || i+1 == len(t) || t[i+1] == '-' {
				return u, false
			}
			i++
			continue
		}
		if i+1 >= len(t) || !isHex(t[i]) || !isHex(t[i+1]) {
			return u, false
		}
		b, _ := hex.DecodeString(t[i : i+2])
		u[n/2] = b[0]
		n += 2
		i += 2
	}
	return u, n == 32
}

var monthNames = map[string]int{
	"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
	"may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
	"september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}

// DaysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date; year 0 is 1 BC.
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// CivilFromDays is the inverse of DaysFromCivil.
func CivilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

// DaysInMonth returns the number of days of month m of year y (year 0 is 1 BC).
func DaysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Date range PostgreSQL accepts: 4713-11-24 BC to 5874897-12-31.
const (
	minDateDays = -2440588 // 4714-11-24 BC (Julian day 0)
	maxDateDays = 2147483494 - 2440588
)

// dateFields splits the date part of a datetime string. It returns year
// (astronomical: 0 is 1 BC), month, day and the rest of the string.
func parseDatePart(s string) (y, m, d int64, rest string, ok bool) {
	// Slashes: Y/M/D when the first field has more than two digits, else
	// M/D/Y (DateStyle MDY, PostgreSQL's default).
	if parts := strings.SplitN(s, "/", 3); len(parts) == 3 {
		last := parts[2]
		j := 0
		for j < len(last) && isDigitByte(last[j]) {
			j++
		}
		a, e1 := strconv.ParseInt(parts[0], 10, 64)
		b, e2 := strconv.ParseInt(parts[1], 10, 64)
		c, e3 := strconv.ParseInt(last[:j], 10, 64)
		if e1 == nil && e2 == nil && e3 == nil {
			if len(parts[0]) > 2 {
				return a, b, c, last[j:], true
			}
			if j == 2 {
				c += 2000 // two-digit years: 70-99 are 19xx, 00-69 are 20xx
				if c >= 2070 {
					c -= 100
				}
			}
			return c, a, b, last[j:], true
		}
		return 0, 0, 0, "", false
	}
	// ISO: YYYY-MM-DD (year may have more digits)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i >= 1 && i < len(s) && s[i] == '-' {
		y, _ = strconv.ParseInt(s[:i], 10, 64)
		r := s[i+1:]
		j := 0
		for j < len(r) && r[j] >= '0' && r[j] <= '9' {
			j++
		}
		if j == 0 || j > 2 || j >= len(r) || r[j] != '-' {
			return 0, 0, 0, "", false
		}
		m, _ = strconv.ParseInt(r[:j], 10, 64)
		r = r[j+1:]
		k := 0
		for k < len(r) && r[k] >= '0' && r[k] <= '9' {
			k++
		}
		if k == 0 || k > 2 {
			return 0, 0, 0, "", false
		}
		d, _ = strconv.ParseInt(r[:k], 10, 64)
		return y, m, d, r[k:], true
	}
	// YYYYMMDD
	if i == 8 && (i == len(s) || !isDigitByte(s[i])) {
		y, _ = strconv.ParseInt(s[:4], 10, 64)
		m, _ = strconv.ParseInt(s[4:6], 10, 64)
		d, _ = strconv.ParseInt(s[6:8], 10, 64)
		return y, m, d, s[8:], true
	}
	// "Month D, YYYY" or "D Month YYYY"
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	if len(fields) >= 3 {
		if mm, okm := monthNames[strings.ToLower(fields[0])]; okm {
			dd, e1 := strconv.ParseInt(fields[1], 10, 64)
			yy, e2 := strconv.ParseInt(fields[2], 10, 64)
			if e1 == nil && e2 == nil {
				return yy, int64(mm), dd, strings.Join(fields[3:], " "), true
			}
		}
		if mm, okm := monthNames[strings.ToLower(fields[1])]; okm {
			dd, e1 := strconv.ParseInt(fields[0], 10, 64)
			yy, e2 := strconv.ParseInt(fields[2], 10, 64)
			if e1 == nil && e2 == nil {
				return yy, int64(mm), dd, strings.Join(fields[3:], " "), true
			}
		}
	}
	return 0, 0, 0, "", false
}

// ParseDate parses date input: ISO "YYYY-MM-DD", "Month D, YYYY",
// "D Month YYYY", each with an optional " BC"/" AD", and "epoch".
func ParseDate(s string) (int32, error) {
	ts := trimSpace(s)
	if strings.EqualFold(ts, "epoch") {
		return 0, nil
	}
	bc := false
	upper := strings.ToUpper(ts)
	if strings.HasSuffix(upper, " BC") {
		bc, ts = true, trimSpace(ts[:len(ts)-3])
	} else if strings.HasSuffix(upper, " AD") {
		ts = trimSpace(ts[:len(ts)-3])
	}
	y, m, d, rest, ok := parseDatePart(ts)
	if !ok {
		return 0, InvalidInput(TypeDate, s)
	}
	if rest = trimSpace(rest); rest != "" {
		// A time of day (and zone) after the date is accepted and
		// ignored, as date_in does.
		if rest[0] == 'T' || rest[0] == 't' {
			rest = rest[1:]
		}
		if _, _, err := splitClockZone(rest, s, TypeDate); err != nil {
			return 0, InvalidInput(TypeDate, s)
		}
	}
	days, err := civilDays(y, m, d, bc, s)
	if err != nil {
		return 0, err
	}
	if days < minDateDays || days > maxDateDays {
		return 0, pgcode.New(pgcode.DatetimeFieldOverflow, "date out of range: %s", quoteForError(s))
	}
	return int32(days), nil
}

func civilDays(y, m, d int64, bc bool, orig string) (int64, error) {
	if bc {
		if y <= 0 {
			return 0, datetimeOutOfRange(orig)
		}
		y = 1 - y
	} else if y == 0 {
		return 0, datetimeOutOfRange(orig)
	}
	if m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m) {
		return 0, datetimeOutOfRange(orig)
	}
	return DaysFromCivil(y, m, d), nil
}

// splitClockZone parses a time of day with an optional AM/PM and returns
// it with the rest of the string (a zone, trimmed), which it validates
// but does not apply: callers that need the zone parse it.
func splitClockZone(s, orig string, t ScalarType) (int64, string, error) {
	end := 0
	for end < len(s) && (isDigitByte(s[end]) || s[end] == ':' || s[end] == '.') {
		end++
	}
	if end == 0 {
		return 0, "", InvalidInput(t, orig)
	}
	clock, err := parseTimeOfDay(s[:end], orig, t)
	if err != nil {
		return 0, "", err
	}
	rest := trimSpace(s[end:])
	if l := strings.ToLower(rest); strings.HasPrefix(l, "am") || strings.HasPrefix(l, "pm") ||
		strings.HasPrefix(l, "a.m.") || strings.HasPrefix(l, "p.m.") {
		pm := l[0] == 'p'
		n := 2
		if strings.HasPrefix(l[1:], ".m.") {
			n = 4
		}
		h := clock / MicrosPerHour
		if h < 1 || h > 12 {
			return 0, "", datetimeOutOfRange(orig)
		}
		if h == 12 {
			clock -= 12 * MicrosPerHour
		}
		if pm {
			clock += 12 * MicrosPerHour
		}
		rest = trimSpace(rest[n:])
	}
	if rest != "" {
		if _, ok := parseZone(rest, 0); !ok {
			return 0, "", InvalidInput(t, orig)
		}
	}
	return clock, rest, nil
}

// parseTimeOfDay parses HH:MM[:SS[.ffffff]] (24:00:00 allowed) into
// microseconds since midnight, rounding fractions to microseconds.
func parseTimeOfDay(s, orig string, t ScalarType) (int64, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, InvalidInput(t, orig)
	}
	h, e1 := strconv.ParseInt(parts[0], 10, 64)
	mi, e2 := strconv.ParseInt(parts[1], 10, 64)
	if e1 != nil || e2 != nil || len(parts[0]) == 0 || len(parts[0]) > 2 || len(parts[1]) == 0 || len(parts[1]) > 2 {
		return 0, InvalidInput(t, orig)
	}
	var us int64
	if len(parts) == 3 {
		secStr, frac, hasFrac := strings.Cut(parts[2], ".")
		sec, err := strconv.ParseInt(secStr, 10, 64)
		if err != nil || len(secStr) == 0 || len(secStr) > 2 {
			return 0, InvalidInput(t, orig)
		}
		us = sec * MicrosPerSecond
		if hasFrac {
			f, ok := parseFraction(frac)
			if !ok {
				return 0, InvalidInput(t, orig)
			}
			us += f
		}
		if sec > 60 {
			return 0, datetimeOutOfRange(orig)
		}
	}
	total := h*MicrosPerHour + mi*MicrosPerMinute + us
	if h > 24 || mi > 59 || total > 24*MicrosPerHour {
		return 0, datetimeOutOfRange(orig)
	}
	return total, nil
}

// parseFraction reads decimal fraction digits as microseconds, rounding
// half up.
func parseFraction(frac string) (int64, bool) {
	if frac == "" {
		return 0, true
	}
	var us int64
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if i < 6 {
			us = us*10 + int64(c-'0')
		} else if i == 6 && c >= '5' {
			us++
		}
	}
	for i := len(frac); i < 6; i++ {
		us *= 10
	}
	return us, true
}

// ParseTimestamp parses timestamp input: a date (as ParseDate), then
// optionally a 'T' or spaces and a time of day, then optionally a zone
// (Z, UTC, GMT, +hh, +hh:mm, +hhmm, or an IANA name) and " BC". With tz the
// result is UTC microseconds (a missing zone means UTC, viewd's session
// zone); without tz a zone is ignored, as PostgreSQL does.
func ParseTimestamp(s string, tz bool) (int64, error) {
	typ := TypeTimestamp
	if tz {
		typ = TypeTimestampTz
	}
	ts := trimSpace(s)
	switch strings.ToLower(ts) {
	case "epoch":
		return 0, nil
	case "infinity", "-infinity":
		return 0, pgcode.New(pgcode.FeatureNotSupported, "repr: infinite timestamps are not supported")
	}
	bc := false
	if u := strings.ToUpper(ts); strings.HasSuffix(u, " BC") {
		bc, ts = true, trimSpace(ts[:len(ts)-3])
	} else if strings.HasSuffix(u, " AD") {
		ts = trimSpace(ts[:len(ts)-3])
	}
	y, m, d, rest, ok := parseDatePart(ts)
	if !ok {
		return 0, InvalidInput(typ, s)
	}
	days, err := civilDays(y, m, d, bc, s)
	if err != nil {
		return 0, err
	}
	rest = strings.TrimLeft(rest, " \t")
	if strings.HasPrefix(rest, "T") || strings.HasPrefix(rest, "t") {
		rest = rest[1:]
	}
	var clock int64
	if rest != "" {
		clock, rest, err = splitClockZone(rest, s, typ)
		if err != nil {
			return 0, err
		}
	}
	if days > maxTimestampDays || days < minDateDays {
		return 0, pgcode.New(pgcode.DatetimeFieldOverflow, "timestamp out of range: %s", quoteForError(s))
	}
	micros := days*MicrosPerDay + clock
	if rest != "" {
		off, ok := parseZone(rest, micros)
		if !ok {
			return 0, InvalidInput(typ, s)
		}
		if tz {
			micros -= off
		}
	}
	if micros < minDateDays*MicrosPerDay || micros > maxTimestampMicros {
		return 0, pgcode.New(pgcode.DatetimeFieldOverflow, "timestamp out of range: %s", quoteForError(s))
	}
	return micros, nil
}

// Timestamps are microseconds since 1970 in an int64, which ends in
// 294247 AD: a little before PostgreSQL's 294276 AD (its epoch is 2000).
// maxTimestampDays is the last whole day that fits.
const (
	maxTimestampMicros int64 = math.MaxInt64
	maxTimestampDays         = maxTimestampMicros/MicrosPerDay - 1
)

// parseZone returns a zone's offset east of UTC in microseconds, for the
// wall-clock time local (used for named zones' DST).
func parseZone(z string, local int64) (int64, bool) {
	switch strings.ToUpper(z) {
	case "Z", "UTC", "GMT", "+00", "-00", "ZULU":
		return 0, true
	}
	if z[0] == '+' || z[0] == '-' {
		sign := int64(1)
		if z[0] == '-' {
			sign = -1
		}
		body := z[1:]
		var h, m, sec int64
		var err error
		parts := strings.Split(body, ":")
		switch {
		case len(parts) == 1 && len(body) <= 2:
			h, err = strconv.ParseInt(body, 10, 64)
		case len(parts) == 1 && len(body) == 4:
			h, err = strconv.ParseInt(body[:2], 10, 64)
			if err == nil {
				m, err = strconv.ParseInt(body[2:], 10, 64)
			}
		case len(parts) == 2 || len(parts) == 3:
			h, err = strconv.ParseInt(parts[0], 10, 64)
			if err == nil {
				m, err = strconv.ParseInt(parts[1], 10, 64)
			}
			if err == nil && len(parts) == 3 {
				sec, err = strconv.ParseInt(parts[2], 10, 64)
			}
		default:
			return 0, false
		}
		if err != nil || h > 15 || m > 59 || sec > 59 {
			return 0, false
		}
		return sign * (h*MicrosPerHour + m*MicrosPerMinute + sec*MicrosPerSecond), true
	}
	loc, err := time.LoadLocation(z)
	if err != nil {
		return 0, false
	}
	secs := local / MicrosPerSecond
	_, off := time.Unix(secs, 0).In(loc).Zone()
	// The offset at the wall-clock time: re-evaluate at local-offset.
	_, off = time.Unix(secs-int64(off), 0).In(loc).Zone()
	return int64(off) * MicrosPerSecond, true
}

// ParseInterval parses interval input: PostgreSQL's verbose form ("1 year
// 2 mons -3 days 04:05:06.5", "@ 1 day ago", "3 hours", units with
// fractions), ISO 8601 ("P1Y2M3DT4H5M6S", "P1W") and a bare time
// ("04:05:06", "-1:30").
func ParseInterval(s string) (Interval, error) {
	return parseInterval(s, "second", false)
}

// parseInterval is ParseInterval with bare numbers counted in
// defaultUnit and, with minuteSecond, a two-part clock read as MM:SS.
func parseInterval(s, defaultUnit string, minuteSecond bool) (Interval, error) {
	ts := trimSpace(s)
	bad := func() (Interval, error) {
		return Interval{}, InvalidInput(TypeInterval, s)
	}
	if ts == "" {
		return bad()
	}
	if ts[0] == 'P' || ts[0] == 'p' {
		iv, ok := parseISOInterval(ts[1:])
		if !ok {
			return bad()
		}
		return iv, nil
	}
	var acc intervalAcc
	toks := strings.Fields(strings.ToLower(ts))
	if len(toks) > 0 && toks[0] == "@" {
		toks = toks[1:]
	}
	ago := false
	if len(toks) > 0 && toks[len(toks)-1] == "ago" {
		ago = true
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return bad()
	}
	// Split tokens like "3days" / "1h".
	var split []string
	for _, t := range toks {
		i := 0
		for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.' || t[i] == '-' || t[i] == '+' || t[i] == ':') {
			i++
		}
		if i > 0 && i < len(t) {
			split = append(split, t[:i], t[i:])
		} else {
			split = append(split, t)
		}
	}
	toks = split
	// Each unit may appear once, as PostgreSQL's field mask enforces; a
	// clock (hh:mm:ss) sets hours, minutes and seconds.
	seen := map[string]bool{}
	mark := func(units ...string) bool {
		for _, u := range units {
			if seen[u] {
				return false
			}
			seen[u] = true
		}
		return true
	}
	units := intervalNumberUnits(toks, defaultUnit)
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if strings.Contains(t, ":") {
			us, ok := parseSignedClock(t, minuteSecond)
			if !ok || !mark("hour", "minute", "second") {
				return bad()
			}
			acc.micros += float64(us)
			continue
		}
		if ym, ok := parseYearMonth(t); ok {
			// SQL-standard year-month: "1-2" is 1 year 2 months.
			if !mark("year", "month") {
				return bad()
			}
			acc.months += float64(ym)
			continue
		}
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return bad()
		}
		unit := units[i]
		if i+1 < len(toks) {
			if _, ok := intervalUnit(toks[i+1]); ok {
				i++
			}
		}
		if !mark(unit) {
			return bad()
		}
		acc.add(v, unit)
	}
	iv, ok := acc.result()
	if !ok {
		return Interval{}, pgcode.New(pgcode.DatetimeFieldOverflow, "interval field value out of range: %s", quoteForError(s))
	}
	if ago {
		iv = Interval{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}
	}
	return iv, nil
}

// intervalNumberUnits returns the unit of each number in toks, read
// right to left as PostgreSQL's DecodeInterval does: a number takes the
// unit written after it; a number before a clock ("1 2:03:04") counts
// days; a bare number takes the unit of the bare number after it, or
// defaultUnit (the qualifier's rightmost field) for the last one, except
// that a number before a bare hours number counts days ('1 2' DAY TO
// HOUR is 1 day 02:00:00). A repeated unit is an error found later.
func intervalNumberUnits(toks []string, defaultUnit string) []string {
	units := make([]string, len(toks))
	next := ""
	for j := len(toks) - 1; j >= 0; j-- {
		t := toks[j]
		if strings.Contains(t, ":") {
			next = "day"
			continue
		}
		if u, ok := intervalUnit(t); ok {
			next = u
			continue
		}
		u := next
		if u == "" {
			u = defaultUnit
		}
		units[j] = u
		if next = u; u == "hour" {
			next = "day"
		}
	}
	return units
}

// intervalAcc accumulates interval fields, carrying fractions down as
// PostgreSQL does (a fraction of a month is 30 days, of a day 24 hours).
type intervalAcc struct {
	months, days, micros float64
}

func (a *intervalAcc) add(v float64, unit string) {
	var months, days, micros float64
	switch unit {
	case "millennium":
		months = v * 12000
	case "century":
		months = v * 1200
	case "decade":
		months = v * 120
	case "year":
		months = v * 12
	case "month":
		months = v
	case "week":
		days = v * 7
	case "day":
		days = v
	case "hour":
		micros = v * float64(MicrosPerHour)
	case "minute":
		micros = v * float64(MicrosPerMinute)
	case "second":
		micros = v * float64(MicrosPerSecond)
	case "millisecond":
		micros = v * 1000
	case "microsecond":
		micros = v
	}
	// Carry fractional months to days, fractional days to time.
	wm := math.Trunc(months)
	days += (months - wm) * DaysPerMonth
	wd := math.Trunc(days)
	micros += (days - wd) * float64(MicrosPerDay)
	a.months += wm
	a.days += wd
	a.micros += micros
}

func (a *intervalAcc) result() (Interval, bool) {
	if math.Abs(a.months) > math.MaxInt32 || math.Abs(a.days) > math.MaxInt32 || math.Abs(a.micros) > math.MaxInt64/2 {
		return Interval{}, false
	}
	return Interval{Months: int32(a.months), Days: int32(a.days), Micros: int64(math.Round(a.micros))}, true
}

func intervalUnit(t string) (string, bool) {
	switch t {
	case "millennium", "millennia", "millenniums", "mil", "mils":
		return "millennium", true
	case "century", "centuries", "c", "cent":
		return "century", true
	case "decade", "decades", "dec", "decs":
		return "decade", true
	case "year", "years", "y", "yr", "yrs":
		return "year", true
	case "month", "months", "mon", "mons":
		return "month", true
	case "week", "weeks", "w":
		return "week", true
	case "day", "days", "d":
		return "day", true
	case "hour", "hours", "h", "hr", "hrs":
		return "hour", true
	case "minute", "minutes", "m", "min", "mins":
		return "minute", true
	case "second", "seconds", "s", "sec", "secs":
		return "second", true
	case "millisecond", "milliseconds", "ms", "msec", "msecs", "millisecon":
		return "millisecond", true
	case "microsecond", "microseconds", "us", "usec", "usecs":
		return "microsecond", true
	}
	return "", false
}

// parseYearMonth parses the SQL-standard [-]Y-M form into months.
func parseYearMonth(t string) (int64, bool) {
	sign := int64(1)
	body := t
	if strings.HasPrefix(body, "-") {
		sign, body = -1, body[1:]
	} else if strings.HasPrefix(body, "+") {
		body = body[1:]
	}
	y, m, ok := strings.Cut(body, "-")
	if !ok || y == "" || m == "" {
		return 0, false
	}
	yv, e1 := strconv.ParseInt(y, 10, 64)
	mv, e2 := strconv.ParseInt(m, 10, 64)
	if e1 != nil || e2 != nil || mv > 11 {
		return 0, false
	}
	return sign * (yv*12 + mv), true
}

// parseSignedClock parses [+-]H[H]:MM[:SS[.f]] (hours unbounded) into
// microseconds. Two parts with a fraction ("1:02.5"), or any two parts
// with minuteSecond (a MINUTE TO SECOND qualifier), are M:SS[.f], as in
// PostgreSQL's DecodeTime.
func parseSignedClock(t string, minuteSecond bool) (int64, bool) {
	sign := int64(1)
	if t != "" && (t[0] == '-' || t[0] == '+') {
		if t[0] == '-' {
			sign = -1
		}
		t = t[1:]
	}
	parts := strings.Split(t, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	if len(parts) == 2 && (minuteSecond || strings.Contains(parts[1], ".")) {
		parts = []string{"0", parts[0], parts[1]}
	}
	h, e1 := strconv.ParseInt(parts[0], 10, 64)
	m, e2 := strconv.ParseInt(parts[1], 10, 64)
	if e1 != nil || e2 != nil || m > 59 || m < 0 || h < 0 {
		return 0, false
	}
	us := h*MicrosPerHour + m*MicrosPerMinute
	if len(parts) == 3 {
		secStr, frac, _ := strings.Cut(parts[2], ".")
		sec, err := strconv.ParseInt(secStr, 10, 64)
		if err != nil || sec < 0 || sec > 59 {
			return 0, false
		}
		f, ok := parseFraction(frac)
		if !ok {
			return 0, false
		}
		us += sec*MicrosPerSecond + f
	}
	return sign * us, true
}

func parseISOInterval(s string) (Interval, bool) {
	var acc intervalAcc
	inTime := false
	if s == "" {
		return Interval{}, false
	}
	for s != "" {
		if s[0] == 'T' || s[0] == 't' {
			inTime = true
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == '-' || s[i] == '+') {
			i++
		}
		if i == 0 || i == len(s) {
			return Interval{}, false
		}
		v, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return Interval{}, false
		}
		var unit string
		switch s[i] {
		case 'Y', 'y':
			unit = "year"
		case 'M', 'm':
			if inTime {
				unit = "minute"
			} else {
				unit = "month"
			}
		case 'W', 'w':
			unit = "week"
		case 'D', 'd':
			unit = "day"
		case 'H', 'h':
			unit = "hour"
		case 'S', 's':
			unit = "second"
		default:
			return Interval{}, false
		}
		acc.add(v, unit)
		s = s[i+1:]
	}
	return acc.result()
}

// parseArray parses array input "{a,b,NULL}" with double-quoted elements
// and backslash escapes; each element goes through the element type's input
// function. Nested braces are elements of a nested array type.
func parseArray(s string, t ScalarType) (Datum, error) {
	if t.Elem == nil {
		return Null, pgcode.New(pgcode.InvalidParameterValue, "repr: array type without element type")
	}
	ts := trimSpace(s)
	// Optional dimension decoration "[1:3]=" is skipped.
	if strings.HasPrefix(ts, "[") {
		if eq := strings.Index(ts, "="); eq >= 0 {
			ts = trimSpace(ts[eq+1:])
		}
	}
	p := arrayParser{s: ts, orig: s, typ: t}
	d, err := p.parse(t)
	if err != nil {
		return Null, err
	}
	if p.i != len(p.s) {
		return Null, p.malformed("Junk after closing right brace.")
	}
	return d, nil
}

type arrayParser struct {
	s    string
	i    int
	orig string
	typ  ScalarType
	dims int // nesting of the braces being parsed
}

// MaxArrayDims is PostgreSQL's MAXDIM: an array has at most 6 dimensions.
// Text input past it is refused as PostgreSQL refuses it (54000) before
// the nested literal is built (packing each level copies the levels
// inside it: 3,000 nested braces took 0.1 s, 100,000 minutes).
const MaxArrayDims = 6

// ErrArrayDims is PostgreSQL's error for an array of dims dimensions.
func ErrArrayDims(dims int) error {
	return pgcode.New(pgcode.ProgramLimitExceeded, "number of array dimensions (%d) exceeds the maximum allowed (%d)", dims, MaxArrayDims)
}

func (p *arrayParser) malformed(detail string) error {
	return pgcode.New(pgcode.InvalidTextRepresentation, "malformed array literal: %s", quoteForError(p.orig)).WithDetail("%s", detail)
}

func (p *arrayParser) skipWS() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func (p *arrayParser) parse(t ScalarType) (Datum, error) {
	p.dims++
	defer func() { p.dims-- }()
	if p.dims > MaxArrayDims {
		return Null, ErrArrayDims(p.dims)
	}
	p.skipWS()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return Null, p.malformed(`Array value must start with "{" or dimension information.`)
	}
	p.i++
	var elems []Datum
	nested, scalar := false, false // what this level holds: sub-arrays or values
	p.skipWS()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.skipWS()
		return ArrayDatum(nil), nil
	}
	for {
		p.skipWS()
		if p.i >= len(p.s) {
			return Null, p.malformed("Unexpected end of input.")
		}
		elemType := *t.Elem
		if (p.s[p.i] == '{' && scalar) || (p.s[p.i] != '{' && nested) {
			return Null, p.malformed(fmt.Sprintf("Unexpected %q character.", p.s[p.i:p.i+1]))
		}
		switch {
		case p.s[p.i] == '{':
			nested = true
			if elemType.Kind != KindArray {
				// A multi-dimensional literal for a one-dimensional
				// type: treat the nested braces as a nested array of the
				// same element type.
				elemType = t
			}
			d, err := p.parse(elemType)
			if err != nil {
				return Null, err
			}
			elems = append(elems, d)
		case p.s[p.i] == '"':
			scalar = true
			p.i++
			var b strings.Builder
			closed := false
			for p.i < len(p.s) {
				c := p.s[p.i]
				p.i++
				if c == '\\' && p.i < len(p.s) {
					b.WriteByte(p.s[p.i])
					p.i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return Null, p.malformed("Unexpected end of input.")
			}
			d, err := ParseText(b.String(), elemType)
			if err != nil {
				return Null, err
			}
			elems = append(elems, d)
		default:
			scalar = true
			var b strings.Builder
			for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != '}' {
				c := p.s[p.i]
				if c == '{' || c == '"' {
					return Null, p.malformed("Unexpected array element.")
				}
				if c == '\\' && p.i+1 < len(p.s) {
					p.i++
					c = p.s[p.i]
				}
				b.WriteByte(c)
				p.i++
			}
			for elemType.Kind == KindArray && elemType.Elem != nil {
				// int[][] accepts {1,2}: PostgreSQL does not enforce the
				// declared number of dimensions.
				elemType = *elemType.Elem
			}
			raw := trimSpace(b.String())
			if raw == "" {
				return Null, p.malformed("Unexpected \",\" character.")
			}
			if strings.EqualFold(raw, "NULL") {
				elems = append(elems, Null)
			} else {
				d, err := ParseText(raw, elemType)
				if err != nil {
					return Null, err
				}
				elems = append(elems, d)
			}
		}
		p.skipWS()
		if p.i >= len(p.s) {
			return Null, p.malformed("Unexpected end of input.")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == '}' {
			p.i++
			p.skipWS()
			return ArrayDatum(elems), nil
		}
		return Null, p.malformed("Unexpected array element.")
	}
}

// CharLength returns the number of characters of a string datum's text.
func CharLength(s string) int { return utf8.RuneCountInString(s) }
