package coord

import (
	"fmt"
	"slices"
	"strings"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/storage"
)

// Foreign keys.
//
// A FOREIGN KEY constraint links a child table's referencing columns to a
// PRIMARY KEY or UNIQUE key (refKey) of a parent table, which may be the
// child itself. Writes keep it as PostgreSQL's non-deferrable constraints
// do, at the end of each statement:
//
//   - A row the statement inserts into the child (or updates to) whose
//     referencing columns hold no NULL (MATCH SIMPLE; MATCH FULL refuses a
//     mix of NULLs and values) must find its key in the parent.
//   - A parent key the statement deletes or changes triggers the key's ON
//     DELETE / ON UPDATE action: CASCADE, SET NULL and SET DEFAULT change
//     the child rows that reference it (and their changes trigger their own
//     keys' actions, to a fixpoint); NO ACTION fails when the key is still
//     referenced at the end of the statement and no parent row has it
//     then; RESTRICT fails when it is still referenced, whether or not
//     another parent row took the key over.
//
// Every check is a lookup: a parent key in the parent's primary
// arrangement (primary key) or unique-key index (tableState.index), and
// the child rows that reference a key in the foreign key's own index of
// the child's committed rows by referenced key (refs), both adjusted by
// the updates not yet committed (fkView). A commit checks its
// transaction's net changes again against the contents at its commit, as
// a concurrent transaction may have changed a parent or child since.
//
// An update of a row is written as its retraction immediately followed by
// its insertion (UPDATE, ON CONFLICT DO UPDATE, and the actions here);
// that is how ON UPDATE actions tell an update from a delete.
type foreignKey struct {
	sql.ForeignKeyDef
	// seq numbers the key among its child's foreign keys in declaration
	// order; it stays when another is dropped (pg_constraint's OID).
	seq           int
	child, parent *item
	// keyCols are the referencing columns in the order of the parent's
	// key columns (parent.table.keys[RefKey]); keyConv their positions in
	// Columns (for ToRef, FromRef and Exact).
	keyCols []int
	keyConv []int
	// refs indexes the child's committed rows that reference a key (no
	// NULL in the referencing columns): packed parent key -> the rows
	// with their multiplicities.
	refs refIndex
}

// fkEval evaluates foreign keys' casts: they read no session state.
var fkEval = &expr.EvalCtx{}

// linkForeignKeyLocked links def, declared by child, to its parent table.
func (c *Coordinator) linkForeignKeyLocked(def sql.ForeignKeyDef, seq int, child, parent *item) *foreignKey {
	c.foreignKeys.Add(1)
	c.cat.version++
	fk := &foreignKey{ForeignKeyDef: def, seq: seq, child: child, parent: parent, refs: refIndex{}}
	for _, pc := range parent.table.keys[def.RefKey] {
		for i, rc := range def.RefColumns {
			if rc == pc {
				fk.keyCols = append(fk.keyCols, def.Columns[i])
				fk.keyConv = append(fk.keyConv, i)
			}
		}
	}
	child.table.fks = append(child.table.fks, fk)
	parent.table.referencedBy = append(parent.table.referencedBy, fk)
	return fk
}

// unlinkForeignKeyLocked removes fk from its child's and its parent's lists.
func (c *Coordinator) unlinkForeignKeyLocked(fk *foreignKey) {
	c.foreignKeys.Add(-1)
	c.cat.version++
	// DeleteFunc clears the freed slot: a filter in place would keep fk,
	// and through it a dropped child table's state, in the backing array.
	remove := func(l []*foreignKey) []*foreignKey {
		return slices.DeleteFunc(l, func(f *foreignKey) bool { return f == fk })
	}
	fk.child.table.fks = remove(fk.child.table.fks)
	fk.parent.table.referencedBy = remove(fk.parent.table.referencedBy)
}

// Outcomes of childKey.
const (
	fkKeyOK      = iota
	fkKeyNull    // a NULL in the referencing columns: not checked
	fkKeyMixed   // MATCH FULL with some, not all, columns NULL
	fkKeyMissing // a value no parent key can equal
)

