package sources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// The decoders parse messages with jsonScanner. Their oracle is what they
// did before it: encoding/json reads the message (maps of raw values for
// rows, structs for the envelopes' own fields), and each value is turned
// into a datum by legacyDatum, the converter of that time. The envelopes'
// rules applied after parsing (build) are shared: they did not change.
// New and old must agree on every random message: the same ops, rows and
// transaction fields, or errors with the same SQLSTATE.

// legacyDatum is the value converter as it was with encoding/json.
func legacyDatum(raw json.RawMessage, ct repr.ColumnType, sem semantic) (repr.Datum, error) {
	raw = trimJSONSpace(raw)
	if isNull(raw) {
		if !ct.Nullable {
			return repr.Null, pgcode.New(pgcode.NotNullViolation, "null value in non-nullable column")
		}
		return repr.Null, nil
	}
	t := ct.Type
	if t.Kind == repr.KindJsonb {
		if sem.name == semJSON && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return repr.Null, mismatch(raw, t)
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
			return repr.Null, mismatch(raw, t)
		}
		return stringDatum(s, t, sem)
	case '{', '[':
		if t.Kind == repr.KindNumeric && sem.name == semVariableScale {
			return variableScaleDecimal(raw, t)
		}
		return repr.Null, mismatch(raw, t)
	case 't', 'f':
		if t.Kind != repr.KindBool {
			return repr.Null, mismatch(raw, t)
		}
		return repr.BoolDatum(raw[0] == 't'), nil
	}
	if !json.Valid(raw) {
		return repr.Null, pgcode.New(pgcode.InvalidJSONText, "invalid JSON value")
	}
	return numberDatum(string(raw), t, sem)
}

// legacyObject reads a value that should be an object with encoding/json
// into spans, the values of the declared columns.
func legacyObject(rd *rowDecoder, raw json.RawMessage) objSpans {
	var obj map[string]json.RawMessage
	if raw == nil || unmarshalObject(raw, &obj) != nil {
		return objSpans{raw: trimJSONSpace(raw)}
	}
	o := objSpans{raw: raw, obj: true, vals: make([][]byte, len(rd.desc.Names))}
	for i, n := range rd.desc.Names {
		o.vals[i] = obj[n]
	}
	return o
}

// legacyPack packs spans with legacyDatum.
func legacyPack(rd *rowDecoder, o *objSpans, sems []semantic) (repr.Row, error) {
	if !o.obj {
		return nil, notObject(o.raw)
	}
	var p repr.Packer
	for i, name := range rd.desc.Names {
		d, err := legacyDatum(o.vals[i], rd.desc.Types[i], semAt(sems, i))
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", name, err)
		}
		p.Push(d)
	}
	return p.Clone(), nil
}

// legacyDecode decodes m as the decoders did with encoding/json.
func legacyDecode(t *testing.T, dec decoder, m *Message, w *workspace) (decoded, error) {
	switch d := dec.(type) {
	case *noneDecoder:
		if m.Value == nil || d.rows == nil {
			return d.decode(m, w) // no JSON columns: unchanged
		}
		o := legacyObject(d.rows, m.Value)
		if !o.obj {
			var obj map[string]json.RawMessage
			return decoded{}, unmarshalObject(m.Value, &obj)
		}
		row, err := legacyPack(d.rows, &o, nil)
		if err != nil {
			return decoded{}, err
		}
		meta, _ := metadataDatums(d.spec, m)
		var p repr.Packer
		p.PushRow(row)
		p.PushAll(meta)
		return decoded{ops: []op{{kind: opAppend, coll: d.spec.ID, after: p.Clone()}}}, nil
	case *debeziumDecoder:
		if m.Value == nil || isNullText(m.Value) {
			return decoded{skip: true}, nil
		}
		st := d.cur.Load()
		payload, schema, err := splitEnvelope(m.Value)
		if err != nil {
			return decoded{}, err
		}
		sems, err := w.debeziumSems(d.spec.ID, schema, st.rows)
		if err != nil {
			return decoded{}, err
		}
		var ev debeziumEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return decoded{}, pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid Debezium event")
		}
		e := dbzEvent{before: legacyObject(st.rows, ev.Before), after: legacyObject(st.rows, ev.After), op: ev.Op, source: ev.Source}
		if ev.Transaction != nil {
			e.hasTxn, e.txnID = true, ev.Transaction.ID
		}
		return legacyBuild(t, func() (decoded, error) { return d.build(st, w, &e, sems, m) }, st.rows, []*objSpans{&e.before, &e.after}, sems)
	case *maxwellDecoder:
		if m.Value == nil {
			return decoded{skip: true, xoffset: -1}, nil
		}
		var ev maxwellEvent
		var obj map[string]json.RawMessage
		if err := unmarshalObject(m.Value, &obj); err != nil {
			return decoded{}, err
		}
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			return decoded{}, pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid JSON")
		}
		e := mxEvent{database: ev.Database, table: ev.Table, typ: ev.Type, commit: ev.Commit,
			data: legacyObject(d.rows, ev.Data), old: legacyObject(d.rows, ev.Old)}
		if ev.Old == nil {
			e.old = objSpans{}
		}
		if !isNull(ev.XID) {
			e.xid = ev.XID
		}
		if ev.XOffset != nil {
			e.hasXoffset, e.xoffset = true, *ev.XOffset
		}
		return legacyBuild(t, func() (decoded, error) { return d.build(w, &e) }, d.rows, []*objSpans{&e.data, &e.old}, nil)
	case *cockroachDecoder:
		return legacyCockroach(d, m)
	case *upsertDecoder:
		return legacyUpsert(d, m)
	}
	return dec.decode(m, w)
}

