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
//
// With a reader (CollectionReader) the state holds only what changed since
// the sink last applied the collection's units (applied clears it): a row
// (or a key's absence, as a nil row) per key changed, the multiplicity of
// each row changed; anything else is read from the collection as the sink
// holds it. Keys are then packed canonically, as the collection's
// arrangement keys them.
type collState struct {
	keyCols []int               // the primary key's columns; nil when keyless
	rows    map[string]repr.Row // key bytes -> current row (keyed); nil: none (with a reader)
	counts  map[string]int64    // row bytes -> multiplicity (keyless)
	tracked bool                // false: append-only, no state
	reader  CollectionReader
	id      CollectionID
	offs    []int // scratch for keyOf
	key     []byte
	packer  repr.Packer
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

// readThrough makes s resolve against collection id as r holds it.
func (s *collState) readThrough(r CollectionReader, id CollectionID) {
	s.reader, s.id = r, id
}

// applied drops what the state holds of changes the sink has now applied.
func (s *collState) applied() {
	if s.reader != nil {
		clear(s.rows)
		clear(s.counts)
	}
}

// keyOf projects the key columns of row into a packed key. A packed
// datum's bytes are its canonical encoding, so the key columns' bytes are
// copied as they are: the key equals one packed from the datums. With a
// reader the key is packed canonically (repr.Packer.PushKey).
func (s *collState) keyOf(row repr.Row) string {
	if s.reader != nil {
		s.packer.Reset()
		for _, c := range s.keyCols {
			s.packer.PushKey(row.Get(c))
		}
		return string(s.packer.Row())
	}
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

// current returns the row under key.
func (s *collState) current(key string) (repr.Row, bool, error) {
	if row, ok := s.rows[key]; ok {
		return row, row != nil, nil
	}
	if s.reader == nil {
		return nil, false, nil
	}
	cur, n, err := lookupRow(s.reader, s.id, key)
	switch {
	case err != nil:
		return nil, false, pgcode.New(pgcode.InternalError, "reading the collection: %v", err)
	case n == 0:
		return nil, false, nil
	case n != 1:
		return nil, false, pgcode.New(pgcode.DataException, "the collection holds %d rows under key %s", n, keyText(key))
	}
	return cur, true, nil
}

// setRow records key's row (nil: none).
func (s *collState) setRow(key string, row repr.Row) {
	if row == nil && s.reader == nil {
		delete(s.rows, key)
		return
	}
	s.rows[key] = row
}

// count returns row's multiplicity (keyless).
func (s *collState) count(row repr.Row) (int64, error) {
	if c, ok := s.counts[string(row)]; ok || s.reader == nil {
		return c, nil
	}
	var n repr.Diff
	if err := s.reader.Rows(s.id, row, func(_ repr.Row, d repr.Diff) { n += d }); err != nil {
		return 0, pgcode.New(pgcode.InternalError, "reading the collection: %v", err)
	}
	return int64(n), nil
}

// setCount records row's multiplicity (keyless).
func (s *collState) setCount(row repr.Row, n int64) {
	if n == 0 && s.reader == nil {
		delete(s.counts, string(row))
		return
	}
	s.counts[string(row)] = n
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
	case o.key != nil && s.reader == nil:
		key = string(o.key)
	case o.key != nil:
		// o.key holds the key datums: packed again canonically.
		s.packer.Reset()
		for _, d := range o.key.Datums() {
			s.packer.PushKey(d)
		}
		key = string(s.packer.Row())
	case o.before != nil:
		key = s.keyOf(o.before)
	case o.after != nil:
		key = s.keyOf(o.after)
	}
	cur, exists, err := s.current(key)
	if err != nil {
		return out, err
	}
	switch o.kind {
	case opInsert, opUpsert:
		if o.kind == opUpsert && o.after == nil {
			if exists {
				s.setRow(key, nil)
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
		s.setRow(key, o.after)
		return append(out, Update{Row: o.after, Diff: 1}), nil
	case opDelete:
		if !exists {
			return out, pgcode.New(pgcode.DataException, "delete of a row that is not there (key %s)", keyText(key))
		}
		s.setRow(key, nil)
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
			other, taken, err := s.current(newKey)
			if err != nil {
				return out, err
			}
			if taken {
				return out, pgcode.New(pgcode.UniqueViolation, "update moves key %s onto existing row %s", keyText(key), other)
			}
			s.setRow(key, nil)
		}
		s.setRow(newKey, o.after)
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
		c, err := s.count(o.after)
		if err != nil {
			return out, err
		}
		s.setCount(o.after, c+1)
		return append(out, Update{Row: o.after, Diff: 1}), nil
	case opDelete, opUpdate:
		if o.before == nil {
			return out, pgcode.New(pgcode.FeatureNotSupported,
				"%s without a before image on a collection with no primary key", map[opKind]string{opDelete: "delete", opUpdate: "update"}[o.kind]).
				WithHint("Declare a PRIMARY KEY, or set REPLICA IDENTITY FULL upstream.")
		}
		c, err := s.count(o.before)
		if err != nil {
			return out, err
		}
		if c <= 0 {
			return out, pgcode.New(pgcode.DataException, "retraction of a row that is not there: %s (negative multiplicity)", rowText(o.before))
		}
		var after int64
		if o.kind == opUpdate && o.after != nil {
			if after, err = s.count(o.after); err != nil {
				return out, err
			}
		}
		s.setCount(o.before, c-1)
		out = append(out, Update{Row: o.before, Diff: -1})
		if o.kind == opUpdate && o.after != nil {
			if string(o.after) == string(o.before) {
				after = c - 1
			}
			s.setCount(o.after, after+1)
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
