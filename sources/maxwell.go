package sources

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// maxwellEvent is one row event of Maxwell's daemon.
type maxwellEvent struct {
	Database string          `json:"database"`
	Table    string          `json:"table"`
	Type     string          `json:"type"`
	TS       json.RawMessage `json:"ts"`
	XID      json.RawMessage `json:"xid"`
	XOffset  *int64          `json:"xoffset"`
	Commit   bool            `json:"commit"`
	Data     json.RawMessage `json:"data"`
	Old      json.RawMessage `json:"old"`
}

// maxwellDecoder decodes ENVELOPE MAXWELL for one table. Maxwell sends
// full rows: data is the row after an insert or update and the deleted row
// of a delete; old holds the previous values of the columns an update
// changed, so the before image is data overlaid with old.
type maxwellDecoder struct {
	spec *SourceSpec
	rows *rowDecoder
	d    repr.RelationDesc
	pk   []int
}

func newMaxwellDecoder(spec *SourceSpec) (*maxwellDecoder, error) {
	if spec.Desc == nil {
		return nil, pgcode.New(pgcode.InvalidObjectDefinition, "sources: ENVELOPE MAXWELL needs declared columns")
	}
	md := &maxwellDecoder{spec: spec, rows: newRowDecoder(*spec.Desc), d: *spec.Desc}
	if len(spec.Desc.Keys) > 0 {
		md.pk = spec.Desc.Keys[0]
	}
	return md, nil
}

func (md *maxwellDecoder) desc() (repr.RelationDesc, bool) { return md.d, true }
func (md *maxwellDecoder) keyCols() []int                  { return md.pk }
func (md *maxwellDecoder) tracked() bool                   { return true }

func (md *maxwellDecoder) decode(m *Message) (decoded, error) {
	if m.Value == nil {
		return decoded{skip: true, xoffset: -1}, nil
	}
	var ev maxwellEvent
	if err := unmarshalStrict(m.Value, &ev); err != nil {
		return decoded{}, err
	}
	out := decoded{collection: ev.Database + "." + ev.Table, commit: ev.Commit, xoffset: -1}
	if !isNull(ev.XID) {
		out.txnID = string(bytes.Trim(ev.XID, `"`))
	}
	if ev.XOffset != nil {
		out.xoffset = *ev.XOffset
	}
	if md.spec.Collection != "" && out.collection != md.spec.Collection {
		out.skip = true // another table's record; still counts for its transaction
		return out, nil
	}
	o := op{coll: md.spec.ID}
	var err error
	switch ev.Type {
	case "insert", "bootstrap-insert":
		o.kind = opInsert
		o.after, err = md.rows.decodeObject(ev.Data)
	case "delete":
		o.kind = opDelete
		o.before, err = md.rows.decodeObject(ev.Data)
	case "update":
		o.kind = opUpdate
		var data, old map[string]json.RawMessage
		if err = unmarshalObject(ev.Data, &data); err != nil {
			break
		}
		if !isNull(ev.Old) {
			if err = unmarshalObject(ev.Old, &old); err != nil {
				break
			}
		}
		if o.after, err = md.rows.decodeFields(data); err != nil {
			break
		}
		before := make(map[string]json.RawMessage, len(data))
		for k, v := range data {
			before[k] = v
		}
		for k, v := range old {
			before[k] = v
		}
		if o.before, err = md.rows.decodeFields(before); err != nil {
			err = fmt.Errorf("old: %w", err)
		}
	case "bootstrap-start", "bootstrap-complete", "table-create", "table-alter", "table-drop",
		"database-create", "database-alter", "database-drop", "heartbeat":
		out.skip = true
		return out, nil
	default:
		return decoded{}, pgcode.New(pgcode.DataException, "unknown Maxwell event type %q", ev.Type)
	}
	if err != nil {
		return decoded{}, err
	}
	out.ops = []op{o}
	return out, nil
}

// unmarshalStrict parses a JSON object into v with a SQLSTATE error.
func unmarshalStrict(raw []byte, v any) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return pgcode.New(pgcode.InvalidJSONText, "expected a JSON object, got %s", abbreviate(t))
	}
	if err := json.Unmarshal(t, v); err != nil {
		return pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid JSON: "+err.Error())
	}
	return nil
}