// legacyCockroach is ENVELOPE COCKROACHDB as it decoded with
// encoding/json.
func legacyCockroach(cd *cockroachDecoder, m *Message) (decoded, error) {
	if m.Value == nil {
		return decoded{skip: true, xoffset: -1}, nil
	}
	var ev struct {
		After    json.RawMessage `json:"after"`
		Before   json.RawMessage `json:"before"`
		Key      json.RawMessage `json:"key"`
		Updated  string          `json:"updated"`
		Resolved string          `json:"resolved"`
	}
	var obj map[string]json.RawMessage
	if err := unmarshalObject(m.Value, &obj); err != nil {
		return decoded{}, err
	}
	if err := json.Unmarshal(m.Value, &ev); err != nil {
		return decoded{}, pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid JSON")
	}
	out := decoded{xoffset: -1}
	if ev.Resolved != "" {
		h, err := parseHLC(ev.Resolved)
		out.hlc, out.resolved = h, true
		return out, err
	}
	if ev.Updated == "" {
		return decoded{}, pgcode.New(pgcode.DataException, "changefeed row without updated")
	}
	h, err := parseHLC(ev.Updated)
	if err != nil {
		return decoded{}, err
	}
	out.hlc, out.txnID = h, h.String()
	keyRaw := ev.Key
	if isNull(keyRaw) {
		keyRaw = m.Key
	}
	var elems []json.RawMessage
	kt := trimJSONSpace(keyRaw)
	if len(kt) == 0 || kt[0] != '[' || json.Unmarshal(kt, &elems) != nil {
		return decoded{}, pgcode.New(pgcode.InvalidJSONText, "changefeed key is not a JSON array")
	}
	if len(elems) != len(cd.pk) {
		return decoded{}, pgcode.New(pgcode.DatatypeMismatch, "changefeed key has the wrong number of values")
	}
	var p repr.Packer
	for i, c := range cd.pk {
		d, err := legacyDatum(elems[i], cd.d.Types[c], semantic{})
		if err != nil {
			return decoded{}, err
		}
		p.Push(d)
	}
	o := op{coll: cd.spec.ID, key: p.Clone(), kind: opUpsert}
	if !isNull(ev.After) {
		after := legacyObject(cd.rows, ev.After)
		if o.after, err = legacyPack(cd.rows, &after, nil); err != nil {
			return decoded{}, err
		}
	}
	out.ops = []op{o}
	return out, nil
}

