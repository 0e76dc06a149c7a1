package sources

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/viewd/viewd/pgcode"
)

// jsonScanner is the tokenizer every JSON envelope decodes with: a cursor
// over one message that validates as it goes (the grammar encoding/json
// accepts, RFC 8259) and hands out values as spans of the message — the
// exact text of each value — so a decoder converts only the values it
// needs, straight into datums, with no intermediate map or tree. A value
// that is skipped is still validated: a message is either valid JSON as a
// whole or an error (22P02), whatever fields the source reads.
//
// Strings are unescaped into scratch, which is reset once per message;
// unescaped text and spans are valid until the next reset. A scanner is
// not safe for concurrent use: each decode worker has its own.
type jsonScanner struct {
	buf     []byte
	pos     int
	scratch []byte
}

// maxNesting bounds the depth of nested arrays and objects, as
// encoding/json does (10000), so hostile input cannot exhaust the stack.
const maxNesting = 10000

func (s *jsonScanner) reset(buf []byte) {
	s.buf, s.pos, s.scratch = buf, 0, s.scratch[:0]
}

// errEnd and errChar are the syntax errors (22P02), in encoding/json's
// words ("unexpected end of JSON input", "invalid character 'x' ..."),
// errChar with the byte offset.
func (s *jsonScanner) errEnd() error {
	return pgcode.New(pgcode.InvalidJSONText, "invalid JSON: unexpected end of JSON input")
}

