package coord

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/storage"
)

// defaultCompactLogBytes is the log size past which the coordinator
// compacts the store (Config.CompactLogBytes).
const defaultCompactLogBytes = 64 << 20

// maybeCompactLocked compacts the durable log into a snapshot when it has
// grown past the threshold (after a failure, past twice the size that
// failed) and past Config.CompactSnapshotRatio times the live snapshot's
// size (so the snapshots of a collection that keeps growing are written
// at sizes that grow geometrically, and ingestion writes each byte a
// bounded number of times; after a large table is dropped the rule still
// measures against the snapshot that held it, until the next compaction),
// so that a restart loads the tables' contents rather than
// replaying their whole history. The tick loop calls it under the lock,
// between steps (not within the commit that grew the log, which would make
// that client wait): every durable table write and source update has then
// been applied to the inputs, so their contents as of now are exactly what
// the log holds (the store checks this against its digests and refuses a
// mismatch).
//
// Under the lock it only begins the compaction: it takes a read hold at
// now on every table's arrangement and has the store move its log to a
// new generation. A goroutine then writes the snapshot from the held
// arrangements, while ingestion, writes and steps go on (they append to
// the new log); at most one compaction runs at a time.
//
// Each table (and source collection) is written as its arrangement holds
// it: a primary-keyed table's primary arrangement by key, then row; an
// append-only source's append log in its order, unsorted; any other by
// row. The store writes them to Arrow IPC files that a restart
// loads straight back into the arrangements without sorting
// (loadTableLocked).
func (c *Coordinator) maybeCompactLocked() {
	if c.compacting {
		return
	}
	size := c.store.LogSize()
	if size < c.cfg.CompactLogBytes || size < c.compactedBytes {
		return
	}
	if r := c.cfg.CompactSnapshotRatio; r > 0 && float64(size) < r*float64(c.store.SnapshotSize()) {
		return
	}
	if c.store.PendingChunks() {
		// A source transaction is being applied in chunks, which live in
		// the current log only: compact after its commit.
		return
	}
	began := time.Now()
	var rows atomic.Int64
	tables, done := c.snapshotTablesLocked(&rows)
	comp, err := c.store.BeginCompact(c.catalogRecs, tables)
	if err != nil {
		done(false)
		c.compactFailedLocked(err, size)
		return
	}
	c.compacting = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := comp.Write()
		c.mu.Lock()
		defer c.mu.Unlock()
		done(err == nil)
		c.compacting = false
		switch {
		case err != nil && c.ctx.Err() != nil:
			c.log.Info("coord: compaction stopped by shutdown; the log since the last snapshot stays", "err", err)
		case err != nil:
			c.compactFailedLocked(err, size)
		default:
			c.compactedBytes = 0
			c.compactions++
			c.log.Info("coord: compacted the log into a snapshot", "log-bytes", size, "rows", rows.Load(),
				"took", time.Since(began).Round(time.Millisecond))
		}
	}()
}

// compactFailedLocked records a failed compaction of a log of size bytes.
func (c *Coordinator) compactFailedLocked(err error, size int64) {
	c.log.Error("coord: compacting the log failed; it keeps growing", "err", err, "log-bytes", size)
	// Do not try again at every step.
	c.compactedBytes = 2 * size
	c.compactFailures++
}

// compactCheckRows is how many rows a compaction's scan writes between
// checks of the coordinator's context (a shutdown stops the scan).
const compactCheckRows = 4096

