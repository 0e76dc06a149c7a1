package sources

import (
	"github.com/viewd/viewd/repr"
)

// The in-order fast path of decodeObject.
//
// The general path reads a message twice: rowDecoder.scan validates the
// whole object and keeps the span of each declared column's value, then
// packInto converts the spans into datums (scanning each string a second
// time to see whether it needs unescaping, parsing each number a second
// time). That order is what makes its errors what they are: a syntax
// error anywhere wins over a value that does not convert, and of values
// that do not convert the first column in declared order is reported.
//
// Upstreams write a table's columns in declared order, once each, so the
// fast path converts each value where it stands, straight into the
// packer, and reads every string and number once: a string's scan tells
// whether it needs unescaping, an integer's digits are its value. It
// gives up, and decodeObject starts the message over on the general path,
// at anything it would have to reorder or report: a column out of order
// or repeated, a missing column that is not nullable, any syntax error or
// value that does not convert. (A column skipped is packed as NULL at
// once: should it come later, that is out of order.) So an accepted message packs exactly as
// the general path packs it, and every error is the general path's.

// fastKind is how the fast path converts a column's values.
type fastKind uint8

const (
	fastGeneric     fastKind = iota // the value's span through jsonScanner.datum
	fastInt                         // int2, int4, int8: JSON integers parsed as scanned
	fastText                        // text: a JSON string's text
	fastTimestamp                   // timestamp: ISO 8601 strings by fastISOTimestamp
	fastTimestampTz                 // timestamptz: the same
)

// fastKinds returns the fast path's conversion of each column of desc.
func fastKinds(desc repr.RelationDesc) []fastKind {
	ks := make([]fastKind, len(desc.Types))
	for i, ct := range desc.Types {
		switch ct.Type.Kind {
		case repr.KindInt2, repr.KindInt4, repr.KindInt8:
			ks[i] = fastInt
		case repr.KindText:
			ks[i] = fastText
		case repr.KindTimestamp:
			ks[i] = fastTimestamp
		case repr.KindTimestampTz:
			ks[i] = fastTimestampTz
		}
	}
	return ks
}

// packInOrder packs the object at the cursor (its '{' not yet passed),
// which must be the whole of the scanner's message, followed by extra,
// into w's packer, and reports whether it could (see above); false leaves
// the scanner and the packer in no particular state.
func (rd *rowDecoder) packInOrder(s *jsonScanner, w *workspace, extra []repr.Datum) bool {
	p := w.pk // a local copy, as packInto
	p.Reset()
	names := rd.desc.Names
	s.pos++ // '{'
	next := 0
	for first := true; ; first = false {
		key, plain, ok, isWant, err := s.memberLike(first, rd.likely[next])
		if err != nil {
			return false
		}
		if !ok {
			break
		}
		col := next
		if !isWant {
			col = rd.column(s, key, plain, next)
		}
		if col < 0 {
			if s.skip(1) != nil {
				return false
			}
			continue
		}
		// Columns skipped are absent (NULL) unless they come later,
		// which sends the message to the general path (col < next).
		if col < next || !rd.nullsUpTo(&p, next, col) || !rd.packValue(s, &p, col) {
			w.pk = p
			return false
		}
		next = col + 1
	}
	if !rd.nullsUpTo(&p, next, len(names)) {
		w.pk = p
		return false
	}
	if s.atEnd() != nil {
		w.pk = p
		return false
	}
	p.PushAll(extra)
	w.pk = p
	return true
}

// nullsUpTo pushes NULL for the absent columns from up to end, reporting
// false when one of them is not nullable.
func (rd *rowDecoder) nullsUpTo(p *repr.Packer, from, end int) bool {
	for c := from; c < end; c++ {
		if !rd.desc.Types[c].Nullable {
			return false
		}
		p.PushNull()
	}
	return true
}

// packValue converts the value at the cursor for column col and pushes
// it, reporting false on any syntax error or value that does not convert.
func (rd *rowDecoder) packValue(s *jsonScanner, p *repr.Packer, col int) bool {
	s.skipWS()
	if s.pos >= len(s.buf) {
		return false
	}
	start := s.pos
	ct := rd.desc.Types[col]
	switch c := s.buf[s.pos]; rd.fast[col] {
	case fastInt:
		if c == '-' || (c >= '0' && c <= '9') {
			if v, ok := s.integer(); ok && intFits(ct.Type.Kind, v) {
				p.PushInt(ct.Type.Kind, v)
				return true
			}
			s.pos = start
		}
	case fastText:
		if c == '"' {
			raw, plain, err := s.str()
			if err != nil {
				return false
			}
			if !plain {
				raw = s.unescape(raw)
			}
			p.PushString(repr.KindText, raw)
			return true
		}
	case fastTimestamp, fastTimestampTz:
		if c == '"' {
			raw, plain, err := s.str()
			if err != nil {
				return false
			}
			if us, ok := fastISOTimestamp(aliasString(raw), ct.Type.Kind == repr.KindTimestampTz); plain && ok {
				p.PushInt(ct.Type.Kind, us)
				return true
			}
			s.pos = start
		}
	}
	raw, err := s.value()
	if err != nil {
		return false
	}
	d, err := s.datum(raw, ct, semantic{})
	if err != nil {
		return false
	}
	p.Push(d)
	return true
}

// integer passes a JSON integer at the cursor ('-' or a digit) and returns
// its value; ok is false, with the cursor anywhere, for any other number
// (a fraction, an exponent, more than 18 digits) or bad syntax, which
// the caller reads again as a value.
func (s *jsonScanner) integer() (v int64, ok bool) {
	neg := s.buf[s.pos] == '-'
	if neg {
		s.pos++
	}
	start := s.pos
	for s.pos < len(s.buf) {
		c := s.buf[s.pos]
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int64(c-'0')
		s.pos++
	}
	n := s.pos - start
	if n == 0 || n > 18 || (n > 1 && s.buf[start] == '0') {
		return 0, false
	}
	if s.pos < len(s.buf) {
		if c := s.buf[s.pos]; c == '.' || c == 'e' || c == 'E' {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// intFits reports whether v is in the range of integer kind k.
func intFits(k repr.Kind, v int64) bool {
	switch k {
	case repr.KindInt2:
		return v >= -1<<15 && v <= 1<<15-1
	case repr.KindInt4:
		return v >= -1<<31 && v <= 1<<31-1
	}
	return true
}
