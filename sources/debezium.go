package sources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

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

// debeziumDecoder decodes ENVELOPE DEBEZIUM.
type debeziumDecoder struct {
	spec     *SourceSpec
	rows     *rowDecoder // nil until the desc is known
	d        repr.RelationDesc
	pk       []int
	semCache map[string]map[string]semantic // schema text -> field semantics of the row struct
}

func newDebeziumDecoder(spec *SourceSpec) (*debeziumDecoder, error) {
	dd := &debeziumDecoder{spec: spec, semCache: make(map[string]map[string]semantic)}
	if spec.Desc != nil {
		dd.setDesc(*spec.Desc)
	}
	return dd, nil
}

func (dd *debeziumDecoder) setDesc(d repr.RelationDesc) {
	dd.d = d
	dd.rows = newRowDecoder(d)
	if len(d.Keys) > 0 {
		dd.pk = d.Keys[0]
	}
}

func (dd *debeziumDecoder) desc() (repr.RelationDesc, bool) { return dd.d, dd.rows != nil }
func (dd *debeziumDecoder) keyCols() []int                  { return dd.pk }
func (dd *debeziumDecoder) tracked() bool                   { return true }

func (dd *debeziumDecoder) decode(m *Message) (decoded, error) {
	if m.Value == nil || string(bytes.TrimSpace(m.Value)) == "null" {
		// The tombstone Debezium writes after a delete, for log compaction.
		return decoded{skip: true}, nil
	}
	payload, schema, err := splitEnvelope(m.Value)
	if err != nil {
		return decoded{}, err
	}
	if dd.rows == nil {
		if schema == nil {
			return decoded{}, pgcode.New(pgcode.InvalidObjectDefinition,
				"no columns declared and the event has no schema block").
				WithHint("Declare the columns, or enable schemas in Debezium's JsonConverter.")
		}
		d, err := DeriveDebeziumDesc(m.Value, m.Key)
		if err != nil {
			return decoded{}, err
		}
		dd.setDesc(d)
	}
	if schema != nil {
		sems, ok := dd.semCache[string(schema)]
		if !ok {
			sems, err = debeziumSemantics(schema)
			if err != nil {
				return decoded{}, err
			}
			if len(dd.semCache) > 64 {
				clear(dd.semCache)
			}
			dd.semCache[string(schema)] = sems
		}
		dd.rows.setSemantics(sems)
	}
	var ev debeziumEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return decoded{}, pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid Debezium event: "+err.Error())
	}
	out := decoded{collection: dd.spec.Collection, xoffset: -1}
	if out.collection == "" {
		out.collection = debeziumCollection(ev.Source)
	}
	if ev.Transaction != nil {
		out.txnID = ev.Transaction.ID
	}
	row := func(raw json.RawMessage) (repr.Row, error) {
		if isNull(raw) {
			return nil, nil
		}
		return dd.rows.decodeObject(raw)
	}
	before, err := row(ev.Before)
	if err != nil {
		if ev.Op != "d" || dd.pk == nil {
			return decoded{}, fmt.Errorf("before: %w", err)
		}
		// REPLICA IDENTITY DEFAULT: a delete's before holds only the key
		// columns; the collection's state supplies the rest.
		k, kerr := dd.keyFromObject(ev.Before)
		if kerr != nil {
			return decoded{}, fmt.Errorf("before: %w", err)
		}
		out.ops = []op{{kind: opDelete, coll: dd.spec.ID, key: k}}
		return out, nil
	}
	after, err := row(ev.After)
	if err != nil {
		return decoded{}, fmt.Errorf("after: %w", err)
	}
	o := op{coll: dd.spec.ID, before: before, after: after}
	switch ev.Op {
	case "c", "r":
		if after == nil {
			return decoded{}, pgcode.New(pgcode.DataException, "Debezium %q event without after", ev.Op)
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
			k, err := dd.keyFromMessage(m.Key)
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
		return decoded{}, pgcode.New(pgcode.DataException, "unknown Debezium op %q", ev.Op)
	}
	out.ops = []op{o}
	return out, nil
}

// keyFromMessage decodes the primary key from a Debezium message key
// ({"id": 1} or its schema/payload form).
func (dd *debeziumDecoder) keyFromMessage(key []byte) (repr.Row, error) {
	if dd.pk == nil || key == nil {
		return nil, pgcode.New(pgcode.DataException, "delete without a before image or a message key")
	}
	payload, _, err := splitEnvelope(key)
	if err != nil {
		return nil, fmt.Errorf("message key: %w", err)
	}
	k, err := dd.keyFromObject(payload)
	if err != nil {
		return nil, fmt.Errorf("message key: %w", err)
	}
	return k, nil
}

// keyFromObject packs the primary key columns of a JSON object.
func (dd *debeziumDecoder) keyFromObject(raw json.RawMessage) (repr.Row, error) {
	var obj map[string]json.RawMessage
	if err := unmarshalObject(raw, &obj); err != nil {
		return nil, err
	}
	var p repr.Packer
	for _, c := range dd.pk {
		d, err := jsonDatum(obj[dd.d.Names[c]], dd.d.Types[c], dd.rows.sems[c])
		if err != nil {
			return nil, fmt.Errorf("key column %q: %w", dd.d.Names[c], err)
		}
		p.Push(d)
	}
	return p.Clone(), nil
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
