package sources

// A Debezium connector's initial snapshot is a run of read events (op
// "r", no transaction block) on each table's topic, the last one marked
// source.snapshot = "last". Released one poll at a time, a snapshot would
// become visible in pieces: a join of two tables would show orders
// without their customers. So snapshot reads are held at the heads of
// their partitions and released as one unit once the snapshot is over:
//
//   - its last record (snapshot "last") has been read, or a record that is
//     not a snapshot read has (the connector streams only after its
//     snapshot), and
//   - every partition has been read up to its high-water mark, so the
//     other tables' snapshot records, written before, are in too.
//
// A connector that marks no last record (or a source read from the middle
// of a snapshot) is covered by the reader: once it is caught up and no
// record has arrived for Config.SnapshotQuiet, it releases what it holds
// (ReleaseSnapshot). None of this needs the transaction metadata topic:
// snapshot reads belong to no transaction.

// noteSnapshot records what a data record says about the snapshot.
func (a *Assembler) noteSnapshot(r *rec) {
	if !a.holdsSnapshot() {
		r.d.snap = 0
		return
	}
	if r.d.snap == snapLast || (r.d.snap == 0 && !r.d.skip) {
		a.snapEnd = true
	}
}

// holdsSnapshot reports whether snapshot reads are held: for Debezium
// sources read with TRANSACTION METADATA, whose transactions are atomic
// (a source without it promises nothing across records).
func (a *Assembler) holdsSnapshot() bool {
	return a.envelope == EnvelopeDebezium && a.cfg.TxnTopic != ""
}

// SnapshotHeld returns the number of snapshot reads held back.
func (a *Assembler) SnapshotHeld() int {
	n := 0
	for _, k := range a.partList {
		for _, r := range a.parts[k].pending {
			if !r.done && r.d.snap != 0 {
				n++
			}
		}
	}
	return n
}

// caughtUp reports whether every partition has been read up to its
// high-water mark.
func (a *Assembler) caughtUp() bool {
	for _, k := range a.partList {
		if l := a.parts[k]; l.next < l.hwm {
			return false
		}
	}
	return true
}

// ReleaseSnapshot releases the held snapshot reads now, whether or not
// their end is known (the reader calls it when the upstream has been
// quiet); Release returns the unit.
func (a *Assembler) ReleaseSnapshot() { a.releaseSnapshot(true) }

// releaseSnapshot releases the snapshot reads at the heads of the
// partitions as one unit, once the snapshot is over (or force).
func (a *Assembler) releaseSnapshot(force bool) bool {
	if !a.holdsSnapshot() || (!force && (!a.snapEnd || !a.caughtUp())) {
		return false
	}
	var u *Unit
	for _, k := range a.partList {
		l := a.parts[k]
		for {
			l.trim()
			if len(l.pending) == 0 || l.pending[0].owner != nil || l.pending[0].d.snap == 0 {
				break
			}
			r := l.pending[0]
			if u == nil {
				a.flushBatch()
				u = &Unit{Updates: map[CollectionID][]Update{}, TxnID: "snapshot"}
			}
			a.applyRec(u, r)
			r.done, r.d = true, decoded{}
			u.Records++
		}
	}
	a.snapEnd = false
	if u == nil {
		return false
	}
	a.finish(u)
	return true
}
