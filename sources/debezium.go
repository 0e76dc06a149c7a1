package sources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// debeziumEvent is a Debezium change event's payload.
type debeziumEvent struct {
	Before      json.RawMessage `json:"before"`
	After       json.RawMessage `json:"after"`
	Op          string          `json:"op"`
	Source      debeziumSource  `json:"source"`
	Transaction *struct {
		ID                  string `json:"id"`
		TotalOrder          int64  `json:"total_order"`
		DataCollectionOrder int64  `json:"data_collection_order"`
	} `json:"transaction"`
}

type debeziumSource struct {
	DB     string          `json:"db"`
	Schema string          `json:"schema"`
	Table  string          `json:"table"`
	TxID   json.RawMessage `json:"txId"`
	LSN    json.RawMessage `json:"lsn"`
}

// connectSchema is a Kafka Connect JSON schema (JsonConverter with
// schemas.enable=true).
type connectSchema struct {
	Type       string            `json:"type"`
	Name       string            `json:"name"`
	Optional   bool              `json:"optional"`
	Field      string            `json:"field"`
	Fields     []connectSchema   `json:"fields"`
	Parameters map[string]string `json:"parameters"`
}

// splitEnvelope returns the payload and, when present, the schema of a
// JsonConverter message: {"schema":..., "payload":...} or the bare payload.
func splitEnvelope(raw []byte) (payload, schema json.RawMessage, err error) {
	var obj map[string]json.RawMessage
	if err := unmarshalObject(raw, &obj); err != nil {
		return nil, nil, err
	}
	if p, ok := obj["payload"]; ok {
		if s, ok := obj["schema"]; ok && len(obj) == 2 {
			return p, s, nil
		}
	}
	return json.RawMessage(raw), nil, nil
}

// debeziumDecoder decodes ENVELOPE DEBEZIUM. Its columns are declared, or
// derived once from the first event's schema block; decoding is otherwise
// stateless (the semantics of the last schema block seen are kept per
// worker, in the workspace).
type debeziumDecoder struct {
	spec *SourceSpec
	mu   sync.Mutex              // serialises deriving the columns
	cur  atomic.Pointer[dbzDesc] // nil until the columns are known
}

// dbzDesc is a Debezium source's relation and its row decoder.
type dbzDesc struct {
	rows *rowDecoder
	d    repr.RelationDesc
	pk   []int
}

func newDebeziumDecoder(spec *SourceSpec) (*debeziumDecoder, error) {
	dd := &debeziumDecoder{spec: spec}
	if spec.Desc != nil {
		dd.setDesc(*spec.Desc)
	}
	return dd, nil
}

func (dd *debeziumDecoder) setDesc(d repr.RelationDesc) *dbzDesc {
	st := &dbzDesc{d: d, rows: newRowDecoder(d)}
	if len(d.Keys) > 0 {
		st.pk = d.Keys[0]
	}
	dd.cur.Store(st)
	return st
}

func (dd *debeziumDecoder) desc() (repr.RelationDesc, bool) {
	if st := dd.cur.Load(); st != nil {
		return st.d, true
	}
	return repr.RelationDesc{}, false
}

func (dd *debeziumDecoder) keyCols() []int {
	if st := dd.cur.Load(); st != nil {
		return st.pk
	}
	return nil
}

func (dd *debeziumDecoder) tracked() bool { return true }

// descFor returns the source's relation, deriving it from m's schema
// block when no columns are declared and none was derived yet.
func (dd *debeziumDecoder) descFor(m *Message) (*dbzDesc, error) {
	if st := dd.cur.Load(); st != nil {
		return st, nil
	}
	dd.mu.Lock()
	defer dd.mu.Unlock()
	if st := dd.cur.Load(); st != nil {
		return st, nil
	}
	_, schema, err := splitEnvelope(m.Value)
	if err != nil {
		return nil, err
	}
	if schema == nil {
		return nil, pgcode.New(pgcode.InvalidObjectDefinition,
			"no columns declared and the event has no schema block").
			WithHint("Declare the columns, or enable schemas in Debezium's JsonConverter.")
	}
	d, err := DeriveDebeziumDesc(m.Value, m.Key)
	if err != nil {
		return nil, err
	}
	return dd.setDesc(d), nil
}

// dbzEvent is a Debezium change event's payload as the decoder reads it:
// the fields encoding/json would fill in debeziumEvent, with the row
// images left as spans for the row decoder.
type dbzEvent struct {
	before, after objSpans
	op            string
	source        debeziumSource
	hasTxn        bool
	txnID         string
	// snapshot is source.snapshot: "true", "first", "last", ... (a
	// string since Debezium 1.x, a boolean before), "" when absent.
	snapshot string
	// typeErr is the first field of the wrong JSON type (an op that is not
	// a string, ...): the event is invalid.
	typeErr error
}