// childKey returns the parent key a child row references (the parent's
// key packed canonically, as keyOf packs the parent's rows) and whether it
// references one.
func (fk *foreignKey) childKey(ds []repr.Datum) (string, int) {
	nulls := 0
	for _, c := range fk.Columns {
		if ds[c].IsNull() {
			nulls++
		}
	}
	switch {
	case nulls == len(fk.Columns) || (nulls > 0 && fk.Match != sql.FKMatchFull):
		return "", fkKeyNull
	case nulls > 0:
		return "", fkKeyMixed
	}
	var p repr.Packer
	for j, c := range fk.keyCols {
		d := ds[c]
		i := fk.keyConv[j]
		if fk.ToRef[i] != nil {
			up, err := expr.Eval(fkEval, fk.ToRef[i], []repr.Datum{d})
			if err != nil {
				return "", fkKeyMissing
			}
			if !fk.Exact[i] {
				// An inexact conversion (bigint to integer, numeric to
				// integer) must come back to the value itself.
				back, err := expr.Eval(fkEval, fk.FromRef[i], []repr.Datum{up})
				if err != nil || !sameKey(back, d) {
					return "", fkKeyMissing
				}
			}
			d = up
		}
		p.PushKey(d)
	}
	return string(p.Row()), fkKeyOK
}

func sameKey(a, b repr.Datum) bool {
	var pa, pb repr.Packer
	pa.PushKey(a)
	pb.PushKey(b)
	return string(pa.Row()) == string(pb.Row())
}

// parentKey returns a parent row's key for fk (ok false when NULL).
func (fk *foreignKey) parentKey(ds []repr.Datum) (string, bool) {
	return keyOf(ds, fk.parent.table.keys[fk.RefKey])
}

// applyChild records a committed change of a child row in refs.
func (fk *foreignKey) applyChild(ds []repr.Datum, row repr.Row, diff repr.Diff) {
	key, st := fk.childKey(ds)
	if st != fkKeyOK {
		return
	}
	addRef(fk.refs, key, row, diff)
}

// refIndex maps a packed parent key to the child rows that reference it.
type refIndex map[string]*refSet

// refSet is the child rows of one key with their multiplicities: a slice
// (most keys have few rows, and a map per key would cost several times
// the row), indexed by row once it passes refSetIndexMin rows (a key with
// many rows must not cost a scan of them per change).
type refSet struct {
	rows []childRef
	pos  map[string]int // row -> its index in rows; nil while small
}

// childRef is a child row and its multiplicity.
type childRef struct {
	row string
	n   repr.Diff
}

const refSetIndexMin = 16

func (rs *refSet) find(row repr.Row) int {
	if rs.pos != nil {
		if i, ok := rs.pos[string(row)]; ok {
			return i
		}
		return -1
	}
	for i := range rs.rows {
		if rs.rows[i].row == string(row) {
			return i
		}
	}
	return -1
}

// addRef adds diff to row's multiplicity under key, dropping zeros.
func addRef(refs refIndex, key string, row repr.Row, diff repr.Diff) {
	rs := refs[key]
	if rs == nil {
		rs = &refSet{}
		refs[key] = rs
	}
	if i := rs.find(row); i >= 0 {
		if rs.rows[i].n += diff; rs.rows[i].n != 0 {
			return
		}
		last := len(rs.rows) - 1
		if rs.pos != nil {
			delete(rs.pos, rs.rows[i].row)
			if i != last {
				rs.pos[rs.rows[last].row] = i
			}
		}
		rs.rows[i] = rs.rows[last]
		rs.rows = rs.rows[:last]
		if last == 0 {
			delete(refs, key)
		}
		return
	}
	rs.rows = append(rs.rows, childRef{string(row), diff})
	switch {
	case rs.pos != nil:
		rs.pos[rs.rows[len(rs.rows)-1].row] = len(rs.rows) - 1
	case len(rs.rows) > refSetIndexMin:
		rs.pos = make(map[string]int, len(rs.rows))
		for i, r := range rs.rows {
			rs.pos[r.row] = i
		}
	}
}

// fkView is the contents foreign keys are checked against: the committed
// contents at at, plus pending updates (a transaction's earlier writes,
// the statement's so far, the writes accepted before it in a commit
// group). Its indexes of the pending updates are built per foreign key
// when first asked and kept up to date by add.
type fkView struct {
	c       *Coordinator
	at      repr.Timestamp
	pending map[plan.GlobalID][]storage.TableUpdate
	// parentKeys are, per foreign key, the pending changes of the parent's
	// key counts; childRefs the pending child rows by referenced key.
	parentKeys map[*foreignKey]map[string]repr.Diff
	childRefs  map[*foreignKey]refIndex
}

