package repr

import (
	"bytes"
	"encoding/binary"
	"strings"
	"sync"
)

// jsonb's order is PostgreSQL's (compareJsonbContainers in
// src/backend/utils/adt/jsonb_util.c), not its text's:
//
//   - values of different types order as null < string < number <
//     boolean < array < object;
//   - strings by the collation (viewd's text order: bytewise, as "C"),
//     numbers by numeric value (1.0 = 1), false < true;
//   - an array with more elements is greater, arrays of as many elements
//     compare element by element;
//   - an object with more pairs is greater, objects of as many pairs
//     compare key 1, value 1, key 2, ... in storage order (keys sorted by
//     length, then bytes), each key by the collation;
//   - a top-level scalar is stored as a one-element "raw scalar" array:
//     it is greater than the empty array and less than every other array
//     ('[]' < 'null' < '[null]'), and less than every object.
//
// appendJSONBKey encodes that order memcomparably. A value's key is a tag
// of its type rank, then:
//
//	null     nothing
//	string   the bytes, escaped and terminated (appendEscaped)
//	number   appendNumericKey of the value (so 1.0 and 1 give one key)
//	boolean  0x00 or 0x01
//	array    uint32 element count (big-endian), then each element's key
//	object   uint32 pair count, then per pair the key's escaped bytes and
//	         the value's key
//
// Every encoding is prefix-free, so sequences of them compare element by
// element. At the top level a scalar and an array share the array tag, then
// their count (1 for a scalar), then a byte 0x00 for a raw scalar and 0x01
// for an array, then the element keys: the raw scalar quirk above.
const (
	jkNull   byte = 0x01
	jkString byte = 0x02
	jkNumber byte = 0x03
	jkBool   byte = 0x04
	jkArray  byte = 0x05
	jkObject byte = 0x06

	jkRawScalar byte = 0x00 // a top-level scalar
	jkTopArray  byte = 0x01 // a top-level array
	// jkInvalid leads the key of text that does not parse as JSON (no
	// datum built from canonical text has one): after every value, by
	// text.
	jkInvalid byte = 0xff
)

// appendJSONBKey appends the memcomparable key of the jsonb text s: read
// straight from the text when it is canonical (jsonbKeyReader), else from
// its parsed value.
func appendJSONBKey(buf []byte, s string) []byte {
	r := jsonbKeyReader{s: s, buf: buf}
	if r.top() {
		return r.buf
	}
	return appendJSONBKeyParsed(buf, s)
}

// appendJSONBKeyParsed is appendJSONBKey by way of ParseJSON, for any
// JSON text.
func appendJSONBKeyParsed(buf []byte, s string) []byte {
	v, err := ParseJSON(s)
	if err != nil {
		buf = append(buf, jkInvalid)
		return appendEscaped(buf, s)
	}
	switch v.Kind {
	case JSONArray:
		buf = append(buf, jkArray)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(v.Elems)))
		buf = append(buf, jkTopArray)
		for _, e := range v.Elems {
			buf = e.appendKey(buf)
		}
		return buf
	case JSONObject:
		return v.appendKey(buf)
	}
	buf = append(buf, jkArray)
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = append(buf, jkRawScalar)
	return v.appendKey(buf)
}

// appendKey appends the key of v as an element of a container.
func (v JSONValue) appendKey(buf []byte) []byte {
	switch v.Kind {
	case JSONNull:
		return append(buf, jkNull)
	case JSONString:
		return appendEscaped(append(buf, jkString), v.Str)
	case JSONNumber:
		return appendNumericKey(append(buf, jkNumber), v.Decimal())
	case JSONBool:
		if v.Bool {
			return append(buf, jkBool, 0x01)
		}
		return append(buf, jkBool, 0x00)
	case JSONArray:
		buf = append(buf, jkArray)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(v.Elems)))
		for _, e := range v.Elems {
			buf = e.appendKey(buf)
		}
		return buf
	case JSONObject:
		buf = append(buf, jkObject)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(v.Pairs)))
		for _, p := range v.Pairs {
			buf = appendEscaped(buf, p.Key)
			buf = p.Value.appendKey(buf)
		}
		return buf
	}
	return buf
}

// compareJSONB orders two jsonb texts as PostgreSQL orders jsonb values:
// by their keys (appendJSONBKey), so that Compare and AppendKey agree.
func compareJSONB(a, b string) int {
	if a == b {
		return 0
	}
	bufs := jsonbKeyBufs.Get().(*[2][]byte)
	bufs[0] = appendJSONBKey(bufs[0][:0], a)
	bufs[1] = appendJSONBKey(bufs[1][:0], b)
	c := bytes.Compare(bufs[0], bufs[1])
	jsonbKeyBufs.Put(bufs)
	return c
}

