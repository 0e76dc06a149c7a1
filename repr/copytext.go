package repr

import "strings"

// UnescapeCopyText undoes the escapes of COPY's text format: \b \f \n \r
// \t \v, octal \ooo, hex \xhh, and a backslash before any other byte
// (which stands for that byte). ok is false when s ends inside an escape.
// Both COPY FROM STDIN (wire) and a PostgreSQL source's snapshot (COPY TO
// STDOUT upstream) decode fields with it.
func UnescapeCopyText(s string) (out string, ok bool) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '\\' {
			b = append(b, ch)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch ch = s[i]; ch {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'v':
			b = append(b, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(s) && isHex(s[i+1]) {
				i++
				v = v*16 + hexDigit(s[i])
				n++
			}
			if n == 0 {
				b = append(b, 'x')
			} else {
				b = append(b, byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(ch - '0')
			for n := 1; n < 3 && i+1 < len(s) && isOctal(s[i+1]); n++ {
				i++
				v = v*8 + int(s[i]-'0')
			}
			b = append(b, byte(v))
		default:
			b = append(b, ch)
		}
	}
	return string(b), true
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}
