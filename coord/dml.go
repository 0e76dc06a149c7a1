package coord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/storage"
	"github.com/viewd/viewd/wire"
)

// tableState is what writes to a table must check: its unique keys and
// NOT NULL columns. The table's rows are not kept here: the primary key
// (keys[0] when primary is set) is checked by lookups in the table's
// primary arrangement, a retraction by the row's multiplicity in the
// table's arrangement. Unique keys other than the primary key keep an
// index from key to row (index[i]; nil for the primary key).
type tableState struct {
	name    string
	names   []string
	keys    [][]int
	keyName []string
	index   []map[string]repr.Row
	notNull []bool
	// primary reports that keys[0] is the table's primary key, kept by
	// its primary arrangement.
	primary bool
	// defaults are the columns' DEFAULT expressions (nil: NULL).
	defaults []expr.Scalar
	// live is the table's row count: the sum of the diffs applied
	// (pg_stat_user_tables.n_live_tup).
	live int64
	// fks are the table's FOREIGN KEY constraints (it is their child);
	// referencedBy the foreign keys that reference one of its keys (a
	// self-referencing key is in both).
	fks          []*foreignKey
	referencedBy []*foreignKey
}

func newTableState(p *sql.CreateTablePlan) *tableState {
	ts := &tableState{name: p.Name.Item, names: p.Desc.Names, keys: p.Keys, primary: p.PrimaryKey != nil}
	for i, k := range p.Keys {
		if i == 0 && ts.primary {
			ts.index = append(ts.index, nil)
		} else {
			ts.index = append(ts.index, map[string]repr.Row{})
		}
		name := p.Name.Item + "_pkey"
		if p.PrimaryKey == nil || i > 0 {
			var cols []string
			for _, c := range k {
				cols = append(cols, p.Desc.Names[c])
			}
			name = p.Name.Item + "_" + strings.Join(cols, "_") + "_key"
		}
		ts.keyName = append(ts.keyName, name)
	}
	for _, t := range p.Desc.Types {
		ts.notNull = append(ts.notNull, !t.Nullable)
	}
	for _, col := range p.Columns {
		ts.defaults = append(ts.defaults, col.DefaultExpr)
	}
	return ts
}

// addUniqueKey adds a unique key (CREATE UNIQUE INDEX name): the table's
// contents as of at (read from rt) must already be unique on it.
func (ts *tableState) addUniqueKey(rt *runtimeState, at repr.Timestamp, cols []int, name string) error {
	index := map[string]repr.Row{}
	var dupErr error
	err := rt.scan(at, func(row repr.Row, n repr.Diff) bool {
		key, ok := keyOf(row.Datums(), cols)
		if !ok {
			return true
		}
		if _, dup := index[key]; dup || n > 1 {
			var names, vals []string
			kd := repr.Row(key).Datums()
			for j, c := range cols {
				names = append(names, ts.names[c])
				vals = append(vals, kd[j].Text())
			}
			dupErr = pgcode.New(pgcode.UniqueViolation, "could not create unique index %q", name).
				WithDetail("Key (%s)=(%s) is duplicated.", strings.Join(names, ", "), strings.Join(vals, ", "))
			return false
		}
		index[key] = row.Clone()
		return true
	})
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return err
	}
	ts.keys = append(ts.keys, append([]int(nil), cols...))
	ts.keyName = append(ts.keyName, name)
	ts.index = append(ts.index, index)
	return nil
}

// dropUniqueKey removes the unique key a dropped unique index enforced.
func (ts *tableState) dropUniqueKey(name string) {
	for i, n := range ts.keyName {
		if n == name {
			ts.keys = append(ts.keys[:i:i], ts.keys[i+1:]...)
			ts.keyName = append(ts.keyName[:i:i], ts.keyName[i+1:]...)
			ts.index = append(ts.index[:i:i], ts.index[i+1:]...)
			return
		}
	}
}

// keyOf packs row's key columns canonically (repr.Packer.PushKey: equal
// numerics of different display scales conflict); ok is false when one is
// NULL (such rows never conflict).
func keyOf(ds []repr.Datum, cols []int) (string, bool) {
	var p repr.Packer
	for _, c := range cols {
		if ds[c].IsNull() {
			return "", false
		}
		p.PushKey(ds[c])
	}
	return string(p.Row()), true
}