// jsonbKeyBufs holds pairs of key buffers for compareJSONB (a buffer on
// its stack would escape: the key reader appends through a pointer).
var jsonbKeyBufs = sync.Pool{New: func() any { return new([2][]byte) }}

// jsonbKeyReader writes the key of canonical jsonb text (as
// JSONValue.AppendCanonical prints it, or any spacing of it) in one pass,
// without building the value: a container's count is patched in after its
// elements. It gives up (top reports false, buf holds garbage past its
// start) on text it does not read as canonical: a number with an
// exponent, a \u escape, object keys out of storage order or repeated,
// invalid JSON. appendJSONBKeyParsed then gives the key.
type jsonbKeyReader struct {
	s   string
	i   int
	buf []byte
}

// top reads the whole text as a top-level value.
func (r *jsonbKeyReader) top() bool {
	r.ws()
	if r.i >= len(r.s) {
		return false
	}
	switch r.s[r.i] {
	case '[', '{':
		if !r.value(true) {
			return false
		}
	default:
		r.buf = append(r.buf, jkArray, 0, 0, 0, 1, jkRawScalar)
		if !r.value(false) {
			return false
		}
	}
	r.ws()
	return r.i == len(r.s)
}

func (r *jsonbKeyReader) ws() {
	for r.i < len(r.s) && (r.s[r.i] == ' ' || r.s[r.i] == '\n' || r.s[r.i] == '\t' || r.s[r.i] == '\r') {
		r.i++
	}
}

// next skips spacing and reports whether the next byte is c, consuming it
// if so.
func (r *jsonbKeyReader) next(c byte) bool {
	r.ws()
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

// value reads one value; top marks a top-level array (its key carries
// jkTopArray after the count).
func (r *jsonbKeyReader) value(top bool) bool {
	r.ws()
	if r.i >= len(r.s) {
		return false
	}
	switch c := r.s[r.i]; {
	case c == '[':
		r.i++
		r.buf = append(r.buf, jkArray, 0, 0, 0, 0)
		at := len(r.buf) - 4
		if top {
			r.buf = append(r.buf, jkTopArray)
		}
		return r.members(']', at, func() bool { return r.value(false) })
	case c == '{':
		r.i++
		r.buf = append(r.buf, jkObject, 0, 0, 0, 0)
		prev, prevEnd := -1, -1
		return r.members('}', len(r.buf)-4, func() bool {
			r.ws()
			if r.i >= len(r.s) || r.s[r.i] != '"' {
				return false
			}
			k := len(r.buf)
			if !r.str() {
				return false
			}
			kEnd := len(r.buf) - 2 // before the terminator
			if prev >= 0 && !jsonKeyLess(bytesToString(r.buf[prev:prevEnd]), bytesToString(r.buf[k:kEnd])) {
				return false
			}
			prev, prevEnd = k, kEnd
			return r.next(':') && r.value(false)
		})
	case c == '"':
		r.buf = append(r.buf, jkString)
		return r.str()
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	}
	for _, w := range [...]struct {
		lit string
		key []byte
	}{{"null", []byte{jkNull}}, {"true", []byte{jkBool, 0x01}}, {"false", []byte{jkBool, 0x00}}} {
		if strings.HasPrefix(r.s[r.i:], w.lit) {
			r.i += len(w.lit)
			r.buf = append(r.buf, w.key...)
			return true
		}
	}
	return false
}

// members reads a container's members, each with member, separated by
// commas, up to close, and patches their count in at buf[at:].
func (r *jsonbKeyReader) members(close byte, at int, member func() bool) bool {
	n := uint32(0)
	for !r.next(close) {
		if n > 0 && !r.next(',') || !member() {
			return false
		}
		n++
	}
	binary.BigEndian.PutUint32(r.buf[at:], n)
	return true
}

// str reads a string literal at '"' and appends its bytes as appendEscaped
// does (no byte of it is 0x00: that needs a \u escape).
func (r *jsonbKeyReader) str() bool {
	r.i++
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			r.buf = append(r.buf, 0x00, 0x01)
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if r.i+1 >= len(r.s) {
				return false
			}
			e := r.s[r.i+1]
			switch e {
			case '"', '\\', '/':
			case 'b':
				e = '\b'
			case 'f':
				e = '\f'
			case 'n':
				e = '\n'
			case 'r':
				e = '\r'
			case 't':
				e = '\t'
			default:
				return false
			}
			r.buf = append(r.buf, e)
			r.i += 2
		default:
			r.buf = append(r.buf, c)
			r.i++
		}
	}
	return false
}

