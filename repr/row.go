package repr

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
)

// Row is a packed sequence of datums. The encoding of each datum is a tag
// byte (its Kind) and a payload:
//
//	NULL                    tag only
//	bool                    1 byte
//	int2/int4/int8/oid,
//	date/time/timestamp(tz) zig-zag varint
//	float4/float8           8 bytes, little endian IEEE bits (canonical NaN; -0
//	                        kept, which PostgreSQL prints: keys fold it to +0)
//	numeric                 form byte, zig-zag varint exponent, uvarint length,
//	                        big-endian coefficient bytes (trailing zeros stripped),
//	                        then the display scale as a uvarint when the form
//	                        byte has flag 0x40 (see appendNumeric)
//	text/varchar/char/bytea/
//	jsonb/array/record      uvarint length, bytes
//	uuid                    16 bytes
//	interval                zig-zag varints: months, days, micros
//
// A Row aliases the memory it was packed into; rows are never modified after
// packing.
type Row []byte

// Packer builds rows. The zero Packer is ready to use.
type Packer struct {
	buf []byte
}

// Reset empties the packer, keeping its buffer.
func (p *Packer) Reset() { p.buf = p.buf[:0] }

// Row returns the row packed so far. It aliases the packer's buffer: it is
// valid until the next Reset; use Clone to keep it.
func (p *Packer) Row() Row { return Row(p.buf) }

// Len returns the number of bytes packed so far.
func (p *Packer) Len() int { return len(p.buf) }

// Clone returns a copy of the row packed so far.
func (p *Packer) Clone() Row { return append(Row(nil), p.buf...) }

// PushRow appends every datum of r.
func (p *Packer) PushRow(r Row) { p.buf = append(p.buf, r...) }

// Push appends one datum.
func (p *Packer) Push(d Datum) { p.buf = AppendDatum(p.buf, d) }

// PushNull appends NULL: Push(Null) without building a Datum.
func (p *Packer) PushNull() { p.buf = append(p.buf, byte(KindNull)) }

// PushInt appends a datum of an integer-valued kind k (int2, int4, int8,
// oid, date, time, timestamp, timestamptz) holding v, as Push would; the
// caller has checked v's range for k.
func (p *Packer) PushInt(k Kind, v int64) {
	p.buf = binary.AppendVarint(append(p.buf, byte(k)), v)
}

// PushString appends a datum of a string kind k (text, varchar, char,
// bytea) holding b's bytes, as Push would.
func (p *Packer) PushString(k Kind, b []byte) {
	p.buf = append(binary.AppendUvarint(append(p.buf, byte(k)), uint64(len(b))), b...)
}

// PushAll appends datums.
func (p *Packer) PushAll(ds []Datum) {
	for _, d := range ds {
		p.buf = AppendDatum(p.buf, d)
	}
}

// PackRow packs datums into a new row.
func PackRow(ds ...Datum) Row {
	var p Packer
	p.PushAll(ds)
	return p.Row()
}

// canonicalNaN is the float bits every NaN is packed as.
var canonicalNaN = math.Float64bits(math.NaN())

// AppendDatum appends the packed encoding of d to buf.
func AppendDatum(buf []byte, d Datum) []byte {
	buf = append(buf, byte(d.kind))
	switch d.kind {
	case KindNull:
	case KindBool:
		buf = append(buf, byte(d.i))
	case KindInt2, KindInt4, KindInt8, KindOid, KindDate, KindTime, KindTimestamp, KindTimestampTz:
		buf = binary.AppendVarint(buf, d.i)
	case KindFloat4, KindFloat8:
		bits := uint64(d.i)
		f := math.Float64frombits(bits)
		if math.IsNaN(f) {
			bits = canonicalNaN
		}
		buf = binary.LittleEndian.AppendUint64(buf, bits)
	case KindNumeric:
		buf = appendNumeric(buf, d.n)
	case KindText, KindVarchar, KindChar, KindBytea, KindJsonb, KindArray, KindRecord:
		buf = binary.AppendUvarint(buf, uint64(len(d.s)))
		buf = append(buf, d.s...)
	case KindUUID:
		var u [16]byte
		copy(u[:], d.s)
		buf = append(buf, u[:]...)
	case KindInterval:
		iv := d.Interval()
		buf = binary.AppendVarint(buf, int64(iv.Months))
		buf = binary.AppendVarint(buf, int64(iv.Days))
		buf = binary.AppendVarint(buf, iv.Micros)
	default:
		// An unknown kind is a programming error; encode it as NULL rather
		// than corrupt the row.
		buf[len(buf)-1] = byte(KindNull)
	}
	return buf
}

