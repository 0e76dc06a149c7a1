package repr

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
)

// JSONKind is the kind of a JSON value.
type JSONKind uint8

// The JSON kinds, in jsonb's sort order of types (null < string < number <
// boolean < array < object is PostgreSQL's; the constants are only names).
const (
	JSONNull JSONKind = iota
	JSONString
	JSONNumber
	JSONBool
	JSONArray
	JSONObject
)

// String returns jsonb_typeof's name of the kind.
func (k JSONKind) String() string {
	switch k {
	case JSONNull:
		return "null"
	case JSONString:
		return "string"
	case JSONNumber:
		return "number"
	case JSONBool:
		return "boolean"
	case JSONArray:
		return "array"
	case JSONObject:
		return "object"
	}
	return "unknown"
}

// JSONValue is a parsed JSON value (the jsonb value model). Str holds a
// string's decoded text, or a number's canonical numeric text; Elems the
// elements of an array; Pairs the members of an object, kept canonical:
// sorted by key length then key bytes, with unique keys.
type JSONValue struct {
	Kind  JSONKind
	Bool  bool
	Str   string
	Elems []JSONValue
	Pairs []JSONPair
}

// JSONPair is one member of a JSON object.
type JSONPair struct {
	Key   string
	Value JSONValue
}

// JSON value constructors.
var (
	JSONNullValue  = JSONValue{Kind: JSONNull}
	JSONTrueValue  = JSONValue{Kind: JSONBool, Bool: true}
	JSONFalseValue = JSONValue{Kind: JSONBool}
)

// JSONStringValue returns a JSON string.
func JSONStringValue(s string) JSONValue { return JSONValue{Kind: JSONString, Str: s} }

// JSONNumberValue returns a JSON number from a decimal.
func JSONNumberValue(d *apd.Decimal) JSONValue {
	return JSONValue{Kind: JSONNumber, Str: canonicalNumberText(d)}
}

// JSONArrayValue returns a JSON array of elems.
func JSONArrayValue(elems []JSONValue) JSONValue { return JSONValue{Kind: JSONArray, Elems: elems} }

// JSONObjectValue returns a JSON object of pairs, canonicalised: sorted by
// key length then bytes, and for duplicate keys the last one wins.
func JSONObjectValue(pairs []JSONPair) JSONValue {
	sort.SliceStable(pairs, func(i, j int) bool { return jsonKeyLess(pairs[i].Key, pairs[j].Key) })
	out := pairs[:0]
	for i := 0; i < len(pairs); i++ {
		if len(out) > 0 && out[len(out)-1].Key == pairs[i].Key {
			out[len(out)-1] = pairs[i]
			continue
		}
		out = append(out, pairs[i])
	}
	return JSONValue{Kind: JSONObject, Pairs: out}
}

func jsonKeyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func canonicalNumberText(d *apd.Decimal) string {
	if d.IsZero() {
		var z apd.Decimal
		z.Set(d)
		z.Negative = false
		return z.Text('f')
	}
	return d.Text('f')
}

// Get returns the member of an object named key.
func (v JSONValue) Get(key string) (JSONValue, bool) {
	if v.Kind != JSONObject {
		return JSONValue{}, false
	}
	i := sort.Search(len(v.Pairs), func(i int) bool { return !jsonKeyLess(v.Pairs[i].Key, key) })
	if i < len(v.Pairs) && v.Pairs[i].Key == key {
		return v.Pairs[i].Value, true
	}
	return JSONValue{}, false
}

// Index returns element i of an array; negative i counts from the end, as
// jsonb's -> does.
func (v JSONValue) Index(i int) (JSONValue, bool) {
	if v.Kind != JSONArray {
		return JSONValue{}, false
	}
	if i < 0 {
		i += len(v.Elems)
	}
	if i < 0 || i >= len(v.Elems) {
		return JSONValue{}, false
	}
	return v.Elems[i], true
}

// Decimal returns a number's value.
func (v JSONValue) Decimal() *apd.Decimal {
	d, _, err := apd.NewFromString(v.Str)
	if err != nil {
		return apd.New(0, 0)
	}
	return d
}