// legacyUpsert is ENVELOPE UPSERT with declared columns as it decoded
// with encoding/json (keys that are valid JSON: a bare key that is not
// is 22P02 now, see upsertDecoder.key).
func legacyUpsert(ud *upsertDecoder, m *Message) (decoded, error) {
	if m.Key == nil {
		return decoded{}, pgcode.New(pgcode.NullValueNotAllowed, "no key")
	}
	ds := make([]repr.Datum, len(ud.pk))
	t := trimJSONSpace(m.Key)
	switch {
	case ud.spec.KeyFormat == FormatJSON && len(t) > 0 && t[0] == '{':
		var obj map[string]json.RawMessage
		if err := unmarshalObject(t, &obj); err != nil {
			return decoded{}, err
		}
		for i, c := range ud.pk {
			d, err := legacyDatum(obj[ud.d.Names[c]], repr.ColumnType{Type: ud.d.Types[c].Type}, semantic{})
			if err != nil {
				return decoded{}, pgcode.New(pgcode.DatatypeMismatch, "key column: %v", err)
			}
			ds[i] = d
		}
	case len(ud.pk) != 1:
		return decoded{}, pgcode.New(pgcode.DatatypeMismatch, "key does not hold the primary key columns")
	case ud.spec.KeyFormat == FormatJSON:
		d, err := legacyDatum(t, repr.ColumnType{Type: ud.d.Types[ud.pk[0]].Type}, semantic{})
		if err != nil {
			return decoded{}, err
		}
		ds[0] = d
	default:
		d, err := parseText(string(m.Key), ud.d.Types[ud.pk[0]].Type)
		if err != nil {
			return decoded{}, err
		}
		ds[0] = d
	}
	o := op{kind: opUpsert, coll: ud.spec.ID, key: repr.PackRow(ds...)}
	if m.Value != nil {
		var obj map[string]json.RawMessage
		if err := unmarshalObject(m.Value, &obj); err != nil {
			return decoded{}, err
		}
		v := legacyObject(ud.rows, m.Value)
		row, err := legacyPack(ud.rows, &v, nil)
		if err != nil {
			return decoded{}, err
		}
		vals := row.Unpack(nil)
		for i, c := range ud.pk {
			if vals[c].IsNull() {
				vals[c] = ds[i]
			} else if !repr.Equal(vals[c], ds[i]) {
				return decoded{}, pgcode.New(pgcode.DataException, "value's key differs from the message key")
			}
		}
		o.after = repr.PackRow(vals...)
	}
	return decoded{ops: []op{o}, xoffset: -1}, nil
}

// legacyBuild runs an envelope's shared build on spans read by
// encoding/json, checking its rows against legacyPack's: build converts
// values with the new converter, so its rows must equal the old one's.
func legacyBuild(t *testing.T, build func() (decoded, error), rd *rowDecoder, objs []*objSpans, sems []semantic) (decoded, error) {
	out, err := build()
	for _, o := range objs {
		if o.null() || !o.obj {
			continue
		}
		old, oerr := legacyPack(rd, o, sems)
		var w workspace
		w.sc.reset(nil)
		got, nerr := rd.pack(&w, o, sems)
		if (oerr == nil) != (nerr == nil) || (oerr != nil && pgcode.Of(oerr) != pgcode.Of(nerr)) || !bytes.Equal(old, got) {
			t.Errorf("row %s: old %s %v, new %s %v", o.raw, old, oerr, got, nerr)
		}
	}
	return out, err
}

// oracleColumns are the column types the random rows draw from.
var oracleColumns = []repr.ColumnType{
	ct(repr.TypeInt2), ct(repr.TypeInt4), nct(repr.TypeInt8), nct(repr.TypeNumeric), nct(repr.NumericType(10, 2)),
	nct(repr.TypeFloat4), nct(repr.TypeFloat8), nct(repr.TypeText), nct(repr.ScalarType{Kind: repr.KindVarchar, Typmod: 5}), nct(repr.TypeOid), nct(repr.TypeBool),
	nct(repr.TypeDate), nct(repr.TypeTime), nct(repr.TypeTimestamp), nct(repr.TypeTimestampTz), nct(repr.TypeJsonb),
	nct(repr.TypeBytea), nct(repr.TypeUUID), nct(repr.TypeInterval),
}

// randValue returns a JSON value's text: of the column's type, of another
// type, or an edge case (escapes, big numbers, nested documents).
func randValue(rng *rand.Rand) string {
	switch rng.Intn(30) {
	case 0:
		return "null"
	case 1:
		return fmt.Sprint(rng.Intn(200) - 100)
	case 2:
		return fmt.Sprint(rng.Int63())
	case 3:
		return "123456789012345678901234567890"
	case 4:
		return []string{"1.5", "-0", "1e3", "1E-2", "0.001", "-12.345", "7.257", "3.4e39", "1e400"}[rng.Intn(9)]
	case 5:
		return []string{"true", "false"}[rng.Intn(2)]
	case 6:
		return `"` + []string{"abc", "x", "hello world", "", " 12 "}[rng.Intn(5)] + `"`
	case 7:
		return `"` + []string{`caf\u00e9`, `\ud83d\ude00 smile`, `lone \ud800 x`, `tab\tnew\nline`, `q\"uote\\back\/`, `\u0041\u0042`, `\udc00\ud800`, `nul\u0000`}[rng.Intn(8)] + `"`
	case 8:
		return "\"raw é 😀 \xff\xfe bad\""
	case 9:
		return `"` + []string{"2024-01-02", "2024-02-29", "2023-02-29", "1999-12-31 23:59:59", "2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.1234567Z",
			"2024-01-02 03:04:05+05:30", "2024-01-02T03:04:05-08:00", "2024-01-02T24:00:00", "2024-01-02T03:04:60Z", "0001-01-01T00:00:00Z", "2024-13-01T00:00:00Z",
			"2024-01-02T03:04:05.5", "2024-01-02T03:04Z", "2024-01-02 03:04:05 BC", "2024-01-02T03:04:05+0530"}[rng.Intn(16)] + `"`
	case 10:
		return `"` + []string{"10:11:12", "10:11:12.5", "25:00:00", "1 day 02:00:00", "P1DT2H"}[rng.Intn(5)] + `"`
	case 11:
		return `"` + []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "not-a-uuid"}[rng.Intn(3)] + `"`
	case 12:
		return `"` + []string{"MDk=", "AQL/", "\\\\x0102", "!!notbase64", "12.5", "-7"}[rng.Intn(6)] + `"`
	case 13:
		return `{"a": [1, 2.50, {"b": null}], "c": "\u00e9", "a": 3}`
	case 14:
		return `[1, "two", [true, false], {}]`
	case 15:
		return `{"scale": 2, "value": "MDk="}`
	case 16:
		return `"{\"b\": [1, 2], \"a\": null}"`
	case 17:
		return `"` + []string{"t", "yes", "off", "maybe"}[rng.Intn(4)] + `"`
	case 18:
		return fmt.Sprintf("%d", 1_700_000_000_000_000+rng.Int63n(1e12))
	case 19:
		return fmt.Sprintf(`"%d.%02d"`, rng.Intn(1e6), rng.Intn(100))
	}
	return fmt.Sprint(rng.Intn(100000))
}