// snapshotTablesLocked lists the tables (and source collections) a
// compaction writes, each holding its arrangement readable as of now and
// scanning it then (from the compaction's goroutine), counting the
// updates it emits in *rows. The caller calls done, under the lock, when
// the compaction has ended (ok: its snapshot is in place): it releases
// the holds, except that an append-only source's hold at now stays as its
// snapHold when the snapshot is in place.
//
// An append-only source whose live snapshot this process wrote (snapHold
// set) and whose log holds no retraction is written as an increment: only
// the rows appended after snapAt, the store keeping its earlier files, so
// that a source that only grows is not rewritten whole at each compaction.
func (c *Coordinator) snapshotTablesLocked(rows *atomic.Int64) (tables []storage.SnapshotTable, done func(ok bool)) {
	at := c.now
	var releases []func() // the holds on arrangements
	type logHold struct {
		rt *runtimeState
		r  *dataflow.OutputReader
	}
	var logHolds []logHold // the holds on append logs
	for id, it := range c.cat.items {
		rt := it.rt
		if rt == nil || rt.input == nil || it.system {
			continue // system relations are derived from the catalog
		}
		if g := it.sourceGroup(); g != nil && g.gen != nil && !g.logged {
			continue // replayed from its checkpoint, not the log
		}
		st := storage.SnapshotTable{
			ID:        uint64(id),
			Keyed:     rt.primaryKey != nil,
			Unordered: !rt.ordered(),
			Metadata:  snapshotMetadata(it),
		}
		var scan func(fn func(key, row repr.Row, d repr.Diff) error) error
		if st.Unordered {
			// r becomes the source's snapHold if the snapshot is put
			// in place; the increment is read through the current one,
			// whose hold at after keeps the rows since as they came.
			r := rt.out.Reader(at)
			prev, after := rt.snapHold, rt.snapAt
			st.Increment = prev != nil && !r.Retracts()
			increment := st.Increment
			scan = func(fn func(key, row repr.Row, d repr.Diff) error) error {
				return scanRows(func(emit func(repr.Row, repr.Diff) bool) error {
					if increment {
						return prev.ScanAppended(after, at, emit)
					}
					return r.Scan(at, emit)
				}, fn)
			}
			logHolds = append(logHolds, logHold{rt, r})
		} else {
			var rel func()
			scan, rel = rt.holdArranged(at)
			releases = append(releases, rel)
		}
		st.Scan = func(emit func(key, row repr.Row, d repr.Diff) error) error {
			c.hook("compact-scan")
			var n int64
			defer func() { rows.Add(n) }()
			return scan(func(key, row repr.Row, d repr.Diff) error {
				if n++; n%compactCheckRows == 0 {
					if err := c.ctx.Err(); err != nil {
						return err
					}
				}
				return emit(key, row, d)
			})
		}
		tables = append(tables, st)
	}
	return tables, func(ok bool) {
		for _, rel := range releases {
			rel()
		}
		for _, h := range logHolds {
			if !ok {
				h.r.Release()
				continue
			}
			if h.rt.snapHold != nil {
				h.rt.snapHold.Release()
			}
			h.rt.snapHold, h.rt.snapAt = h.r, at
		}
	}
}

// Schema metadata the coordinator writes into a table's snapshot file, for
// readers of the file (and checked when loading it).
const (
	metaName       = "viewd.name"        // the qualified name
	metaColumns    = "viewd.columns"     // "(name type, ...)"
	metaKeyColumns = "viewd.key_columns" // primary key columns, e.g. "0" or "0,2"
	metaKeyFormat  = "viewd.key_format"  // the canonical key packing, keyFormat
)

// keyFormat names the canonical packing (repr.Packer.PushKey) of the keys
// a snapshot file holds. Files written before the entry existed hold
// format 1, in which a jsonb key was packed as its text ('[1.0]') and an
// array or record as its elements print (ARRAY[1.50]); format 2 reduces a
// jsonb's numbers ('[1]') and packs elements canonically (ARRAY[1.5]), so
// that equal values key equal; format 3 also packs an interval inside an
// array or record in its span form (ARRAY['24 hours'] as ARRAY['1 day']).
// Keys of other types pack alike in all three.
const keyFormat = "3"

// snapshotMetadata describes an item's rows for its snapshot file.
func snapshotMetadata(it *item) map[string]string {
	m := map[string]string{metaName: it.Name.String(), metaColumns: it.Desc.String()}
	if it.rt.primaryKey != nil {
		m[metaKeyColumns] = keyColumnsText(it.rt.primaryKey)
		m[metaKeyFormat] = keyFormat
	}
	return m
}

// keysRepacked reports whether the keys a file of key format format holds
// for item it may differ from the keys it packs now: the file predates
// the current format and a primary key column is jsonb, an array or a
// record.
func keysRepacked(it *item, format string) bool {
	if format == keyFormat {
		return false
	}
	for _, k := range it.rt.primaryKey {
		c, ok := k.(expr.Column)
		if !ok || c.Index >= len(it.Desc.Types) {
			return true
		}
		switch it.Desc.Types[c.Index].Type.Kind {
		case repr.KindJsonb, repr.KindArray, repr.KindRecord:
			return true
		}
	}
	return false
}