// keyBytes appends the packed key columns cols of row (datum offsets
// offs) to buf; ok is false when one is NULL (such rows never conflict).
// The bytes equal keyOf's (and the primary arrangement's keys): a packed
// row is its datums' encodings back to back, each appended in its
// canonical packing.
func keyBytes(row repr.Row, offs []int, cols []int, buf []byte) ([]byte, bool) {
	for _, c := range cols {
		if c+1 >= len(offs) || row.NullAt(offs[c]) {
			return buf, false
		}
		buf = repr.AppendCanonical(buf, row[offs[c]:offs[c+1]])
	}
	return buf, true
}

// apply records a committed change in the row count, in the indexes
// of the unique keys other than the primary key, and in the indexes of
// the rows that reference a parent key (foreignKey.refs).
func (ts *tableState) apply(row repr.Row, diff repr.Diff) {
	ts.live += int64(diff)
	var ds []repr.Datum
	if len(ts.fks) > 0 {
		ds = row.Datums()
		for _, fk := range ts.fks {
			fk.applyChild(ds, row, diff)
		}
	}
	for i, k := range ts.keys {
		if ts.index[i] == nil {
			continue
		}
		if ds == nil {
			ds = row.Datums()
		}
		key, ok := keyOf(ds, k)
		if !ok {
			continue
		}
		if diff > 0 {
			ts.index[i][key] = row.Clone()
		} else if old, ok := ts.index[i][key]; ok && string(old) == string(row) {
			delete(ts.index[i], key)
		}
	}
}

// check validates a transaction's updates to this table against its
// contents as of at (rt's arrangement, under the coordinator's lock): every
// retracted row is there (else a concurrent transaction changed it first:
// 40001), NOT NULL, and unique keys. Retractions apply first. Its cost is a
// lookup per changed row, independent of the table's size.
func (ts *tableState) check(rt *runtimeState, at repr.Timestamp, ups []storage.TableUpdate) error {
	// Rows retracted on net must be there (one merge for many rows).
	var net map[string]repr.Diff
	for _, u := range ups {
		if u.Diff < 0 {
			net = map[string]repr.Diff{}
			break
		}
	}
	if net != nil {
		for _, u := range ups {
			net[string(u.Row)] += u.Diff
		}
		var retracted []string
		for k, d := range net {
			if d < 0 {
				retracted = append(retracted, k)
			}
		}
		counts, err := rt.rowCounts(at, retracted)
		if err != nil {
			return err
		}
		for _, k := range retracted {
			if counts[k]+net[k] < 0 {
				return pgcode.New(pgcode.SerializationFailure, "could not serialize access due to concurrent update").
					WithDetail("Row %s of relation %q was changed by a concurrent transaction.", repr.Row(k), ts.name).
					WithHint("Retry the transaction.")
			}
		}
	}
	// One pass over the rows: NOT NULL, and each unique key's packed
	// bytes (copied from the row without decoding it). A large batch of
	// insertions checks its primary key by sorting the keys (bulk: one
	// slab, no map) and merging them with the arrangement.
	bulk := net == nil && len(ups) >= batchLookupMin && ts.primary
	var bulkKeys keySlab
	added := make([]map[string]int, len(ts.keys))
	removed := make([]map[string]int, len(ts.keys))
	for i := range ts.keys {
		if !(bulk && i == 0) {
			added[i] = make(map[string]int, len(ups))
		}
		removed[i] = map[string]int{}
	}
	var offs []int
	var kb []byte
	for _, u := range ups {
		var err error
		if offs, err = u.Row.Offsets(offs[:0]); err != nil {
			return pgcode.Wrap(err, pgcode.InternalError, "coord: malformed row")
		}
		if u.Diff > 0 {
			for i, nn := range ts.notNull {
				if nn && i+1 < len(offs) && u.Row.NullAt(offs[i]) {
					return pgcode.New(pgcode.NotNullViolation, "null value in column %q of relation %q violates not-null constraint", ts.names[i], ts.name).
						WithDetail("Failing row contains %s.", u.Row)
				}
			}
		}
		for i, k := range ts.keys {
			if bulk && i == 0 {
				// Primary key columns are NOT NULL (checked above).
				if u.Diff > 1 {
					return ts.duplicateKey(0, string(keyBytesOr(u.Row, offs, k)))
				}
				bulkKeys.add(u.Row, offs, k)
				continue
			}
			var ok bool
			if kb, ok = keyBytes(u.Row, offs, k, kb[:0]); !ok {
				continue
			}
			if u.Diff < 0 {
				removed[i][string(kb)] += int(-u.Diff)
			} else {
				added[i][string(kb)] += int(u.Diff)
			}
		}
	}
	if bulk {
		if err := ts.checkBulkKeys(rt, at, &bulkKeys); err != nil {
			return err
		}
	}
	for i := range ts.keys {
		if bulk && i == 0 {
			continue
		}
		added, removed := added[i], removed[i]
		var existingKeys map[string]repr.Diff
		if ts.index[i] == nil {
			keys := make([]string, 0, len(added))
			for key := range added {
				keys = append(keys, key)
			}
			var err error
			if existingKeys, err = rt.keyCounts(at, keys); err != nil {
				return err
			}
		}
		for key, n := range added {
			existing := 0
			if ts.index[i] == nil {
				existing = int(existingKeys[key])
			} else if _, ok := ts.index[i][key]; ok {
				existing = 1
			}
			if existing-removed[key]+n > 1 {
				return ts.duplicateKey(i, key)
			}
		}
	}
	return nil
}