func (dd *debeziumDecoder) decode(m *Message, w *workspace) (decoded, error) {
	if m.Value == nil || isNullText(m.Value) {
		// The tombstone Debezium writes after a delete, for log compaction.
		return decoded{skip: true}, nil
	}
	st, err := dd.descFor(m)
	if err != nil {
		return decoded{}, err
	}
	s := w.begin(m.Value)
	var ev dbzEvent
	schema, err := scanEnvelope(s, w.lastSchema(dd.spec.ID), func() error {
		ev = dbzEvent{}
		return scanDebeziumEvent(s, w, st.rows, &ev)
	})
	if err != nil {
		return decoded{}, err
	}
	sems, err := w.debeziumSems(dd.spec.ID, schema, st.rows)
	if err != nil {
		return decoded{}, err
	}
	return dd.build(st, w, &ev, sems, m)
}

// scanEnvelope reads a JsonConverter message at the cursor: either
// {"schema": S, "payload": P}, exactly those two keys, or a bare payload.
// It calls scanPayload with the cursor at P, or at the whole message when
// it is bare, and returns S's text when the message is wrapped. A schema
// block that starts with known (the text of a complete JSON value seen
// before) is that value: it is taken without scanning it again, the way
// a message's unchanged schema block costs one comparison.
// scanPayload must start from a clean slate each call: a message that
// looks wrapped and is not is scanned again as a bare payload.
func scanEnvelope(s *jsonScanner, known string, scanPayload func() error) ([]byte, error) {
	if s.peek() != '{' {
		return nil, notObject(bytes.TrimSpace(s.buf))
	}
	start := s.pos
	s.pos++
	key, plain, ok, err := s.member(true)
	if err != nil {
		return nil, err
	}
	if k := string(s.key(key, plain)); !ok || (k != "schema" && k != "payload") {
		// A bare payload.
		s.pos = start
		if err := scanPayload(); err != nil {
			return nil, err
		}
		return nil, s.atEnd()
	}
	var schema []byte
	var payload, other bool
	for first := false; ok; key, plain, ok, err = s.member(first) {
		switch string(s.key(key, plain)) {
		case "schema":
			s.skipWS()
			if rest := s.buf[s.pos:]; len(known) > 0 && known[0] == '{' && len(rest) >= len(known) && aliasString(rest[:len(known)]) == known {
				schema = rest[:len(known)]
				s.pos += len(known)
				break
			}
			schema, err = s.value()
		case "payload":
			payload = true
			err = scanPayload()
		default:
			other = true
			err = s.skip(1)
		}
		if err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.atEnd(); err != nil {
		return nil, err
	}
	if schema != nil && payload && !other {
		return schema, nil
	}
	s.pos = start
	return nil, scanPayload()
}

// scanDebeziumEvent reads the event (payload) at the cursor as
// encoding/json would decode it into debeziumEvent: keys match field
// names case-insensitively, the last of duplicate keys wins, null leaves a
// field as it is, and a field of the wrong type makes the event invalid.
func scanDebeziumEvent(s *jsonScanner, w *workspace, rows *rowDecoder, ev *dbzEvent) error {
	return s.objectFields(&ev.typeErr, "Debezium event", func(k []byte) (bool, error) {
		switch {
		case fieldIs(k, "before"):
			return true, rows.scan(s, w, &ev.before)
		case fieldIs(k, "after"):
			return true, rows.scan(s, w, &ev.after)
		case fieldIs(k, "op"):
			return true, s.strField(&ev.op, &ev.typeErr, "op")
		case fieldIs(k, "source"):
			return true, s.objectFields(&ev.typeErr, "source", func(k []byte) (bool, error) {
				switch {
				case fieldIs(k, "db"):
					return true, s.strField(&ev.source.DB, &ev.typeErr, "source.db")
				case fieldIs(k, "schema"):
					return true, s.strField(&ev.source.Schema, &ev.typeErr, "source.schema")
				case fieldIs(k, "table"):
					return true, s.strField(&ev.source.Table, &ev.typeErr, "source.table")
				case fieldIs(k, "snapshot"):
					return true, s.scalarField(`"tf`, &ev.typeErr, "source.snapshot", func(raw []byte) bool {
						if raw[0] == '"' {
							ev.snapshot = s.text(raw)
						} else {
							ev.snapshot = string(raw)
						}
						return true
					})
				}
				return false, nil
			})
		case fieldIs(k, "transaction"):
			if s.peek() == 'n' {
				ev.hasTxn, ev.txnID = false, ""
				return true, s.skip(1)
			}
			if !ev.hasTxn && s.peek() == '{' {
				ev.hasTxn, ev.txnID = true, ""
			}
			return true, s.objectFields(&ev.typeErr, "transaction", func(k []byte) (bool, error) {
				switch {
				case fieldIs(k, "id"):
					return true, s.strField(&ev.txnID, &ev.typeErr, "transaction.id")
				case fieldIs(k, "total_order"), fieldIs(k, "data_collection_order"):
					return true, s.int64Field(nil, &ev.typeErr, "transaction order")
				}
				return false, nil
			})
		}
		return false, nil
	})
}

// build turns a scanned event into the record's ops (the semantics of
// ENVELOPE DEBEZIUM: op c/r insert, u update, d delete, m skip, t
// unsupported; a delete whose before image holds only the key — REPLICA
// IDENTITY DEFAULT — deletes by key).
func (dd *debeziumDecoder) build(st *dbzDesc, w *workspace, ev *dbzEvent, sems []semantic, m *Message) (decoded, error) {
	if ev.typeErr != nil {
		return decoded{}, pgcode.Wrap(ev.typeErr, pgcode.InvalidJSONText, "invalid Debezium event: "+ev.typeErr.Error())
	}
	out := decoded{collection: dd.spec.Collection, xoffset: -1}
	if out.collection == "" {
		out.collection = w.intern(debeziumCollection(ev.source))
	}
	if ev.hasTxn {
		out.txnID = w.intern(ev.txnID)
	}
	if ev.op == "r" && !ev.hasTxn {
		out.snap = snapRead
		if ev.snapshot == "last" {
			out.snap = snapLast
		}
	}
	row := func(o *objSpans) (repr.Row, error) {
		if o.null() {
			return nil, nil
		}
		return st.rows.pack(w, o, sems)
	}
	before, err := row(&ev.before)
	if err != nil {
		if ev.op != "d" || st.pk == nil {
			return decoded{}, fmt.Errorf("before: %w", err)
		}
		// REPLICA IDENTITY DEFAULT: a delete's before holds only the key
		// columns; the collection's state supplies the rest.
		k, kerr := st.rows.packCols(w, &ev.before, sems, st.pk)
		if kerr != nil {
			return decoded{}, fmt.Errorf("before: %w", err)
		}
		out.ops = w.oneOp(op{kind: opDelete, coll: dd.spec.ID, key: k})
		return out, nil
	}
	after, err := row(&ev.after)
	if err != nil {
		return decoded{}, fmt.Errorf("after: %w", err)
	}
	o := op{coll: dd.spec.ID, before: before, after: after}
	switch ev.op {
	case "c", "r":
		if after == nil {
			return decoded{}, pgcode.New(pgcode.DataException, "Debezium %q event without after", ev.op)
		}
		o.kind, o.before = opInsert, nil
	case "u":
		if after == nil {
			return decoded{}, pgcode.New(pgcode.DataException, "Debezium update event without after")
		}
		o.kind = opUpdate
	case "d":
		if before == nil {
			// Without a before image the key must come from the message key.
			k, err := dd.keyFromMessage(st, w, m.Key, sems)
			if err != nil {
				return decoded{}, err
			}
			o.key = k
		}
		o.kind, o.after = opDelete, nil
	case "t":
		return decoded{}, pgcode.New(pgcode.FeatureNotSupported, "Debezium truncate events are not supported")
	case "m":
		out.skip = true // a logical decoding message: no row change
		return out, nil
	default:
		return decoded{}, pgcode.New(pgcode.DataException, "unknown Debezium op %q", ev.op)
	}
	out.ops = w.oneOp(o)
	return out, nil
}

// keyFromMessage decodes the primary key from a Debezium message key
// ({"id": 1} or its schema/payload form). The value's spans are released:
// call it last.
func (dd *debeziumDecoder) keyFromMessage(st *dbzDesc, w *workspace, key []byte, sems []semantic) (repr.Row, error) {
	if st.pk == nil || key == nil {
		return nil, pgcode.New(pgcode.DataException, "delete without a before image or a message key")
	}
	s := w.begin(key)
	var o objSpans
	if _, err := scanEnvelope(s, "", func() error { return st.rows.scan(s, w, &o) }); err != nil {
		return nil, fmt.Errorf("message key: %w", err)
	}
	k, err := st.rows.packCols(w, &o, sems, st.pk)
	if err != nil {
		return nil, fmt.Errorf("message key: %w", err)
	}
	return k, nil
}

func debeziumCollection(s debeziumSource) string {
	if s.Schema != "" {
		return s.Schema + "." + s.Table
	}
	if s.DB != "" {
		return s.DB + "." + s.Table
	}
	return s.Table
}

// rowSchema returns the struct schema of the before/after fields.
func rowSchema(envelope connectSchema) (connectSchema, bool) {
	for _, f := range envelope.Fields {
		if (f.Field == "after" || f.Field == "before") && f.Type == "struct" {
			return f, true
		}
	}
	return connectSchema{}, false
}

func debeziumSemantics(schema json.RawMessage) (map[string]semantic, error) {
	var s connectSchema
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil, pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid Debezium schema block: "+err.Error())
	}
	rs, ok := rowSchema(s)
	if !ok {
		return nil, pgcode.New(pgcode.DataException, "Debezium schema block has no before/after struct")
	}
	sems := make(map[string]semantic, len(rs.Fields))
	for _, f := range rs.Fields {
		sem := semantic{name: f.Name}
		if sc, ok := f.Parameters["scale"]; ok {
			v, err := strconv.Atoi(sc)
			if err != nil {
				return nil, pgcode.New(pgcode.DataException, "field %q: bad decimal scale %q", f.Field, sc)
			}
			sem.scale = int32(v)
		}
		sems[f.Field] = sem
	}
	return sems, nil
}

