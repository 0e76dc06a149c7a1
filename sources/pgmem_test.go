package sources

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/repr"
)

// memPG is a sink and the CollectionReader of what it applied, for
// PostgreSQL reader tests: it records every unit, applies a transaction's
// chunks with its last unit (a whole unit after staged chunks drops them,
// as the coordinator does), and notes the first impossible state it
// reaches: a negative multiplicity, or two rows under one key.
type memPG struct {
	tables map[CollectionID]PGTable
	rows   map[CollectionID]map[string]repr.Diff
	staged []Unit
	units  []Unit
	errs   []*SourceError
	bad    error
}

func newMemPG(tables []PGTable) *memPG {
	m := &memPG{tables: map[CollectionID]PGTable{}, rows: map[CollectionID]map[string]repr.Diff{}}
	for _, t := range tables {
		m.tables[t.ID] = t
		m.rows[t.ID] = map[string]repr.Diff{}
	}
	return m
}

func (m *memPG) Emit(_ context.Context, u Unit) error {
	m.units = append(m.units, u)
	if u.Chunk == 0 {
		m.staged = nil
	}
	if u.More {
		m.staged = append(m.staged, u)
		return nil
	}
	for _, x := range append(m.staged, u) {
		for id, ups := range x.Updates {
			for _, up := range ups {
				c := m.rows[id]
				if c == nil {
					c = map[string]repr.Diff{}
					m.rows[id] = c
				}
				c[string(up.Row)] += up.Diff
				if c[string(up.Row)] == 0 {
					delete(c, string(up.Row))
				}
			}
		}
	}
	m.staged = nil
	m.check()
	return nil
}

func (m *memPG) ReportError(e *SourceError) { m.errs = append(m.errs, e) }

func (m *memPG) check() {
	for id, c := range m.rows {
		keys := map[string]bool{}
		for row, n := range c {
			if n < 0 && m.bad == nil {
				m.bad = fmt.Errorf("collection %d: row %s has multiplicity %d", id, rowText(repr.Row(row)), n)
			}
			if t, ok := m.tables[id]; ok && t.KeyCols != nil {
				k := m.key(t, repr.Row(row))
				if (keys[k] || n > 1) && m.bad == nil {
					m.bad = fmt.Errorf("collection %d: two rows under key %s", id, keyText(k))
				}
				keys[k] = true
			}
		}
	}
}

func (m *memPG) key(t PGTable, row repr.Row) string {
	var p repr.Packer
	for _, c := range t.KeyCols {
		p.PushKey(row.Get(c))
	}
	return string(p.Row())
}

// Rows implements CollectionReader.
func (m *memPG) Rows(id CollectionID, key repr.Row, fn func(repr.Row, repr.Diff)) error {
	t, ok := m.tables[id]
	for row, n := range m.rows[id] {
		if (ok && t.KeyCols != nil && m.key(t, repr.Row(row)) == string(key)) || ((!ok || t.KeyCols == nil) && row == string(key)) {
			fn(repr.Row(row), n)
		}
	}
	return nil
}

// Scan implements CollectionReader.
func (m *memPG) Scan(id CollectionID, fn func(repr.Row, repr.Diff) error) error {
	for row, n := range m.rows[id] {
		if err := fn(repr.Row(row), n); err != nil {
			return err
		}
	}
	return nil
}

// KeyColumns implements CollectionReader.
func (m *memPG) KeyColumns(id CollectionID) ([]int, bool) {
	t, ok := m.tables[id]
	return t.KeyCols, ok
}
