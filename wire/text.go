package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones for SET TimeZone without relying on the host
	"unicode/utf8"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// textFormatter produces PostgreSQL's text output for a session: repr's
// output, with timestamptz shown in the session's TimeZone.
type textFormatter struct {
	tzName string
	loc    *time.Location // nil: UTC, repr's own output
}

// setTimeZone records the session's TimeZone parameter. An unknown zone
// keeps UTC output (the backend validates SET TimeZone).
func (f *textFormatter) setTimeZone(name string) {
	f.tzName = name
	f.loc = nil
	loc, err := parseTimeZone(name)
	if err == nil && loc != time.UTC {
		f.loc = loc
	}
}

// parseTimeZone resolves a TimeZone setting: an IANA name ("Europe/Paris",
// "UTC"), a POSIX-style offset ("UTC+3", "<+01>-01", positive west of
// Greenwich) or an ISO offset ("+01", "-08:00", positive east).
func parseTimeZone(name string) (*time.Location, error) {
	switch strings.ToUpper(name) {
	case "", "UTC", "GMT", "Z", "ZULU", "ETC/UTC", "UCT":
		return time.UTC, nil
	}
	if loc, err := time.LoadLocation(name); err == nil {
		return loc, nil
	}
	s := name
	posix := false
	if strings.HasPrefix(s, "<") {
		i := strings.IndexByte(s, '>')
		if i < 0 {
			return nil, fmt.Errorf("wire: invalid time zone %q", name)
		}
		s, posix = s[i+1:], true
	} else if i := strings.IndexAny(s, "+-"); i > 0 {
		abbr := s[:i]
		for _, c := range abbr {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return nil, fmt.Errorf("wire: invalid time zone %q", name)
			}
		}
		s, posix = s[i:], true
	}
	secs, ok := parseOffset(s)
	if !ok {
		return nil, fmt.Errorf("wire: invalid time zone %q", name)
	}
	if posix {
		secs = -secs
	}
	return time.FixedZone(name, secs), nil
}

// parseOffset parses [+-]h[h][:mm[:ss]] into seconds.
func parseOffset(s string) (int, bool) {
	sign := 1
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "-"):
		sign, s = -1, s[1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return 0, false
	}
	secs := 0
	mult := 3600
	for _, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || len(p) > 2 {
			return 0, false
		}
		secs += v * mult
		mult /= 60
	}
	if secs > 15*3600+59*60 {
		return 0, false
	}
	return sign * secs, true
}

// appendText appends the text output of a non-NULL datum of type t.
func (f *textFormatter) appendText(buf []byte, d repr.Datum, t repr.ScalarType) []byte {
	if f.loc == nil {
		return repr.AppendTextTyped(buf, d, t)
	}
	switch d.Kind() {
	case repr.KindTimestampTz:
		return appendTimestampTz(buf, d.Micros(), f.loc)
	case repr.KindArray:
		if t.Elem != nil && t.Elem.Kind == repr.KindTimestampTz {
			buf = append(buf, '{')
			for i, e := range d.Elements(nil) {
				if i > 0 {
					buf = append(buf, ',')
				}
				if e.IsNull() {
					buf = append(buf, "NULL"...)
					continue
				}
				// A timestamp's text always holds a space: quote it.
				buf = append(buf, '"')
				buf = appendTimestampTz(buf, e.Micros(), f.loc)
				buf = append(buf, '"')
			}
			return append(buf, '}')
		}
	}
	return repr.AppendTextTyped(buf, d, t)
}

// appendTimestampTz formats microseconds since the Unix epoch in loc the
// way PostgreSQL does with DateStyle ISO: "2024-01-02 04:04:05+01",
// "...+05:30", with " BC" last.
func appendTimestampTz(buf []byte, micros int64, loc *time.Location) []byte {
	secs := micros / repr.MicrosPerSecond
	if micros%repr.MicrosPerSecond < 0 {
		secs--
	}
	_, off := time.Unix(secs, 0).In(loc).Zone()
	start := len(buf)
	buf = repr.AppendTimestamp(buf, micros+int64(off)*repr.MicrosPerSecond, false)
	bc := strings.HasSuffix(string(buf[start:]), " BC")
	if bc {
		buf = buf[:len(buf)-3]
	}
	if off < 0 {
		buf = append(buf, '-')
		off = -off
	} else {
		buf = append(buf, '+')
	}
	buf = appendTwo(buf, off/3600)
	if m, s := off%3600/60, off%60; m != 0 || s != 0 {
		buf = append(buf, ':')
		buf = appendTwo(buf, m)
		if s != 0 {
			buf = append(buf, ':')
			buf = appendTwo(buf, s)
		}
	}
	if bc {
		buf = append(buf, " BC"...)
	}
	return buf
}

func appendTwo(buf []byte, v int) []byte {
	if v < 10 {
		buf = append(buf, '0')
	}
	return strconv.AppendInt(buf, int64(v), 10)
}

// checkUTF8 rejects text that is not valid UTF-8 (the only encoding).
func checkUTF8(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	return errInvalidUTF8()
}

func errInvalidUTF8() error {
	return pgcode.New(pgcode.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
}
