package sources

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Logical type names of Debezium and Kafka Connect that change how a JSON
// value maps to a datum.
const (
	semDate           = "io.debezium.time.Date"           // int32 days since epoch
	semTime           = "io.debezium.time.Time"           // int32 millis since midnight
	semMicroTime      = "io.debezium.time.MicroTime"      // int64 micros since midnight
	semNanoTime       = "io.debezium.time.NanoTime"       // int64 nanos since midnight
	semTimestamp      = "io.debezium.time.Timestamp"      // int64 millis since epoch
	semMicroTimestamp = "io.debezium.time.MicroTimestamp" // int64 micros since epoch
	semNanoTimestamp  = "io.debezium.time.NanoTimestamp"  // int64 nanos since epoch
	semZonedTimestamp = "io.debezium.time.ZonedTimestamp" // ISO 8601 string with zone
	semZonedTime      = "io.debezium.time.ZonedTime"      // ISO time with zone
	semMicroDuration  = "io.debezium.time.MicroDuration"  // int64 micros
	semJSON           = "io.debezium.data.Json"           // string holding JSON text
	semUUID           = "io.debezium.data.Uuid"           // string
	semDecimal        = "org.apache.kafka.connect.data.Decimal"
	semVariableScale  = "io.debezium.data.VariableScaleDecimal"   // {scale, value}
	semConnectDate    = "org.apache.kafka.connect.data.Date"      // int32 days
	semConnectTs      = "org.apache.kafka.connect.data.Timestamp" // int64 millis
)

// semantic is what the upstream's schema says about a field beyond its JSON
// shape: its logical type name and, for decimals, the scale.
type semantic struct {
	name  string
	scale int32
}

// rowDecoder turns JSON objects into rows of a RelationDesc. It is
// immutable once built and shared by every decode worker; what varies per
// message (value spans, semantics, scratch) is passed in.
type rowDecoder struct {
	desc  repr.RelationDesc
	index map[string]int
	fast  []fastKind // per column, for packInOrder (jsonfast.go)
	// likely is each column's name when it is a plainKey, else "": the
	// key expected after the column before (jsonScanner.memberLike).
	likely []string
}

func newRowDecoder(desc repr.RelationDesc) *rowDecoder {
	rd := &rowDecoder{desc: desc, index: make(map[string]int, len(desc.Names)), fast: fastKinds(desc)}
	rd.likely = make([]string, len(desc.Names)+1)
	for i, n := range desc.Names {
		rd.index[n] = i
		if plainKey(n) {
			rd.likely[i] = n
		}
	}
	return rd
}

// semantics maps schema-given logical types by field name to columns.
func (rd *rowDecoder) semantics(byName map[string]semantic) []semantic {
	sems := make([]semantic, len(rd.desc.Names))
	for name, s := range byName {
		if i, ok := rd.index[name]; ok {
			sems[i] = s
		}
	}
	return sems
}

// objSpans is a JSON value that should be an object, as a row decoder
// reads it: its text, and for an object the text of each declared
// column's value (nil when the key is absent; the last of duplicate keys
// wins, as encoding/json's maps have it).
type objSpans struct {
	raw  []byte   // the value's text; nil when absent
	obj  bool     // raw is an object and vals holds its columns
	vals [][]byte // per column
}

// null reports whether the value is absent or JSON null.
func (o *objSpans) null() bool { return o.raw == nil || isNullText(o.raw) }

