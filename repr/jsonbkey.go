package repr

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/cockroachdb/apd/v3"
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

// appendJSONBKey appends the memcomparable key of the jsonb text s.
func appendJSONBKey(buf []byte, s string) []byte {
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
	return bytes.Compare(appendJSONBKey(nil, a), appendJSONBKey(nil, b))
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

// reduced returns v with its numbers reduced (trailing zeros dropped).
func (v JSONValue) reduced() JSONValue {
	switch v.Kind {
	case JSONNumber:
		var r apd.Decimal
		r.Reduce(v.Decimal())
		return JSONValue{Kind: JSONNumber, Str: canonicalNumberText(&r)}
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