func (c *Coordinator) newFKView(pending []storage.TableUpdate) *fkView {
	v := &fkView{c: c, at: c.now, pending: map[plan.GlobalID][]storage.TableUpdate{},
		parentKeys: map[*foreignKey]map[string]repr.Diff{}, childRefs: map[*foreignKey]refIndex{}}
	for _, u := range pending {
		id := plan.GlobalID(u.Table)
		v.pending[id] = append(v.pending[id], u)
	}
	return v
}

// add makes ups pending.
func (v *fkView) add(ups []storage.TableUpdate) {
	for _, u := range ups {
		id := plan.GlobalID(u.Table)
		v.pending[id] = append(v.pending[id], u)
		var ds []repr.Datum
		for fk, m := range v.parentKeys {
			if fk.parent.ID == id {
				if ds == nil {
					ds = u.Row.Datums()
				}
				if k, ok := fk.parentKey(ds); ok {
					m[k] += u.Diff
				}
			}
		}
		for fk, m := range v.childRefs {
			if fk.child.ID == id {
				if ds == nil {
					ds = u.Row.Datums()
				}
				if k, st := fk.childKey(ds); st == fkKeyOK {
					addRef(m, k, u.Row, u.Diff)
				}
			}
		}
	}
}

// parentCount returns how many parent rows have key.
func (v *fkView) parentCount(fk *foreignKey, key string) (repr.Diff, error) {
	n, err := v.parentCounts(fk, []string{key})
	return n[key], err
}

// parentCounts returns how many parent rows have each of keys: the
// committed ones through one merge with the parent's primary arrangement
// when there are many (runtimeState.keyCounts), or its unique-key index.
func (v *fkView) parentCounts(fk *foreignKey, keys []string) (map[string]repr.Diff, error) {
	m, ok := v.parentKeys[fk]
	if !ok {
		m = map[string]repr.Diff{}
		for _, u := range v.pending[fk.parent.ID] {
			if k, ok := fk.parentKey(u.Row.Datums()); ok {
				m[k] += u.Diff
			}
		}
		v.parentKeys[fk] = m
	}
	pts := fk.parent.table
	var out map[string]repr.Diff
	if pts.index[fk.RefKey] == nil {
		var err error
		if out, err = fk.parent.rt.keyCounts(v.at, slices.Compact(slices.Sorted(slices.Values(keys)))); err != nil {
			return nil, err
		}
	} else {
		out = make(map[string]repr.Diff, len(keys))
		for _, k := range keys {
			if _, ok := pts.index[fk.RefKey][k]; ok {
				out[k] = 1
			}
		}
	}
	res := make(map[string]repr.Diff, len(keys))
	for _, k := range keys {
		res[k] = out[k] + m[k]
	}
	return res, nil
}

// childRows returns the child rows that reference key, with their
// multiplicities (positive).
func (v *fkView) childRows(fk *foreignKey, key string) map[string]repr.Diff {
	m, ok := v.childRefs[fk]
	if !ok {
		m = refIndex{}
		for _, u := range v.pending[fk.child.ID] {
			if k, st := fk.childKey(u.Row.Datums()); st == fkKeyOK {
				addRef(m, k, u.Row, u.Diff)
			}
		}
		v.childRefs[fk] = m
	}
	out := map[string]repr.Diff{}
	if rs := fk.refs[key]; rs != nil {
		for _, r := range rs.rows {
			out[r.row] += r.n
		}
	}
	if rs := m[key]; rs != nil {
		for _, r := range rs.rows {
			out[r.row] += r.n
		}
	}
	for r, n := range out {
		if n <= 0 {
			delete(out, r)
		}
	}
	return out
}

// fkDeferred is a parent key removed by a statement under NO ACTION or
// RESTRICT (or SET DEFAULT, whose default may be that key), checked at
// the statement's end.
type fkDeferred struct {
	fk       *foreignKey
	key      string
	restrict bool
}

// maxFKActions bounds the rounds of actions one statement may trigger
// (a round per batch of actions: a cascade down a chain of n rows takes
// n). Actions end by themselves (each changes rows the next no longer
// finds); the bound guards against a mistake in that.
const maxFKActions = 1 << 22

// hasForeignKeysLocked reports whether writes to the tables of ups
// involve a foreign key.
func (c *Coordinator) hasForeignKeysLocked(ups []storage.TableUpdate) bool {
	var last uint64
	for i, u := range ups {
		if i > 0 && u.Table == last {
			continue
		}
		last = u.Table
		if it := c.cat.items[plan.GlobalID(u.Table)]; it != nil && it.table != nil && (len(it.table.fks) > 0 || len(it.table.referencedBy) > 0) {
			return true
		}
	}
	return false
}