// AppendCanonical appends v's jsonb output form: `{"a": 1, "b": [1, 2]}`.
func (v JSONValue) AppendCanonical(buf []byte) []byte {
	switch v.Kind {
	case JSONNull:
		return append(buf, "null"...)
	case JSONBool:
		if v.Bool {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case JSONNumber:
		return append(buf, v.Str...)
	case JSONString:
		return AppendJSONString(buf, v.Str)
	case JSONArray:
		buf = append(buf, '[')
		for i, e := range v.Elems {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = e.AppendCanonical(buf)
		}
		return append(buf, ']')
	case JSONObject:
		buf = append(buf, '{')
		for i, p := range v.Pairs {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = AppendJSONString(buf, p.Key)
			buf = append(buf, ": "...)
			buf = p.Value.AppendCanonical(buf)
		}
		return append(buf, '}')
	}
	return buf
}

// String returns the canonical text.
func (v JSONValue) String() string { return string(v.AppendCanonical(nil)) }

// Datum returns v as a jsonb datum.
func (v JSONValue) Datum() Datum { return JsonbDatum(v.String()) }

// AppendPretty appends jsonb_pretty's form: four-space indentation, one
// member per line.
func (v JSONValue) AppendPretty(buf []byte, indent int) []byte {
	pad := func(b []byte, n int) []byte {
		for i := 0; i < n; i++ {
			b = append(b, "    "...)
		}
		return b
	}
	switch v.Kind {
	case JSONArray:
		if len(v.Elems) == 0 {
			return append(buf, "[\n"+strings.Repeat("    ", indent)+"]"...)
		}
		buf = append(buf, "[\n"...)
		for i, e := range v.Elems {
			if i > 0 {
				buf = append(buf, ",\n"...)
			}
			buf = pad(buf, indent+1)
			buf = e.AppendPretty(buf, indent+1)
		}
		buf = append(buf, '\n')
		buf = pad(buf, indent)
		return append(buf, ']')
	case JSONObject:
		if len(v.Pairs) == 0 {
			return append(buf, "{\n"+strings.Repeat("    ", indent)+"}"...)
		}
		buf = append(buf, "{\n"...)
		for i, p := range v.Pairs {
			if i > 0 {
				buf = append(buf, ",\n"...)
			}
			buf = pad(buf, indent+1)
			buf = AppendJSONString(buf, p.Key)
			buf = append(buf, ": "...)
			buf = p.Value.AppendPretty(buf, indent+1)
		}
		buf = append(buf, '\n')
		buf = pad(buf, indent)
		return append(buf, '}')
	}
	return v.AppendCanonical(buf)
}

// AppendJSONString appends s as a JSON string literal, escaping as
// PostgreSQL's escape_json does.
func AppendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			buf = append(buf, `\"`...)
		case '\\':
			buf = append(buf, `\\`...)
		case '\b':
			buf = append(buf, `\b`...)
		case '\f':
			buf = append(buf, `\f`...)
		case '\n':
			buf = append(buf, `\n`...)
		case '\r':
			buf = append(buf, `\r`...)
		case '\t':
			buf = append(buf, `\t`...)
		default:
			if c < 0x20 {
				const hexd = "0123456789abcdef"
				buf = append(buf, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
			} else {
				buf = append(buf, c)
			}
		}
	}
	return append(buf, '"')
}

// CanonicalJSON parses JSON text and returns PostgreSQL's jsonb output form
// of it. Errors are 22P02 "invalid input syntax for type json".
func CanonicalJSON(text string) (string, error) {
	v, err := ParseJSON(text)
	if err != nil {
		return "", err
	}
	return v.String(), nil
}

// ParseJSONB parses a jsonb datum's text (canonical or not) into a value.
func ParseJSONB(d Datum) (JSONValue, error) { return ParseJSON(d.s) }

// ParseJSON parses JSON text into a value (objects canonicalised).
func ParseJSON(text string) (JSONValue, error) {
	p := jsonParser{s: text}
	p.skipWS()
	v, err := p.value(0)
	if err != nil {
		return JSONValue{}, err
	}
	p.skipWS()
	if p.i < len(p.s) {
		return JSONValue{}, p.errToken("Expected end of input, but found %s.")
	}
	return v, nil
}

type jsonParser struct {
	s string
	i int
}

const maxJSONDepth = 6400

func (p *jsonParser) skipWS() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) err(detail string) error {
	return pgcode.New(pgcode.InvalidTextRepresentation, "invalid input syntax for type json").WithDetail("%s", detail)
}

// errToken reports the token at the current position in a detail format
// with one %s, e.g. `Token "x" is invalid.`.
func (p *jsonParser) errToken(format string) error {
	if p.i >= len(p.s) {
		return p.err("The input string ended unexpectedly.")
	}
	j := p.i + 1
	for j < len(p.s) && isJSONWordByte(p.s[j]) && isJSONWordByte(p.s[p.i]) {
		j++
	}
	return p.err(strings.Replace(format, "%s", strconv.Quote(p.s[p.i:j]), 1))
}

func isJSONWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '+' || c >= 0x80
}

