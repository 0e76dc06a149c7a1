package sources

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"

	"github.com/jackc/pglogrepl"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// CollectionReader reads the collections a reader feeds, as the
// sink has applied them: every unit the sink has acknowledged (Emit
// returned) is visible, no later one is. The reader keeps no copy of the
// tables: an update or delete that carries only the old row's key
// (REPLICA IDENTITY DEFAULT or USING INDEX) finds the row to retract here,
// as do unchanged TOASTed values and TRUNCATE. Implementations must be
// safe for use by the reader's goroutine while the sink applies units.
type CollectionReader interface {
	// Rows calls fn with each row of collection id under key and its
	// multiplicity. For a collection with a key, key is its key columns
	// packed canonically (repr.Packer.PushKey, in key column order);
	// without one, key is the whole row.
	Rows(id CollectionID, key repr.Row, fn func(row repr.Row, d repr.Diff)) error
	// Scan calls fn with every row of collection id and its multiplicity
	// until fn returns an error, which Scan returns.
	Scan(id CollectionID, fn func(row repr.Row, d repr.Diff) error) error
	// KeyColumns returns the columns collection id is keyed by for Rows
	// (nil: the whole row), and false when it cannot be read here.
	KeyColumns(id CollectionID) ([]int, bool)
}

// pgPending is what the changes of one table resolved since the sink last
// acknowledged a unit amount to: the changes of the complete units
// waiting to be emitted (pgStream.ready) and of the transaction being
// resolved, its chunks emitted so far included (the sink stages those
// until the transaction's last unit). A change is resolved against these
// first and then against the collection as applied (CollectionReader), so
// the reader holds only what is in flight, never the table. Every entry
// carries the sequence number of the transaction that made it: once the
// units up to a sequence number are acknowledged, their entries go
// (prune).
type pgPending struct {
	rows   map[string]pendingRow   // keyed tables: canonical key -> the key's row (nil: none)
	counts map[string]pendingCount // tables without a key: row -> its multiplicity
	// truncated is the sequence number of the last transaction that
	// truncated the table while it is pending (0: none): the rows the
	// collection holds as applied are then all gone.
	truncated uint64
}

type pendingRow struct {
	row repr.Row
	seq uint64
}

type pendingCount struct {
	n   int64
	seq uint64
}

func (p *pgPending) reset() {
	p.rows, p.counts, p.truncated = nil, nil, 0
}

// prune drops what the transactions up to seq changed: the sink has
// applied their units.
func (p *pgPending) prune(seq uint64) {
	for k, e := range p.rows {
		if e.seq <= seq {
			delete(p.rows, k)
		}
	}
	for k, e := range p.counts {
		if e.seq <= seq {
			delete(p.counts, k)
		}
	}
	if p.truncated <= seq {
		p.truncated = 0
	}
}

func (p *pgPending) setRow(key string, row repr.Row, seq uint64) {
	if p.rows == nil {
		p.rows = map[string]pendingRow{}
	}
	p.rows[key] = pendingRow{row: row, seq: seq}
}

// setCount records row's multiplicity. Counts are absolute, not
// changes: an entry outlives the units of the earlier transactions that
// touched the row (prune keeps it for its last one).
func (p *pgPending) setCount(row repr.Row, n int64, seq uint64) {
	if p.counts == nil {
		p.counts = map[string]pendingCount{}
	}
	p.counts[string(row)] = pendingCount{n: n, seq: seq}
}

// keyOf packs the key columns of row canonically, as the collection's
// arrangement keys it.
func (pt *pgTable) keyOf(row repr.Row) string {
	pt.keyPacker.Reset()
	for _, c := range pt.t.KeyCols {
		pt.keyPacker.PushKey(row.Get(c))
	}
	return string(pt.keyPacker.Row())
}

// current returns the row of a keyed table under key as the reader has
// resolved it so far.
func (r *PGReader) current(pt *pgTable, key string) (repr.Row, bool, error) {
	if e, ok := pt.pend.rows[key]; ok {
		return e.row, e.row != nil, nil
	}
	if pt.pend.truncated != 0 {
		return nil, false, nil
	}
	cur, n, err := lookupRow(r.cfg.Collections, pt.t.ID, key)
	if err != nil {
		return nil, false, collectionErr{fmt.Errorf("sources: reading %s: %w", pt.t.QualifiedName(), err)}
	}
	switch {
	case n == 0:
		return nil, false, nil
	case n != 1:
		return nil, false, pgcode.New(pgcode.DataException, "table %s holds %d rows under key %s", pt.t.QualifiedName(), n, keyText(key))
	}
	return cur, true, nil
}