// DeriveDebeziumDesc derives a source's columns from a Debezium event with
// a schema block (JsonConverter schemas.enable=true), and its primary key
// from the message key's fields when key is given.
func DeriveDebeziumDesc(value, key []byte) (repr.RelationDesc, error) {
	_, schema, err := splitEnvelope(value)
	if err != nil {
		return repr.RelationDesc{}, err
	}
	if schema == nil {
		return repr.RelationDesc{}, pgcode.New(pgcode.InvalidObjectDefinition, "Debezium event has no schema block")
	}
	var s connectSchema
	if err := json.Unmarshal(schema, &s); err != nil {
		return repr.RelationDesc{}, pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid Debezium schema block: "+err.Error())
	}
	rs, ok := rowSchema(s)
	if !ok {
		return repr.RelationDesc{}, pgcode.New(pgcode.DataException, "Debezium schema block has no before/after struct")
	}
	var d repr.RelationDesc
	for _, f := range rs.Fields {
		t, err := connectType(f)
		if err != nil {
			return repr.RelationDesc{}, fmt.Errorf("sources: field %q: %w", f.Field, err)
		}
		d.Names = append(d.Names, f.Field)
		d.Types = append(d.Types, repr.ColumnType{Type: t, Nullable: f.Optional})
	}
	if key != nil {
		kp, ks, err := splitEnvelope(key)
		if err == nil {
			var names []string
			if ks != nil {
				var s connectSchema
				if json.Unmarshal(ks, &s) == nil {
					for _, f := range s.Fields {
						names = append(names, f.Field)
					}
				}
			} else {
				var obj map[string]json.RawMessage
				if json.Unmarshal(kp, &obj) == nil {
					for n := range obj {
						names = append(names, n)
					}
				}
			}
			var pk []int
			for i, n := range d.Names {
				for _, kn := range names {
					if kn == n {
						pk = append(pk, i)
					}
				}
			}
			if len(pk) > 0 && len(pk) == len(names) {
				d.Keys = [][]int{pk}
			}
		}
	}
	return d, nil
}