func (p *jsonParser) value(depth int) (JSONValue, error) {
	if depth > maxJSONDepth {
		return JSONValue{}, pgcode.New(pgcode.StatementTooComplex, "stack depth limit exceeded") // as PostgreSQL's check_stack_depth
	}
	if p.i >= len(p.s) {
		return JSONValue{}, p.err("The input string ended unexpectedly.")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		var pairs []JSONPair
		p.skipWS()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return JSONValue{Kind: JSONObject}, nil
		}
		for {
			p.skipWS()
			if p.i >= len(p.s) || p.s[p.i] != '"' {
				return JSONValue{}, p.errToken("Expected string, but found %s.")
			}
			k, err := p.str()
			if err != nil {
				return JSONValue{}, err
			}
			p.skipWS()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return JSONValue{}, p.errToken(`Expected ":", but found %s.`)
			}
			p.i++
			p.skipWS()
			v, err := p.value(depth + 1)
			if err != nil {
				return JSONValue{}, err
			}
			pairs = append(pairs, JSONPair{Key: k, Value: v})
			p.skipWS()
			if p.i >= len(p.s) {
				return JSONValue{}, p.err("The input string ended unexpectedly.")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == '}' {
				p.i++
				return JSONObjectValue(pairs), nil
			}
			return JSONValue{}, p.errToken(`Expected "," or "}", but found %s.`)
		}
	case c == '[':
		p.i++
		elems := []JSONValue{}
		p.skipWS()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return JSONValue{Kind: JSONArray, Elems: elems}, nil
		}
		for {
			p.skipWS()
			v, err := p.value(depth + 1)
			if err != nil {
				return JSONValue{}, err
			}
			elems = append(elems, v)
			p.skipWS()
			if p.i >= len(p.s) {
				return JSONValue{}, p.err("The input string ended unexpectedly.")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ']' {
				p.i++
				return JSONValue{Kind: JSONArray, Elems: elems}, nil
			}
			return JSONValue{}, p.errToken(`Expected "," or "]", but found %s.`)
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return JSONValue{}, err
		}
		return JSONValue{Kind: JSONString, Str: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	default:
		for _, w := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(p.s[p.i:], w) && (p.i+len(w) == len(p.s) || !isJSONWordByte(p.s[p.i+len(w)])) {
				p.i += len(w)
				switch w {
				case "true":
					return JSONTrueValue, nil
				case "false":
					return JSONFalseValue, nil
				}
				return JSONNullValue, nil
			}
		}
		return JSONValue{}, p.errToken("Token %s is invalid.")
	}
}

func (p *jsonParser) number() (JSONValue, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	bad := func() (JSONValue, error) {
		for p.i < len(p.s) && isJSONWordByte(p.s[p.i]) {
			p.i++
		}
		return JSONValue{}, p.err("Token " + strconv.Quote(p.s[start:p.i]) + " is invalid.")
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return bad()
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return bad()
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return bad()
		}
	}
	if p.i < len(p.s) && isJSONWordByte(p.s[p.i]) {
		return bad()
	}
	d, _, err := apd.NewFromString(p.s[start:p.i])
	if err != nil {
		return bad()
	}
	return JSONNumberValue(d), nil
}

func (p *jsonParser) str() (string, error) {
	p.i++ // opening quote
	var b []byte
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			var s string
			if b == nil {
				s = p.s[start:p.i]
			} else {
				s = string(b)
			}
			p.i++
			return s, nil
		case c < 0x20:
			return "", p.err("Character with value 0x" + strconv.FormatInt(int64(c)+0x100, 16)[1:] + " must be escaped.")
		case c == '\\':
			if b == nil {
				b = append([]byte{}, p.s[start:p.i]...)
			}
			p.i++
			if p.i >= len(p.s) {
				return "", p.err("The input string ended unexpectedly.")
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
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
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.err(`"\u" must be followed by four hexadecimal digits.`)
				}
				if r == 0 {
					return "", pgcode.New(pgcode.UntranslatableCharacter, "unsupported Unicode escape sequence").WithDetail(`\u0000 cannot be converted to text.`)
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 || !strings.HasPrefix(p.s[p.i:], `\u`) {
						return "", p.err("Unicode low surrogate must follow a high surrogate.")
					}
					p.i += 2
					r2, ok := p.hex4()
					if !ok {
						return "", p.err(`"\u" must be followed by four hexadecimal digits.`)
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return "", p.err("Unicode low surrogate must follow a high surrogate.")
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", p.err(`Escape sequence "\` + string(e) + `" is invalid.`)
			}
		default:
			if b != nil {
				b = append(b, c)
			}
			p.i++
		}
	}
	return "", p.err("The input string ended unexpectedly.")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}