// duplicateKey is the 23505 error of unique key i with packed value key.
func (ts *tableState) duplicateKey(i int, key string) error {
	var cols, vals []string
	kd := repr.Row(key).Datums()
	for j, c := range ts.keys[i] {
		cols = append(cols, ts.names[c])
		if j < len(kd) {
			vals = append(vals, kd[j].Text())
		}
	}
	return pgcode.New(pgcode.UniqueViolation, "duplicate key value violates unique constraint %q", ts.keyName[i]).
		WithDetail("Key (%s)=(%s) already exists.", strings.Join(cols, ", "), strings.Join(vals, ", "))
}

// keySlab holds packed keys back to back.
type keySlab struct {
	data []byte
	ends []int
}

func (s *keySlab) add(row repr.Row, offs []int, cols []int) {
	s.data, _ = keyBytes(row, offs, cols, s.data)
	s.ends = append(s.ends, len(s.data))
}

func (s *keySlab) key(i int) []byte {
	start := 0
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.data[start:s.ends[i]]
}

// keyBytesOr is keyBytes into a new slice, ignoring NULLs (for messages).
func keyBytesOr(row repr.Row, offs []int, cols []int) []byte {
	b, _ := keyBytes(row, offs, cols, nil)
	return b
}

// checkBulkKeys checks a batch of inserted primary keys: no two alike,
// none already in the table as of at. The keys are sorted once and
// merged with the primary arrangement through one cursor.
func (ts *tableState) checkBulkKeys(rt *runtimeState, at repr.Timestamp, s *keySlab) error {
	idx := make([]int32, len(s.ends))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return bytes.Compare(s.key(int(a)), s.key(int(b))) })
	for i := 1; i < len(idx); i++ {
		if bytes.Equal(s.key(int(idx[i-1])), s.key(int(idx[i]))) {
			return ts.duplicateKey(0, string(s.key(int(idx[i]))))
		}
	}
	cur, err := rt.indexHold.Cursor(at)
	if err != nil {
		return err
	}
	keys := make([]repr.Row, len(idx))
	for j, i := range idx {
		keys[j] = s.key(int(i))
	}
	counts := make([]repr.Diff, len(keys))
	cur.CountKeys(keys, counts)
	for j, n := range counts {
		if n > 0 {
			return ts.duplicateKey(0, string(keys[j]))
		}
	}
	return nil
}

// evalCtx returns the evaluation context of a statement.
func (s *session) evalCtx() *expr.EvalCtx {
	return &expr.EvalCtx{TimeZone: s.vars.must("TimeZone"), StmtTime: time.Now().UnixMicro(), LogicalNow: repr.Timestamp(s.c.nowA.Load())}
}

