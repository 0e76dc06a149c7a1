package sources

import (
	"bytes"

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

func (ud *upsertDecoder) decode(m *Message, w *workspace) (decoded, error) {
	if m.Key == nil {
		return decoded{}, pgcode.New(pgcode.NullValueNotAllowed, "ENVELOPE UPSERT message without a key")
	}
	key, err := ud.key(w, m.Key)
	if err != nil {
		return decoded{}, err
	}
	o := op{kind: opUpsert, coll: ud.spec.ID, key: key}
	if m.Value != nil {
		// The key's datums, read back from the packed key (the scanner's
		// text is the value's from here on).
		var kbuf [4]repr.Datum
		keyDatums := key.Unpack(kbuf[:0])
		o.after, err = ud.value(w, m, keyDatums)
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
	return decoded{ops: w.oneOp(o), xoffset: -1}, nil
}

// key packs the primary key from a message key: a JSON object holding
// the key columns, or for a one-column key a bare JSON or text value.
func (ud *upsertDecoder) key(w *workspace, k []byte) (repr.Row, error) {
	if ud.rows == nil {
		d, err := formatDatum(k, ud.spec.KeyFormat)
		if err != nil {
			return nil, err
		}
		return repr.PackRow(d), nil
	}
	s := w.begin(k)
	if ud.spec.KeyFormat == FormatJSON && s.peek() == '{' {
		var o objSpans
		if err := ud.rows.scan(s, w, &o); err != nil {
			return nil, err
		}
		if err := s.atEnd(); err != nil {
			return nil, err
		}
		w.pk.Reset()
		for _, c := range ud.pk {
			d, err := s.datum(o.vals[c], repr.ColumnType{Type: ud.d.Types[c].Type}, semantic{})
			if err != nil {
				return nil, pgcode.New(pgcode.DatatypeMismatch, "key column %q: %v", ud.d.Names[c], err)
			}
			w.pk.Push(d)
		}
		return w.pk.Clone(), nil
	}
	if len(ud.pk) != 1 {
		return nil, pgcode.New(pgcode.DatatypeMismatch, "key %s does not hold the %d primary key columns", abbreviate(bytes.TrimSpace(k)), len(ud.pk))
	}
	ct := repr.ColumnType{Type: ud.d.Types[ud.pk[0]].Type}
	var d repr.Datum
	if ud.spec.KeyFormat == FormatJSON {
		v, err := s.value()
		if err == nil {
			err = s.atEnd()
		}
		if err != nil {
			return nil, err
		}
		if d, err = s.datum(v, ct, semantic{}); err != nil {
			return nil, err
		}
	} else {
		var err error
		if d, err = parseText(string(k), ct.Type); err != nil {
			return nil, err
		}
	}
	return repr.PackRow(d), nil
}

// value decodes a message value into the row for keyDatums' key: the
// value's key columns, when present, must agree with the message key.
func (ud *upsertDecoder) value(w *workspace, m *Message, keyDatums []repr.Datum) (repr.Row, error) {
	if ud.rows == nil {
		d, err := formatDatum(m.Value, ud.spec.Format)
		if err != nil {
			return nil, err
		}
		if ud.errCol {
			return repr.PackRow(keyDatums[0], d, repr.Null), nil
		}
		return repr.PackRow(keyDatums[0], d), nil
	}
	s := w.begin(m.Value)
	if s.peek() != '{' {
		return nil, notObject(bytes.TrimSpace(m.Value))
	}
	var o objSpans
	if err := ud.rows.scan(s, w, &o); err != nil {
		return nil, err
	}
	if err := s.atEnd(); err != nil {
		return nil, err
	}
	ds, err := ud.rows.datums(w, &o, nil, w.ds[:0])
	w.ds = ds[:0]
	if err != nil {
		return nil, err
	}
	for i, c := range ud.pk {
		if ds[c].IsNull() {
			ds[c] = keyDatums[i]
		} else if !repr.Equal(ds[c], keyDatums[i]) {
			return nil, pgcode.New(pgcode.DataException, "value's %q %s differs from the message key's %s", ud.d.Names[c], ds[c], keyDatums[i])
		}
	}
	w.pk.Reset()
	w.pk.PushAll(ds)
	if ud.errCol {
		w.pk.Push(repr.Null)
	}
	return w.pk.Clone(), nil
}
