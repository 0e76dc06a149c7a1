package sources

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"

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

// rowDecoder turns JSON objects into rows of a RelationDesc.
type rowDecoder struct {
	desc  repr.RelationDesc
	index map[string]int
	sems  []semantic
}

func newRowDecoder(desc repr.RelationDesc) *rowDecoder {
	rd := &rowDecoder{desc: desc, index: make(map[string]int, len(desc.Names)), sems: make([]semantic, len(desc.Names))}
	for i, n := range desc.Names {
		rd.index[n] = i
	}
	return rd
}

// setSemantics records schema-given logical types by field name.
func (rd *rowDecoder) setSemantics(sems map[string]semantic) {
	for name, s := range sems {
		if i, ok := rd.index[name]; ok {
			rd.sems[i] = s
		}
	}
}

// decodeObject decodes a JSON object into a row. Absent fields are NULL;
// fields the relation does not declare are ignored (upstream added a
// column). extra datums are appended after the declared columns.
func (rd *rowDecoder) decodeObject(raw json.RawMessage, extra ...repr.Datum) (repr.Row, error) {
	var obj map[string]json.RawMessage
	if err := unmarshalObject(raw, &obj); err != nil {
		return nil, err
	}
	return rd.decodeFields(obj, extra...)
}

func (rd *rowDecoder) decodeFields(obj map[string]json.RawMessage, extra ...repr.Datum) (repr.Row, error) {
	var p repr.Packer
	for i, name := range rd.desc.Names {
		ct := rd.desc.Types[i]
		d, err := jsonDatum(obj[name], ct, rd.sems[i])
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", name, err)
		}
		p.Push(d)
	}
	p.PushAll(extra)
	return p.Clone(), nil
}

// unmarshalObject parses raw as a JSON object, with a SQLSTATE error.
func unmarshalObject(raw json.RawMessage, obj *map[string]json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return pgcode.New(pgcode.InvalidJSONText, "expected a JSON object, got %s", abbreviate(raw))
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid JSON: "+err.Error())
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func abbreviate(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}

// jsonDatum converts one JSON value to a datum of column type ct.
func jsonDatum(raw json.RawMessage, ct repr.ColumnType, sem semantic) (repr.Datum, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		if !ct.Nullable {
			return repr.Null, pgcode.New(pgcode.NotNullViolation, "null value in non-nullable column of type %s", ct.Type)
		}
		return repr.Null, nil
	}
	t := ct.Type
	mismatch := func() (repr.Datum, error) {
		return repr.Null, pgcode.New(pgcode.DatatypeMismatch, "cannot decode JSON %s as %s", abbreviate(raw), t)
	}
	if t.Kind == repr.KindJsonb {
		if sem.name == semJSON && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return mismatch()
			}
			raw = json.RawMessage(s)
		}
		c, err := repr.CanonicalJSON(string(raw))
		if err != nil {
			return repr.Null, err
		}
		return repr.JsonbDatum(c), nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return mismatch()
		}
		return stringDatum(s, t, sem)
	case '{', '[':
		if t.Kind == repr.KindNumeric && sem.name == semVariableScale {
			return variableScaleDecimal(raw, t)
		}
		return mismatch()
	case 't', 'f':
		if t.Kind != repr.KindBool {
			return mismatch()
		}
		return repr.BoolDatum(raw[0] == 't'), nil
	}
	return numberDatum(string(raw), t, sem, mismatch)
}

func stringDatum(s string, t repr.ScalarType, sem semantic) (repr.Datum, error) {
	switch {
	case t.Kind == repr.KindNumeric && sem.name == semDecimal:
		// Kafka Connect's Decimal: the unscaled value as big-endian two's
		// complement bytes, base64 in JSON.
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return repr.Null, pgcode.New(pgcode.InvalidTextRepresentation, "invalid base64 decimal %q", s)
		}
		return decimalFromBytes(b, sem.scale, t)
	case t.Kind == repr.KindNumeric && sem.name == "":
		// Without a schema block a precise Debezium decimal is still
		// base64: take it at the declared scale when it is not a number.
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

// decimalFromBytes decodes Connect's Decimal encoding.
func decimalFromBytes(b []byte, scale int32, t repr.ScalarType) (repr.Datum, error) {
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

func numberDatum(num string, t repr.ScalarType, sem semantic, mismatch func() (repr.Datum, error)) (repr.Datum, error) {
	if !json.Valid([]byte(num)) {
		return repr.Null, pgcode.New(pgcode.InvalidJSONText, "invalid JSON value %s", abbreviate([]byte(num)))
	}
	asInt := func() (int64, error) {
		if v, err := strconv.ParseInt(num, 10, 64); err == nil {
			return v, nil
		}
		d, _, err := apd.NewFromString(num)
		if err != nil {
			return 0, err
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
			return mismatch()
		}
		if t.Kind == repr.KindFloat4 {
			return repr.Float4Datum(float32(f)), nil
		}
		return repr.Float8Datum(f), nil
	case repr.KindNumeric:
		d, _, err := apd.NewFromString(num)
		if err != nil {
			return mismatch()
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
			return mismatch()
		}
		return repr.OidDatum(uint32(v)), nil
	}
	return mismatch()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