// readAll computes rel at the session's read timestamp.
func (s *session) readAll(ctx context.Context, rel plan.Rel) ([]repr.Row, error) {
	q := &sql.QueryPlan{Expr: rel, Finishing: sql.Finishing{Limit: -1, Project: identityCols(plan.Arity(rel))}}
	rows, err := s.selectRows(ctx, q, nil, false)
	if err != nil {
		return nil, err
	}
	return drain(ctx, rows)
}

func identityCols(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// constantRows evaluates an INSERT's rows when they are constants (VALUES
// lists of literals and expressions over them, defaults): constant folding
// alone computes them, with no optimiser, plan or read. ok is false when
// the rows read anything; the caller then reads them as a query.
func constantRows(rel plan.Rel) ([]repr.Row, bool, error) {
	folded, err := plan.FoldConstants{}.Transform(rel)
	if err != nil {
		return nil, false, nil
	}
	c, ok := folded.(plan.Constant)
	if !ok {
		return nil, false, nil
	}
	if c.Err != nil {
		return nil, true, c.Err
	}
	rows := make([]repr.Row, 0, len(c.Rows))
	for _, r := range c.Rows {
		if r.Diff < 0 {
			return nil, false, nil
		}
		for range r.Diff {
			rows = append(rows, r.Row)
		}
	}
	return rows, true, nil
}

// evalRows evaluates an INSERT's VALUES rows (sql.InsertPlan.Rows), one
// expression per column, into rows packed in one slab.
func (s *session) evalRows(exprs [][]expr.Scalar) ([]repr.Row, error) {
	ectx := s.evalCtx()
	rows := make([]repr.Row, 0, len(exprs))
	var slab []byte
	for _, es := range exprs {
		start := len(slab)
		for _, e := range es {
			var d repr.Datum
			if lit, ok := e.(expr.Literal); ok {
				d = lit.Value
			} else {
				var err error
				if d, err = expr.Eval(ectx, e, nil); err != nil {
					return nil, err
				}
			}
			slab = repr.AppendDatum(slab, d)
		}
		rows = append(rows, repr.Row(slab[start:len(slab):len(slab)]))
	}
	return rows, nil
}

// returning evaluates RETURNING expressions over rows.
func (s *session) returning(exprs []expr.Scalar, rows []repr.Row) ([]repr.Row, error) {
	ctx := s.evalCtx()
	out := make([]repr.Row, 0, len(rows))
	var p repr.Packer
	for _, r := range rows {
		ds := r.Datums()
		p.Reset()
		for _, e := range exprs {
			d, err := expr.Eval(ctx, e, ds)
			if err != nil {
				return nil, err
			}
			p.Push(d)
		}
		out = append(out, p.Clone())
	}
	return out, nil
}

func (s *session) insert(ctx context.Context, p *sql.InsertPlan) (wire.Result, error) {
	var rows []repr.Row
	var err error
	if p.Rows != nil {
		rows, err = s.evalRows(p.Rows)
	} else {
		var ok bool
		rows, ok, err = constantRows(p.Values)
		if !ok {
			rows, err = s.readAll(ctx, p.Values)
		}
	}
	if err != nil {
		return wire.Result{}, err
	}
	var ups []storage.TableUpdate
	var returned []repr.Row
	id := uint64(p.Table.ID)
	if p.OnConflict != nil {
		if returned, err = s.insertOnConflict(ctx, p, rows); err != nil {
			return wire.Result{}, err
		}
	} else {
		for _, r := range rows {
			ups = append(ups, storage.TableUpdate{Table: id, Row: r, Diff: 1})
		}
		returned = rows
		if err := s.write(ctx, p.Table, ups); err != nil {
			return wire.Result{}, err
		}
	}
	tag := fmt.Sprintf("INSERT 0 %d", len(returned))
	if p.Returning != nil {
		out, err := s.returning(p.Returning, returned)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Rows: &sliceRows{rows: out}, Tag: "INSERT 0"}, nil
	}
	return wire.Result{Tag: tag}, nil
}

// onConflictRetries bounds how often an INSERT ... ON CONFLICT outside a
// transaction block resolves its conflicts again after losing a race.
const onConflictRetries = 5

