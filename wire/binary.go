package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// PostgreSQL's binary formats count dates from 2000-01-01; repr counts
// from 1970-01-01.
const (
	pgEpochDays   = 10957
	pgEpochMicros = pgEpochDays * repr.MicrosPerDay
)

// numeric sign words of PostgreSQL's numeric_send.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

// appendBinary appends the binary (send) form of d, a non-NULL datum of
// type t, to buf.
func appendBinary(buf []byte, d repr.Datum, t repr.ScalarType) ([]byte, error) {
	if !sameRepresentation(d.Kind(), t.Kind) {
		return nil, fmt.Errorf("wire: %s datum in a column of type %s", d.Kind(), t)
	}
	switch t.Kind {
	case repr.KindBool:
		if d.Bool() {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case repr.KindInt2:
		return binary.BigEndian.AppendUint16(buf, uint16(d.Int())), nil
	case repr.KindInt4, repr.KindOid:
		return binary.BigEndian.AppendUint32(buf, uint32(d.Int())), nil
	case repr.KindInt8:
		return binary.BigEndian.AppendUint64(buf, uint64(d.Int())), nil
	case repr.KindFloat4:
		return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(d.Float()))), nil
	case repr.KindFloat8:
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(d.Float())), nil
	case repr.KindNumeric:
		scale := -1
		if _, s, ok := t.NumericPrecisionScale(); ok {
			scale = int(s)
		}
		return appendNumericBinary(buf, d.Numeric(), scale)
	case repr.KindText, repr.KindVarchar, repr.KindChar, repr.KindBytea, repr.KindNull:
		return append(buf, d.Str()...), nil
	case repr.KindJsonb:
		buf = append(buf, 1)
		return append(buf, d.Str()...), nil
	case repr.KindUUID:
		u := d.UUID()
		return append(buf, u[:]...), nil
	case repr.KindDate:
		return binary.BigEndian.AppendUint32(buf, uint32(d.Days()-pgEpochDays)), nil
	case repr.KindTime:
		return binary.BigEndian.AppendUint64(buf, uint64(d.Micros())), nil
	case repr.KindTimestamp, repr.KindTimestampTz:
		return binary.BigEndian.AppendUint64(buf, uint64(d.Micros()-pgEpochMicros)), nil
	case repr.KindInterval:
		iv := d.Interval()
		buf = binary.BigEndian.AppendUint64(buf, uint64(iv.Micros))
		buf = binary.BigEndian.AppendUint32(buf, uint32(iv.Days))
		return binary.BigEndian.AppendUint32(buf, uint32(iv.Months)), nil
	case repr.KindArray:
		return appendArrayBinary(buf, d, t)
	case repr.KindRecord:
		return appendRecordBinary(buf, d)
	}
	return nil, fmt.Errorf("wire: no binary output for type %s", t)
}

// sameRepresentation reports whether a datum of kind dk can be sent as
// type tk: the same kind, or kinds that share a representation.
func sameRepresentation(dk, tk repr.Kind) bool {
	switch {
	case dk == tk:
		return true
	case dk.IsInteger() && tk.IsInteger(), dk.IsString() && (tk.IsString() || tk == repr.KindNull):
		return true
	case (dk == repr.KindFloat4 || dk == repr.KindFloat8) && (tk == repr.KindFloat4 || tk == repr.KindFloat8):
		return true
	case (dk == repr.KindTimestamp || dk == repr.KindTimestampTz) && (tk == repr.KindTimestamp || tk == repr.KindTimestampTz):
		return true
	}
	return false
}

