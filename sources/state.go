package sources

import (
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// opKind is what a decoded upstream record asks of a collection.
type opKind uint8

const (
	// opAppend adds after with no checks (ENVELOPE NONE: append-only).
	opAppend opKind = iota
	// opInsert adds after; under a key it replaces the key's current row.
	opInsert
	// opDelete removes before, or the key's current row when before is
	// absent.
	opDelete
	// opUpdate replaces before (or the current row of before's key, or of
	// key) with after.
	opUpdate
	// opUpsert sets key's row to after, or deletes it when after is nil.
	opUpsert
)

// op is one decoded change, not yet resolved against the collection's
// state. Resolution happens when the op's unit is released, in commit order.
type op struct {
	kind   opKind
	coll   CollectionID
	key    repr.Row // the key datums, when the upstream gives the key apart from the rows
	before repr.Row // nil when absent
	after  repr.Row // nil when absent
}

// collState is what a collection must remember to turn ops into updates
// and to detect impossible input: the current row per primary key when the
// collection has one, otherwise the multiplicity of every row (needed only
// to refuse a retraction of a row that is not there). Append-only
// collections keep nothing.
type collState struct {
	keyCols []int               // the primary key's columns; nil when keyless
	rows    map[string]repr.Row // key bytes -> current row (keyed)
	counts  map[string]int64    // row bytes -> multiplicity (keyless)
	tracked bool                // false: append-only, no state
	offs    []int               // scratch for keyOf
	key     []byte              // scratch for keyOf
}

func newCollState(keyCols []int, tracked bool) *collState {
	s := &collState{keyCols: keyCols, tracked: tracked}
	if keyCols != nil {
		s.rows = make(map[string]repr.Row)
	} else if tracked {
		s.counts = make(map[string]int64)
	}
	return s
}

// keyOf projects the key columns of row into a packed key. A packed
// datum's bytes are its canonical encoding, so the key columns' bytes are
// copied as they are: the key equals one packed from the datums.
func (s *collState) keyOf(row repr.Row) string {
	offs, err := row.Offsets(s.offs[:0])
	s.offs = offs
	if err != nil {
		// A malformed row (never made by a decoder): key it by its datums.
		var p repr.Packer
		for _, c := range s.keyCols {
			p.Push(row.Get(c))
		}
		return string(p.Row())
	}
	key := s.key[:0]
	for _, c := range s.keyCols {
		if c+1 < len(offs) {
			key = append(key, row[offs[c]:offs[c+1]]...)
		} else {
			key = repr.AppendDatum(key, repr.Null)
		}
	}
	s.key = key
	return string(key)
}

// load seeds the state from the collection's contents at the resume point.
func (s *collState) load(contents []Update) error {
	for _, u := range contents {
		if err := s.add(u.Row, u.Diff); err != nil {
			return err
		}
	}
	return nil
}

func (s *collState) add(row repr.Row, diff repr.Diff) error {
	switch {
	case s.keyCols != nil:
		k := s.keyOf(row)
		if diff > 0 {
			if _, ok := s.rows[k]; ok || diff != 1 {
				return pgcode.New(pgcode.UniqueViolation, "duplicate primary key in source collection contents")
			}
			s.rows[k] = row
		} else if diff < 0 {
			delete(s.rows, k)
		}
	case s.tracked:
		c := s.counts[string(row)] + int64(diff)
		if c < 0 {
			return pgcode.New(pgcode.DataException, "negative multiplicity in source collection contents")
		}
		if c == 0 {
			delete(s.counts, string(row))
		} else {
			s.counts[string(row)] = c
		}
	}
	return nil
}

// apply resolves o against the state and appends its updates to out. On
// error the state and out are unchanged.
func (s *collState) apply(o op, out []Update) ([]Update, error) {
	if !s.tracked || o.kind == opAppend {
		if o.after == nil {
			return out, nil
		}
		return append(out, Update{Row: o.after, Diff: 1}), nil
	}
	if s.keyCols == nil {
		return s.applyKeyless(o, out)
	}
	var key string
	switch {
	case o.key != nil:
		key = string(o.key)
	case o.before != nil:
		key = s.keyOf(o.before)
	case o.after != nil:
		key = s.keyOf(o.after)
	}
	cur, exists := s.rows[key]
	switch o.kind {
	case opInsert, opUpsert:
		if o.kind == opUpsert && o.after == nil {
			if exists {
				delete(s.rows, key)
				out = append(out, Update{Row: cur, Diff: -1})
			}
			return out, nil
		}
		if o.after == nil {
			return out, nil
		}
		if exists {
			if repr.SameBytes(cur, o.after) {
				return out, nil // re-delivered, or re-snapshotted, unchanged row
			}
			out = append(out, Update{Row: cur, Diff: -1})
		}
		s.rows[key] = o.after
		return append(out, Update{Row: o.after, Diff: 1}), nil
	case opDelete:
		if !exists {
			return out, pgcode.New(pgcode.DataException, "delete of a row that is not there (key %s)", keyText(key))
		}
		delete(s.rows, key)
		return append(out, Update{Row: cur, Diff: -1}), nil
	case opUpdate:
		if !exists {
			return out, pgcode.New(pgcode.DataException, "update of a row that is not there (key %s)", keyText(key))
		}
		if o.after == nil {
			return out, pgcode.New(pgcode.DataException, "update without an after image")
		}
		newKey := s.keyOf(o.after)
		if newKey != key {
			// A primary-key change carried as one update.
			if other, ok := s.rows[newKey]; ok {
				return out, pgcode.New(pgcode.UniqueViolation, "update moves key %s onto existing row %s", keyText(key), other)
			}
			delete(s.rows, key)
		}
		s.rows[newKey] = o.after
		out = append(out, Update{Row: cur, Diff: -1})
		return append(out, Update{Row: o.after, Diff: 1}), nil
	}
	return out, nil
}

func (s *collState) applyKeyless(o op, out []Update) ([]Update, error) {
	switch o.kind {
	case opInsert:
		if o.after == nil {
			return out, nil
		}
		s.counts[string(o.after)]++
		return append(out, Update{Row: o.after, Diff: 1}), nil
	case opDelete, opUpdate:
		if o.before == nil {
			return out, pgcode.New(pgcode.FeatureNotSupported,
				"%s without a before image on a collection with no primary key", map[opKind]string{opDelete: "delete", opUpdate: "update"}[o.kind]).
				WithHint("Declare a PRIMARY KEY, or set REPLICA IDENTITY FULL upstream.")
		}
		c := s.counts[string(o.before)]
		if c <= 0 {
			return out, pgcode.New(pgcode.DataException, "retraction of a row that is not there: %s (negative multiplicity)", rowText(o.before))
		}
		if c == 1 {
			delete(s.counts, string(o.before))
		} else {
			s.counts[string(o.before)] = c - 1
		}
		out = append(out, Update{Row: o.before, Diff: -1})
		if o.kind == opUpdate && o.after != nil {
			s.counts[string(o.after)]++
			out = append(out, Update{Row: o.after, Diff: 1})
		}
		return out, nil
	case opUpsert:
		return out, pgcode.New(pgcode.FeatureNotSupported, "upsert requires a key")
	}
	return out, nil
}

func keyText(k string) string { return rowText(repr.Row(k)) }

func rowText(r repr.Row) string {
	ds := r.Unpack(nil)
	b := []byte{'('}
	for i, d := range ds {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, d.String()...)
	}
	return string(append(b, ')'))
}