// lookupRow reads collection id's rows under a key: their total
// multiplicity and a copy of one present (a lookup must not keep the
// collection's memory alive).
func lookupRow(r CollectionReader, id CollectionID, key string) (repr.Row, repr.Diff, error) {
	var cur repr.Row
	var n repr.Diff
	err := r.Rows(id, repr.Row(key), func(row repr.Row, d repr.Diff) {
		n += d
		if d > 0 {
			cur = row
		}
	})
	if err != nil || cur == nil {
		return nil, n, err
	}
	return cur.Clone(), n, nil
}

// count returns the multiplicity of row in a table without a key as the
// reader has resolved it so far.
func (r *PGReader) count(pt *pgTable, row repr.Row) (int64, error) {
	if e, ok := pt.pend.counts[string(row)]; ok {
		return e.n, nil
	}
	if pt.pend.truncated != 0 {
		return 0, nil
	}
	var n repr.Diff
	if err := r.cfg.Collections.Rows(pt.t.ID, row, func(_ repr.Row, d repr.Diff) { n += d }); err != nil {
		return 0, collectionErr{fmt.Errorf("sources: reading %s: %w", pt.t.QualifiedName(), err)}
	}
	return int64(n), nil
}

// collectionErr is a failure to read a collection (CollectionReader): the
// reader's trouble, not the table's.
type collectionErr struct{ err error }

func (e collectionErr) Error() string { return e.err.Error() }
func (e collectionErr) Unwrap() error { return e.err }

// change is one decoded insert, update or delete, not yet resolved.
type pgChange struct {
	kind opKind
	// oldT is the old tuple: the key columns ('K') or the whole old row
	// ('O'); nil when the message has none.
	oldT, newT *pglogrepl.TupleData
	oldFull    bool
}

// resolve turns one change into updates of its table, appended to out:
// against the table's pending changes and the collection as applied. A
// keyed table's old row is the one it holds under the key, whatever the
// message carries beside the key; a table without a key needs the whole
// old row (REPLICA IDENTITY FULL). On error out is unchanged and the
// pending changes too.
func (s *pgStream) resolve(pt *pgTable, c pgChange, seq uint64, out []Update) ([]Update, error) {
	r := s.r
	var before repr.Row
	var err error
	if c.oldT != nil {
		if before, err = s.tuple(pt, c.oldT, nil); err != nil {
			return out, err
		}
	}
	if pt.t.KeyCols == nil {
		return s.resolveKeyless(pt, c, before, seq, out)
	}
	var key string
	var cur, after repr.Row
	var found bool
	switch {
	case before != nil:
		key = pt.keyOf(before)
		if cur, found, err = r.current(pt, key); err != nil {
			return out, err
		}
		if c.newT != nil {
			if after, err = s.tuple(pt, c.newT, cur); err != nil {
				return out, err
			}
		}
	case c.newT != nil:
		// The new tuple names the key; its unchanged TOASTed values (an
		// update) are the current row's.
		if after, err = s.tuple(pt, c.newT, nil); err != nil {
			return out, err
		}
		key = pt.keyOf(after)
		if cur, found, err = r.current(pt, key); err != nil {
			return out, err
		}
		if hasUnchanged(c.newT) {
			if after, err = s.tuple(pt, c.newT, cur); err != nil {
				return out, err
			}
		}
	default:
		return out, nil
	}
	switch c.kind {
	case opInsert:
		if found {
			if repr.SameBytes(cur, after) {
				return out, nil // re-delivered unchanged
			}
			out = append(out, Update{Row: cur, Diff: -1})
		}
		if s.pending(pt, key) {
			pt.pend.setRow(key, after, seq)
		}
		return append(out, Update{Row: after, Diff: 1}), nil
	case opDelete:
		if !found {
			return out, pgcode.New(pgcode.DataException, "delete of a row that is not there (key %s)", keyText(key))
		}
		if s.pending(pt, key) {
			pt.pend.setRow(key, nil, seq)
		}
		return append(out, Update{Row: cur, Diff: -1}), nil
	case opUpdate:
		if !found {
			return out, pgcode.New(pgcode.DataException, "update of a row that is not there (key %s)", keyText(key))
		}
		if after == nil {
			return out, pgcode.New(pgcode.DataException, "update without an after image")
		}
		newKey := pt.keyOf(after)
		if newKey != key {
			// A primary-key change carried as one update.
			other, exists, err := r.current(pt, newKey)
			if err != nil {
				return out, err
			}
			if exists {
				return out, pgcode.New(pgcode.UniqueViolation, "update moves key %s onto existing row %s", keyText(key), rowText(other))
			}
			if s.pending(pt, key) {
				pt.pend.setRow(key, nil, seq)
			}
		}
		if s.pending(pt, newKey) {
			pt.pend.setRow(newKey, after, seq)
		}
		out = append(out, Update{Row: cur, Diff: -1})
		return append(out, Update{Row: after, Diff: 1}), nil
	}
	return out, nil
}