// scan reads the value at the cursor into o: for an object, the spans of
// the declared columns' values; any other value is validated and kept
// whole (rows() reports it). Only syntax errors are returned.
func (rd *rowDecoder) scan(s *jsonScanner, w *workspace, o *objSpans) error {
	if s.peek() != '{' {
		raw, err := s.value()
		*o = objSpans{raw: raw}
		return err
	}
	start := s.pos
	s.pos++
	vals := w.spans(len(rd.desc.Names))
	next := 0 // the column expected next: upstreams write columns in order
	for first := true; ; first = false {
		key, plain, ok, isWant, err := s.memberLike(first, rd.likely[next])
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		col := next
		if !isWant {
			col = rd.column(s, key, plain, next)
		}
		if col < 0 {
			if err := s.skip(1); err != nil {
				return err
			}
			continue
		}
		v, err := s.value()
		if err != nil {
			return err
		}
		vals[col] = v
		next = col + 1
	}
	*o = objSpans{raw: s.buf[start:s.pos], obj: true, vals: vals}
	return nil
}

// column returns the column a member's key (raw, and whether plain)
// names, -1 for none, trying the column expected next first.
func (rd *rowDecoder) column(s *jsonScanner, key []byte, plain bool, next int) int {
	if plain && next < len(rd.desc.Names) && rd.desc.Names[next] == aliasString(key) {
		return next
	}
	if c, found := rd.index[string(s.key(key, plain))]; found {
		return c
	}
	return -1
}

// notObject is the error for a row that is not a JSON object.
func notObject(raw []byte) error {
	return pgcode.New(pgcode.InvalidJSONText, "expected a JSON object, got %s", abbreviate(raw))
}

// pack converts o's column values into datums, pushed in column order
// onto w's packer after p's current contents, and returns a copy of the
// packed row with extra datums appended. The first column (in declared
// order) that does not convert is the error.
func (rd *rowDecoder) pack(w *workspace, o *objSpans, sems []semantic, extra ...repr.Datum) (repr.Row, error) {
	if err := rd.packInto(w, o, sems, extra); err != nil {
		return nil, err
	}
	return w.pk.Clone(), nil
}

// packInto is pack leaving the row in w's packer.
func (rd *rowDecoder) packInto(w *workspace, o *objSpans, sems []semantic, extra []repr.Datum) error {
	if !o.obj {
		return notObject(o.raw)
	}
	// Packed in a local copy of the packer, stored back once: each push
	// into the workspace's own (on the heap) would pay a write barrier
	// while a collection runs.
	p := w.pk
	p.Reset()
	for i, name := range rd.desc.Names {
		d, err := w.sc.datum(o.vals[i], rd.desc.Types[i], semAt(sems, i))
		if err != nil {
			w.pk = p
			return fmt.Errorf("column %q: %w", name, err)
		}
		p.Push(d)
	}
	p.PushAll(extra)
	w.pk = p
	return nil
}

// datums converts o's column values into dst (reused), in column order.
func (rd *rowDecoder) datums(w *workspace, o *objSpans, sems []semantic, dst []repr.Datum) ([]repr.Datum, error) {
	if !o.obj {
		return dst, notObject(o.raw)
	}
	for i, name := range rd.desc.Names {
		d, err := w.sc.datum(o.vals[i], rd.desc.Types[i], semAt(sems, i))
		if err != nil {
			return dst, fmt.Errorf("column %q: %w", name, err)
		}
		dst = append(dst, d)
	}
	return dst, nil
}

// packCols packs the datums of columns cols of o (a primary key).
func (rd *rowDecoder) packCols(w *workspace, o *objSpans, sems []semantic, cols []int) (repr.Row, error) {
	if !o.obj {
		return nil, notObject(o.raw)
	}
	p := w.pk // a local copy, as packInto
	p.Reset()
	for _, c := range cols {
		d, err := w.sc.datum(o.vals[c], rd.desc.Types[c], semAt(sems, c))
		if err != nil {
			w.pk = p
			return nil, fmt.Errorf("key column %q: %w", rd.desc.Names[c], err)
		}
		p.Push(d)
	}
	w.pk = p
	return p.Clone(), nil
}

func semAt(sems []semantic, i int) semantic {
	if i < len(sems) {
		return sems[i]
	}
	return semantic{}
}