// numericScaled is the flag bit of a packed numeric's form byte that says a
// display scale follows the coefficient (see appendNumeric).
const numericScaled = 0x40

// maxNumericScale bounds a packed display scale: PostgreSQL's dscale field
// holds at most 0x3FFF.
const maxNumericScale = 0x3FFF

// appendNumeric packs a decimal: its value canonically (trailing zeros of
// the coefficient folded into the exponent, zero as 0E0), then, only when
// the value's display scale (digits after the point, as PostgreSQL prints
// it: max(0, -exponent)) exceeds the canonical value's, the flag
// numericScaled in the form byte and the display scale as a uvarint after
// the coefficient. A value with no trailing zeros (1.1, 5) therefore packs
// exactly as before display scales were kept, and two packings of equal
// values differ only in that flag and suffix: AppendCanonical strips them
// where equal values must pack equal (keys).
func appendNumeric(buf []byte, n *apd.Decimal) []byte {
	if n == nil {
		n = apd.New(0, 0)
	}
	var red apd.Decimal
	ReduceNumeric(&red, n)
	if red.IsZero() {
		red.Negative = false
		red.Exponent = 0
	}
	form := byte(red.Form)
	if red.Negative {
		form |= 0x80
	}
	// A display scale past PostgreSQL's limit (apd gives 1/Infinity as
	// 0E-100019) is clamped to it.
	scale := min(NumericScale(n), maxNumericScale)
	scaled := red.Form == apd.Finite && scale > NumericScale(&red)
	if scaled {
		form |= numericScaled
	}
	buf = append(buf, form)
	buf = binary.AppendVarint(buf, int64(red.Exponent))
	coeff := red.Coeff.Bytes()
	buf = binary.AppendUvarint(buf, uint64(len(coeff)))
	buf = append(buf, coeff...)
	if scaled {
		buf = binary.AppendUvarint(buf, uint64(scale))
	}
	return buf
}

// ReduceNumeric sets d to x with the trailing zeros of its coefficient
// removed (the exponent raised to match), as apd's Decimal.Reduce does,
// and returns d. apd strips a coefficient past 64 bits one digit at a
// time, a division of the whole coefficient per zero: quadratic, 1.9 s
// for the 70,901-digit 1E70900 (found by FuzzFrontEnd). Here the zeros
// are counted in the coefficient's decimal text and removed with one
// division.
func ReduceNumeric(d, x *apd.Decimal) *apd.Decimal {
	if x.Form != apd.Finite || x.Coeff.IsUint64() || x.IsZero() {
		d.Reduce(x)
		return d
	}
	digits := x.Coeff.Text(10)
	kept := strings.TrimRight(digits, "0")
	d.Set(x)
	if n := len(digits) - len(kept); n > 0 {
		d.Coeff.SetString(kept, 10)
		d.Exponent += int32(n)
	}
	return d
}

// NumericScale returns n's display scale: the digits PostgreSQL prints
// after the decimal point, max(0, -exponent); 0 for NaN and infinities.
func NumericScale(n *apd.Decimal) int32 {
	if n == nil || n.Form != apd.Finite || n.Exponent >= 0 {
		return 0
	}
	return -n.Exponent
}

