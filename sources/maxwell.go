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

// mxEvent is a Maxwell row event as the decoder reads it: maxwellEvent's
// fields, with data and old left as spans for the row decoder.
type mxEvent struct {
	database, table, typ string
	xid                  []byte // the value's text; nil when absent or null
	xoffset              int64
	hasXoffset           bool
	commit               bool
	data, old            objSpans
	typeErr              error
}

func (md *maxwellDecoder) decode(m *Message, w *workspace) (decoded, error) {
	if m.Value == nil {
		return decoded{skip: true, xoffset: -1}, nil
	}
	s := w.begin(m.Value)
	if s.peek() != '{' {
		return decoded{}, notObject(bytes.TrimSpace(m.Value))
	}
	var ev mxEvent
	if err := scanMaxwellEvent(s, w, md.rows, &ev); err != nil {
		return decoded{}, err
	}
	if err := s.atEnd(); err != nil {
		return decoded{}, err
	}
	return md.build(w, &ev)
}

// scanMaxwellEvent reads the event object at the cursor as encoding/json
// would decode it into maxwellEvent.
func scanMaxwellEvent(s *jsonScanner, w *workspace, rows *rowDecoder, ev *mxEvent) error {
	return s.objectFields(&ev.typeErr, "Maxwell event", func(k []byte) (bool, error) {
		switch {
		case fieldIs(k, "database"):
			return true, s.strField(&ev.database, &ev.typeErr, "database")
		case fieldIs(k, "table"):
			return true, s.strField(&ev.table, &ev.typeErr, "table")
		case fieldIs(k, "type"):
			return true, s.strField(&ev.typ, &ev.typeErr, "type")
		case fieldIs(k, "xid"):
			v, err := s.value()
			ev.xid = v
			if isNullText(v) {
				ev.xid = nil
			}
			return true, err
		case fieldIs(k, "xoffset"):
			ev.hasXoffset = s.peek() != 'n'
			return true, s.int64Field(&ev.xoffset, &ev.typeErr, "xoffset")
		case fieldIs(k, "commit"):
			return true, s.boolField(&ev.commit, &ev.typeErr, "commit")
		case fieldIs(k, "data"):
			return true, rows.scan(s, w, &ev.data)
		case fieldIs(k, "old"):
			return true, rows.scan(s, w, &ev.old)
		}
		return false, nil
	})
}

// build turns a scanned event into the record's ops and transaction
// fields. An update's before image is data overlaid with old.
func (md *maxwellDecoder) build(w *workspace, ev *mxEvent) (decoded, error) {
	if ev.typeErr != nil {
		return decoded{}, pgcode.Wrap(ev.typeErr, pgcode.InvalidJSONText, "invalid JSON: "+ev.typeErr.Error())
	}
	w.tmp = append(append(append(w.tmp[:0], ev.database...), '.'), ev.table...)
	out := decoded{collection: w.intern(aliasString(w.tmp)), commit: ev.commit, xoffset: -1}
	if ev.xid != nil {
		out.txnID = w.intern(aliasString(bytes.Trim(ev.xid, `"`)))
	}
	if ev.hasXoffset {
		out.xoffset = ev.xoffset
	}
	if md.spec.Collection != "" && out.collection != md.spec.Collection {
		out.skip = true // another table's record; still counts for its transaction
		return out, nil
	}
	o := op{coll: md.spec.ID}
	var err error
	switch ev.typ {
	case "insert", "bootstrap-insert":
		o.kind = opInsert
		o.after, err = md.rows.pack(w, &ev.data, nil)
	case "delete":
		o.kind = opDelete
		o.before, err = md.rows.pack(w, &ev.data, nil)
	case "update":
		o.kind = opUpdate
		if !ev.data.obj {
			err = notObject(ev.data.raw)
			break
		}
		if !ev.old.null() && !ev.old.obj {
			err = notObject(ev.old.raw)
			break
		}
		if o.after, err = md.rows.pack(w, &ev.data, nil); err != nil {
			break
		}
		before := objSpans{raw: ev.data.raw, obj: true, vals: w.spans(len(ev.data.vals))}
		copy(before.vals, ev.data.vals)
		if ev.old.obj {
			for c, v := range ev.old.vals {
				if v != nil {
					before.vals[c] = v
				}
			}
		}
		if o.before, err = md.rows.pack(w, &before, nil); err != nil {
			err = fmt.Errorf("old: %w", err)
		}
	case "bootstrap-start", "bootstrap-complete", "table-create", "table-alter", "table-drop",
		"database-create", "database-alter", "database-drop", "heartbeat":
		out.skip = true
		return out, nil
	default:
		return decoded{}, pgcode.New(pgcode.DataException, "unknown Maxwell event type %q", ev.typ)
	}
	if err != nil {
		return decoded{}, err
	}
	out.ops = w.oneOp(o)
	return out, nil
}