func (s *jsonScanner) errChar(context string) error {
	if s.pos >= len(s.buf) {
		return s.errEnd()
	}
	return pgcode.New(pgcode.InvalidJSONText, "invalid JSON: invalid character %s %s (byte %d)", quoteChar(s.buf[s.pos]), context, s.pos)
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

func (s *jsonScanner) skipWS() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// atEnd checks that only whitespace follows the top-level value.
func (s *jsonScanner) atEnd() error {
	s.skipWS()
	if s.pos < len(s.buf) {
		return s.errChar("after top-level value")
	}
	return nil
}

// peek returns the first byte of the next value (after whitespace), 0 at
// the end of input.
func (s *jsonScanner) peek() byte {
	s.skipWS()
	if s.pos >= len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

// value validates the value at the cursor and returns its text.
func (s *jsonScanner) value() ([]byte, error) {
	s.skipWS()
	start := s.pos
	if err := s.skip(0); err != nil {
		return nil, err
	}
	return s.buf[start:s.pos], nil
}

// skip validates and passes the value at the cursor (whitespace skipped).
func (s *jsonScanner) skip(depth int) error {
	s.skipWS()
	if s.pos >= len(s.buf) {
		return s.errEnd()
	}
	switch c := s.buf[s.pos]; {
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '{':
		if depth >= maxNesting {
			return pgcode.New(pgcode.InvalidJSONText, "invalid JSON: exceeded max depth")
		}
		s.pos++
		for first := true; ; first = false {
			_, _, ok, err := s.member(first)
			if err != nil || !ok {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		if depth >= maxNesting {
			return pgcode.New(pgcode.InvalidJSONText, "invalid JSON: exceeded max depth")
		}
		s.pos++
		s.skipWS()
		if s.pos < len(s.buf) && s.buf[s.pos] == ']' {
			s.pos++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.skipWS()
			if s.pos >= len(s.buf) {
				return s.errEnd()
			}
			switch s.buf[s.pos] {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return nil
			default:
				return s.errChar("after array element")
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.errChar("looking for beginning of value")
}

func (s *jsonScanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if s.pos >= len(s.buf) {
			return s.errEnd()
		}
		if s.buf[s.pos] != word[i] {
			return s.errChar("in literal " + word)
		}
		s.pos++
	}
	return nil
}

func (s *jsonScanner) digits() int {
	n := 0
	for s.pos < len(s.buf) && s.buf[s.pos] >= '0' && s.buf[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

// number passes a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() error {
	if s.buf[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.buf) {
		return s.errEnd()
	}
	switch c := s.buf[s.pos]; {
	case c == '0':
		s.pos++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return s.errChar("in numeric literal")
	}
	if s.pos < len(s.buf) && s.buf[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.errChar("after decimal point in numeric literal")
		}
	}
	if s.pos < len(s.buf) && (s.buf[s.pos] == 'e' || s.buf[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.buf) && (s.buf[s.pos] == '+' || s.buf[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.errChar("in exponent of numeric literal")
		}
	}
	return nil
}

// str passes a string at the cursor and returns its raw content (between
// the quotes) and whether it needs unescaping (escapes, or bytes that are
// not valid UTF-8, which become U+FFFD as encoding/json makes them).
func (s *jsonScanner) str() (raw []byte, plain bool, err error) {
	s.pos++ // opening quote
	start := s.pos
	plain = true
	for s.pos < len(s.buf) {
		s.pos += plainRun(s.buf[s.pos:])
		if s.pos >= len(s.buf) {
			break
		}
		c := s.buf[s.pos]
		switch {
		case c == '"':
			raw = s.buf[start:s.pos]
			s.pos++
			return raw, plain, nil
		case c == '\\':
			plain = false
			s.pos++
			if s.pos >= len(s.buf) {
				return nil, false, s.errEnd()
			}
			switch s.buf[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				s.pos++
				for i := 0; i < 4; i++ {
					if s.pos >= len(s.buf) {
						return nil, false, s.errEnd()
					}
					if !isHexDigit(s.buf[s.pos]) {
						return nil, false, s.errChar("in \\u hexadecimal character escape")
					}
					s.pos++
				}
			default:
				return nil, false, s.errChar("in string escape code")
			}
		case c < 0x20:
			return nil, false, s.errChar("in string literal")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s.buf[s.pos:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			s.pos += size
		default:
			s.pos++
		}
	}
	return nil, false, s.errEnd()
}

// plainKey reports whether name, as a key's raw text between quotes, is
// a whole valid string whose text is itself: no '"', backslash or
// control character, valid UTF-8 (memberLike matches such names in
// place).
func plainKey(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '"' || c == '\\' || c < 0x20 {
			return false
		}
	}
	return utf8.ValidString(name)
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// member moves to the next member of the object whose '{' the cursor has
// passed (first: no member read yet) and returns its key's raw text and
// whether that needs unescaping; ok is false at the closing '}'. The
// cursor is left at the member's value.
func (s *jsonScanner) member(first bool) (key []byte, plain, ok bool, err error) {
	key, plain, ok, _, err = s.memberLike(first, "")
	return key, plain, ok, err
}

// memberLike is member for a caller that expects the key want (""
// none), which must be a plainKey: a key that is want is matched where it
// stands, not scanned, and reported (isWant).
func (s *jsonScanner) memberLike(first bool, want string) (key []byte, plain, ok, isWant bool, err error) {
	s.skipWS()
	if s.pos >= len(s.buf) {
		return nil, false, false, false, s.errEnd()
	}
	c := s.buf[s.pos]
	if c == '}' {
		s.pos++
		return nil, false, false, false, nil
	}
	if !first {
		if c != ',' {
			return nil, false, false, false, s.errChar("after object key:value pair")
		}
		s.pos++
		s.skipWS()
		if s.pos >= len(s.buf) {
			return nil, false, false, false, s.errEnd()
		}
		c = s.buf[s.pos]
	}
	if c != '"' {
		return nil, false, false, false, s.errChar("looking for beginning of object key string")
	}
	if end := s.pos + 1 + len(want); want != "" && end < len(s.buf) && s.buf[end] == '"' && aliasString(s.buf[s.pos+1:end]) == want {
		key, plain, isWant = s.buf[s.pos+1:end], true, true
		s.pos = end + 1
	} else if key, plain, err = s.str(); err != nil {
		return nil, false, false, false, err
	}
	s.skipWS()
	if s.pos >= len(s.buf) {
		return nil, false, false, false, s.errEnd()
	}
	if s.buf[s.pos] != ':' {
		return nil, false, false, false, s.errChar("after object key")
	}
	s.pos++
	return key, plain, true, isWant, nil
}

// element moves to the next element of the array whose '[' the cursor
// has passed (first: none read yet); ok is false at the closing ']'. The
// cursor is left at the element.
func (s *jsonScanner) element(first bool) (ok bool, err error) {
	s.skipWS()
	if s.pos >= len(s.buf) {
		return false, s.errEnd()
	}
	switch c := s.buf[s.pos]; {
	case c == ']':
		s.pos++
		return false, nil
	case first:
		return true, nil
	case c == ',':
		s.pos++
		return true, nil
	}
	return false, s.errChar("after array element")
}

// key returns a member's key as text: raw itself when plain, else its
// unescaped form in scratch.
func (s *jsonScanner) key(raw []byte, plain bool) []byte {
	if plain {
		return raw
	}
	return s.unescape(raw)
}

// unescape appends the text of a string's raw content to scratch and
// returns it, with encoding/json's rules: escapes decoded, a surrogate
// pair joined, a lone surrogate and each byte of invalid UTF-8 replaced by
// U+FFFD. raw has been validated by str.
func (s *jsonScanner) unescape(raw []byte) []byte {
	start := len(s.scratch)
	b := s.scratch
	for r := 0; r < len(raw); {
		c := raw[r]
		switch {
		case c == '\\':
			r++
			switch e := raw[r]; e {
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
				rr := hex4(raw[r+1:])
				r += 5
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(raw) && raw[r] == '\\' && raw[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(raw[r+2:])); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							r += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			r++
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(raw[r:])
			if rr == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, unicode.ReplacementChar)
			} else {
				b = append(b, raw[r:r+size]...)
			}
			r += size
		}
	}
	s.scratch = b
	return b[start:]
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// text returns the text of a JSON string value (quotes included) as a Go
// string that aliases the message or scratch: it must not outlive the
// message's decoding (datums made from it are copied into packed rows).
func (s *jsonScanner) text(quoted []byte) string {
	raw := quoted[1 : len(quoted)-1]
	if needsUnescape(raw) {
		raw = s.unescape(raw)
	}
	return aliasString(raw)
}

// needsUnescape reports whether a validated string's raw content differs
// from its text.
func needsUnescape(raw []byte) bool {
	// A validated string's raw content has no control character, and a
	// '"' only after a backslash: the first special byte decides.
	i := plainRun(raw)
	if i == len(raw) {
		return false
	}
	if raw[i] >= utf8.RuneSelf {
		return !utf8.Valid(raw[i:])
	}
	return true
}

// plainRun returns the length of b's longest prefix of bytes that need no
// attention inside a JSON string: no '"', '\\', control character (below
// 0x20) or byte of a multi-byte UTF-8 sequence (0x80 and up). It tests
// eight bytes at a time (SWAR): a string value is most of a message's
// bytes, and this loop most of the scanner's time.
func plainRun(b []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lo * '"')
		e := x ^ (lo * '\\')
		// (v - lo) &^ v has a byte's high bit set where v's byte is zero
		// (and possibly above it: the first set bit is exact, which is
		// all that is asked here); v - 0x20 per byte does the same for
		// bytes below 0x20; x itself for bytes of 0x80 and up.
		if ((q-lo)&^q|(e-lo)&^e|(x-lo*0x20)&^x|x)&hi != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	return i
}

// aliasString views b as a string without copying. The caller keeps b
// unmodified while the string is in use.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// The envelopes read their own fields (op, source, xid, ...) as
// encoding/json decodes a JSON object into a Go struct, which is what they
// did before this scanner: a key names a field under Unicode case folding,
// null leaves a field as it is, and a value of the wrong JSON type makes
// the whole message invalid (recorded in typeErr, reported once the
// message is known to be well-formed).

// fieldIs reports whether key names the struct field name.
func fieldIs(key []byte, name string) bool {
	if len(key) == len(name) && string(key) == name {
		return true
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			// Unicode folding may match keys of another length (the
			// Kelvin sign folds to k).
			return strings.EqualFold(aliasString(key), name)
		}
	}
	if len(key) != len(name) {
		return false
	}
	for i, c := range key {
		if c|0x20 != name[i]|0x20 || (c|0x20) < 'a' || (c|0x20) > 'z' {
			if c != name[i] {
				return false
			}
		}
	}
	return true
}

// typeMismatch records that the value at the cursor does not fit the field
// what, and passes it.
func typeMismatch(s *jsonScanner, typeErr *error, what string) error {
	v, err := s.value()
	if err != nil {
		return err
	}
	if *typeErr == nil {
		*typeErr = fmt.Errorf("field %s cannot hold JSON %s", what, abbreviate(v))
	}
	return nil
}

// scalarField reads a field whose JSON values start with one of the bytes
// of firsts: set takes the value's text and reports whether it fits.
func (s *jsonScanner) scalarField(firsts string, typeErr *error, what string, set func(raw []byte) bool) error {
	c := s.peek()
	if c == 'n' {
		return s.skip(1)
	}
	if c == 0 || strings.IndexByte(firsts, c) < 0 {
		return typeMismatch(s, typeErr, what)
	}
	raw, err := s.value()
	if err != nil {
		return err
	}
	if !set(raw) && *typeErr == nil {
		*typeErr = fmt.Errorf("field %s cannot hold JSON %s", what, abbreviate(raw))
	}
	return nil
}

// strField reads a string field. The text aliases the message or scratch.
func (s *jsonScanner) strField(dst *string, typeErr *error, what string) error {
	return s.scalarField(`"`, typeErr, what, func(raw []byte) bool { *dst = s.text(raw); return true })
}

// int64Field reads an integer field (dst nil: validated and dropped).
func (s *jsonScanner) int64Field(dst *int64, typeErr *error, what string) error {
	return s.scalarField("-0123456789", typeErr, what, func(raw []byte) bool {
		v, err := strconv.ParseInt(aliasString(raw), 10, 64)
		if err == nil && dst != nil {
			*dst = v
		}
		return err == nil
	})
}

// boolField reads a boolean field.
func (s *jsonScanner) boolField(dst *bool, typeErr *error, what string) error {
	return s.scalarField("tf", typeErr, what, func(raw []byte) bool { *dst = raw[0] == 't'; return true })
}

// objectFields reads a struct-valued field: each member's key is offered
// to field, which reads the value and returns true, or returns false to
// have the value skipped.
func (s *jsonScanner) objectFields(typeErr *error, what string, field func(key []byte) (bool, error)) error {
	switch s.peek() {
	case 'n':
		return s.skip(1)
	case '{':
	default:
		return typeMismatch(s, typeErr, what)
	}
	s.pos++
	for first := true; ; first = false {
		key, plain, ok, err := s.member(first)
		if err != nil || !ok {
			return err
		}
		done, err := field(s.key(key, plain))
		if err != nil {
			return err
		}
		if !done {
			if err := s.skip(1); err != nil {
				return err
			}
		}
	}
}