// insertOnConflict resolves and writes an INSERT ... ON CONFLICT. Its
// conflicts are resolved against the contents when it runs, and another
// session may commit a conflicting key before it commits: its commit then
// fails with 23505 although DO NOTHING or DO UPDATE would have handled
// that key. A write that fails leaves nothing behind (in a transaction
// block it is checked, not yet buffered), so the statement resolves again
// against the new contents and retries, as PostgreSQL, which waits for
// the other inserter, ends up doing; a 23505 that persists is a real
// violation (of another unique key). (In a block, a key committed by
// another session after the statement still fails the COMMIT.)
func (s *session) insertOnConflict(ctx context.Context, p *sql.InsertPlan, rows []repr.Row) ([]repr.Row, error) {
	for attempt := 0; ; attempt++ {
		ups, returned, err := s.onConflict(p, rows)
		if err != nil {
			return nil, err
		}
		s.c.hook("resolved")
		err = s.write(ctx, p.Table, ups)
		if err == nil {
			return returned, nil
		}
		if !isUniqueViolation(err) || attempt == onConflictRetries {
			return nil, err
		}
	}
}

func isUniqueViolation(err error) bool {
	var pe *pgcode.Error
	return errors.As(err, &pe) && pe.Code == pgcode.UniqueViolation
}

// onConflict resolves ON CONFLICT against the table's contents (through
// lookups: the primary arrangement for the primary key, the unique key's
// index otherwise) and the rows inserted before in the same statement.
func (s *session) onConflict(p *sql.InsertPlan, rows []repr.Row) ([]storage.TableUpdate, []repr.Row, error) {
	oc := p.OnConflict
	id := uint64(p.Table.ID)
	c := s.c
	c.mu.Lock()
	it := c.cat.items[p.Table.ID]
	if it == nil || it.table == nil {
		c.mu.Unlock()
		return nil, nil, pgcode.New(pgcode.UndefinedTable, "relation %q does not exist", p.Table.Name.Item)
	}
	ts := it.table
	ki := -1
	for i, k := range ts.keys {
		if sameCols(k, oc.Columns) {
			ki = i
		}
	}
	if ki < 0 {
		c.mu.Unlock()
		return nil, nil, pgcode.New(pgcode.InvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
	}
	// existing finds the committed row with a conflict key. The primary
	// arrangement is read through a hold at the current time, outside the
	// lock; a secondary key's index is read under the lock.
	at := c.now
	var existing func(key string) (repr.Row, bool, error)
	if ts.index[ki] == nil {
		hold := it.rt.arranged.Trace().Reader(at)
		defer hold.Release()
		cols := ts.keys[ki]
		existing = func(key string) (repr.Row, bool, error) {
			// The primary arrangement's key is the key columns in key
			// order; the conflict target may list them in another order.
			var pk repr.Packer
			kd := repr.Row(key).Datums()
			for _, col := range cols {
				for j, oc := range oc.Columns {
					if oc == col {
						pk.PushKey(kd[j])
					}
				}
			}
			var row repr.Row
			err := hold.Lookup(at, pk.Row(), func(v repr.Row, d repr.Diff) bool {
				if d > 0 {
					row = v.Clone()
					return false
				}
				return true
			})
			return row, row != nil, err
		}
		c.mu.Unlock()
	} else {
		defer c.mu.Unlock()
		index := ts.index[ki]
		existing = func(key string) (repr.Row, bool, error) {
			r, ok := index[key]
			return r, ok, nil
		}
	}
	ectx := s.evalCtx()
	var ups []storage.TableUpdate
	var returned []repr.Row
	// current holds the rows this statement inserted or updated, by key.
	current := map[string]repr.Row{}
	touched := map[string]bool{}
	for _, r := range rows {
		ds := r.Datums()
		key, ok := keyOf(ds, oc.Columns)
		var old repr.Row
		exists := false
		if ok {
			if old, exists = current[key]; !exists {
				var err error
				if old, exists, err = existing(key); err != nil {
					return nil, nil, err
				}
			}
		}
		if !ok || !exists {
			ups = append(ups, storage.TableUpdate{Table: id, Row: r, Diff: 1})
			returned = append(returned, r)
			if ok {
				current[key] = r
				touched[key] = true
			}
			continue
		}
		if oc.DoNothing {
			continue
		}
		if touched[key] {
			return nil, nil, pgcode.New(pgcode.CardinalityViolation, "ON CONFLICT DO UPDATE command cannot affect row a second time").
				WithHint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
		}
		both := append(old.Datums(), ds...)
		if oc.Where != nil {
			d, err := expr.Eval(ectx, oc.Where, both)
			if err != nil {
				return nil, nil, err
			}
			if d.IsNull() || !d.Bool() {
				continue
			}
		}
		var pk repr.Packer
		for _, e := range oc.Set {
			d, err := expr.Eval(ectx, e, both)
			if err != nil {
				return nil, nil, err
			}
			pk.Push(d)
		}
		nr := pk.Clone()
		ups = append(ups, storage.TableUpdate{Table: id, Row: old, Diff: -1}, storage.TableUpdate{Table: id, Row: nr, Diff: 1})
		returned = append(returned, nr)
		current[key] = nr
		touched[key] = true
	}
	return ups, returned, nil
}

func sameCols(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[int]bool{}
	for _, c := range a {
		set[c] = true
	}
	for _, c := range b {
		if !set[c] {
			return false
		}
	}
	return true
}

func (s *session) update(ctx context.Context, p *sql.UpdatePlan) (wire.Result, error) {
	rows, err := s.readAll(ctx, p.Selection)
	if err != nil {
		return wire.Result{}, err
	}
	arity := p.Table.Desc.Arity()
	id := uint64(p.Table.ID)
	var ups []storage.TableUpdate
	var news []repr.Row
	var pk repr.Packer
	for _, r := range rows {
		ds := r.Datums()
		if len(ds) != 2*arity {
			return wire.Result{}, pgcode.New(pgcode.InternalError, "coord: UPDATE selection has %d columns, want %d", len(ds), 2*arity)
		}
		pk.Reset()
		pk.PushAll(ds[:arity])
		old := pk.Clone()
		pk.Reset()
		pk.PushAll(ds[arity:])
		nr := pk.Clone()
		ups = append(ups, storage.TableUpdate{Table: id, Row: old, Diff: -1}, storage.TableUpdate{Table: id, Row: nr, Diff: 1})
		news = append(news, nr)
	}
	if err := s.write(ctx, p.Table, ups); err != nil {
		return wire.Result{}, err
	}
	if p.Returning != nil {
		out, err := s.returning(p.Returning, news)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Rows: &sliceRows{rows: out}, Tag: "UPDATE"}, nil
	}
	return wire.Result{Tag: fmt.Sprintf("UPDATE %d", len(rows))}, nil
}