// randRow returns a JSON object for the columns, with some keys missing,
// some repeated, some unknown, and random spacing.
func randRow(rng *rand.Rand, names []string) string {
	var b strings.Builder
	b.WriteString("{")
	n := 0
	add := func(k, v string) {
		if n > 0 {
			b.WriteString([]string{",", ", ", " ,\n"}[rng.Intn(3)])
		}
		n++
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	for _, name := range names {
		switch rng.Intn(12) {
		case 0: // missing
		case 1:
			add(name, randValue(rng))
			add(name, randValue(rng))
		case 2:
			add("extra_"+name, randValue(rng))
			add(name, randValue(rng))
		case 3:
			add(strings.ToUpper(name), randValue(rng)) // rows match keys exactly
		default:
			add(name, randValue(rng))
		}
	}
	b.WriteString("}")
	return b.String()
}

// corrupt damages a message now and then: truncation, a stray byte, a
// wrong type for an envelope field, or nothing.
func corrupt(rng *rand.Rand, m string) string {
	switch rng.Intn(14) {
	case 0:
		return m[:rng.Intn(len(m))]
	case 1:
		i := rng.Intn(len(m))
		return m[:i] + string("x}],\"\\\x01"[rng.Intn(7)]) + m[i:]
	case 2:
		return m + " x"
	case 3:
		return "  " + m + "\n"
	}
	return m
}

func oracleDesc(rng *rand.Rand) *repr.RelationDesc {
	d := &repr.RelationDesc{}
	for i := 0; i < 1+rng.Intn(5); i++ {
		d.Names = append(d.Names, fmt.Sprintf("c%d", i))
		d.Types = append(d.Types, oracleColumns[rng.Intn(len(oracleColumns))])
	}
	d.Keys = [][]int{{0}}
	return d
}

// randDebezium returns a Debezium event for desc, sometimes with a schema
// block giving columns logical types, and its schema block.
func randDebezium(rng *rand.Rand, desc *repr.RelationDesc, schema string) string {
	row := func() string {
		if rng.Intn(5) == 0 {
			return []string{"null", `"x"`, "[]", "{}"}[rng.Intn(4)]
		}
		return randRow(rng, desc.Names)
	}
	op := []string{`"c"`, `"u"`, `"d"`, `"r"`, `"m"`, `"t"`, `"zz"`, `null`, `1`}[rng.Intn(9)]
	fields := []string{`"before":` + row(), `"after":` + row(), `"op":` + op}
	switch rng.Intn(6) {
	case 0:
		fields = append(fields, `"source":{"db":"shop","schema":"public","table":"t","txId":5,"lsn":"x"}`)
	case 1:
		fields = append(fields, `"source":{"db":"shop","table":"t\u00e9"}`, `"transaction":{"id":"tx\"1","total_order":1,"data_collection_order":1}`)
	case 2:
		fields = append(fields, `"transaction":null`, `"Transaction":{"ID":"567:8","total_order":2}`)
	case 3:
		fields = append(fields, []string{`"transaction":{"id":5}`, `"transaction":{"id":"a","total_order":1.5}`, `"source":[]`, `"OP":"c"`, `"source":{"db":null}`}[rng.Intn(5)])
	}
	rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	payload := "{" + strings.Join(fields, ",") + "}"
	switch {
	case schema != "" && rng.Intn(4) != 0:
		return `{"schema":` + schema + `,"payload":` + payload + `}`
	case rng.Intn(10) == 0:
		return `{"payload":` + payload + `,"other":1}`
	case rng.Intn(10) == 0:
		return `{"payload":` + payload + `}`
	}
	return payload
}

// randSchema returns a schema block declaring logical types for desc's
// columns (by their SQL types), or "".
func randSchema(rng *rand.Rand, desc *repr.RelationDesc) string {
	if rng.Intn(2) == 0 {
		return ""
	}
	var fs []string
	for i, n := range desc.Names {
		f := `{"type":"string","optional":true,"field":"` + n + `"}`
		switch desc.Types[i].Type.Kind {
		case repr.KindNumeric:
			f = []string{`{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"},"field":"` + n + `"}`,
				`{"type":"struct","name":"io.debezium.data.VariableScaleDecimal","field":"` + n + `"}`}[rng.Intn(2)]
		case repr.KindDate:
			f = `{"type":"int32","name":"io.debezium.time.Date","field":"` + n + `"}`
		case repr.KindTimestamp, repr.KindTimestampTz:
			f = []string{`{"type":"int64","name":"io.debezium.time.MicroTimestamp","field":"` + n + `"}`,
				`{"type":"int64","name":"io.debezium.time.Timestamp","field":"` + n + `"}`,
				`{"type":"int64","name":"io.debezium.time.NanoTimestamp","field":"` + n + `"}`}[rng.Intn(3)]
		case repr.KindTime:
			f = `{"type":"int64","name":"io.debezium.time.MicroTime","field":"` + n + `"}`
		case repr.KindJsonb:
			f = `{"type":"string","name":"io.debezium.data.Json","field":"` + n + `"}`
		}
		fs = append(fs, f)
	}
	row := `{"type":"struct","fields":[` + strings.Join(fs, ",") + `],"field":"after"}`
	return `{"type":"struct","fields":[` + row + `,{"type":"string","field":"op"}]}`
}

func randCockroach(rng *rand.Rand, desc *repr.RelationDesc) string {
	if rng.Intn(8) == 0 {
		return `{"resolved":` + []string{`"1532377312562986715.0000000000"`, `"x"`, `5`}[rng.Intn(3)] + `}`
	}
	fields := []string{`"after":` + []string{randRow(rng, desc.Names), "null"}[rng.Intn(2)],
		`"updated":` + []string{`"1532377312562986715.0000000003"`, `"1532377312562986716"`, `"bad"`, `7`}[rng.Intn(4)]}
	switch rng.Intn(5) {
	case 0:
	case 1:
		fields = append(fields, `"key":[`+randValue(rng)+`,`+randValue(rng)+`]`)
	case 2:
		fields = append(fields, `"key":"x"`)
	default:
		fields = append(fields, `"key":[`+randValue(rng)+`]`)
	}
	if rng.Intn(4) == 0 {
		fields = append(fields, `"before":`+randRow(rng, desc.Names))
	}
	rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	return "{" + strings.Join(fields, ",") + "}"
}

func randMaxwell(rng *rand.Rand, desc *repr.RelationDesc) string {
	fields := []string{`"database":"shop"`, `"table":` + []string{`"t"`, `"other"`, `"T"`}[rng.Intn(3)],
		`"type":` + []string{`"insert"`, `"update"`, `"delete"`, `"bootstrap-insert"`, `"heartbeat"`, `"bogus"`, `7`}[rng.Intn(7)],
		`"ts":1449786310`, `"data":` + randRow(rng, desc.Names)}
	if rng.Intn(2) == 0 {
		fields = append(fields, `"old":`+[]string{randRow(rng, desc.Names), "null", `"x"`}[rng.Intn(3)])
	}
	if rng.Intn(2) == 0 {
		fields = append(fields, `"xid":`+[]string{"940752", `"ab\"c"`, "null", "[1]"}[rng.Intn(4)])
	}
	if rng.Intn(2) == 0 {
		fields = append(fields, `"xoffset":`+[]string{"0", "3", "null", "1.5", `"2"`}[rng.Intn(5)])
	}
	if rng.Intn(2) == 0 {
		fields = append(fields, `"commit":`+[]string{"true", "false", "null", "1"}[rng.Intn(4)])
	}
	rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	return "{" + strings.Join(fields, ",") + "}"
}

// sameDecoded compares two decodings, errors by SQLSTATE.
func sameDecoded(a decoded, aerr error, b decoded, berr error) string {
	if (aerr == nil) != (berr == nil) {
		return fmt.Sprintf("error %v vs %v", aerr, berr)
	}
	if aerr != nil {
		if pgcode.Of(aerr) != pgcode.Of(berr) {
			return fmt.Sprintf("codes %s (%v) vs %s (%v)", pgcode.Of(aerr), aerr, pgcode.Of(berr), berr)
		}
		return ""
	}
	if a.txnID != b.txnID || a.collection != b.collection || a.commit != b.commit || a.xoffset != b.xoffset ||
		a.hlc != b.hlc || a.resolved != b.resolved || a.skip != b.skip || len(a.ops) != len(b.ops) {
		return fmt.Sprintf("decoded %+v vs %+v", a, b)
	}
	for i := range a.ops {
		x, y := a.ops[i], b.ops[i]
		if x.kind != y.kind || x.coll != y.coll || !bytes.Equal(x.key, y.key) || !bytes.Equal(x.before, y.before) || !bytes.Equal(x.after, y.after) {
			return fmt.Sprintf("op %d: %v %s %s %s vs %v %s %s %s", i, x.kind, x.key, x.before, x.after, y.kind, y.key, y.before, y.after)
		}
	}
	return ""
}

// oracleCase is one random source and its messages.
func oracleCase(rng *rand.Rand) (SourceSpec, [][]byte) {
	desc := oracleDesc(rng)
	var spec SourceSpec
	var msgs [][]byte
	n := 30
	switch env := rng.Intn(5); env {
	case 0:
		spec = SourceSpec{ID: 1, Topic: "t", Desc: desc, Include: Include{Offset: rng.Intn(2) == 0}}
		for i := 0; i < n; i++ {
			msgs = append(msgs, []byte(corrupt(rng, randRow(rng, desc.Names))))
		}
	case 1:
		spec = SourceSpec{ID: 1, Topic: "t", Envelope: EnvelopeDebezium, Desc: desc}
		if rng.Intn(3) == 0 {
			spec.Collection = "public.t"
		}
		schema := randSchema(rng, desc)
		for i := 0; i < n; i++ {
			msgs = append(msgs, []byte(corrupt(rng, randDebezium(rng, desc, schema))))
		}
	case 2:
		spec = SourceSpec{ID: 1, Topic: "t", Envelope: EnvelopeMaxwell, Desc: desc, Collection: "shop.t"}
		for i := 0; i < n; i++ {
			msgs = append(msgs, []byte(corrupt(rng, randMaxwell(rng, desc))))
		}
	case 3:
		spec = SourceSpec{ID: 1, Topic: "t", Envelope: EnvelopeCockroach, Desc: desc}
		for i := 0; i < n; i++ {
			msgs = append(msgs, []byte(corrupt(rng, randCockroach(rng, desc))))
		}
	default:
		spec = SourceSpec{ID: 1, Topic: "t", Envelope: EnvelopeUpsert, Desc: desc}
		if rng.Intn(3) == 0 {
			spec.KeyFormat = FormatText
		}
		for i := 0; i < n; i++ {
			msgs = append(msgs, []byte(corrupt(rng, randRow(rng, desc.Names))))
		}
	}
	return spec, msgs
}

// keyValue derives a message key's value (valid JSON) from a message.
func keyValue(msg []byte) string {
	return []string{"1", "-7", `"a"`, "12345678901", `"2024-01-02"`, "1.5", "true", "null"}[len(msg)%8]
}

// checkAgainstOracle decodes msg with the new decoder and the old way, and
// returns the new decoder's error code ("" when it decoded ops).
func checkAgainstOracle(t *testing.T, spec SourceSpec, msg []byte, wNew, wOld *workspace) pgcode.Code {
	t.Helper()
	dec, err := newDecoder(&spec)
	if err != nil {
		t.Fatal(err)
	}
	m := Message{Topic: spec.Topic, Offset: 3, Value: msg}
	switch spec.Envelope {
	case EnvelopeCockroach:
		m.Key = []byte("[" + keyValue(msg) + "]")
	case EnvelopeUpsert:
		switch k := keyValue(msg); {
		case spec.KeyFormat == FormatText:
			m.Key = []byte(strings.Trim(k, `"`))
		case len(msg)%2 == 0:
			m.Key = []byte(`{"c0":` + k + `}`)
		default:
			m.Key = []byte(k)
		}
		if len(msg)%7 == 0 {
			m.Value = nil // a tombstone
		}
	}
	got, gerr := dec.decode(&m, wNew)
	want, werr := legacyDecode(t, dec, &m, wOld)
	if diff := sameDecoded(got, gerr, want, werr); diff != "" {
		t.Errorf("%s envelope, columns %s\nmessage %s\n%s", spec.Envelope, spec.Desc, msg, diff)
	}
	if gerr != nil {
		return pgcode.Of(gerr)
	}
	if len(got.ops) == 0 {
		return "skip"
	}
	return ""
}

func TestDecodersAgreeWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	wNew, wOld := newWorkspace(), newWorkspace()
	outcomes := map[Envelope]map[pgcode.Code]int{}
	for c := 0; c < 500 && !t.Failed(); c++ {
		spec, msgs := oracleCase(rng)
		if outcomes[spec.Envelope] == nil {
			outcomes[spec.Envelope] = map[pgcode.Code]int{}
		}
		for _, m := range msgs {
			outcomes[spec.Envelope][checkAgainstOracle(t, spec, m, wNew, wOld)]++
		}
	}
	// The random messages must reach rows and every class of bad input.
	for _, env := range []Envelope{EnvelopeNone, EnvelopeDebezium, EnvelopeMaxwell, EnvelopeCockroach, EnvelopeUpsert} {
		o := outcomes[env]
		t.Logf("%s: %v", env, o)
		for _, c := range []pgcode.Code{"", pgcode.InvalidJSONText, pgcode.DatatypeMismatch, pgcode.InvalidTextRepresentation} {
			if o[c] < 10 {
				t.Errorf("%s: only %d messages with outcome %q", env, o[c], c)
			}
		}
	}
}

