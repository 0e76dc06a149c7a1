package expr

import (
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/repr"
)

// toCharNumeric formats a number with to_char's numeric template patterns:
// 9 (digit, blank when a leading zero), 0 (digit, always printed), . or D
// (decimal point), , or G (group separator, shown only after a digit), S /
// MI / PL / SG (explicit sign), and FM (fill mode: no padding, no trailing
// zeros from 9s). Without an explicit sign a position is reserved for '-'
// just before the first digit. Too many digits print as '#'s.
func toCharNumeric(n *apd.Decimal, format string) string {
	fm := false
	explicitSign := false
	var intPat, fracPat []byte // '9' or '0' per position; ',' for groups
	seenPoint := false
	var prefix, suffix strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case strings.HasPrefix(format[i:], "FM") || strings.HasPrefix(format[i:], "fm"):
			fm = true
			i++
		case c == '9' || c == '0':
			if seenPoint {
				fracPat = append(fracPat, c)
			} else {
				intPat = append(intPat, c)
			}
		case c == '.' || c == 'D':
			seenPoint = true
		case (c == ',' || c == 'G') && !seenPoint:
			intPat = append(intPat, ',')
		case c == 'S' || strings.HasPrefix(format[i:], "MI") || strings.HasPrefix(format[i:], "PL") || strings.HasPrefix(format[i:], "SG"):
			explicitSign = true
			if c != 'S' {
				i++
			}
		default:
			if len(intPat) == 0 && !seenPoint {
				prefix.WriteByte(c)
			} else {
				suffix.WriteByte(c)
			}
		}
	}
	abs := new(apd.Decimal)
	abs.Abs(n)
	r, err := roundScale(abs, int32(len(fracPat)))
	if err != nil || r.Form != apd.Finite {
		r = abs
	}
	neg := n.Negative && !r.IsZero() // the sign of what is shown
	text := r.Text('f')
	intDigits, fracDigits, _ := strings.Cut(text, ".")
	if intDigits == "0" && (!r.IsZero() || (seenPoint && !fm)) {
		// A zero integer part shows no digit before the point (  .50);
		// a value that is zero altogether shows its units digit when the
		// template has no point or in fill mode (0, 0.).
		intDigits = ""
	}
	nInt := strings.Count(string(intPat), "9") + strings.Count(string(intPat), "0")
	var out strings.Builder
	out.WriteString(prefix.String())
	if len(intDigits) > nInt {
		// Overflow: every digit position shows '#'.
		if !explicitSign {
			out.WriteByte(' ')
		}
		for _, p := range intPat {
			if p == ',' {
				out.WriteByte(',')
			} else {
				out.WriteByte('#')
			}
		}
		if seenPoint {
			out.WriteByte('.')
			out.WriteString(strings.Repeat("#", len(fracPat)))
		}
		return out.String() + suffix.String()
	}
	// Integer part.
	var ib strings.Builder
	zeroFrom := strings.IndexByte(string(intPat), '0')
	if zeroFrom < 0 {
		zeroFrom = len(intPat)
	}
	pos := 0 // digit positions seen
	started := false
	for i, p := range intPat {
		if p == ',' {
			if started {
				ib.WriteByte(',')
			} else if !fm {
				ib.WriteByte(' ')
			}
			continue
		}
		digitIdx := pos - (nInt - len(intDigits))
		pos++
		switch {
		case digitIdx >= 0:
			if !started {
				started = true
				ib.WriteString(signMark(neg, explicitSign, fm))
			}
			ib.WriteByte(intDigits[digitIdx])
		case i >= zeroFrom:
			if !started {
				started = true
				ib.WriteString(signMark(neg, explicitSign, fm))
			}
			ib.WriteByte('0')
		case !fm:
			ib.WriteByte(' ')
		}
	}
	if !started {
		// No integer digits printed (e.g. 0.5 with '9.99'): PostgreSQL
		// prints the sign slot before the point.
		ib.WriteString(signMark(neg, explicitSign, fm))
	}
	s := ib.String()
	if explicitSign {
		sign := "+"
		if neg {
			sign = "-"
		}
		s = sign + strings.TrimLeft(s, " ")
		if !fm {
			s = strings.Repeat(" ", len(ib.String())-len(strings.TrimLeft(ib.String(), " "))) + s
		}
	}
	out.WriteString(s)
	if seenPoint {
		out.WriteByte('.')
		frac := []byte(fracDigits)
		for len(frac) < len(fracPat) {
			frac = append(frac, '0')
		}
		frac = frac[:len(fracPat)]
		if fm {
			// Trailing zeros in 9 positions are dropped.
			end := len(frac)
			for end > 0 && frac[end-1] == '0' && fracPat[end-1] == '9' {
				end--
			}
			frac = frac[:end]
		}
		out.Write(frac)
	}
	out.WriteString(suffix.String())
	return out.String()
}

// signMark is the implicit sign slot: '-' for negatives, a blank for
// others (nothing in fill mode, or when the template has its own sign).
func signMark(neg, explicit, fm bool) string {
	switch {
	case explicit:
		return ""
	case neg:
		return "-"
	case fm:
		return ""
	}
	return " "
}

func init() {
	defFunc("to_char", ts(tNumeric, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.TextDatum(toCharNumeric(a[0].Numeric(), a[1].Str())), nil
	})
	for _, t := range []repr.ScalarType{tInt4, tInt8} {
		defFunc("to_char", ts(t, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.TextDatum(toCharNumeric(apd.New(a[0].Int(), 0), a[1].Str())), nil
		})
	}
	defFunc("to_char", ts(tFloat8, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		c, _ := LookupCast(tFloat8, tNumeric)
		n, err := c.Func.Eval(nil, a[:1])
		if err != nil {
			return repr.Null, err
		}
		return repr.TextDatum(toCharNumeric(n.Numeric(), a[1].Str())), nil
	})
}