func (s *pgStream) resolveKeyless(pt *pgTable, c pgChange, before repr.Row, seq uint64, out []Update) ([]Update, error) {
	var after repr.Row
	var err error
	if c.newT != nil {
		if after, err = s.tuple(pt, c.newT, before); err != nil {
			return out, err
		}
	}
	// add counts a change of row's multiplicity, when it must be pending.
	add := func(row repr.Row, d int64) error {
		if !s.pending(pt, string(row)) {
			return nil
		}
		n, err := s.r.count(pt, row)
		if err != nil {
			return err
		}
		pt.pend.setCount(row, n+d, seq)
		return nil
	}
	if c.kind == opInsert {
		if after == nil {
			return out, nil
		}
		if err := add(after, 1); err != nil {
			return out, err
		}
		return append(out, Update{Row: after, Diff: 1}), nil
	}
	if before == nil || !c.oldFull {
		return out, pgcode.New(pgcode.FeatureNotSupported,
			"%s without the whole old row on a table with no primary key", map[opKind]string{opDelete: "delete", opUpdate: "update"}[c.kind]).
			WithHint("Declare a PRIMARY KEY, or set REPLICA IDENTITY FULL upstream.")
	}
	n, err := s.r.count(pt, before)
	if err != nil {
		return out, err
	}
	if n <= 0 {
		return out, pgcode.New(pgcode.DataException, "retraction of a row that is not there: %s (negative multiplicity)", rowText(before))
	}
	if c.kind == opUpdate && after != nil {
		// after first: when it is before, the count read is before's.
		if err := add(after, 1); err != nil {
			return out, err
		}
		if err := add(before, -1); err != nil {
			return out, err
		}
		return append(out, Update{Row: before, Diff: -1}, Update{Row: after, Diff: 1}), nil
	}
	if err := add(before, -1); err != nil {
		return out, err
	}
	return append(out, Update{Row: before, Diff: -1}), nil
}

// truncate retracts every row of the truncated tables, emitting a chunk
// whenever the retractions pass ChunkBytes: the rows come from the
// collection as applied (read as they are retracted, never collected)
// and from the pending changes.
func (s *pgStream) truncate(ctx context.Context, ch *pgChunker, rels []uint32, seq uint64) error {
	// The units waiting go first, so that the collection as applied is
	// what a scan reads while chunks are emitted (emitting a chunk would
	// otherwise apply them in the middle of the scan).
	if err := s.flush(ctx); err != nil {
		return err
	}
	for _, id := range rels {
		pt := s.r.byRel[id]
		if pt == nil || pt.err != nil {
			continue
		}
		tid := pt.t.ID
		retract := func(row repr.Row, n repr.Diff) error {
			if n <= 0 {
				return nil
			}
			ch.u.Updates[tid] = append(ch.u.Updates[tid], Update{Row: row, Diff: -n})
			ch.bytes += len(row) + updateOverhead
			return ch.maybeEmit(ctx)
		}
		p := &pt.pend
		if p.truncated == 0 {
			err := s.r.cfg.Collections.Scan(tid, func(row repr.Row, n repr.Diff) error {
				if pt.t.KeyCols != nil {
					if _, ok := p.rows[pt.keyOf(row)]; ok {
						return nil // pending: retracted below
					}
				} else if e, ok := p.counts[string(row)]; ok {
					n = repr.Diff(e.n)
					delete(p.counts, string(row))
				}
				return retract(row.Clone(), n)
			})
			if err != nil {
				return fmt.Errorf("sources: reading %s to truncate it: %w", pt.t.QualifiedName(), err)
			}
		}
		for _, e := range p.rows {
			if e.row != nil {
				if err := retract(e.row, 1); err != nil {
					return err
				}
			}
		}
		for row, e := range p.counts {
			if err := retract(repr.Row(row), repr.Diff(e.n)); err != nil {
				return err
			}
		}
		p.rows, p.counts, p.truncated = nil, nil, seq
	}
	return nil
}