// TestValueConversionAgrees checks the converter on single values of every
// column type and semantic against legacyDatum.
func TestValueConversionAgrees(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	sems := []semantic{{}, {name: semDecimal, scale: 2}, {name: semVariableScale}, {name: semDate}, {name: semTime},
		{name: semMicroTimestamp}, {name: semTimestamp}, {name: semNanoTimestamp}, {name: semJSON}, {name: semNanoTime}}
	w := newWorkspace()
	for i := 0; i < 20000; i++ {
		v := randValue(rng)
		ct := oracleColumns[rng.Intn(len(oracleColumns))]
		sem := sems[rng.Intn(len(sems))]
		want, werr := legacyDatum(json.RawMessage(v), ct, sem)
		s := w.begin([]byte(v))
		raw, err := s.value()
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		got, gerr := s.datum(raw, ct, sem)
		if (werr == nil) != (gerr == nil) || (werr != nil && pgcode.Of(werr) != pgcode.Of(gerr)) ||
			!bytes.Equal(repr.PackRow(want), repr.PackRow(got)) {
			t.Fatalf("%s as %s (%v): old %s %v, new %s %v", v, ct, sem, want, werr, got, gerr)
		}
	}
}

// TestScannerValidatesLikeEncodingJSON: the scanner accepts exactly the
// documents encoding/json accepts.
func TestScannerValidatesLikeEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	var s jsonScanner
	for i := 0; i < 20000; i++ {
		doc := corrupt(rng, randRow(rng, []string{"a", "b", "c"}))
		if rng.Intn(3) == 0 {
			doc = corrupt(rng, randValue(rng))
		}
		s.reset([]byte(doc))
		_, err := s.value()
		if err == nil {
			err = s.atEnd()
		}
		if ok := json.Valid([]byte(doc)); ok != (err == nil) {
			t.Fatalf("%q: encoding/json valid=%v, scanner %v", doc, ok, err)
		}
		if err != nil && pgcode.Of(err) != pgcode.InvalidJSONText {
			t.Fatalf("%q: %v has code %s", doc, err, pgcode.Of(err))
		}
	}
}

