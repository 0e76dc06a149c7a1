package sources

import (
	"bytes"
	"encoding/json"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// upsertDecoder decodes ENVELOPE UPSERT: the message key identifies a row,
// the latest value wins, a null value deletes. With declared columns the
// value is a JSON object of those columns and the key is either a JSON
// object holding the primary key columns or (for a one-column key) a bare
// JSON or text value; without, the relation is (key, data).
type upsertDecoder struct {
	spec   *SourceSpec
	d      repr.RelationDesc
	rows   *rowDecoder // nil: (key, data)
	pk     []int
	errCol bool
}

func newUpsertDecoder(spec *SourceSpec) (*upsertDecoder, error) {
	ud := &upsertDecoder{spec: spec}
	if spec.Desc != nil {
		if len(spec.Desc.Keys) == 0 {
			return nil, pgcode.New(pgcode.InvalidObjectDefinition, "sources: ENVELOPE UPSERT with declared columns needs a PRIMARY KEY")
		}
		if spec.Format != FormatJSON {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "sources: declared columns need FORMAT JSON")
		}
		ud.d = *spec.Desc
		ud.pk = spec.Desc.Keys[0]
		// The value may omit the key columns: they come from the message
		// key, so decode them as nullable and fill them in.
		vd := *spec.Desc
		vd.Types = append([]repr.ColumnType(nil), vd.Types...)
		for _, c := range ud.pk {
			vd.Types[c].Nullable = true
		}
		ud.rows = newRowDecoder(vd)
	} else {
		ud.d = repr.RelationDesc{
			Names: []string{"key", "data"},
			Types: []repr.ColumnType{{Type: formatType(spec.KeyFormat)}, {Type: formatType(spec.Format), Nullable: true}},
			Keys:  [][]int{{0}},
		}
		ud.pk = []int{0}
	}
	if spec.InlineErrors {
		ud.d.Names = append(append([]string(nil), ud.d.Names...), "error")
		ud.d.Types = append(append([]repr.ColumnType(nil), ud.d.Types...), repr.ColumnType{Type: repr.TypeText, Nullable: true})
		ud.errCol = true
	}
	return ud, nil
}

func (ud *upsertDecoder) desc() (repr.RelationDesc, bool) { return ud.d, true }
func (ud *upsertDecoder) keyCols() []int                  { return ud.pk }
func (ud *upsertDecoder) tracked() bool                   { return true }

func (ud *upsertDecoder) decode(m *Message) (decoded, error) {
	if m.Key == nil {
		return decoded{}, pgcode.New(pgcode.NullValueNotAllowed, "ENVELOPE UPSERT message without a key")
	}
	keyDatums, err := ud.keyDatums(m.Key)
	if err != nil {
		return decoded{}, err
	}
	key := repr.PackRow(keyDatums...)
	o := op{kind: opUpsert, coll: ud.spec.ID, key: key}
	if m.Value != nil {
		o.after, err = ud.value(m, keyDatums)
		if err != nil {
			if !ud.errCol {
				return decoded{}, err
			}
			// VALUE DECODING ERRORS = INLINE: the key's row becomes the error.
			ds := make([]repr.Datum, len(ud.d.Names))
			for i, c := range ud.pk {
				ds[c] = keyDatums[i]
			}
			ds[len(ds)-1] = repr.TextDatum(err.Error())
			o.after = repr.PackRow(ds...)
		}
	}
	return decoded{ops: []op{o}, xoffset: -1}, nil
}

func (ud *upsertDecoder) keyDatums(k []byte) ([]repr.Datum, error) {
	if ud.rows == nil {
		d, err := formatDatum(k, ud.spec.KeyFormat)
		if err != nil {
			return nil, err
		}
		return []repr.Datum{d}, nil
	}
	ds := make([]repr.Datum, len(ud.pk))
	t := bytes.TrimSpace(k)
	if ud.spec.KeyFormat == FormatJSON && len(t) > 0 && t[0] == '{' {
		var obj map[string]json.RawMessage
		if err := unmarshalObject(t, &obj); err != nil {
			return nil, err
		}
		for i, c := range ud.pk {
			d, err := jsonDatum(obj[ud.d.Names[c]], repr.ColumnType{Type: ud.d.Types[c].Type}, semantic{})
			if err != nil {
				return nil, pgcode.New(pgcode.DatatypeMismatch, "key column %q: %v", ud.d.Names[c], err)
			}
			ds[i] = d
		}
		return ds, nil
	}
	if len(ud.pk) != 1 {
		return nil, pgcode.New(pgcode.DatatypeMismatch, "key %s does not hold the %d primary key columns", abbreviate(t), len(ud.pk))
	}
	ct := repr.ColumnType{Type: ud.d.Types[ud.pk[0]].Type}
	var d repr.Datum
	var err error
	if ud.spec.KeyFormat == FormatJSON {
		d, err = jsonDatum(t, ct, semantic{})
	} else {
		d, err = parseText(string(k), ct.Type)
	}
	if err != nil {
		return nil, err
	}
	ds[0] = d
	return ds, nil
}

func (ud *upsertDecoder) value(m *Message, keyDatums []repr.Datum) (repr.Row, error) {
	var extra []repr.Datum
	if ud.errCol {
		extra = []repr.Datum{repr.Null}
	}
	if ud.rows == nil {
		d, err := formatDatum(m.Value, ud.spec.Format)
		if err != nil {
			return nil, err
		}
		return repr.PackRow(append([]repr.Datum{keyDatums[0], d}, extra...)...), nil
	}
	var obj map[string]json.RawMessage
	if err := unmarshalObject(m.Value, &obj); err != nil {
		return nil, err
	}
	row, err := ud.rows.decodeFields(obj, extra...)
	if err != nil {
		return nil, err
	}
	// The key is the message key: the value's key columns must agree.
	ds := row.Unpack(nil)
	for i, c := range ud.pk {
		if ds[c].IsNull() {
			ds[c] = keyDatums[i]
		} else if !repr.Equal(ds[c], keyDatums[i]) {
			return nil, pgcode.New(pgcode.DataException, "value's %q %s differs from the message key's %s", ud.d.Names[c], ds[c], keyDatums[i])
		}
	}
	return repr.PackRow(ds...), nil
}