func (s *session) delete(ctx context.Context, p *sql.DeletePlan) (wire.Result, error) {
	rows, err := s.readAll(ctx, p.Selection)
	if err != nil {
		return wire.Result{}, err
	}
	id := uint64(p.Table.ID)
	ups := make([]storage.TableUpdate, 0, len(rows))
	for _, r := range rows {
		ups = append(ups, storage.TableUpdate{Table: id, Row: r, Diff: -1})
	}
	if err := s.write(ctx, p.Table, ups); err != nil {
		return wire.Result{}, err
	}
	if p.Returning != nil {
		out, err := s.returning(p.Returning, rows)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Rows: &sliceRows{rows: out}, Tag: "DELETE"}, nil
	}
	return wire.Result{Tag: fmt.Sprintf("DELETE %d", len(rows))}, nil
}

// write buffers a statement's updates in the transaction; outside an
// explicit transaction block it commits them at once. The foreign keys
// the updates involve run first: their actions' updates join the
// statement's, and their checks fail the statement (foreignKeysLocked).
func (s *session) write(ctx context.Context, table *sql.CatalogItem, ups []storage.TableUpdate) error {
	if s.c.foreignKeys.Load() > 0 {
		s.c.mu.Lock()
		involved := s.c.hasForeignKeysLocked(ups)
		parent := false
		if it := s.c.cat.items[table.ID]; it != nil && it.table != nil {
			parent = len(it.table.referencedBy) > 0
		}
		s.c.mu.Unlock()
		if involved {
			// Keys and NOT NULL first: PostgreSQL checks them row by row,
			// before the foreign keys' triggers at the statement's end.
			// (Outside a block, a write to a table no key references has
			// only checks, which its commit makes in that order.)
			if s.txn.explicit || parent {
				if err := s.checkInTxn(table, ups); err != nil {
					return err
				}
			}
			s.c.mu.Lock()
			var err error
			ups, err = s.c.foreignKeysLocked(s.evalCtx(), s.txn.writes, ups, s.txn.explicit)
			s.c.mu.Unlock()
			if err != nil {
				return err
			}
		}
	}
	if s.txn.explicit {
		// Check constraints now, against the committed contents plus the
		// transaction's earlier writes, as PostgreSQL fails the statement.
		if err := s.checkInTxn(table, ups); err != nil {
			return err
		}
	}
	s.txn.writes = append(s.txn.writes, ups...)
	s.pinIfWriting()
	if !s.txn.explicit {
		return s.commit(ctx)
	}
	return nil
}

