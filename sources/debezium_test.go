package sources

import (
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// The customers events of Debezium's PostgreSQL connector documentation
// ("Data change events"), with and without the JsonConverter schema block.
const customersSchema = `{"type":"struct","fields":[
 {"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"first_name"},{"type":"string","optional":false,"field":"last_name"},{"type":"string","optional":false,"field":"email"}],"optional":true,"name":"PostgreSQL_server.inventory.customers.Value","field":"before"},
 {"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"first_name"},{"type":"string","optional":false,"field":"last_name"},{"type":"string","optional":false,"field":"email"}],"optional":true,"name":"PostgreSQL_server.inventory.customers.Value","field":"after"},
 {"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"},
 {"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"}],
 "optional":false,"name":"PostgreSQL_server.inventory.customers.Envelope"}`

const (
	pgSource    = `"source":{"version":"2.5.0.Final","connector":"postgresql","name":"PostgreSQL_server","ts_ms":1559033904863,"snapshot":"false","db":"postgres","schema":"inventory","table":"customers","txId":555,"lsn":24023128,"xmin":null}`
	custRead    = `{"before":null,"after":{"id":1,"first_name":"Anne","last_name":"Kretchmar","email":"annek@noanswer.org"},` + pgSource + `,"op":"r","ts_ms":1559033904863}`
	custCreate  = `{"before":null,"after":{"id":2,"first_name":"Bob","last_name":"Smith","email":"bob@example.com"},` + pgSource + `,"op":"c","ts_ms":1559033904863}`
	custUpdate  = `{"before":{"id":1,"first_name":"Anne","last_name":"Kretchmar","email":"annek@noanswer.org"},"after":{"id":1,"first_name":"Anne Marie","last_name":"Kretchmar","email":"annek@noanswer.org"},` + pgSource + `,"op":"u","ts_ms":1465584025523}`
	custUpdNoBf = `{"before":null,"after":{"id":2,"first_name":"Robert","last_name":"Smith","email":"bob@example.com"},` + pgSource + `,"op":"u","ts_ms":1465584025523}`
	custDelete  = `{"before":{"id":1,"first_name":"Anne Marie","last_name":"Kretchmar","email":"annek@noanswer.org"},"after":null,` + pgSource + `,"op":"d","ts_ms":1465581902461}`
	custDelKey  = `{"before":{"id":2},"after":null,` + pgSource + `,"op":"d","ts_ms":1465581902461}`
)

func withSchema(payload string) string {
	return `{"schema":` + customersSchema + `,"payload":` + payload + `}`
}

func customersDesc() *repr.RelationDesc {
	return mkDesc([]int{0}, "id", ct(repr.TypeInt4), "first_name", ct(repr.TypeText), "last_name", ct(repr.TypeText), "email", ct(repr.TypeText))
}

func TestDebeziumPostgresEvents(t *testing.T) {
	const want = `
unit 0 coll 1: (1, 'Anne', 'Kretchmar', 'annek@noanswer.org') +1
unit 0 coll 1: (2, 'Bob', 'Smith', 'bob@example.com') +1
unit 0 coll 1: (1, 'Anne', 'Kretchmar', 'annek@noanswer.org') -1
unit 0 coll 1: (1, 'Anne Marie', 'Kretchmar', 'annek@noanswer.org') +1
unit 0 coll 1: (2, 'Bob', 'Smith', 'bob@example.com') -1
unit 0 coll 1: (2, 'Robert', 'Smith', 'bob@example.com') +1
unit 0 coll 1: (1, 'Anne Marie', 'Kretchmar', 'annek@noanswer.org') -1
unit 0 coll 1: (2, 'Robert', 'Smith', 'bob@example.com') -1`
	for _, tc := range []struct {
		name   string
		wrap   func(string) string
		desc   *repr.RelationDesc
		derive bool
	}{
		{"schemas.enable=false, declared columns", func(s string) string { return s }, customersDesc(), false},
		{"schemas.enable=true, declared columns", withSchema, customersDesc(), false},
		{"schemas.enable=true, derived columns", withSchema, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeeder(t, Config{Sources: []SourceSpec{{ID: 1, Name: "customers", Topic: "PostgreSQL_server.inventory.customers", Envelope: EnvelopeDebezium, Desc: tc.desc}}})
			key := func(id string) string {
				if tc.derive {
					return `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"PostgreSQL_server.inventory.customers.Key"},"payload":{"id":` + id + `}}`
				}
				return `{"id":` + id + `}`
			}
			topic := "PostgreSQL_server.inventory.customers"
			f.push(topic, key("1"), tc.wrap(custRead))
			f.push(topic, key("2"), tc.wrap(custCreate))
			f.push(topic, key("1"), tc.wrap(custUpdate))
			f.push(topic, key("2"), tc.wrap(custUpdNoBf)) // REPLICA IDENTITY DEFAULT: no before
			f.push(topic, key("1"), tc.wrap(custDelete))
			f.push(topic, key("1"), "")                  // tombstone: ignored
			f.push(topic, key("2"), tc.wrap(custDelKey)) // before holds only the key
			f.push(topic, key("2"), "")
			units, errs := f.a.Release()
			if len(errs) > 0 {
				t.Fatalf("errors: %s", renderErrs(errs))
			}
			expectText(t, "updates", renderUnits(units), want)
			if got := units[len(units)-1].Checkpoint.Positions; len(got) != 1 || got[0].Offset != 8 {
				t.Errorf("checkpoint = %v, want offset 8", got)
			}
			if tc.derive {
				d, ok := f.a.Desc(1)
				if !ok || d.String() != "(id integer, first_name text, last_name text, email text)" || len(d.Keys) != 1 || d.Keys[0][0] != 0 {
					t.Errorf("derived desc = %v keys %v", d, d.Keys)
				}
			}
		})
	}
}