// connectType maps a Kafka Connect schema field to a SQL type.
func connectType(f connectSchema) (repr.ScalarType, error) {
	switch f.Name {
	case semDate, semConnectDate:
		return repr.TypeDate, nil
	case semTime, semMicroTime, semNanoTime:
		return repr.TypeTime, nil
	case semTimestamp, semMicroTimestamp, semNanoTimestamp, semConnectTs:
		return repr.TypeTimestamp, nil
	case semZonedTimestamp:
		return repr.TypeTimestampTz, nil
	case semMicroDuration:
		return repr.TypeInterval, nil
	case semJSON:
		return repr.TypeJsonb, nil
	case semUUID:
		return repr.TypeUUID, nil
	case semDecimal:
		scale, _ := strconv.Atoi(f.Parameters["scale"])
		if p, err := strconv.Atoi(f.Parameters["connect.decimal.precision"]); err == nil && p > 0 {
			return repr.NumericType(int32(p), int32(scale)), nil
		}
		return repr.TypeNumeric, nil
	case semVariableScale:
		return repr.TypeNumeric, nil
	}
	switch f.Type {
	case "int8", "int16":
		return repr.TypeInt2, nil
	case "int32":
		return repr.TypeInt4, nil
	case "int64":
		return repr.TypeInt8, nil
	case "float", "float32":
		return repr.TypeFloat4, nil
	case "double", "float64":
		return repr.TypeFloat8, nil
	case "boolean":
		return repr.TypeBool, nil
	case "string":
		return repr.TypeText, nil
	case "bytes":
		return repr.TypeBytea, nil
	case "struct", "map", "array":
		return repr.TypeJsonb, nil
	}
	return repr.ScalarType{}, pgcode.New(pgcode.FeatureNotSupported, "unsupported Kafka Connect type %q (%s)", f.Type, f.Name)
}
