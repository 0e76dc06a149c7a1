package repr

import (
	"encoding/binary"
	"math"

	"github.com/cockroachdb/apd/v3"
)

// SortOrder says how one column of an ordering key sorts.
type SortOrder struct {
	Desc       bool
	NullsFirst bool
}

// Key markers. A NULL sorts before (nullFirst) or after (nullLast) every
// value; a value is marked valueMark.
const (
	nullFirst byte = 0x01
	valueMark byte = 0x02
	nullLast  byte = 0x03
)

// AppendKey appends a memcomparable encoding of d to buf: for datums a and b
// of the same family, bytes.Compare of their keys agrees with SQL ordering
// under o (text compares bytewise, the C collation; jsonb in PostgreSQL's
// jsonb order, see appendJSONBKey), and equal values (1.0 and 1 as numerics
// or as jsonb numbers) get equal keys. Keys are not decodable.
func AppendKey(buf []byte, d Datum, o SortOrder) []byte {
	if d.kind == KindNull {
		if o.NullsFirst {
			return append(buf, nullFirst)
		}
		return append(buf, nullLast)
	}
	buf = append(buf, valueMark)
	start := len(buf)
	switch family(d.kind) {
	case KindBool, KindInt8, KindDate, KindTime, KindTimestamp, KindOid:
		buf = binary.BigEndian.AppendUint64(buf, uint64(d.i)^(1<<63))
	case KindFloat8:
		buf = binary.BigEndian.AppendUint64(buf, floatKey(d.Float()))
	case KindNumeric:
		buf = appendNumericKey(buf, d.n)
	case KindText, KindBytea, KindUUID:
		buf = appendEscaped(buf, d.s)
	case KindJsonb:
		buf = appendJSONBKey(buf, d.s)
	case KindInterval:
		hi, lo := d.Interval().cmpKey()
		buf = binary.BigEndian.AppendUint64(buf, uint64(hi)^(1<<63))
		buf = binary.BigEndian.AppendUint64(buf, lo)
	case KindArray, KindRecord:
		it := Row(d.s).Iter()
		for {
			e, ok := it.Next()
			if !ok {
				break
			}
			buf = AppendKey(buf, e, SortOrder{})
		}
		buf = append(buf, 0x00)
	}
	if o.Desc {
		for i := start; i < len(buf); i++ {
			buf[i] = ^buf[i]
		}
	}
	return buf
}

// floatKey maps a float to a uint64 whose order is the float's order, with
// NaN above +Inf and -0 equal to +0.
func floatKey(f float64) uint64 {
	if math.IsNaN(f) {
		return math.MaxUint64
	}
	if f == 0 {
		f = 0
	}
	b := math.Float64bits(f)
	if b&(1<<63) != 0 {
		return ^b
	}
	return b | 1<<63
}

// appendEscaped writes s with 0x00 escaped as 0x00 0xff and terminates it
// with 0x00 0x01, so that a prefix sorts first.
func appendEscaped(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			buf = append(buf, 0x00, 0xff)
			continue
		}
		buf = append(buf, s[i])
	}
	return append(buf, 0x00, 0x01)
}

// appendNumericKey encodes a decimal as class, adjusted exponent and digit
// string, inverted for negatives.
func appendNumericKey(buf []byte, n *apd.Decimal) []byte {
	switch {
	case n.Form == apd.NaN || n.Form == apd.NaNSignaling:
		return append(buf, 0x06)
	case n.Form == apd.Infinite && n.Negative:
		return append(buf, 0x01)
	case n.Form == apd.Infinite:
		return append(buf, 0x05)
	case n.IsZero():
		return append(buf, 0x03)
	}
	var red apd.Decimal
	ReduceNumeric(&red, n)
	digits := red.Coeff.String()
	adj := int64(red.Exponent) + int64(len(digits))
	if red.Negative {
		buf = append(buf, 0x02)
	} else {
		buf = append(buf, 0x04)
	}
	body := len(buf)
	buf = binary.BigEndian.AppendUint64(buf, uint64(adj)^(1<<63))
	buf = append(buf, digits...)
	buf = append(buf, 0x00)
	if red.Negative {
		for i := body; i < len(buf); i++ {
			buf[i] = ^buf[i]
		}
	}
	return buf
}