// checkInTxn checks the tables a statement of a transaction block writes
// (table, and those its foreign keys' actions change) against the
// committed contents plus the transaction's earlier writes.
func (s *session) checkInTxn(table *sql.CatalogItem, ups []storage.TableUpdate) error {
	seen := map[uint64]bool{}
	for _, run := range tableRuns(ups) {
		id := run[0].Table
		if seen[id] {
			continue
		}
		seen[id] = true
		var mine []storage.TableUpdate
		for _, w := range s.txn.writes {
			if w.Table == id {
				mine = append(mine, w)
			}
		}
		for _, u := range ups {
			if u.Table == id {
				mine = append(mine, u)
			}
		}
		s.c.mu.Lock()
		it := s.c.cat.items[plan.GlobalID(id)]
		var err error
		if it == nil || it.table == nil {
			err = pgcode.New(pgcode.UndefinedTable, "relation %q does not exist", table.Name.Item)
		} else {
			err = it.table.check(it.rt, s.c.now, mine)
		}
		s.c.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// commit makes the transaction's writes durable and visible at one
// timestamp, after checking constraints against the current contents.
func (s *session) commit(ctx context.Context) error {
	writes := s.txn.writes
	s.setTxn(txnState{})
	if len(writes) == 0 {
		return nil
	}
	return s.c.commitWrites(ctx, writes)
}

// commitReq is one transaction waiting to commit.
type commitReq struct {
	ctx    context.Context
	writes []storage.TableUpdate
	done   bool
	err    error
}

// commitWrites commits a transaction's writes: they are checked against
// the tables' current contents, made durable, and applied at one
// timestamp before it returns.
//
// Group commit: a transaction queues itself and takes the coordinator's
// lock. The first to get it (the leader) commits every queued transaction
// at once: each is checked against the contents plus the transactions
// accepted before it in the group, and all accepted writes share one
// durable log record (one fsync) and one step. Those that queued behind
// find their outcome when they get the lock. Concurrent writers are thus
// serialised in queue order at one timestamp, which is a valid serial
// order: none of them had been acknowledged.
func (c *Coordinator) commitWrites(ctx context.Context, writes []storage.TableUpdate) error {
	req := &commitReq{ctx: ctx, writes: writes}
	c.commitMu.Lock()
	c.commitQ = append(c.commitQ, req)
	c.commitMu.Unlock()
	c.hook("queued")
	c.mu.Lock()
	defer c.mu.Unlock()
	if !req.done {
		c.commitGroupLocked()
	}
	return req.err
}

// commitGroupLocked commits every queued transaction (see commitWrites).
func (c *Coordinator) commitGroupLocked() {
	c.commitMu.Lock()
	group := c.commitQ
	c.commitQ = nil
	c.commitMu.Unlock()
	accepted := map[uint64][]storage.TableUpdate{}
	var all []storage.TableUpdate
	var members []*commitReq
	for i, req := range group {
		req.done = true
		if req.err = c.checkTxnLocked(req, accepted); req.err != nil {
			continue
		}
		if i < len(group)-1 {
			// Later members of the group are checked against this one.
			for _, u := range req.writes {
				accepted[u.Table] = append(accepted[u.Table], u)
			}
		}
		if len(members) == 0 {
			all = req.writes
		} else {
			all = append(all[:len(all):len(all)], req.writes...)
		}
		members = append(members, req)
	}
	if len(all) == 0 {
		return
	}
	if _, err := c.advanceLocked(&tableWrite{updates: all}); err != nil {
		for _, req := range members {
			req.err = err
		}
		return
	}
	c.commits.Add(int64(len(members)))
	c.commitGroups.Add(1)
	if len(all) >= bulkUpdates {
		c.releaseMemorySoon()
	}
	for _, u := range all {
		if u.Diff < 0 {
			c.cat.items[plan.GlobalID(u.Table)].table.apply(u.Row, u.Diff)
		}
	}
	for _, u := range all {
		if u.Diff > 0 {
			c.cat.items[plan.GlobalID(u.Table)].table.apply(u.Row, u.Diff)
		}
	}
}

// checkTxnLocked checks one transaction of a commit group against the
// tables' contents plus the writes accepted before it in the group.
func (c *Coordinator) checkTxnLocked(req *commitReq, accepted map[uint64][]storage.TableUpdate) error {
	// A client that gave up before the write is durable leaves no trace;
	// from here on the commit completes whatever the client does.
	if err := req.ctx.Err(); err != nil {
		return err
	}
	byTable := map[uint64][]storage.TableUpdate{}
	var order []uint64
	if oneTable(req.writes) {
		// The common case (a COPY, a single-table statement): no copy.
		order = []uint64{req.writes[0].Table}
		byTable[order[0]] = req.writes
	} else {
		for _, u := range req.writes {
			if _, ok := byTable[u.Table]; !ok {
				order = append(order, u.Table)
			}
			byTable[u.Table] = append(byTable[u.Table], u)
		}
	}
	for _, id := range order {
		it := c.cat.items[plan.GlobalID(id)]
		if it == nil || it.table == nil {
			return pgcode.New(pgcode.UndefinedTable, "table with id %d was dropped during the transaction", id)
		}
		ups := byTable[id]
		if prior := accepted[id]; len(prior) > 0 {
			ups = append(append([]storage.TableUpdate(nil), prior...), ups...)
		}
		if err := it.table.check(it.rt, c.now, ups); err != nil {
			return err
		}
	}
	return c.checkCommitLocked(req.writes, accepted)
}

func (s *session) transaction(ctx context.Context, p *sql.TransactionPlan) (wire.Result, error) {
	switch p.Kind {
	case "begin":
		if s.txn.explicit {
			s.client.Notice(&pgcode.Error{Code: pgcode.ActiveSQLTransaction, Severity: pgcode.SeverityWarning, Message: "there is already a transaction in progress"})
			return wire.Result{Tag: "BEGIN"}, nil
		}
		s.setTxn(txnState{explicit: true})
		return wire.Result{Tag: "BEGIN"}, nil
	case "commit":
		if !s.txn.explicit {
			s.client.Notice(&pgcode.Error{Code: pgcode.NoActiveSQLTransaction, Severity: pgcode.SeverityWarning, Message: "there is no transaction in progress"})
			return wire.Result{Tag: "COMMIT"}, nil
		}
		if s.txn.failed {
			s.setTxn(txnState{})
			s.endTxnCursors(false)
			return wire.Result{Tag: "ROLLBACK"}, nil
		}
		err := s.commit(ctx)
		s.endTxnCursors(err == nil)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Tag: "COMMIT"}, nil
	case "rollback":
		if !s.txn.explicit {
			s.client.Notice(&pgcode.Error{Code: pgcode.NoActiveSQLTransaction, Severity: pgcode.SeverityWarning, Message: "there is no transaction in progress"})
		}
		s.setTxn(txnState{})
		s.endTxnCursors(false)
		return wire.Result{Tag: "ROLLBACK"}, nil
	case "set transaction":
		return wire.Result{Tag: "SET"}, nil
	}
	return wire.Result{}, pgcode.New(pgcode.FeatureNotSupported, "%s is not supported", p.Kind)
}

// oneTable reports whether every update is to one table.
func oneTable(ups []storage.TableUpdate) bool {
	for _, u := range ups {
		if u.Table != ups[0].Table {
			return false
		}
	}
	return len(ups) > 0
}