// WithNumericScale returns n with display scale scale when that adds
// trailing zeros (n's digits are unchanged); n itself otherwise. It never
// rounds: a scale below n's is ignored.
func WithNumericScale(n *apd.Decimal, scale int32) *apd.Decimal {
	if n == nil || n.Form != apd.Finite || scale <= NumericScale(n) {
		return n
	}
	out := new(apd.Decimal)
	out.Negative = n.Negative
	out.Exponent = -scale
	shift := int64(n.Exponent) + int64(scale)
	if shift < int64(len(pow10)) && n.Coeff.IsUint64() {
		if hi, lo := bits.Mul64(n.Coeff.Uint64(), pow10[shift]); hi == 0 {
			out.Coeff.SetUint64(lo)
			return out
		}
	}
	var p apd.BigInt
	p.Exp(apd.NewBigInt(10), apd.NewBigInt(shift), nil)
	out.Coeff.Mul(&n.Coeff, &p)
	return out
}

// pow10 holds the powers of ten that fit in a uint64.
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// numericLen returns the length of the packed numeric payload at p (after
// the tag byte) and, when it carries a display scale, the length of the
// payload without it.
func numericLen(p []byte) (n, canonical int, err error) {
	if len(p) < 1 {
		return 0, 0, errMalformed
	}
	_, n1 := binary.Varint(p[1:])
	if n1 <= 0 {
		return 0, 0, errMalformed
	}
	l, n2 := binary.Uvarint(p[1+n1:])
	start := 1 + n1 + n2
	if n2 <= 0 || uint64(len(p)-start) < l {
		return 0, 0, errMalformed
	}
	end := start + int(l)
	if p[0]&numericScaled == 0 {
		return end, end, nil
	}
	_, n3 := binary.Uvarint(p[end:])
	if n3 <= 0 {
		return 0, 0, errMalformed
	}
	return end + n3, end, nil
}

// AppendCanonical appends the datum d (one packed datum, as a row's bytes
// between two Offsets) in its canonical packing: a numeric without its
// display scale, a float -0 as +0, a jsonb with its numbers reduced
// (canonicalJSONB: '[1.0]' as '[1]'), an array or record with its elements
// in their canonical packing, so that equal values append equal bytes; any
// other datum as it is. Keys (arrangements, grouping, DISTINCT, joins) are built with
// it. A malformed datum is appended unchanged.
func AppendCanonical(buf []byte, d []byte) []byte { return appendCanonical(buf, d, false) }