// decodeObject scans a whole message (one JSON object, nothing after it)
// and packs it. The row is cut from w's row slab (workspace.keep): for
// rows that are let go of soon (an append-only source's, copied into its
// unit's slab when released), not for rows kept in state.
func (rd *rowDecoder) decodeObject(w *workspace, msg []byte, extra ...repr.Datum) (repr.Row, error) {
	s := w.begin(msg)
	if c := s.peek(); c != '{' {
		return nil, notObject(bytes.TrimSpace(msg))
	}
	if !rd.packInOrder(s, w, extra) {
		// The general path, from the start: it has the errors.
		if err := rd.packObject(w, msg, extra); err != nil {
			return nil, err
		}
	}
	return w.keep(w.pk.Row()), nil
}

// packObject is decodeObject's general path (see jsonfast.go), for a
// message that starts with '{': the row is left in w's packer.
func (rd *rowDecoder) packObject(w *workspace, msg []byte, extra []repr.Datum) error {
	s := w.begin(msg)
	s.skipWS()
	var o objSpans
	if err := rd.scan(s, w, &o); err != nil {
		return err
	}
	if err := s.atEnd(); err != nil {
		return err
	}
	return rd.packInto(w, &o, nil, extra)
}

// unmarshalObject parses raw as a JSON object with encoding/json, with a
// SQLSTATE error: for the rare messages read that way (schema blocks,
// transaction metadata, a record that failed to decode).
func unmarshalObject(raw json.RawMessage, obj *map[string]json.RawMessage) error {
	raw = trimJSONSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return notObject(raw)
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid JSON: "+err.Error())
	}
	return nil
}

// trimJSONSpace trims JSON's whitespace (space, tab, CR, LF), not
// bytes.TrimSpace's, which also takes \v, \f and Unicode spaces that JSON
// rejects: "{}\v" is not a JSON object (FuzzDecode found the two
// disagreeing). It is bytes.Trim(b, " \t\r\n"), nil when nothing is
// left, without building a cutset per call: Debezium events' null checks
// run it on every value.
func trimJSONSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isJSONSpace(b[i]) {
		i++
	}
	for j > i && isJSONSpace(b[j-1]) {
		j--
	}
	if i == j {
		return nil
	}
	return b[i:j]
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isNullText reports whether a value's text is JSON null.
func isNullText(raw []byte) bool {
	raw = trimJSONSpace(raw)
	return len(raw) == 4 && string(raw) == "null"
}

