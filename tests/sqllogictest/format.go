package sqllogictest

import (
	"math"
	"strconv"
	"strings"
)

// PostgreSQL type OIDs the formatter distinguishes. Values always arrive in
// text format; the OID says how to read that text.
const (
	oidBool    = 16
	oidInt8    = 20
	oidInt2    = 21
	oidInt4    = 23
	oidOID     = 26
	oidFloat4  = 700
	oidFloat8  = 701
	oidNumeric = 1700
)

// FormatValue renders one result value the way the sqllogictest format
// expects, given the column's declared type letter, the PostgreSQL type OID
// of the value and its text encoding (nil for NULL).
//
// The rules follow SQLite's runner (which reads each column with
// sqlite3_column_int64/double/text according to the letter) and
// Materialize's pgwire runner, which established what PostgreSQL needs to
// pass SQLite's corpus:
//
//   - NULL is "NULL" whatever the type.
//   - I: integers as is; floats and decimals truncated toward zero (rounded
//     half away from zero in cockroach mode); booleans 1/0; text read as
//     SQLite reads an integer prefix ("12ab" is 12, "ab" is 0).
//   - R: "%.3f" of the value as a double in standard mode; in cockroach mode
//     floats and decimals are printed as the server prints them.
//   - T: text with "" as "(empty)" and, in standard mode, every byte outside
//     0x20..0x7e replaced by '@'; floats as "%.3f"; booleans true/false.
//   - B: booleans as true/false. O and F: as the server prints them.
func FormatValue(typ byte, oid uint32, v []byte, mode Mode) string {
	if v == nil {
		return "NULL"
	}
	s := string(v)
	switch typ {
	case 'I':
		return formatInt(oid, s, mode)
	case 'R':
		return formatReal(oid, s, mode)
	case 'B':
		return formatBool(oid, s)
	case 'T':
		switch oid {
		case oidBool:
			return formatBool(oid, s)
		case oidFloat4, oidFloat8:
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return strconv.FormatFloat(f, 'f', 3, 64)
			}
			return s
		}
		return formatText(s, mode)
	default:
		if s == "" {
			return "(empty)"
		}
		return s
	}
}

func formatBool(oid uint32, s string) string {
	if oid == oidBool {
		switch s {
		case "t":
			return "true"
		case "f":
			return "false"
		}
	}
	return s
}

// formatText applies SQLite's text rules.
func formatText(s string, mode Mode) string {
	if s == "" {
		return "(empty)"
	}
	if mode == ModeCockroach {
		return s
	}
	b := []byte(s)
	changed := false
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '@'
			changed = true
		}
	}
	if !changed {
		return s
	}
	return string(b)
}

func formatInt(oid uint32, s string, mode Mode) string {
	switch oid {
	case oidInt2, oidInt4, oidInt8, oidOID:
		return s
	case oidBool:
		if s == "t" {
			return "1"
		}
		return "0"
	case oidFloat4, oidFloat8:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return s
		}
		if mode == ModeCockroach {
			f = math.Round(f)
		} else {
			f = math.Trunc(f)
		}
		if f == 0 {
			f = 0 // no "-0"
		}
		return strconv.FormatFloat(f, 'f', 0, 64)
	case oidNumeric:
		return decimalToInt(s, mode)
	default:
		return textToInt(s)
	}
}

// decimalToInt truncates (or rounds half away from zero) a decimal string
// such as "-12.75" to an integer string without going through a float, so
// that large decimals keep every digit.
func decimalToInt(s string, mode Mode) string {
	round := mode == ModeCockroach
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if digits == "" || strings.ContainsAny(digits, "eEnN") { // NaN, Infinity, exponents
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return formatInt(oidFloat8, s, mode)
		}
		return s
	}
	intPart, frac, _ := strings.Cut(digits, ".")
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return s
		}
	}
	intPart = strings.TrimLeft(intPart, "0")
	if round && frac != "" && frac[0] >= '5' {
		intPart = addOne(intPart)
	}
	if intPart == "" {
		return "0"
	}
	if neg {
		return "-" + intPart
	}
	return intPart
}

// addOne adds one to a string of decimal digits.
func addOne(d string) string {
	b := []byte(d)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

// textToInt reads an integer prefix of s as SQLite does.
func textToInt(s string) string {
	t := strings.TrimLeft(s, " \t\n\r")
	i := 0
	if i < len(t) && (t[i] == '-' || t[i] == '+') {
		i++
	}
	j := i
	for j < len(t) && t[j] >= '0' && t[j] <= '9' {
		j++
	}
	if j == i {
		return "0"
	}
	n, err := strconv.ParseInt(t[:j], 10, 64)
	if err != nil {
		return t[:j]
	}
	return strconv.FormatInt(n, 10)
}

func formatReal(oid uint32, s string, mode Mode) string {
	switch oid {
	case oidInt2, oidInt4, oidInt8, oidOID:
		return s + ".000"
	case oidBool:
		if s == "t" {
			return "1.000"
		}
		return "0.000"
	case oidFloat4, oidFloat8, oidNumeric:
		if mode == ModeCockroach {
			return s
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return s
		}
		return strconv.FormatFloat(f, 'f', 3, 64)
	default:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			f = 0
		}
		return strconv.FormatFloat(f, 'f', 3, 64)
	}
}