// appendArrayBinary writes array_send's format: ndim, has-null flag,
// element OID, per dimension (length, lower bound 1), then each element as
// a length-prefixed binary value (-1 for NULL).
func appendArrayBinary(buf []byte, d repr.Datum, t repr.ScalarType) ([]byte, error) {
	if t.Elem == nil {
		return nil, fmt.Errorf("wire: array type without element type")
	}
	elem := *t.Elem
	elems := d.Elements(nil)
	hasNull := uint32(0)
	for _, e := range elems {
		if e.IsNull() {
			hasNull = 1
		}
	}
	if len(elems) == 0 {
		buf = binary.BigEndian.AppendUint32(buf, 0)
		buf = binary.BigEndian.AppendUint32(buf, 0)
		return binary.BigEndian.AppendUint32(buf, elem.Oid()), nil
	}
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = binary.BigEndian.AppendUint32(buf, hasNull)
	buf = binary.BigEndian.AppendUint32(buf, elem.Oid())
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(elems)))
	buf = binary.BigEndian.AppendUint32(buf, 1)
	for _, e := range elems {
		var err error
		if buf, err = appendLenPrefixed(buf, e, elem); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// appendLenPrefixed writes an int32 length and the binary form of d, or -1
// for NULL.
func appendLenPrefixed(buf []byte, d repr.Datum, t repr.ScalarType) ([]byte, error) {
	if d.IsNull() {
		return binary.BigEndian.AppendUint32(buf, math.MaxUint32), nil
	}
	at := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	buf, err := appendBinary(buf, d, t)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	return buf, nil
}

// appendRecordBinary writes record_send's format: the field count, then
// per field its type OID and length-prefixed binary value. A record's
// field types are those of its datums.
func appendRecordBinary(buf []byte, d repr.Datum) ([]byte, error) {
	fields := d.Elements(nil)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(fields)))
	for _, f := range fields {
		t := datumType(f)
		buf = binary.BigEndian.AppendUint32(buf, t.Oid())
		var err error
		if buf, err = appendLenPrefixed(buf, f, t); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// datumType returns the type a datum carries by itself: its kind, and for
// an array the kind of its first non-NULL element (text when none).
func datumType(d repr.Datum) repr.ScalarType {
	if d.Kind() != repr.KindArray {
		if d.IsNull() {
			return repr.TypeText
		}
		return repr.ScalarType{Kind: d.Kind(), Typmod: repr.NoTypmod}
	}
	for _, e := range d.Elements(nil) {
		if !e.IsNull() {
			return repr.ArrayOf(datumType(e))
		}
	}
	return repr.ArrayOf(repr.TypeText)
}

// appendNumericBinary writes numeric_send's format: ndigits, weight, sign,
// dscale (int16 each) and ndigits base-10000 digits, most significant
// first. scale >= 0 rounds to that display scale (a numeric(p,s) column).
func appendNumericBinary(buf []byte, n *apd.Decimal, scale int) ([]byte, error) {
	if n == nil {
		n = apd.New(0, 0)
	}
	header := func(ndigits, weight int, sign uint16, dscale int) {
		buf = binary.BigEndian.AppendUint16(buf, uint16(ndigits))
		buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
		buf = binary.BigEndian.AppendUint16(buf, sign)
		buf = binary.BigEndian.AppendUint16(buf, uint16(dscale))
	}
	switch n.Form {
	case apd.NaN, apd.NaNSignaling:
		header(0, 0, numericNaN, 0)
		return buf, nil
	case apd.Infinite:
		if n.Negative {
			header(0, 0, numericNInf, 0)
		} else {
			header(0, 0, numericPInf, 0)
		}
		return buf, nil
	}
	if scale >= 0 && int(-n.Exponent) != scale {
		var q apd.Decimal
		ctx := apd.BaseContext.WithPrecision(1000)
		ctx.Rounding = apd.RoundHalfUp
		if _, err := ctx.Quantize(&q, n, int32(-scale)); err == nil {
			n = &q
		}
	}
	dscale := 0
	if n.Exponent < 0 {
		dscale = int(-n.Exponent)
	}
	digits := n.Coeff.String()
	if digits == "0" {
		header(0, 0, numericPos, dscale)
		return buf, nil
	}
	exp := int(n.Exponent)
	// Align the exponent on a multiple of 4 (floored) by appending zeros.
	e4 := exp - ((exp%4)+4)%4
	digits += strings.Repeat("0", exp-e4)
	if r := len(digits) % 4; r != 0 {
		digits = strings.Repeat("0", 4-r) + digits
	}
	groups := make([]uint16, 0, len(digits)/4)
	for i := 0; i < len(digits); i += 4 {
		g := uint16(0)
		for _, c := range digits[i : i+4] {
			g = g*10 + uint16(c-'0')
		}
		groups = append(groups, g)
	}
	weight := len(groups) - 1 + e4/4
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	if weight > math.MaxInt16 || weight < math.MinInt16 || len(groups) > math.MaxInt16 || dscale > 0x3FFF {
		return nil, pgcode.New(pgcode.NumericValueOutOfRange, "value overflows numeric format")
	}
	sign := uint16(numericPos)
	if n.Negative {
		sign = numericNeg
	}
	header(len(groups), weight, sign, dscale)
	for _, g := range groups {
		buf = binary.BigEndian.AppendUint16(buf, g)
	}
	return buf, nil
}

func errBinary(t repr.ScalarType, format string, args ...any) error {
	return pgcode.New(pgcode.InvalidBinaryRepresentation, "invalid binary data for type %s: %s", t, fmt.Sprintf(format, args...))
}

// decodeBinary decodes the binary (recv) form of a non-NULL value of type
// t. oid is the type the client declared, when it differs from t's (json
// is received as jsonb but has no version byte).
func decodeBinary(b []byte, t repr.ScalarType, oid uint32) (repr.Datum, error) {
	need := func(n int) error {
		if len(b) != n {
			return errBinary(t, "expected %d bytes, got %d", n, len(b))
		}
		return nil
	}
	switch t.Kind {
	case repr.KindBool:
		if err := need(1); err != nil {
			return repr.Null, err
		}
		return repr.BoolDatum(b[0] != 0), nil
	case repr.KindInt2:
		if err := need(2); err != nil {
			return repr.Null, err
		}
		return repr.Int2Datum(int16(binary.BigEndian.Uint16(b))), nil
	case repr.KindInt4:
		if err := need(4); err != nil {
			return repr.Null, err
		}
		return repr.Int4Datum(int32(binary.BigEndian.Uint32(b))), nil
	case repr.KindOid:
		if err := need(4); err != nil {
			return repr.Null, err
		}
		return repr.OidDatum(binary.BigEndian.Uint32(b)), nil
	case repr.KindInt8:
		if err := need(8); err != nil {
			return repr.Null, err
		}
		return repr.Int8Datum(int64(binary.BigEndian.Uint64(b))), nil
	case repr.KindFloat4:
		if err := need(4); err != nil {
			return repr.Null, err
		}
		return repr.Float4Datum(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	case repr.KindFloat8:
		if err := need(8); err != nil {
			return repr.Null, err
		}
		return repr.Float8Datum(math.Float64frombits(binary.BigEndian.Uint64(b))), nil
	case repr.KindNumeric:
		n, err := decodeNumericBinary(b)
		if err != nil {
			return repr.Null, errBinary(t, "%v", err)
		}
		return repr.NumericDatum(n), nil
	case repr.KindText, repr.KindVarchar, repr.KindChar, repr.KindNull:
		if err := checkUTF8(b); err != nil {
			return repr.Null, err
		}
		k := t.Kind
		if k == repr.KindNull {
			k = repr.KindText
		}
		return repr.StringDatum(k, string(b)), nil
	case repr.KindBytea:
		return repr.ByteaDatum(append([]byte(nil), b...)), nil
	case repr.KindJsonb:
		s := b
		if oid != repr.OidJSON {
			if len(b) == 0 || b[0] != 1 {
				return repr.Null, errBinary(t, "unsupported jsonb version number")
			}
			s = b[1:]
		}
		c, err := repr.CanonicalJSON(string(s))
		if err != nil {
			return repr.Null, err
		}
		return repr.JsonbDatum(c), nil
	case repr.KindUUID:
		if err := need(16); err != nil {
			return repr.Null, err
		}
		var u [16]byte
		copy(u[:], b)
		return repr.UUIDDatum(u), nil
	case repr.KindDate:
		if err := need(4); err != nil {
			return repr.Null, err
		}
		return repr.DateDatum(int32(binary.BigEndian.Uint32(b)) + pgEpochDays), nil
	case repr.KindTime:
		if err := need(8); err != nil {
			return repr.Null, err
		}
		us := int64(binary.BigEndian.Uint64(b))
		if us < 0 || us > repr.MicrosPerDay {
			return repr.Null, pgcode.New(pgcode.InvalidBinaryRepresentation, "time out of range")
		}
		return repr.TimeDatum(us), nil
	case repr.KindTimestamp, repr.KindTimestampTz:
		if err := need(8); err != nil {
			return repr.Null, err
		}
		us := int64(binary.BigEndian.Uint64(b))
		if us > math.MaxInt64-pgEpochMicros {
			return repr.Null, pgcode.New(pgcode.DatetimeFieldOverflow, "timestamp out of range")
		}
		us += pgEpochMicros
		if t.Kind == repr.KindTimestamp {
			return repr.TimestampDatum(us), nil
		}
		return repr.TimestampTzDatum(us), nil
	case repr.KindInterval:
		if err := need(16); err != nil {
			return repr.Null, err
		}
		return repr.IntervalDatum(repr.Interval{
			Micros: int64(binary.BigEndian.Uint64(b)),
			Days:   int32(binary.BigEndian.Uint32(b[8:])),
			Months: int32(binary.BigEndian.Uint32(b[12:])),
		}), nil
	case repr.KindArray:
		return decodeArrayBinary(b, t)
	case repr.KindRecord:
		return decodeRecordBinary(b, t)
	}
	return repr.Null, errBinary(t, "binary input not supported")
}

// binReader reads big-endian integers off a byte slice.
type binReader struct {
	b   []byte
	bad bool
}

func (r *binReader) u32() uint32 {
	if len(r.b) < 4 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *binReader) u16() uint16 {
	if len(r.b) < 2 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *binReader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// decodeNumericBinary reverses appendNumericBinary.
func decodeNumericBinary(b []byte) (*apd.Decimal, error) {
	r := binReader{b: b}
	ndigits := int(r.u16())
	weight := int(int16(r.u16()))
	sign := r.u16()
	dscale := int(r.u16())
	if r.bad {
		return nil, fmt.Errorf("short numeric header")
	}
	switch sign {
	case numericNaN:
		return &apd.Decimal{Form: apd.NaN}, nil
	case numericPInf:
		return &apd.Decimal{Form: apd.Infinite}, nil
	case numericNInf:
		return &apd.Decimal{Form: apd.Infinite, Negative: true}, nil
	case numericPos, numericNeg:
	default:
		return nil, fmt.Errorf("invalid sign 0x%x", sign)
	}
	if dscale > 0x3FFF {
		return nil, fmt.Errorf("invalid scale %d", dscale)
	}
	coeff := new(big.Int)
	base := big.NewInt(10000)
	for i := 0; i < ndigits; i++ {
		g := r.u16()
		if r.bad {
			return nil, fmt.Errorf("short numeric digits")
		}
		if g >= 10000 {
			return nil, fmt.Errorf("invalid digit %d", g)
		}
		coeff.Mul(coeff, base)
		coeff.Add(coeff, big.NewInt(int64(g)))
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(r.b))
	}
	// value = coeff * 10^(4*(weight-ndigits+1)); display it with dscale
	// fractional digits.
	exp := 4 * (weight - ndigits + 1)
	if ndigits == 0 {
		exp = 0
	}
	// Rescale to exactly dscale fractional digits: digits beyond the display
	// scale are zeros in a well-formed value.
	if shift := exp + dscale; shift > 0 {
		coeff.Mul(coeff, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(shift)), nil))
	} else if shift < 0 {
		coeff.Quo(coeff, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-shift)), nil))
	}
	exp = -dscale
	d := new(apd.Decimal)
	d.Coeff.SetMathBigInt(coeff)
	d.Exponent = int32(exp)
	d.Negative = sign == numericNeg && coeff.Sign() != 0
	return d, nil
}