// foreignKeysLocked runs the foreign keys of a statement's updates ups:
// the actions their parent-key changes trigger, recursively, then the
// checks at the statement's end, against the committed contents plus
// prior (the transaction's earlier writes). It returns ups followed by the
// actions' updates. With inBlock false (a statement that commits at once)
// only RESTRICT's checks run here: the NO ACTION and reference checks are
// the commit's (checkCommitLocked), which makes them anyway.
func (c *Coordinator) foreignKeysLocked(ectx *expr.EvalCtx, prior, ups []storage.TableUpdate, inBlock bool) ([]storage.TableUpdate, error) {
	v := c.newFKView(prior)
	v.add(ups)
	all := ups[:len(ups):len(ups)] // appends copy: the caller's array stays as it was
	var deferred []fkDeferred
	queue := [][]storage.TableUpdate{ups}
	for round := 0; len(queue) > 0; round++ {
		if round > maxFKActions {
			return nil, pgcode.New(pgcode.ProgramLimitExceeded, "foreign key actions of one statement nested too deeply")
		}
		batch := queue[0]
		queue = queue[1:]
		for _, run := range tableRuns(batch) {
			it := c.cat.items[plan.GlobalID(run[0].Table)]
			if it == nil || it.table == nil {
				continue
			}
			for _, fk := range it.table.referencedBy {
				acts, defs, err := fk.actions(v, ectx, run)
				if err != nil {
					return nil, err
				}
				deferred = append(deferred, defs...)
				if len(acts) > 0 {
					v.add(acts)
					all = append(all, acts...)
					queue = append(queue, acts)
				}
			}
		}
	}
	// Parent-side checks first: PostgreSQL fires the triggers of the
	// statement's own rows before those its actions queued.
	for _, d := range deferred {
		if !d.restrict && !inBlock {
			continue
		}
		if !d.restrict {
			n, err := v.parentCount(d.fk, d.key)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				continue
			}
		}
		if len(v.childRows(d.fk, d.key)) > 0 {
			return nil, d.fk.stillReferenced(d.key)
		}
	}
	if inBlock {
		if err := c.checkReferencesLocked(v, all); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// tableRuns splits updates into runs of one table each.
func tableRuns(ups []storage.TableUpdate) [][]storage.TableUpdate {
	var out [][]storage.TableUpdate
	start := 0
	for i := 1; i <= len(ups); i++ {
		if i == len(ups) || ups[i].Table != ups[start].Table {
			out = append(out, ups[start:i])
			start = i
		}
	}
	return out
}

// actions returns the child updates of fk's CASCADE, SET NULL and SET
// DEFAULT actions for the parent-key changes in run (updates of the
// parent), and the NO ACTION and RESTRICT keys to check at the end.
func (fk *foreignKey) actions(v *fkView, ectx *expr.EvalCtx, run []storage.TableUpdate) ([]storage.TableUpdate, []fkDeferred, error) {
	var out []storage.TableUpdate
	var deferred []fkDeferred
	for i := 0; i < len(run); i++ {
		u := run[i]
		if u.Diff >= 0 {
			continue
		}
		oldDs := u.Row.Datums()
		oldKey, ok := fk.parentKey(oldDs)
		var newDs []repr.Datum
		if i+1 < len(run) && run[i+1].Diff > 0 {
			newDs = run[i+1].Row.Datums()
			i++
		}
		if !ok {
			continue
		}
		action := fk.OnDelete
		if newDs != nil {
			if newKey, ok := fk.parentKey(newDs); ok && newKey == oldKey {
				continue
			}
			action = fk.OnUpdate
		}
		switch action {
		case sql.FKNoAction, sql.FKRestrict:
			deferred = append(deferred, fkDeferred{fk: fk, key: oldKey, restrict: action == sql.FKRestrict})
			continue
		}
		if action == sql.FKSetDefault {
			// The default may be the removed key itself: rows set to it
			// still reference it, which PostgreSQL checks as RESTRICT.
			deferred = append(deferred, fkDeferred{fk: fk, key: oldKey, restrict: true})
		}
		rows := fk.sortedRows(v.childRows(fk, oldKey))
		for _, r := range rows {
			id := uint64(fk.child.ID)
			if action == sql.FKCascade && newDs == nil {
				out = append(out, storage.TableUpdate{Table: id, Row: r.row, Diff: -r.n})
				continue
			}
			ds := r.row.Datums()
			for j, c := range fk.Columns {
				switch action {
				case sql.FKCascade:
					d := newDs[fk.RefColumns[j]]
					if fk.FromRef[j] != nil {
						var err error
						if d, err = expr.Eval(ectx, fk.FromRef[j], []repr.Datum{d}); err != nil {
							return nil, nil, err
						}
					}
					ds[c] = d
				case sql.FKSetNull:
					ds[c] = repr.Null
				case sql.FKSetDefault:
					ds[c] = repr.Null
					if def := fk.child.table.defaults[c]; def != nil {
						d, err := expr.Eval(ectx, def, nil)
						if err != nil {
							return nil, nil, err
						}
						ds[c] = d
					}
				}
			}
			var p repr.Packer
			p.PushAll(ds)
			out = append(out, storage.TableUpdate{Table: id, Row: r.row, Diff: -r.n}, storage.TableUpdate{Table: id, Row: p.Clone(), Diff: r.n})
		}
	}
	return out, deferred, nil
}

type countedRow struct {
	row repr.Row
	n   repr.Diff
}

// sortedRows orders rows by their bytes, so that actions are
// deterministic.
func (fk *foreignKey) sortedRows(m map[string]repr.Diff) []countedRow {
	out := make([]countedRow, 0, len(m))
	for r, n := range m {
		out = append(out, countedRow{repr.Row(r), n})
	}
	slices.SortFunc(out, func(a, b countedRow) int { return strings.Compare(string(a.row), string(b.row)) })
	return out
}

// tableRow names a row of a table.
type tableRow struct {
	table uint64
	row   string
}

// netRows sums ups by row, for the tables keep reports.
func (c *Coordinator) netRows(ups []storage.TableUpdate, keep func(*tableState) bool) map[tableRow]repr.Diff {
	net := map[tableRow]repr.Diff{}
	for _, u := range ups {
		it := c.cat.items[plan.GlobalID(u.Table)]
		if it != nil && it.table != nil && keep(it.table) {
			net[tableRow{u.Table, string(u.Row)}] += u.Diff
		}
	}
	return net
}

// checkReferencesLocked checks that every child row that ups insert on
// net references a parent key present in v. The parent keys of each
// foreign key are looked up together (one merge when they are many).
func (c *Coordinator) checkReferencesLocked(v *fkView, ups []storage.TableUpdate) error {
	// Insertions alone (INSERT, COPY) need no net sums: each row is
	// checked as it comes.
	var net map[tableRow]repr.Diff
	if slices.ContainsFunc(ups, func(u storage.TableUpdate) bool { return u.Diff < 0 }) {
		net = c.netRows(ups, func(ts *tableState) bool { return len(ts.fks) > 0 })
	}
	type reference struct {
		fk  *foreignKey
		key string
		ds  []repr.Datum
	}
	var refs []reference
	keys := map[*foreignKey][]string{}
	for _, u := range ups {
		ts := c.cat.items[plan.GlobalID(u.Table)].table
		if ts == nil || len(ts.fks) == 0 {
			continue
		}
		if net != nil {
			tr := tableRow{u.Table, string(u.Row)}
			if net[tr] <= 0 {
				continue
			}
			delete(net, tr) // each row once
		}
		ds := u.Row.Datums()
		for _, fk := range ts.fks {
			key, st := fk.childKey(ds)
			switch st {
			case fkKeyNull:
				continue
			case fkKeyMixed:
				return pgcode.New(pgcode.ForeignKeyViolation, "insert or update on table %q violates foreign key constraint %q", fk.child.Name.Item, fk.Name).
					WithDetail("MATCH FULL does not allow mixing of null and nonnull key values.")
			case fkKeyMissing:
				return fk.notPresent(ds)
			}
			refs = append(refs, reference{fk, key, ds})
			keys[fk] = append(keys[fk], key)
		}
	}
	counts := map[*foreignKey]map[string]repr.Diff{}
	for fk, ks := range keys {
		n, err := v.parentCounts(fk, ks)
		if err != nil {
			return err
		}
		counts[fk] = n
	}
	for _, r := range refs {
		if counts[r.fk][r.key] <= 0 {
			return r.fk.notPresent(r.ds)
		}
	}
	return nil
}

// notPresent is the 23503 error of a child row (datums ds) whose key is
// not in the parent.
func (fk *foreignKey) notPresent(ds []repr.Datum) error {
	var vals []string
	for _, c := range fk.Columns {
		vals = append(vals, ds[c].Text())
	}
	return pgcode.New(pgcode.ForeignKeyViolation, "insert or update on table %q violates foreign key constraint %q", fk.child.Name.Item, fk.Name).
		WithDetail("Key (%s)=(%s) is not present in table %q.", fk.columnNames(fk.child, fk.Columns), strings.Join(vals, ", "), fk.parent.Name.Item)
}

// checkCommitLocked checks, at a transaction's commit, the foreign keys
// of its writes against the contents then (committed, plus accepted: the
// writes accepted before it in its commit group): every parent key it
// removes on net is no longer referenced unless a parent row has it
// again (NO ACTION), then every child row it inserts on net references a
// present key. A statement outside a transaction block leaves these
// checks to its commit, which makes them under the lock that applies the
// write.
func (c *Coordinator) checkCommitLocked(writes []storage.TableUpdate, accepted map[uint64][]storage.TableUpdate) error {
	if !c.hasForeignKeysLocked(writes) {
		return nil
	}
	var prior []storage.TableUpdate
	for _, ups := range accepted {
		prior = append(prior, ups...)
	}
	v := c.newFKView(prior)
	v.add(writes)
	var net map[tableRow]repr.Diff
	if slices.ContainsFunc(writes, func(u storage.TableUpdate) bool { return u.Diff < 0 }) {
		net = c.netRows(writes, func(ts *tableState) bool { return len(ts.referencedBy) > 0 })
	}
	for _, u := range writes {
		tr := tableRow{u.Table, string(u.Row)}
		if net[tr] >= 0 {
			continue
		}
		delete(net, tr)
		ds := u.Row.Datums()
		for _, fk := range c.cat.items[plan.GlobalID(u.Table)].table.referencedBy {
			key, ok := fk.parentKey(ds)
			if !ok {
				continue
			}
			n, err := v.parentCount(fk, key)
			if err != nil {
				return err
			}
			if n <= 0 && len(v.childRows(fk, key)) > 0 {
				return fk.stillReferenced(key)
			}
		}
	}
	return c.checkReferencesLocked(v, writes)
}

// stillReferenced is the 23503 error of a parent key that child rows
// still reference.
func (fk *foreignKey) stillReferenced(key string) error {
	kd := repr.Row(key).Datums()
	// The key is packed in the parent key's order; print it in the order
	// of the referenced columns.
	vals := make([]string, len(fk.RefColumns))
	for j, i := range fk.keyConv {
		if j < len(kd) {
			vals[i] = kd[j].Text()
		}
	}
	return pgcode.New(pgcode.ForeignKeyViolation, "update or delete on table %q violates foreign key constraint %q on table %q", fk.parent.Name.Item, fk.Name, fk.child.Name.Item).
		WithDetail("Key (%s)=(%s) is still referenced from table %q.", fk.columnNames(fk.parent, fk.RefColumns), strings.Join(vals, ", "), fk.child.Name.Item)
}

func (fk *foreignKey) columnNames(it *item, cols []int) string {
	var names []string
	for _, c := range cols {
		names = append(names, it.Desc.Names[c])
	}
	return strings.Join(names, ", ")
}

// constraintDef is pg_get_constraintdef of the foreign key.
func (fk *foreignKey) constraintDef() string {
	var b strings.Builder
	quoted := func(it *item, cols []int) string {
		var names []string
		for _, c := range cols {
			names = append(names, quoteIdent(it.Desc.Names[c]))
		}
		return strings.Join(names, ", ")
	}
	ref := quoteIdent(fk.parent.Name.Item)
	if fk.parent.Name.Schema != "public" {
		ref = quoteIdent(fk.parent.Name.Schema) + "." + ref
	}
	fmt.Fprintf(&b, "FOREIGN KEY (%s) REFERENCES %s(%s)", quoted(fk.child, fk.Columns), ref, quoted(fk.parent, fk.RefColumns))
	if fk.Match == sql.FKMatchFull {
		b.WriteString(" MATCH FULL")
	}
	if fk.OnUpdate != sql.FKNoAction {
		b.WriteString(" ON UPDATE " + sql.FKActionText(fk.OnUpdate))
	}
	if fk.OnDelete != sql.FKNoAction {
		b.WriteString(" ON DELETE " + sql.FKActionText(fk.OnDelete))
	}
	return b.String()
}

// fkConstrOID is the pg_constraint OID of a table's foreign key seq.
func fkConstrOID(table uint32, seq int) uint32 { return 0x30000000 + table<<5 + uint32(seq) }