// appendCanonical is AppendCanonical; elem says d is an element of an
// array or record, where an interval is also put in its span form
// (intervalSpanForm). A top-level interval keeps its fields: the sql
// planner keys such columns by their span.
func appendCanonical(buf []byte, d []byte, elem bool) []byte {
	if len(d) == 9 && isNegZero(d) {
		buf = append(buf, d[0])
		return append(buf, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	if elem {
		if m, dd, us, changed, ok := intervalSpanForm(d); ok && changed {
			buf = append(buf, byte(KindInterval))
			buf = binary.AppendVarint(buf, m)
			buf = binary.AppendVarint(buf, dd)
			return binary.AppendVarint(buf, us)
		}
	}
	if text, ok := scaledJSONB(d); ok {
		return AppendDatum(buf, JsonbDatum(canonicalJSONB(text)))
	}
	if inner, ok := nestedRow(d); ok && inner.hasScaled(true) {
		c, _ := inner.canonical(nil, true)
		buf = append(buf, d[0])
		buf = binary.AppendUvarint(buf, uint64(len(c)))
		return append(buf, c...)
	}
	if len(d) < 2 || Kind(d[0]) != KindNumeric || d[1]&numericScaled == 0 {
		return append(buf, d...)
	}
	_, c, err := numericLen(d[1:])
	if err != nil {
		return append(buf, d...)
	}
	buf = append(buf, d[0], d[1]&^numericScaled)
	return append(buf, d[2:1+c]...)
}

// intervalSpanForm returns the fields of the packed interval d normalised
// by its span (months*30 days + days + micros, as PostgreSQL compares
// intervals): 0 <= micros < a day and 0 <= days < 30 by floor division,
// months the rest, so that equal intervals ('1 day', '24 hours') have one
// form. changed says the form differs from d's fields; ok is false when d
// is not a well-formed interval or its months would leave int32.
func intervalSpanForm(d []byte) (m, dd, us int64, changed, ok bool) {
	if len(d) < 4 || Kind(d[0]) != KindInterval {
		return 0, 0, 0, false, false
	}
	m0, n1 := binary.Varint(d[1:])
	if n1 <= 0 {
		return 0, 0, 0, false, false
	}
	d0, n2 := binary.Varint(d[1+n1:])
	if n2 <= 0 {
		return 0, 0, 0, false, false
	}
	us0, n3 := binary.Varint(d[1+n1+n2:])
	if n3 <= 0 || 1+n1+n2+n3 != len(d) {
		return 0, 0, 0, false, false
	}
	days := m0*DaysPerMonth + d0 + floorDiv64(us0, MicrosPerDay)
	us = us0 - floorDiv64(us0, MicrosPerDay)*MicrosPerDay
	m = floorDiv64(days, DaysPerMonth)
	dd = days - m*DaysPerMonth
	if m < math.MinInt32 || m > math.MaxInt32 {
		return 0, 0, 0, false, false
	}
	return m, dd, us, m != m0 || dd != d0 || us != us0, true
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Canonical returns r with every numeric in its canonical packing (see
// AppendCanonical), appended to buf, and whether that changed anything.
// When nothing changes it returns r itself and does not touch buf.
func (r Row) Canonical(buf []byte) (Row, bool) { return r.canonical(buf, false) }

// canonical is Canonical; elems says r holds an array's or record's
// elements (see appendCanonical).
func (r Row) canonical(buf []byte, elems bool) (Row, bool) {
	if !r.hasScaled(elems) {
		return r, false
	}
	it := r.Iter()
	for {
		off := it.Offset()
		if !it.Skip() {
			break
		}
		buf = appendCanonical(buf, r[off:it.Offset()], elems)
	}
	if it.Err() != nil {
		return r, false
	}
	return Row(buf), true
}

// hasScaled reports whether r holds a datum whose canonical packing
// differs (a numeric packed with a display scale, a float -0, a jsonb
// holding a number with trailing zeros, an array or record holding any of
// these or an interval not in its span form): a scan of its datums' tags
// and, for jsonb, text, and of arrays' and records' elements. elems says
// r holds an array's or record's elements.
func (r Row) hasScaled(elems bool) bool {
	it := r.Iter()
	for {
		off := it.Offset()
		if off < len(r)-1 && Kind(r[off]) == KindNumeric && r[off+1]&numericScaled != 0 {
			return true
		}
		if off+9 <= len(r) && isNegZero(r[off:off+9]) {
			return true
		}
		if !it.Skip() {
			return false
		}
		d := r[off:it.Offset()]
		if elems {
			if _, _, _, changed, ok := intervalSpanForm(d); ok && changed {
				return true
			}
		}
		if _, ok := scaledJSONB(d); ok {
			return true
		}
		if inner, ok := nestedRow(d); ok && inner.hasScaled(true) {
			return true
		}
	}
}

// nestedRow returns the packed elements of the packed datum d when it is
// an array or a record.
func nestedRow(d []byte) (Row, bool) {
	if len(d) < 2 || Kind(d[0]) != KindArray && Kind(d[0]) != KindRecord {
		return nil, false
	}
	l, n := binary.Uvarint(d[1:])
	if n <= 0 || uint64(len(d)-1-n) != l {
		return nil, false
	}
	return Row(d[1+n:]), true
}

// scaledJSONB returns the text of the packed datum d when it is a jsonb
// whose canonical packing differs (jsonbScaled).
func scaledJSONB(d []byte) (string, bool) {
	if len(d) < 2 || Kind(d[0]) != KindJsonb {
		return "", false
	}
	l, n := binary.Uvarint(d[1:])
	if n <= 0 || uint64(len(d)-1-n) != l {
		return "", false
	}
	text := bytesToString(d[1+n:])
	return text, jsonbScaled(text)
}

// negZeroBits is -0.0 as packed: little-endian IEEE bits.
const negZeroBits = 1 << 63

// isNegZero reports whether d (9 bytes) is a packed float -0.
func isNegZero(d []byte) bool {
	k := Kind(d[0])
	return (k == KindFloat8 || k == KindFloat4) && binary.LittleEndian.Uint64(d[1:9]) == negZeroBits
}

// PreferShown reports whether b, equal to a, is the one to show where
// equal values meet (a group key, DISTINCT, min, max): a numeric of larger
// display scale (1.10 over 1.1), a float -0 over +0, a jsonb of longer
// text, then of greater bytes ('[1.00]' over '[1.0]' over '[1]'), an array
// or record of longer, then greater, packing (ARRAY[1.10] over
// ARRAY[1.1]); a jsonb, array or record in its canonical packing never
// over one that is not (ARRAY['-1 day'] over its span form, as long).
// viewd's rule for a maintained view, where PostgreSQL shows whichever row
// its plan met. Callers start from the canonical key, which may be no
// row's: the value shown is then a row's own.
func PreferShown(a, b Datum) bool {
	switch {
	case a.kind == KindNumeric && b.kind == KindNumeric:
		return NumericScale(b.n) > NumericScale(a.n)
	case a.kind == KindJsonb && b.kind == KindJsonb,
		a.kind == KindArray && b.kind == KindArray,
		a.kind == KindRecord && b.kind == KindRecord:
		if ca, cb := isCanonicalDatum(a), isCanonicalDatum(b); ca != cb {
			return ca
		}
		return len(b.s) > len(a.s) || len(b.s) == len(a.s) && b.s > a.s
	case (a.kind == KindFloat8 || a.kind == KindFloat4) && a.kind == b.kind:
		return uint64(b.i) == negZeroBits && uint64(a.i) != negZeroBits
	}
	return false
}

// isCanonicalDatum reports whether a jsonb, array or record datum is in
// its canonical packing (AppendCanonical leaves it unchanged).
func isCanonicalDatum(d Datum) bool {
	if d.kind == KindJsonb {
		return !jsonbScaled(d.s)
	}
	return !Row(d.s).hasScaled(true)
}

// PushCanonical appends one packed datum in its canonical packing (see
// AppendCanonical).
func (p *Packer) PushCanonical(d []byte) { p.buf = AppendCanonical(p.buf, d) }

// PushKey appends one datum in its canonical packing: a numeric without
// its display scale, a float -0 as +0, a jsonb with its numbers reduced, an
// array or record with its elements so packed. It
// reports whether it dropped a display scale (the datum's own packing,
// Push, would differ).
func (p *Packer) PushKey(d Datum) bool {
	switch {
	case d.kind == KindJsonb && jsonbScaled(d.s):
		p.buf = AppendDatum(p.buf, JsonbDatum(canonicalJSONB(d.s)))
		return true
	case d.kind == KindArray || d.kind == KindRecord:
		if c, changed := Row(d.s).canonical(nil, true); changed {
			p.buf = AppendDatum(p.buf, Datum{kind: d.kind, s: string(c)})
			return true
		}
	}
	start := len(p.buf)
	p.buf = AppendDatum(p.buf, d)
	if (d.kind == KindFloat8 || d.kind == KindFloat4) && isNegZero(p.buf[start:]) {
		clear(p.buf[start+1:])
		return true
	}
	if d.kind != KindNumeric || p.buf[start+1]&numericScaled == 0 {
		return false
	}
	_, c, err := numericLen(p.buf[start+1:])
	if err != nil {
		return false
	}
	p.buf[start+1] &^= numericScaled
	p.buf = p.buf[:start+1+c]
	return true
}

// Iter reads a row datum by datum.
type Iter struct {
	row Row
	off int
	err error
}

// Iter returns an iterator over r's datums.
func (r Row) Iter() Iter { return Iter{row: r} }

// Next returns the next datum, or false at the end (or on a malformed row:
// see Err).
func (it *Iter) Next() (Datum, bool) {
	if it.off >= len(it.row) || it.err != nil {
		return Datum{}, false
	}
	d, n, err := decodeDatum(it.row[it.off:])
	if err != nil {
		it.err = err
		return Datum{}, false
	}
	it.off += n
	return d, true
}

// Skip advances past the next datum without decoding it fully.
func (it *Iter) Skip() bool {
	if it.off >= len(it.row) || it.err != nil {
		return false
	}
	n, err := datumLen(it.row[it.off:])
	if err != nil {
		it.err = err
		return false
	}
	it.off += n
	return true
}

// Offset returns the byte offset of the next datum.
func (it *Iter) Offset() int { return it.off }

// Err returns the decoding error that stopped the iterator, if any.
func (it *Iter) Err() error { return it.err }

// Unpack appends r's datums to buf. Text-like datums alias r.
func (r Row) Unpack(buf []Datum) []Datum {
	it := r.Iter()
	for {
		d, ok := it.Next()
		if !ok {
			return buf
		}
		buf = append(buf, d)
	}
}

// Prefix returns r's first 8 bytes as a big-endian integer, zero padded:
// comparing the prefixes of two rows orders them as bytes.Compare does,
// unless they are equal, so that sorts compare most pairs without
// touching the rows' bytes.
func (r Row) Prefix() uint64 {
	if len(r) >= 8 {
		return binary.BigEndian.Uint64(r)
	}
	var p uint64
	for i, c := range r {
		p |= uint64(c) << (56 - 8*i)
	}
	return p
}

// UnpackPrefix appends r's first n datums to buf (all of them when r has
// fewer), decoding none of the rest.
func (r Row) UnpackPrefix(buf []Datum, n int) []Datum {
	it := r.Iter()
	for range n {
		d, ok := it.Next()
		if !ok {
			break
		}
		buf = append(buf, d)
	}
	return buf
}

// Datums returns r's datums in a new slice.
func (r Row) Datums() []Datum { return r.Unpack(nil) }

// Arity counts r's datums.
func (r Row) Arity() int {
	it := r.Iter()
	n := 0
	for it.Skip() {
		n++
	}
	return n
}

// Get returns the i-th datum (0-based), scanning from the start.
func (r Row) Get(i int) Datum {
	it := r.Iter()
	for ; i > 0; i-- {
		if !it.Skip() {
			return Datum{}
		}
	}
	d, _ := it.Next()
	return d
}

// String prints the row's datums for debugging and golden tests, e.g.
// (1, 'a', NULL).
func (r Row) String() string {
	buf := []byte{'('}
	it := r.Iter()
	first := true
	for {
		d, ok := it.Next()
		if !ok {
			break
		}
		if !first {
			buf = append(buf, ", "...)
		}
		first = false
		buf = append(buf, d.String()...)
	}
	if it.Err() != nil {
		buf = append(buf, fmt.Sprintf("<bad row: %v>", it.Err())...)
	}
	return string(append(buf, ')'))
}

var errMalformed = fmt.Errorf("repr: malformed row")

func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// decodeDatum decodes one datum from the front of b, returning it and the
// number of bytes it used.
func decodeDatum(b []byte) (Datum, int, error) {
	k := Kind(b[0])
	p := b[1:]
	switch k {
	case KindNull:
		return Datum{}, 1, nil
	case KindBool:
		if len(p) < 1 {
			return Datum{}, 0, errMalformed
		}
		return Datum{kind: k, i: int64(p[0])}, 2, nil
	case KindInt2, KindInt4, KindInt8, KindOid, KindDate, KindTime, KindTimestamp, KindTimestampTz:
		v, n := binary.Varint(p)
		if n <= 0 {
			return Datum{}, 0, errMalformed
		}
		return Datum{kind: k, i: v}, 1 + n, nil
	case KindFloat4, KindFloat8:
		if len(p) < 8 {
			return Datum{}, 0, errMalformed
		}
		return Datum{kind: k, i: int64(binary.LittleEndian.Uint64(p))}, 9, nil
	case KindNumeric:
		if len(p) < 1 {
			return Datum{}, 0, errMalformed
		}
		form := p[0]
		exp, n1 := binary.Varint(p[1:])
		if n1 <= 0 {
			return Datum{}, 0, errMalformed
		}
		l, n2 := binary.Uvarint(p[1+n1:])
		start := 1 + n1 + n2
		if n2 <= 0 || uint64(len(p)-start) < l {
			return Datum{}, 0, errMalformed
		}
		d := new(apd.Decimal)
		d.Form = apd.Form(form & 0x3f)
		d.Negative = form&0x80 != 0
		d.Exponent = int32(exp)
		if l <= 8 {
			var c uint64
			for _, b := range p[start : start+int(l)] {
				c = c<<8 | uint64(b)
			}
			d.Coeff.SetUint64(c)
		} else {
			d.Coeff.SetBytes(p[start : start+int(l)])
		}
		end := start + int(l)
		if form&numericScaled != 0 {
			scale, n3 := binary.Uvarint(p[end:])
			if n3 <= 0 || scale > maxNumericScale {
				return Datum{}, 0, errMalformed
			}
			end += n3
			d = WithNumericScale(d, int32(scale))
		}
		return Datum{kind: k, n: d}, 1 + end, nil
	case KindText, KindVarchar, KindChar, KindBytea, KindJsonb, KindArray, KindRecord:
		l, n := binary.Uvarint(p)
		if n <= 0 || uint64(len(p)-n) < l {
			return Datum{}, 0, errMalformed
		}
		return Datum{kind: k, s: bytesToString(p[n : n+int(l)])}, 1 + n + int(l), nil
	case KindUUID:
		if len(p) < 16 {
			return Datum{}, 0, errMalformed
		}
		return Datum{kind: k, s: bytesToString(p[:16])}, 17, nil
	case KindInterval:
		m, n1 := binary.Varint(p)
		if n1 <= 0 {
			return Datum{}, 0, errMalformed
		}
		dd, n2 := binary.Varint(p[n1:])
		if n2 <= 0 {
			return Datum{}, 0, errMalformed
		}
		us, n3 := binary.Varint(p[n1+n2:])
		if n3 <= 0 {
			return Datum{}, 0, errMalformed
		}
		return IntervalDatum(Interval{Months: int32(m), Days: int32(dd), Micros: us}), 1 + n1 + n2 + n3, nil
	}
	return Datum{}, 0, errMalformed
}

// datumLen returns the encoded length of the datum at the front of b,
// checking that the whole datum is within b.
func datumLen(b []byte) (int, error) {
	k := Kind(b[0])
	p := b[1:]
	fixed := func(n int) (int, error) {
		if len(b) < n {
			return 0, errMalformed
		}
		return n, nil
	}
	switch k {
	case KindNull:
		return 1, nil
	case KindBool:
		return fixed(2)
	case KindInt2, KindInt4, KindInt8, KindOid, KindDate, KindTime, KindTimestamp, KindTimestampTz:
		for i, c := range p {
			if c < 0x80 {
				return 2 + i, nil
			}
		}
		return 0, errMalformed
	case KindFloat4, KindFloat8:
		return fixed(9)
	case KindNumeric:
		n, _, err := numericLen(p)
		return 1 + n, err
	case KindUUID:
		return fixed(17)
	case KindText, KindVarchar, KindChar, KindBytea, KindJsonb, KindArray, KindRecord:
		l, n := binary.Uvarint(p)
		if n <= 0 || uint64(len(p)-n) < l {
			return 0, errMalformed
		}
		return 1 + n + int(l), nil
	}
	_, n, err := decodeDatum(b)
	return n, err
}

// Clone returns a copy of r that does not alias its memory.
func (r Row) Clone() Row { return append(Row(nil), r...) }

// Offsets appends to buf the byte offset at which each of r's datums
// starts, then len(r): datum i is r[offs[i]:offs[i+1]]. It reads only the
// datums' lengths (no decoding, no allocation beyond buf).
func (r Row) Offsets(buf []int) ([]int, error) {
	it := r.Iter()
	for {
		buf = append(buf, it.Offset())
		if !it.Skip() {
			break
		}
	}
	return buf, it.Err()
}

// NullAt reports whether the datum starting at byte offset off is NULL.
func (r Row) NullAt(off int) bool { return off < len(r) && Kind(r[off]) == KindNull }