func isNull(raw json.RawMessage) bool {
	raw = trimJSONSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func abbreviate(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}

// datum converts one JSON value's text (validated; nil when absent) to a
// datum of column type ct. Text datums alias the message or the scanner's
// scratch: push them into a row before the next message.
func (s *jsonScanner) datum(raw []byte, ct repr.ColumnType, sem semantic) (repr.Datum, error) {
	if len(raw) == 0 || (raw[0] == 'n' && isNullText(raw)) {
		if !ct.Nullable {
			return repr.Null, pgcode.New(pgcode.NotNullViolation, "null value in non-nullable column of type %s", ct.Type)
		}
		return repr.Null, nil
	}
	t := ct.Type
	if t.Kind == repr.KindJsonb {
		text := aliasString(raw)
		if sem.name == semJSON && raw[0] == '"' {
			text = s.text(raw)
		}
		c, err := repr.CanonicalJSON(text)
		if err != nil {
			return repr.Null, err
		}
		return repr.JsonbDatum(c), nil
	}
	switch raw[0] {
	case '"':
		return stringDatum(s.text(raw), t, sem)
	case '{', '[':
		if t.Kind == repr.KindNumeric && sem.name == semVariableScale {
			return variableScaleDecimal(raw, t)
		}
	case 't', 'f':
		if t.Kind == repr.KindBool {
			return repr.BoolDatum(raw[0] == 't'), nil
		}
	default:
		return numberDatum(aliasString(raw), t, sem)
	}
	return repr.Null, mismatch(raw, t)
}

func mismatch(raw []byte, t repr.ScalarType) error {
	return pgcode.New(pgcode.DatatypeMismatch, "cannot decode JSON %s as %s", abbreviate(raw), t)
}

func stringDatum(s string, t repr.ScalarType, sem semantic) (repr.Datum, error) {
	switch {
	case t.Kind == repr.KindNumeric && sem.name == semDecimal:
		// Kafka Connect's Decimal: the unscaled value as big-endian two's
		// complement bytes, base64 in JSON.
		var buf [24]byte
		b, err := decodeBase64(s, buf[:0])
		if err != nil {
			return repr.Null, pgcode.New(pgcode.InvalidTextRepresentation, "invalid base64 decimal %q", s)
		}
		return decimalFromBytes(b, sem.scale, t)
	case t.Kind == repr.KindNumeric && sem.name == "":
		// Without a schema block a precise Debezium decimal is still
		// base64: take it at the declared scale when it is not a number.
		// Text that cannot start a number skips the failing parse.
		if !mayBeNumber(s) {
			if _, scale, ok := t.NumericPrecisionScale(); ok {
				var buf [24]byte
				if b, berr := decodeBase64(s, buf[:0]); berr == nil && len(b) > 0 {
					return decimalFromBytes(b, scale, t)
				}
			}
		}
		d, err := parseText(s, t)
		if err != nil {
			if _, scale, ok := t.NumericPrecisionScale(); ok {
				if b, berr := base64.StdEncoding.DecodeString(s); berr == nil && len(b) > 0 {
					return decimalFromBytes(b, scale, t)
				}
			}
		}
		return d, err
	case t.Kind == repr.KindBytea:
		// Debezium's binary.handling.mode=bytes (the default) sends base64;
		// "\x..." hex is PostgreSQL's own form.
		if len(s) >= 2 && s[0] == '\\' && s[1] == 'x' {
			return parseText(s, t)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return repr.Null, pgcode.New(pgcode.InvalidTextRepresentation, "invalid base64 bytea %q", s)
		}
		return repr.ByteaDatum(b), nil
	}
	return parseText(s, t)
}

// decodeBase64 decodes standard base64 into buf when it fits (no
// allocation for a decimal's few bytes).
func decodeBase64(s string, buf []byte) ([]byte, error) {
	n := base64.StdEncoding.DecodedLen(len(s))
	if n > cap(buf) {
		return base64.StdEncoding.DecodeString(s)
	}
	n, err := base64.StdEncoding.Decode(buf[:n], []byte(s))
	return buf[:n], err
}

// mayBeNumber reports whether s could be numeric input: false means
// repr.ParseNumeric surely rejects it.
func mayBeNumber(s string) bool {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	if s == "" {
		return false
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9', c == '+', c == '-', c == '.', c == 'n', c == 'N', c == 'i', c == 'I':
		return true
	}
	return false
}

// decimalFromBytes decodes Connect's Decimal encoding.
func decimalFromBytes(b []byte, scale int32, t repr.ScalarType) (repr.Datum, error) {
	if len(b) > 0 && len(b) <= 8 {
		// Fits an int64: sign-extend the big-endian two's complement.
		v := int64(int8(b[0]))
		for _, c := range b[1:] {
			v = v<<8 | int64(c)
		}
		return numericDatum(apd.New(v, -scale), t)
	}
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	var coeff apd.BigInt
	coeff.SetMathBigInt(v)
	d := apd.NewWithBigInt(&coeff, -scale)
	return numericDatum(d, t)
}

// variableScaleDecimal decodes Debezium's {"scale": s, "value": base64}.
func variableScaleDecimal(raw json.RawMessage, t repr.ScalarType) (repr.Datum, error) {
	var v struct {
		Scale int32  `json:"scale"`
		Value string `json:"value"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return repr.Null, pgcode.New(pgcode.DatatypeMismatch, "invalid VariableScaleDecimal %s", abbreviate(raw))
	}
	b, err := base64.StdEncoding.DecodeString(v.Value)
	if err != nil {
		return repr.Null, pgcode.New(pgcode.InvalidTextRepresentation, "invalid base64 decimal %q", v.Value)
	}
	return decimalFromBytes(b, v.Scale, t)
}

// numberDatum converts a JSON number's text (validated) to a datum of t.
func numberDatum(num string, t repr.ScalarType, sem semantic) (repr.Datum, error) {
	bad := func() (repr.Datum, error) { return repr.Null, mismatch([]byte(num), t) }
	asInt := func() (int64, error) {
		if v, err := strconv.ParseInt(num, 10, 64); err == nil {
			return v, nil
		}
		d, _, err := apd.NewFromString(num)
		if err != nil {
			// Valid JSON that apd cannot hold: an exponent past its range
			// (0E100001; FuzzDecode found it answered without a SQLSTATE).
			return 0, pgcode.New(pgcode.NumericValueOutOfRange, "%s out of range: %s", t, abbreviate([]byte(num)))
		}
		var i apd.Decimal
		if _, err := numericCtx.RoundToIntegralExact(&i, d); err != nil || i.Cmp(d) != 0 {
			return 0, pgcode.New(pgcode.InvalidTextRepresentation, "invalid input syntax for type %s: %q", t, num)
		}
		v, err := i.Int64()
		if err != nil {
			return 0, pgcode.New(pgcode.NumericValueOutOfRange, "%s out of range: %s", t, num)
		}
		return v, nil
	}
	switch t.Kind {
	case repr.KindInt2, repr.KindInt4, repr.KindInt8:
		v, err := asInt()
		if err != nil {
			return repr.Null, err
		}
		return intDatum(t, v)
	case repr.KindFloat4, repr.KindFloat8:
		f, err := strconv.ParseFloat(num, 64)
		if err != nil && !math.IsInf(f, 0) {
			return bad()
		}
		if t.Kind == repr.KindFloat4 {
			return repr.Float4Datum(float32(f)), nil
		}
		return repr.Float8Datum(f), nil
	case repr.KindNumeric:
		d, _, err := apd.NewFromString(num)
		if err != nil {
			return bad()
		}
		return numericDatum(d, t)
	case repr.KindText, repr.KindVarchar, repr.KindChar:
		return repr.StringDatum(t.Kind, num), nil
	case repr.KindDate:
		v, err := asInt()
		if err != nil {
			return repr.Null, err
		}
		if sem.name == semTimestamp || sem.name == semConnectTs {
			v = floorDiv(v, 86_400_000)
		}
		return repr.DateDatum(int32(v)), nil
	case repr.KindTime:
		v, err := asInt()
		if err != nil {
			return repr.Null, err
		}
		switch sem.name {
		case semTime:
			v *= 1000
		case semNanoTime:
			v /= 1000
		}
		return repr.TimeDatum(v), nil
	case repr.KindTimestamp, repr.KindTimestampTz:
		v, err := asInt()
		if err != nil {
			return repr.Null, err
		}
		switch sem.name {
		case semTimestamp, semConnectTs:
			v *= 1000
		case semNanoTimestamp:
			v = floorDiv(v, 1000)
		case semDate, semConnectDate:
			v *= repr.MicrosPerDay
		}
		if t.Kind == repr.KindTimestamp {
			return repr.TimestampDatum(v), nil
		}
		return repr.TimestampTzDatum(v), nil
	case repr.KindInterval:
		v, err := asInt()
		if err != nil {
			return repr.Null, err
		}
		return repr.IntervalDatum(repr.Interval{Micros: v}), nil
	case repr.KindOid:
		v, err := asInt()
		if err != nil || v < 0 || v > math.MaxUint32 {
			return bad()
		}
		return repr.OidDatum(uint32(v)), nil
	}
	return bad()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