// A large transaction (one spilled to disk) is read twice: first to
// count how often it changes each key (each row, in a table without a
// key), then to resolve it. Its window of pending changes is the
// transaction alone (the units before it are flushed first, its last unit
// right after it), so a key it changes once needs no pending entry: no
// later change in the window asks for it. A bulk insert then keeps nothing
// per row beside its chunks. A transaction with a TRUNCATE is resolved
// in one pass (the truncate reads the pending rows).

// countKeys returns the hashes (keyHash) of the keys t changes, each
// with how many of its changes touch it (2 meaning two or more), or nil
// when t truncates a table.
func (s *pgStream) countKeys(t *pgTxn) (map[uint64]uint8, error) {
	counts := map[uint64]uint8{}
	err := t.each(func(w []byte) error {
		m, err := parsePGOutput(w, t.streamed)
		if err != nil {
			return fmt.Errorf("sources: decoding a change: %w", err)
		}
		var relID, xid uint32
		var tuples [2]*pglogrepl.TupleData
		switch m := m.(type) {
		case *pglogrepl.InsertMessageV2:
			xid, relID, tuples[1] = m.Xid, m.RelationID, m.Tuple
		case *pglogrepl.UpdateMessageV2:
			xid, relID, tuples[0], tuples[1] = m.Xid, m.RelationID, m.OldTuple, m.NewTuple
		case *pglogrepl.DeleteMessageV2:
			xid, relID, tuples[0] = m.Xid, m.RelationID, m.OldTuple
		case *pglogrepl.TruncateMessageV2:
			if !t.aborted[m.Xid] {
				counts = nil
				return errStopEach
			}
			return nil
		default:
			return nil
		}
		pt := s.r.byRel[relID]
		if t.aborted[xid] || pt == nil || pt.err != nil {
			return nil
		}
		var seen [2]uint64
		for i, tup := range tuples {
			if tup == nil {
				continue
			}
			h, ok := s.tupleKeyHash(pt, tup)
			if !ok || (i == 1 && tuples[0] != nil && h == seen[0]) {
				continue
			}
			seen[i] = h
			if counts[h] < 2 {
				counts[h]++
			}
		}
		return nil
	})
	if errors.Is(err, errStopEach) {
		err = nil
	}
	return counts, err
}

var errStopEach = errors.New("stop")

// tupleKeyHash hashes the key a tuple names (its whole row, in a table
// without a key), as keyHash hashes it when the change is resolved.
func (s *pgStream) tupleKeyHash(pt *pgTable, tup *pglogrepl.TupleData) (uint64, bool) {
	if pt.t.KeyCols == nil {
		row, err := s.tuple(pt, tup, nil)
		if err != nil {
			return 0, false
		}
		return s.keyHash(pt, string(row)), true
	}
	if len(tup.Columns) != len(pt.t.Columns) {
		return 0, false
	}
	pt.keyPacker.Reset()
	for _, c := range pt.t.KeyCols {
		col := tup.Columns[c]
		switch col.DataType {
		case pglogrepl.TupleDataTypeText:
			d, err := parseText(string(col.Data), pt.t.Columns[c].Type)
			if err != nil {
				return 0, false
			}
			pt.keyPacker.PushKey(d)
		case pglogrepl.TupleDataTypeNull:
			pt.keyPacker.PushKey(repr.Null)
		default:
			return 0, false
		}
	}
	return s.keyHash(pt, string(pt.keyPacker.Row())), true
}

// keyHash hashes a table's key (or row) for countKeys.
func (s *pgStream) keyHash(pt *pgTable, key string) uint64 {
	return maphash.String(pgKeySeed, key) ^ uint64(pt.t.ID)*0x9e3779b97f4a7c15
}

var pgKeySeed = maphash.MakeSeed()

// pending reports whether a change of key (a row, without a key) must be
// kept pending: always, but in a two-pass transaction only when the
// transaction changes the key more than once.
func (s *pgStream) pending(pt *pgTable, key string) bool {
	return s.once == nil || s.once[s.keyHash(pt, key)] != 1
}