func decodeArrayBinary(b []byte, t repr.ScalarType) (repr.Datum, error) {
	if t.Elem == nil {
		return repr.Null, errBinary(t, "array type without element type")
	}
	elem := *t.Elem
	r := binReader{b: b}
	ndim := int32(r.u32())
	r.u32() // has-null flag: recomputed from the elements
	elemOid := r.u32()
	if r.bad {
		return repr.Null, errBinary(t, "short array header")
	}
	if ndim == 0 {
		return repr.ArrayDatum(nil), nil
	}
	if ndim != 1 {
		return repr.Null, pgcode.New(pgcode.FeatureNotSupported, "multidimensional arrays are not supported")
	}
	if elemOid != elem.Oid() {
		if et, ok := repr.TypeForOid(elemOid); !ok || !et.SameKind(elem) {
			return repr.Null, pgcode.New(pgcode.DatatypeMismatch, "wrong element type")
		}
	}
	n := int(int32(r.u32()))
	r.u32() // lower bound
	if r.bad || n < 0 || n > len(b) {
		return repr.Null, errBinary(t, "bad array dimension")
	}
	elems := make([]repr.Datum, 0, n)
	for i := 0; i < n; i++ {
		l := int32(r.u32())
		if r.bad {
			return repr.Null, errBinary(t, "short array")
		}
		if l == -1 {
			elems = append(elems, repr.Null)
			continue
		}
		eb := r.bytes(int(l))
		if r.bad {
			return repr.Null, errBinary(t, "short array element")
		}
		d, err := decodeBinary(eb, elem, elemOid)
		if err != nil {
			return repr.Null, err
		}
		elems = append(elems, d)
	}
	if len(r.b) != 0 {
		return repr.Null, errBinary(t, "trailing bytes")
	}
	return repr.ArrayDatum(elems), nil
}

func decodeRecordBinary(b []byte, t repr.ScalarType) (repr.Datum, error) {
	r := binReader{b: b}
	n := int(int32(r.u32()))
	if r.bad || n < 0 || n > len(b) {
		return repr.Null, errBinary(t, "bad record header")
	}
	fields := make([]repr.Datum, 0, n)
	for i := 0; i < n; i++ {
		oid := r.u32()
		l := int32(r.u32())
		if r.bad {
			return repr.Null, errBinary(t, "short record")
		}
		if l == -1 {
			fields = append(fields, repr.Null)
			continue
		}
		ft, ok := repr.TypeForOid(oid)
		if !ok {
			return repr.Null, errBinary(t, "unknown field type %d", oid)
		}
		fb := r.bytes(int(l))
		if r.bad {
			return repr.Null, errBinary(t, "short record field")
		}
		d, err := decodeBinary(fb, ft, oid)
		if err != nil {
			return repr.Null, err
		}
		fields = append(fields, d)
	}
	if len(r.b) != 0 {
		return repr.Null, errBinary(t, "trailing bytes")
	}
	return repr.RecordDatum(fields), nil
}