// number reads a number without exponent and appends jkNumber and
// appendNumericKey's encoding of it, computed from the digits: leading
// zeros lower the adjusted exponent (the digits before the point of the
// value written as 0.ddd x 10^adj), trailing zeros are dropped.
func (r *jsonbKeyReader) number() bool {
	neg := r.s[r.i] == '-'
	if neg {
		r.i++
	}
	intStart := r.i
	for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
		r.i++
	}
	intEnd := r.i
	fracStart, fracEnd := r.i, r.i
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		fracStart = r.i
		for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
			r.i++
		}
		fracEnd = r.i
		if fracEnd == fracStart {
			return false
		}
	}
	if intEnd == intStart || r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		return false
	}
	r.buf = append(r.buf, jkNumber)
	class := len(r.buf)
	r.buf = append(r.buf, 0x04, 0, 0, 0, 0, 0, 0, 0, 0)
	adj := int64(intEnd - intStart)
	lead := true
	for _, part := range [2]string{r.s[intStart:intEnd], r.s[fracStart:fracEnd]} {
		for j := 0; j < len(part); j++ {
			if lead && part[j] == '0' {
				adj--
				continue
			}
			lead = false
			r.buf = append(r.buf, part[j])
		}
	}
	if lead {
		r.buf = append(r.buf[:class], 0x03) // zero, of either sign
		return true
	}
	for r.buf[len(r.buf)-1] == '0' {
		r.buf = r.buf[:len(r.buf)-1]
	}
	r.buf = append(r.buf, 0x00)
	binary.BigEndian.PutUint64(r.buf[class+1:], uint64(adj)^(1<<63))
	if neg {
		r.buf[class] = 0x02
		for j := class + 1; j < len(r.buf); j++ {
			r.buf[j] = ^r.buf[j]
		}
	}
	return true
}

// jsonbScaled reports whether the canonical jsonb text s holds a number
// printed with trailing zeros after its decimal point (1.0, 2.50): a value
// equal to a jsonb whose text differs, which canonicalJSONB folds. Strings
// are skipped. Canonical text has no exponents (JSONNumberValue prints
// digits); a number with a point and an exponent counts as scaled.
func jsonbScaled(s string) bool {
	if strings.IndexByte(s, '.') < 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(s) && (s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			num := s[i:j]
			if strings.ContainsAny(num, "eE") || strings.IndexByte(num, '.') >= 0 && num[len(num)-1] == '0' {
				return true
			}
			i = j - 1
		}
	}
	return false
}

// canonicalJSONB returns the jsonb text s with every number reduced to its
// shortest equal form (1.0 as 1, 2.50 as 2.5), the packing by which equal
// jsonb values key equal (AppendCanonical). s itself when nothing changes
// or it does not parse.
func canonicalJSONB(s string) string {
	if !jsonbScaled(s) {
		return s
	}
	v, err := ParseJSON(s)
	if err != nil {
		return s
	}
	return v.reduced().String()
}

// reduceNumberText drops the trailing zeros of the fraction of a number's
// canonical text (digits, no exponent, zero unsigned), and the point when
// nothing follows it: 2.50 as 2.5, 1.00 as 1, 0.0 as 0. Read off the text,
// so that a long coefficient costs one pass (apd's Reduce divides once per
// zero).
func reduceNumberText(s string) string {
	if strings.IndexByte(s, '.') < 0 {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// reduced returns v with its numbers reduced (trailing zeros dropped).
func (v JSONValue) reduced() JSONValue {
	switch v.Kind {
	case JSONNumber:
		return JSONValue{Kind: JSONNumber, Str: reduceNumberText(v.Str)}
	case JSONArray:
		elems := make([]JSONValue, len(v.Elems))
		for i, e := range v.Elems {
			elems[i] = e.reduced()
		}
		return JSONValue{Kind: JSONArray, Elems: elems}
	case JSONObject:
		pairs := make([]JSONPair, len(v.Pairs))
		for i, p := range v.Pairs {
			pairs[i] = JSONPair{Key: p.Key, Value: p.Value.reduced()}
		}
		return JSONValue{Kind: JSONObject, Pairs: pairs}
	}
	return v
}
