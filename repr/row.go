package repr

import (
	"encoding/binary"
	"fmt"
	"math"
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
//	float4/float8           8 bytes, little endian IEEE bits (canonical NaN, +0)
//	numeric                 form byte, zig-zag varint exponent, uvarint length,
//	                        big-endian coefficient bytes (trailing zeros stripped)
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
		} else if f == 0 {
			bits = 0
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

// appendNumeric packs a decimal canonically: trailing zeros of the
// coefficient are folded into the exponent so that equal values pack equal.
func appendNumeric(buf []byte, n *apd.Decimal) []byte {
	if n == nil {
		n = apd.New(0, 0)
	}
	var red apd.Decimal
	red.Reduce(n)
	if red.IsZero() {
		red.Negative = false
		red.Exponent = 0
	}
	form := byte(red.Form)
	if red.Negative {
		form |= 0x80
	}
	buf = append(buf, form)
	buf = binary.AppendVarint(buf, int64(red.Exponent))
	coeff := red.Coeff.Bytes()
	buf = binary.AppendUvarint(buf, uint64(len(coeff)))
	return append(buf, coeff...)
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
		d.Form = apd.Form(form & 0x7f)
		d.Negative = form&0x80 != 0
		d.Exponent = int32(exp)
		d.Coeff.SetBytes(p[start : start+int(l)])
		return Datum{kind: k, n: d}, 1 + start + int(l), nil
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