func TestUnescapeLikeEncodingJSON(t *testing.T) {
	var s jsonScanner
	for _, q := range []string{`"plain"`, `"caf\u00e9"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud83d\ud83d\ude00"`,
		"\"\xff\xfe\"", "\"ok é \xc3\"", `"\b\f\n\r\t\"\\\/"`, `"\u0000"`, `"\u00E9\u00e9"`, "\"\xed\xa0\x80\""} {
		var want string
		if err := json.Unmarshal([]byte(q), &want); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		s.reset([]byte(q))
		raw, err := s.value()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got := s.text(raw); got != want {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
}

func TestFastISOTimestampMatchesParseText(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 50000; i++ {
		s := fmt.Sprintf("%04d-%02d-%02d%c%02d:%02d:%02d", rng.Intn(10000), rng.Intn(14), rng.Intn(33), " T"[rng.Intn(2)], rng.Intn(26), rng.Intn(61), rng.Intn(61))
		if rng.Intn(2) == 0 {
			s += "." + fmt.Sprintf("%07d", rng.Intn(10000000))[:1+rng.Intn(7)]
		}
		s += []string{"", "Z", "+05:30", "-08:00", "+16:00", "+0530", " UTC"}[rng.Intn(7)]
		for _, tz := range []bool{false, true} {
			typ := repr.TypeTimestamp
			if tz {
				typ = repr.TypeTimestampTz
			}
			us, ok := fastISOTimestamp(s, tz)
			if !ok {
				continue
			}
			d, err := repr.ParseText(s, typ)
			if err != nil || !bytes.Equal(repr.PackRow(d), repr.PackRow(repr.TimestampDatum(us))) && !bytes.Equal(repr.PackRow(d), repr.PackRow(repr.TimestampTzDatum(us))) {
				t.Fatalf("%q tz=%v: fast %d, ParseText %s %v", s, tz, us, d, err)
			}
		}
	}
}

// FuzzDecode feeds arbitrary bytes to every envelope's decoder (a message
// key is derived from them): it must not panic, must agree with the
// encoding/json oracle, and every error must carry a SQLSTATE other than
// XX000. The test suite runs the seeds; .ci/test fuzzes it for a few
// seconds and README's "Fuzzing" for hours.
func FuzzDecode(f *testing.F) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 40; i++ {
		spec, msgs := oracleCase(rng)
		f.Add(uint8(spec.Envelope), msgs[rng.Intn(len(msgs))])
	}
	f.Add(uint8(EnvelopeDebezium), []byte(withSchema(custUpdate)))
	f.Add(uint8(EnvelopeMaxwell), []byte(`{"database":"shop","table":"t","type":"update","data":{"c0":1},"old":{"c0":2},"xid":1,"commit":true}`))
	f.Add(uint8(EnvelopeCockroach), []byte(`{"after": {"c0": 1, "c1": "a"}, "key": [1], "updated": "1532377312562986715.0000000000"}`))
	f.Add(uint8(EnvelopeUpsert), []byte(`{"c1":"x\u00e9","c2":{"a":[1]},"c3":"2024-01-02T03:04:05Z"}`))
	desc := mkDesc([]int{0}, "c0", nct(repr.TypeInt8), "c1", nct(repr.TypeText), "c2", nct(repr.TypeJsonb), "c3", nct(repr.TypeTimestampTz))
	wNew, wOld := newWorkspace(), newWorkspace()
	f.Fuzz(func(t *testing.T, env uint8, msg []byte) {
		spec := SourceSpec{ID: 1, Topic: "t", Desc: desc, Envelope: Envelope(env % 5)}
		if spec.Envelope == EnvelopeMaxwell {
			spec.Collection = "shop.t"
		}
		if code := checkAgainstOracle(t, spec, msg, wNew, wOld); code == pgcode.InternalError {
			t.Fatalf("%s envelope: message %q: an error without a proper SQLSTATE", spec.Envelope, msg)
		}
	})
}

// TestFieldIsLikeEncodingJSON: envelope keys name fields as encoding/json
// matches them to struct tags.
func TestFieldIsLikeEncodingJSON(t *testing.T) {
	for _, key := range []string{"source", "SOURCE", "Source", "sOuRcE", "ſource", "ſource", "sourcE ", "sourc", "source1", "sourc\u212a", "s@urce", "_source"} {
		var v struct {
			X string `json:"source"`
		}
		doc, _ := json.Marshal(map[string]string{key: "x"})
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatal(err)
		}
		if got, want := fieldIs([]byte(key), "source"), v.X == "x"; got != want {
			t.Errorf("fieldIs(%q) = %v, encoding/json %v", key, got, want)
		}
	}
	var v struct {
		X string `json:"key"`
	}
	if json.Unmarshal([]byte(`{"\u212aey":"x"}`), &v); (v.X == "x") != fieldIs([]byte("\u212aey"), "key") {
		t.Errorf("Kelvin sign: fieldIs %v, encoding/json %q", fieldIs([]byte("\u212aey"), "key"), v.X)
	}
}

// TestKeyOfCopiesCanonicalBytes: a key made by copying the key columns'
// packed bytes equals one packed from the unpacked datums.
func TestKeyOfCopiesCanonicalBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	w := newWorkspace()
	checked := 0
	for i := 0; i < 3000; i++ {
		desc := oracleDesc(rng)
		row, err := newRowDecoder(*desc).decodeObject(w, []byte(randRow(rng, desc.Names)))
		if err != nil {
			continue
		}
		checked++
		cols := []int{rng.Intn(len(desc.Names)), rng.Intn(len(desc.Names) + 1)}
		s := newCollState(cols, true)
		ds := row.Unpack(nil)
		var p repr.Packer
		for _, c := range cols {
			if c < len(ds) {
				p.Push(ds[c])
			} else {
				p.Push(repr.Null)
			}
		}
		if got := s.keyOf(row); got != string(p.Row()) {
			t.Fatalf("row %s cols %v: key %q, packed from datums %q", row, cols, got, p.Row())
		}
	}
	if checked < 100 {
		t.Errorf("only %d random rows decoded", checked)
	}
}