func TestDebeziumPrimaryKeyChange(t *testing.T) {
	// Debezium carries a primary-key change as a delete of the old key
	// (then a tombstone) and a create of the new one.
	f := newFeeder(t, Config{Sources: []SourceSpec{{ID: 1, Name: "c", Topic: "t", Envelope: EnvelopeDebezium, Desc: customersDesc()}}})
	f.push("t", `{"id":1}`, custRead)
	f.push("t", `{"id":1}`, strings.Replace(custDelete, "Anne Marie", "Anne", 1))
	f.push("t", `{"id":1}`, "")
	f.push("t", `{"id":7}`, strings.Replace(custRead, `"id":1`, `"id":7`, 1))
	units, errs := f.a.Release()
	if len(errs) > 0 {
		t.Fatal(renderErrs(errs))
	}
	expectText(t, "updates", renderUnits(units), `
unit 0 coll 1: (1, 'Anne', 'Kretchmar', 'annek@noanswer.org') +1
unit 0 coll 1: (1, 'Anne', 'Kretchmar', 'annek@noanswer.org') -1
unit 0 coll 1: (7, 'Anne', 'Kretchmar', 'annek@noanswer.org') +1`)
}

func TestDebeziumLogicalTypes(t *testing.T) {
	schema := `{"type":"struct","name":"s.public.t.Envelope","fields":[
	 {"type":"struct","field":"after","optional":true,"name":"s.public.t.Value","fields":[
	  {"type":"int64","optional":false,"field":"id"},
	  {"type":"int16","optional":true,"field":"small"},
	  {"type":"double","optional":true,"field":"dbl"},
	  {"type":"float","optional":true,"field":"flt"},
	  {"type":"boolean","optional":true,"field":"flag"},
	  {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"amount"},
	  {"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"day"},
	  {"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"at"},
	  {"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"zoned"},
	  {"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"doc"},
	  {"type":"bytes","optional":true,"field":"raw"},
	  {"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1,"field":"uid"}]},
	 {"type":"string","optional":false,"field":"op"}]}`
	payload := `{"before":null,"after":{"id":9000000000,"small":-3,"dbl":1.5,"flt":0.25,"flag":true,"amount":"MDk=","day":19723,"at":1704067200123456,"zoned":"2024-01-01T10:00:00.5Z","doc":"{\"b\": [1, 2], \"a\": null}","raw":"AQL/","uid":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},"source":{"schema":"public","table":"t"},"op":"c"}`
	f := newFeeder(t, Config{Sources: []SourceSpec{{ID: 1, Name: "t", Topic: "s.public.t", Envelope: EnvelopeDebezium}}})
	f.push("s.public.t", "", `{"schema":`+schema+`,"payload":`+payload+`}`)
	units, errs := f.a.Release()
	if len(errs) > 0 {
		t.Fatal(renderErrs(errs))
	}
	d, _ := f.a.Desc(1)
	expectText(t, "desc", d.String(), "(id bigint, small smallint?, dbl double precision?, flt real?, flag boolean?, amount numeric(10,2)?, day date?, at timestamp without time zone?, zoned timestamp with time zone?, doc jsonb?, raw bytea?, uid uuid?)")
	expectText(t, "row", renderUnits(units), `unit 0 coll 1: (9000000000, -3, 1.5, 0.25, true, 123.45, '2024-01-01', '2024-01-01 00:00:00.123456', '2024-01-01 10:00:00.5+00', '{"a": null, "b": [1, 2]}', '\x0102ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11') +1`)
}