// keyColumnsText renders primary key columns as "0,2".
func keyColumnsText(pk []expr.Scalar) string {
	cols := make([]string, len(pk))
	for i, k := range pk {
		cols[i] = strconv.Itoa(k.(expr.Column).Index)
	}
	return strings.Join(cols, ",")
}

// loadSnapshotLocked loads a table's snapshot files (its parts, in
// order) into its arrangement (the primary arrangement, or the output of a
// table without a primary key or a source): a file holds the arrangement's
// updates in its order, so they go straight into its batches, and the
// table's next step takes them as its delta. Files not arranged as the
// table now is (which files written by this coordinator never are), or
// whose keys were packed by an older key format that packs them
// differently (keysRepacked: a jsonb or array key written before their
// keys were canonical), are fed through the input instead, to be arranged
// (and keyed anew) by the step. Rows also reach the table's unique-key
// indexes.
func (c *Coordinator) loadSnapshotLocked(it *item, snaps []*storage.TableSnapshot, t repr.Timestamp) error {
	rt := it.rt
	keyed := rt.primaryKey != nil
	var l *dataflow.Loader
	var first map[string]string // the first file's metadata
	for i, snap := range snaps {
		f, err := snap.Open()
		if err != nil {
			return err
		}
		meta := f.Metadata()
		if i == 0 {
			first = meta
			l = c.snapshotLoaderLocked(it, snaps, meta)
		} else if snap.Keyed != snaps[0].Keyed || snap.Unordered != snaps[0].Unordered ||
			meta[metaKeyColumns] != first[metaKeyColumns] || meta[metaKeyFormat] != first[metaKeyFormat] {
			return fmt.Errorf("snapshot file %s is not arranged as %s is", snap.Path(), snaps[0].Path())
		}
		err = f.Scan(func(key, row repr.Row, d repr.Diff) error {
			if it.table != nil {
				it.table.apply(row, d)
			}
			switch {
			case l == nil:
				return rt.input.Send(repr.Update{Row: row, Time: t, Diff: d})
			case keyed:
				l.Push(key, row, d)
			default:
				l.Push(row, nil, d)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if l == nil {
		return nil
	}
	_, err := l.Finish()
	return err
}

// snapshotLoaderLocked returns the loader that puts a table's snapshot
// files (the first of which has metadata meta) straight into its
// arrangement, sized for them all, or nil when they must go through its
// input (see loadSnapshotLocked).
func (c *Coordinator) snapshotLoaderLocked(it *item, snaps []*storage.TableSnapshot, meta map[string]string) *dataflow.Loader {
	rt := it.rt
	snap := snaps[0]
	keyColumns, keyFormat := meta[metaKeyColumns], meta[metaKeyFormat]
	var rows int
	var keyBytes, rowBytes int64
	for _, s := range snaps {
		rows += int(s.Rows)
		keyBytes += s.KeyBytes
		rowBytes += s.RowBytes
	}
	keyed := rt.primaryKey != nil
	switch {
	case keyed && snap.Keyed && keyColumns == keyColumnsText(rt.primaryKey) && keysRepacked(it, keyFormat):
		c.log.Info("coord: a snapshot file's keys predate the current key format; arranging its rows again",
			"table", it.Name.String(), "file", snap.Path(), "key-format", keyFormat)
	case keyed && snap.Keyed && keyColumns == keyColumnsText(rt.primaryKey):
		l := rt.arranged.Loader(it.Name.String())
		l.Reserve(rows, keyBytes, rowBytes)
		return l
	case !keyed && !snap.Keyed && (!snap.Unordered || !rt.ordered()):
		// An append log loads a file in any order; an arrangement a
		// sorted one (an unordered file is arranged by the step).
		l := rt.out.Loader(it.Name.String())
		l.Reserve(rows, rowBytes, 0)
		return l
	default:
		c.log.Warn("coord: a snapshot file is not arranged as its table is; arranging its rows again",
			"table", it.Name.String(), "file", snap.Path(), "key-columns", keyColumns)
	}
	return nil
}