func TestDebeziumBadInput(t *testing.T) {
	f := newFeeder(t, Config{Sources: []SourceSpec{
		{ID: 1, Name: "customers", Topic: "cust", Envelope: EnvelopeDebezium, Desc: customersDesc()},
		{ID: 2, Name: "other", Topic: "other", Envelope: EnvelopeDebezium, Desc: customersDesc()},
	}})
	f.push("cust", "", "\x00\x01garbage")                                    // offset 0
	f.push("cust", "", strings.Replace(custCreate, `"id":2`, `"id":"x"`, 1)) // offset 1: type mismatch
	f.push("cust", "", custDelete)                                           // offset 2: delete of a missing row
	f.push("cust", "", strings.Replace(custCreate, `"op":"c"`, `"op":"zz"`, 1))
	f.push("other", "", custCreate)
	units, errs := f.a.Release()
	got := renderErrs(errs)
	for _, want := range []string{
		`"customers": cust partition 0 offset 0: expected a JSON object`,
		`"customers": cust partition 0 offset 1: after: column "id": invalid input syntax for type integer: "x"`,
		`"customers": cust partition 0 offset 2: delete of a row that is not there (key (1))`,
		`"customers": cust partition 0 offset 3: unknown Debezium op "zz"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	expectText(t, "other source keeps going", renderUnits(units), `unit 0 coll 2: (2, 'Bob', 'Smith', 'bob@example.com') +1`)
	st := f.a.Status()
	if st[0].State != StateErrored || st[0].LastError == nil || st[1].State != StateRunning {
		t.Errorf("status = %+v", st)
	}
	if pe := st[0].LastError.PgError(); pe.Code != pgcode.DataException || !strings.Contains(pe.Detail, "offset 2") {
		t.Errorf("pg error = %v %q", pe.Code, pe.Detail)
	}
}

func TestDebeziumDecimalWithoutSchema(t *testing.T) {
	// decimal.handling.mode=precise without the schema block: base64 at
	// the declared scale; string and number forms parse as numbers and
	// take the column's scale, as PostgreSQL's numeric(10,2) does ("12.5"
	// is 12.50).
	desc := mkDesc([]int{0}, "id", ct(repr.TypeInt4), "amount", nct(repr.NumericType(10, 2)))
	f := newFeeder(t, Config{Sources: []SourceSpec{{ID: 1, Name: "d", Topic: "d", Envelope: EnvelopeDebezium, Desc: desc}}})
	f.push("d", "", `{"before":null,"after":{"id":1,"amount":"MDk="},"op":"c"}`)
	f.push("d", "", `{"before":null,"after":{"id":2,"amount":"12.5"},"op":"c"}`)
	f.push("d", "", `{"before":null,"after":{"id":3,"amount":7.257},"op":"c"}`)
	f.push("d", "", `{"before":null,"after":{"id":4,"amount":123456789012},"op":"c"}`)
	units, errs := f.a.Release()
	expectText(t, "decimals", renderUnits(units), `
unit 0 coll 1: (1, 123.45) +1
unit 0 coll 1: (2, 12.50) +1
unit 0 coll 1: (3, 7.26) +1`)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "offset 3: after: column \"amount\": numeric field overflow") {
		t.Errorf("errs: %s", renderErrs(errs))
	}
}
