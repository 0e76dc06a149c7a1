package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sources"
	"github.com/viewd/viewd/sources/loadgen"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/sql/parse"
	"github.com/viewd/viewd/storage"
)

// A source's collections are read by a sourceGroup: the load generator, or
// one Kafka reader for every source whose transactions must be assembled
// together (the data sources of one Debezium transaction metadata source;
// the Maxwell or CockroachDB sources of one connection). Each unit a group
// emits lands whole at one timestamp: its rows are persisted with the
// group's checkpoint (the binding of upstream positions to that
// timestamp), then fed to the sources' inputs. On restart the rows come
// back from storage and the group resumes from its checkpoint.
//
// A load generator's rows are not persisted, only its checkpoint (the
// first tick not yet emitted): its output is a function of its options
// and the tick, so on restart replay computes ticks [0, checkpoint) again
// (loadgen.Generator.Replay) and feeds them to the inputs for the first
// step, as table contents are, and the generator goes on from the
// checkpoint. The contents after a restart are exactly those before it,
// at one timestamp, and a generator running at a million events per
// second does not write 150 MB/s of rows to the log nor make the log's
// compaction rewrite its whole history every 64 MB. Generators whose rows
// a data directory already holds in its log (written before this) keep
// logging them (sourceGroup.logged).

// sourceState is a source item's ingestion state.
type sourceState struct {
	typ        string // "kafka", "load-generator", "subsource"
	group      *sourceGroup
	collection sources.CollectionID
	spec       *sources.SourceSpec
	// txSource is the transaction metadata source a Debezium source names.
	txSource plan.GlobalID
	// parent is a subsource's source.
	parent plan.GlobalID
	// appendOnly: the collection never retracts a row (a Kafka source
	// with ENVELOPE NONE, a load generator that only inserts), so the
	// optimiser plans min/max and TopK over it monotonic
	// (indexOracle.Monotonic).
	appendOnly bool
	// primaryKey, when set, arranges the collection by these columns, as
	// a table's primary arrangement: a PostgreSQL subsource's key, which
	// its reader looks rows up by (pgCollections) and reads use.
	primaryKey []int
}

// sourceGroup reads related sources together.
type sourceGroup struct {
	c   *Coordinator
	key string
	// id keys the group's durable binding.
	id      plan.GlobalID
	members []*item
	// Kafka
	brokers []string
	txTopic string
	reader  *sources.Reader
	// Load generator
	gen *loadgen.Generator
	// logged is set for a load generator whose rows are in the log (a
	// data directory written before generators were replayed instead).
	logged bool
	// PostgreSQL
	pg *pgGroup

	kafka      bool
	cancel     context.CancelFunc
	done       chan struct{}
	checkpoint *sources.Checkpoint
	started    bool
	// run numbers the group's ingestion runs; units of an earlier run
	// (before a member joined or left) are refused.
	run int
	// staged holds the members whose inputs hold staged chunks of the
	// transaction being received (sources.Unit.More), and chunked is set
	// once a chunk may be in the store's log: both until the
	// transaction's last unit is applied, or the run ends (the chunks
	// are then dropped: abortChunksLocked).
	staged  map[*item]bool
	chunked bool
	// appliedAt is the timestamp of the group's last unit applied to its
	// members' inputs: their arrangements hold it once their upper
	// passes it (pgCollections).
	appliedAt atomic.Uint64
}

// groupSink is the sources.Sink of one run of a group.
type groupSink struct {
	g   *sourceGroup
	run int
}

// pendingUnit is an upstream transaction waiting for the next tick.
type pendingUnit struct {
	group *sourceGroup
	run   int
	unit  sources.Unit
	done  chan error
}

// Emit implements sources.Sink: the unit is queued for the next step, and
// Emit returns once it is durable at its timestamp.
func (gs groupSink) Emit(ctx context.Context, u sources.Unit) error {
	return gs.EmitAll(ctx, []sources.Unit{u})
}

// EmitAll implements sources.BatchSink: the units are queued together (the
// next step applies each whole, at one timestamp), the clock is woken, and
// EmitAll returns once all are durable. A chunk (Unit.More) is staged at
// once (stageChunk); the units after it wait for it.
func (gs groupSink) EmitAll(ctx context.Context, us []sources.Unit) error {
	for len(us) > 0 {
		if us[0].More {
			if err := gs.stageChunk(ctx, us[0]); err != nil {
				return err
			}
			us = us[1:]
			continue
		}
		n := 1
		for n < len(us) && !us[n].More {
			n++
		}
		if err := gs.queue(ctx, us[:n]); err != nil {
			return err
		}
		us = us[n:]
	}
	return nil
}

// stageChunk makes a chunk of a large transaction durable as pending
// (storage.Store.AppendSourceChunk) and stages its updates in the
// members' inputs (dataflow.Input.Stage), where no step sees them: the
// transaction's last unit, applied by applyUnitsLocked, commits the
// chunks in the log (its source write binds the group) and in the
// inputs, at its timestamp. So the transaction is held once, by the
// inputs (consolidated as it grows), never whole by the reader or in one
// log record, and it is visible whole or not at all, across a crash too:
// Open drops chunks without a commit. The append runs under the
// coordinator's lock so that no abort (abortChunksLocked) can fall
// between a run's chunks.
func (gs groupSink) stageChunk(_ context.Context, u sources.Unit) error {
	g := gs.g
	c := g.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return pgcode.New(pgcode.AdminShutdown, "server shutting down")
	}
	if gs.run != g.run || g.cancel == nil {
		return pgcode.New(pgcode.ObjectNotInPrerequisiteState, "source was changed or dropped")
	}
	if u.Chunk == 0 {
		// The transaction starts (again): chunks staged by an attempt
		// the reader gave up on go.
		c.abortChunksLocked(g)
	}
	byColl := g.membersByCollection()
	var ups []storage.TableUpdate
	chunkBytes := 0
	u.Updates = u.All()
	for _, us := range u.Updates {
		for _, x := range us {
			chunkBytes += len(x.Row)
		}
	}
	for coll, us := range u.Updates {
		it := byColl[coll]
		if it == nil || it.rt == nil || it.rt.input == nil {
			continue
		}
		for _, x := range us {
			ups = append(ups, storage.TableUpdate{Table: uint64(it.ID), Row: x.Row, Diff: x.Diff})
		}
	}
	g.chunked = true
	if err := c.store.AppendSourceChunk(c.ctx, uint64(g.id), ups); err != nil {
		return fmt.Errorf("coord: persist a source transaction's chunk: %w", err)
	}
	if g.staged == nil {
		g.staged = map[*item]bool{}
	}
	for coll, us := range u.Updates {
		it := byColl[coll]
		if it == nil || it.rt == nil || it.rt.input == nil {
			continue
		}
		bytes := 0
		for _, x := range us {
			bytes += len(x.Row)
		}
		if u.Chunk == 0 {
			// The reader's estimate of the whole transaction, this
			// member's share of it: the staged queue stops doubling
			// there (an over-estimate reserves nothing by itself).
			it.rt.input.StageHint(int(float64(bytes) / float64(max(chunkBytes, 1)) * float64(u.SizeHint)))
		}
		it.rt.input.StageReserve(len(us), bytes)
		for _, x := range us {
			it.rt.input.Stage(x.Row, x.Diff)
		}
		g.staged[it] = true
	}
	c.log.Debug("coord: staged a source transaction chunk", "source", g.key, "txn", u.TxnID, "chunk", u.Chunk, "updates", len(ups))
	return nil
}

// membersByCollection maps the group's collections to their items.
func (g *sourceGroup) membersByCollection() map[sources.CollectionID]*item {
	byColl := make(map[sources.CollectionID]*item, len(g.members))
	for _, it := range g.members {
		byColl[it.source.collection] = it
	}
	return byColl
}

// abortChunksLocked drops the chunks of a transaction the group's run
// received but did not finish (the run ended: a member joined or left,
// the source was dropped): from the inputs, and from the log with an
// abort record, so that the next commit does not adopt them. The next
// run receives the transaction again from its start.
func (c *Coordinator) abortChunksLocked(g *sourceGroup) {
	for it := range g.staged {
		if it.rt != nil && it.rt.input != nil {
			it.rt.input.DiscardStaged()
		}
	}
	g.staged = nil
	if !g.chunked {
		return
	}
	g.chunked = false
	if err := c.store.AbortSourceChunks(c.ctx, uint64(g.id)); err != nil {
		c.log.Error("coord: dropping the chunks of an unfinished source transaction", "source", g.key, "err", err)
	}
}

// queue queues units for the next step and waits until they are durable.
func (gs groupSink) queue(ctx context.Context, us []sources.Unit) error {
	g := gs.g
	c := g.c
	pus := make([]*pendingUnit, len(us))
	for i, u := range us {
		pus[i] = &pendingUnit{group: g, run: gs.run, unit: u, done: make(chan error, 1)}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return pgcode.New(pgcode.AdminShutdown, "server shutting down")
	}
	c.pendingUnits = append(c.pendingUnits, pus...)
	c.mu.Unlock()
	c.wake()
	for _, pu := range pus {
		select {
		case err := <-pu.done:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ReportError implements sources.Sink: the collection's readers fail with
// the error from now on.
func (gs groupSink) ReportError(e *sources.SourceError) {
	g := gs.g
	c := g.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if gs.run != g.run {
		return
	}
	for _, it := range g.members {
		if it.source != nil && it.source.collection == e.Collection && it.rt != nil {
			it.rt.sourceErr = e.PgError()
			c.log.Warn("coord: source error", "source", it.Name.String(), "err", e)
		}
	}
}

// applyUnitsLocked feeds the pending source units at t, each whole at t,
// after persisting their rows and the groups' checkpoints.
func (c *Coordinator) applyUnitsLocked(ctx context.Context, t repr.Timestamp) error {
	units := c.pendingUnits
	c.pendingUnits = nil
	if len(units) == 0 {
		return nil
	}
	n := 0
	for _, pu := range units {
		if pu.group.gen == nil || pu.group.logged {
			n += pu.unit.Len()
		}
	}
	// The log record's updates, sized at once: growing a slice of
	// pointers copies it with write barriers.
	ups := make([]storage.TableUpdate, 0, n)
	last := map[*sourceGroup]*sources.Checkpoint{}
	type feed struct {
		it     *item
		us     []sources.Update
		packed *sources.PackedRows
	}
	var feeds []feed
	var live []*pendingUnit
	type size struct{ n, bytes int }
	sizes := map[*item]size{}
	seen := map[*sourceGroup]bool{}
	for _, pu := range units {
		if pu.run != pu.group.run || pu.group.cancel == nil {
			pu.done <- pgcode.New(pgcode.ObjectNotInPrerequisiteState, "source was changed or dropped")
			continue
		}
		if g := pu.group; !seen[g] {
			seen[g] = true
			if pu.unit.Chunk == 0 && (g.chunked || len(g.staged) > 0) {
				// The group's first unit here is not the last unit of
				// the staged chunks' transaction: the reader started
				// over, and sends them again. Dropped before the
				// record below, which would commit them.
				c.abortChunksLocked(g)
			}
			if pu.unit.Chunk > 0 && !g.chunked {
				// The last unit of a transaction whose chunks are not
				// here: applying it would apply part of it.
				pu.done <- pgcode.New(pgcode.InternalError, "the last part of a source transaction arrived without its first %d chunks", pu.unit.Chunk)
				continue
			}
		}
		byColl := pu.group.membersByCollection()
		logged := pu.group.gen == nil || pu.group.logged
		for coll, us := range pu.unit.Updates {
			it := byColl[coll]
			if it == nil || it.rt == nil || it.rt.input == nil {
				continue
			}
			if logged {
				for _, u := range us {
					ups = append(ups, storage.TableUpdate{Table: uint64(it.ID), Row: u.Row, Diff: u.Diff})
				}
			}
			feeds = append(feeds, feed{it: it, us: us})
			sz := sizes[it]
			sz.n += len(us)
			for _, u := range us {
				sz.bytes += len(u.Row)
			}
			sizes[it] = sz
		}
		for coll, p := range pu.unit.Packed {
			it := byColl[coll]
			if it == nil || it.rt == nil || it.rt.input == nil {
				continue
			}
			if logged {
				for i := range p.Len() {
					ups = append(ups, storage.TableUpdate{Table: uint64(it.ID), Row: p.Row(i), Diff: p.Diffs[i]})
				}
			}
			feeds = append(feeds, feed{it: it, packed: p})
		}
		cp := pu.unit.Checkpoint
		last[pu.group] = &cp
		live = append(live, pu)
	}
	fail := func(err error) error {
		for _, pu := range live {
			pu.done <- err
		}
		return err
	}
	// The rows and the bindings are one record: a crash between two
	// appends would keep rows whose positions a restart reads again.
	var bs []storage.Binding
	for g, cp := range last {
		b, err := json.Marshal(cp)
		if err != nil {
			return fail(err)
		}
		bs = append(bs, storage.Binding{Source: uint64(g.id), Time: t, Positions: b})
	}
	if len(ups) > 0 || len(bs) > 0 {
		if err := c.store.AppendSourceWrite(ctx, t, ups, bs); err != nil {
			return fail(fmt.Errorf("coord: persist source data and bindings: %w", err))
		}
	}
	for g, cp := range last {
		g.checkpoint = cp
	}
	// The chunks staged before a transaction's last unit: committed in
	// the log by the record above (it binds their group), now at t in
	// the inputs, with the rest of the transaction.
	for _, pu := range live {
		g := pu.group
		for it := range g.staged {
			if it.rt == nil || it.rt.input == nil {
				continue
			}
			if err := it.rt.input.CommitStaged(t); err != nil {
				return fail(err)
			}
		}
		g.staged, g.chunked = nil, false
	}
	// Packed feeds first: an input takes the slab as its queue, with no
	// copy, while the queue is empty.
	for _, f := range feeds {
		if f.packed == nil {
			continue
		}
		if err := feedPacked(f.it, f.packed, t); err != nil {
			return fail(err)
		}
	}
	for it, sz := range sizes {
		if sz.n >= 1024 {
			it.rt.input.Reserve(sz.n, sz.bytes)
		}
	}
	for _, f := range feeds {
		if f.packed != nil {
			continue
		}
		if err := feedSource(f.it, f.us, t); err != nil {
			return fail(err)
		}
	}
	applied := 0
	for _, pu := range live {
		applied += pu.unit.Len()
		// Before done: the reader may look its rows up once it returns.
		pu.group.appliedAt.Store(uint64(t))
		pu.done <- nil
	}
	c.ingested.Add(int64(applied))
	return nil
}

// feedSource sends a source's updates to its input at t.
func feedSource(it *item, us []sources.Update, t repr.Timestamp) error {
	for _, u := range us {
		if err := it.rt.input.Send(repr.Update{Row: u.Row, Time: t, Diff: u.Diff}); err != nil {
			return err
		}
	}
	return nil
}

// feedPacked sends a source's packed updates to its input at t; the input
// takes the slab as its queue when the queue is empty.
func feedPacked(it *item, p *sources.PackedRows, t repr.Timestamp) error {
	return it.rt.input.SendPacked(p.Data, p.Ends, p.Diffs, t)
}

// replayGeneratorLocked rebuilds the contents of a load generator whose
// rows are not logged: the ticks before its durable checkpoint, computed
// again, enter its inputs at the next step (which replay forces), and the
// generator is left at the checkpoint.
func (c *Coordinator) replayGeneratorLocked(ctx context.Context, g *sourceGroup) error {
	cp, err := c.bindingCheckpoint(g)
	if err != nil || cp == nil || len(cp.Positions) == 0 {
		return err
	}
	byColl := g.membersByCollection()
	t := c.now + 1
	err = g.gen.Replay(ctx, cp.Positions[0].Offset, func(u sources.Unit) error {
		for coll, p := range u.Packed {
			if it := byColl[coll]; it != nil && it.rt != nil && it.rt.input != nil {
				if err := feedPacked(it, p, t); err != nil {
					return err
				}
			}
		}
		for coll, us := range u.Updates {
			if it := byColl[coll]; it != nil && it.rt != nil && it.rt.input != nil {
				if err := feedSource(it, us, t); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("coord: replaying load generator %s: %w", g.key, err)
	}
	g.checkpoint = cp
	c.needStep = true
	return nil
}

// bindingCheckpoint is the group's durable checkpoint, or nil.
func (c *Coordinator) bindingCheckpoint(g *sourceGroup) (*sources.Checkpoint, error) {
	b, ok := c.bindings[g.id]
	if !ok {
		return nil, nil
	}
	var cp sources.Checkpoint
	if err := json.Unmarshal(b.Positions, &cp); err != nil {
		return nil, fmt.Errorf("coord: source binding: %w", err)
	}
	return &cp, nil
}

// option finds a named option.
func option(opts []parse.Option, name string) (parse.Value, bool) {
	for _, o := range opts {
		if o.Name == name {
			return o.Value, true
		}
	}
	return parse.Value{}, false
}

func optionString(v parse.Value) string {
	if v.Kind == parse.ValueWord || v.Kind == parse.ValueString || v.Kind == parse.ValueNumber {
		return v.Str
	}
	return ""
}

func (c *Coordinator) createSource(ctx context.Context, p *sql.CreateSourcePlan, persist bool) error {
	sp := c.searchPathFor(p.Name)
	schema, name, err := c.resolveNewName(p.Name, sp)
	if err != nil {
		return err
	}
	if _, ok := c.exists(schema, name); ok {
		if p.IfNotExists {
			return c.noticeSkip("source", name)
		}
		return pgcode.New(pgcode.DuplicateRelation, "relation %q already exists", name)
	}
	if p.Connection != nil {
		if err := c.checkUsageLocked(c.cat.items[p.Connection.ID]); err != nil {
			return err
		}
	}
	switch p.Source.Kind {
	case "load generator":
		return c.createLoadGenerator(ctx, p, schema, name, sp, persist)
	case "kafka":
		return c.createKafkaSource(ctx, p, schema, name, sp, persist)
	case "postgres":
		return c.createPostgresSource(ctx, p, schema, name, sp, persist)
	}
	return pgcode.New(pgcode.FeatureNotSupported, "CREATE SOURCE FROM %s is not supported yet", strings.ToUpper(p.Source.Kind))
}

// newSourceItem registers a source collection with an input dataflow.
func (c *Coordinator) newSourceItem(ctx context.Context, id plan.GlobalID, oid uint32, schema, name string, desc repr.RelationDesc, sqlText string, st *sourceState, deps []plan.GlobalID) (*item, error) {
	it := &item{CatalogItem: sql.CatalogItem{ID: id, Name: sql.QualifiedName{Database: defaultDatabase, Schema: schema, Item: name}, Kind: sql.KindSource, Desc: desc, SQL: sqlText}, oid: oid, createSQL: sqlText, source: st, deps: deps}
	var rt *runtimeState
	if len(st.primaryKey) > 0 {
		// Keyed (a PostgreSQL subsource, a keyed Kafka envelope): arranged
		// by the key its reader resolves changes by.
		rt = c.newTableDataflow(it.Name.String(), desc.Arity(), st.primaryKey, c.now)
	} else {
		rt = c.newInputDataflow(it.Name.String(), desc.Arity(), c.now, st.appendOnly)
	}
	rt.input.Advance(c.now + 1)
	it.rt = rt
	if err := c.cat.insert(it); err != nil {
		rt.graph.Close()
		return nil, err
	}
	if err := c.addDataflowLocked(id, rt.graph); err != nil {
		c.cat.remove(id)
		return nil, err
	}
	return it, nil
}

// sourceIDs returns the ids for a source and its n subsources: fresh, or
// the replayed record's.
func (c *Coordinator) sourceIDs(n int) (plan.GlobalID, uint32, []plan.GlobalID, []uint32) {
	id, oid := c.newIDLocked()
	var subs []plan.GlobalID
	var soids []uint32
	for i := 0; i < n; i++ {
		if c.replaying != nil && i < len(c.replaying.subIDs) {
			subs = append(subs, c.replaying.subIDs[i])
			soids = append(soids, c.replaying.subOIDs[i])
			continue
		}
		sid, soid := c.cat.allocID()
		subs = append(subs, sid)
		soids = append(soids, soid)
	}
	return id, oid, subs, soids
}

func (c *Coordinator) createLoadGenerator(ctx context.Context, p *sql.CreateSourcePlan, schema, name string, sp []string, persist bool) error {
	opts := loadgen.Options{}
	for _, o := range p.Source.ConnectionOptions {
		switch o.Name {
		case "TICK INTERVAL":
			d, err := parseTimeout(optionString(o.Value))
			if err != nil || d <= 0 {
				return pgcode.New(pgcode.InvalidParameterValue, "invalid TICK INTERVAL %q", optionString(o.Value))
			}
			opts.TickInterval = d
		case "SCALE FACTOR":
			f, err := strconv.ParseFloat(optionString(o.Value), 64)
			if err != nil || f <= 0 {
				return pgcode.New(pgcode.InvalidParameterValue, "invalid SCALE FACTOR %q", optionString(o.Value))
			}
			opts.ScaleFactor = f
		case "MAX CARDINALITY", "UP TO", "MAX EVENTS", "AS OF":
			n, err := strconv.ParseInt(optionString(o.Value), 10, 64)
			if err != nil || n < 0 {
				return pgcode.New(pgcode.InvalidParameterValue, "invalid %s %q", o.Name, optionString(o.Value))
			}
			if o.Name == "AS OF" {
				opts.AsOf = n
			} else {
				opts.UpTo = n
			}
		case "RATE":
			if v := optionString(o.Value); strings.EqualFold(v, "unlimited") {
				opts.Unlimited = true
			} else if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && !math.IsInf(f, 1) {
				opts.Rate = f
			} else {
				return pgcode.New(pgcode.InvalidParameterValue, "invalid RATE %q (events per second, or UNLIMITED)", v)
			}
		case "SEED":
			n, err := strconv.ParseInt(optionString(o.Value), 10, 64)
			if err != nil {
				return pgcode.New(pgcode.InvalidParameterValue, "invalid SEED %q", optionString(o.Value))
			}
			opts.Seed = n
		default:
			return pgcode.New(pgcode.InvalidParameterValue, "unrecognized load generator option %s", o.Name)
		}
	}
	kind := loadgen.Kind(strings.ToUpper(p.Source.Generator))
	probe, err := loadgen.New(kind, opts)
	if err != nil {
		return err
	}
	cols := probe.Collections()
	multi := len(cols) > 1
	if multi && !p.Source.ForAllTables && len(p.Source.ForTables) == 0 {
		return pgcode.New(pgcode.InvalidParameterValue, "the %s load generator produces several tables: add FOR ALL TABLES", kind)
	}
	nsub := 0
	if multi {
		nsub = len(cols)
	}
	id, oid, subs, soids := c.sourceIDs(nsub)
	for i := range subs {
		if _, ok := c.exists(schema, cols[i].Name); ok {
			return pgcode.New(pgcode.DuplicateRelation, "relation %q already exists", cols[i].Name)
		}
	}
	g := &sourceGroup{c: c, key: fmt.Sprint("loadgen:", id), id: id}
	ids := map[string]sources.CollectionID{}
	if persist {
		rec := catalogRecord{Op: "create", ID: id, OID: oid, SQL: p.SQL, SearchPath: sp}
		for i := range subs {
			rec.IDs = append(rec.IDs, uint64(subs[i]))
			rec.OIDs = append(rec.OIDs, soids[i])
		}
		if err := c.persistLocked(ctx, rec); err != nil {
			return err
		}
	}
	if !multi {
		ids[cols[0].Name] = sources.CollectionID(id)
		it, err := c.newSourceItem(ctx, id, oid, schema, name, cols[0].Desc, p.SQL, &sourceState{typ: "load-generator", group: g, collection: sources.CollectionID(id), appendOnly: probe.AppendOnly()}, nil)
		if err != nil {
			return err
		}
		g.members = append(g.members, it)
	} else {
		parent := &item{CatalogItem: sql.CatalogItem{ID: id, Name: sql.QualifiedName{Database: defaultDatabase, Schema: schema, Item: name}, Kind: sql.KindSource, SQL: p.SQL}, oid: oid, createSQL: p.SQL, source: &sourceState{typ: "load-generator", group: g}}
		if err := c.cat.insert(parent); err != nil {
			return err
		}
		for i, col := range cols {
			ids[col.Name] = sources.CollectionID(subs[i])
			it, err := c.newSourceItem(ctx, subs[i], soids[i], schema, col.Name, col.Desc, "", &sourceState{typ: "subsource", group: g, collection: sources.CollectionID(subs[i]), parent: id, appendOnly: probe.AppendOnly()}, []plan.GlobalID{id})
			if err != nil {
				return err
			}
			it.createSQL = fmt.Sprintf("-- subsource %s of %s", col.Name, name)
			g.members = append(g.members, it)
		}
	}
	opts.IDs = ids
	gen, err := loadgen.New(kind, opts)
	if err != nil {
		return err
	}
	g.gen = gen
	return c.startGroupLocked(g)
}

// startGroupLocked starts a group's ingestion, unless the catalog is being
// replayed (then Open starts every group once table contents are loaded).
func (c *Coordinator) startGroupLocked(g *sourceGroup) error {
	if c.replaying != nil {
		c.deferredGroups = append(c.deferredGroups, g)
		return nil
	}
	return c.runGroupLocked(g)
}

// runGroupLocked starts the group's goroutine from its checkpoint.
func (c *Coordinator) runGroupLocked(g *sourceGroup) error {
	if g.checkpoint == nil {
		cp, err := c.bindingCheckpoint(g)
		if err != nil {
			return err
		}
		g.checkpoint = cp
	}
	if g.kafka {
		if err := c.newReaderLocked(g); err != nil {
			return err
		}
	}
	if g.pg != nil {
		if err := c.newPGReaderLocked(g); err != nil {
			return err
		}
	}
	// Chunks the previous run staged and did not finish: its reader
	// stopped, and this run's reader sends the transaction again.
	c.abortChunksLocked(g)
	ctx, cancel := context.WithCancel(c.ctx)
	g.run++
	sink := groupSink{g: g, run: g.run}
	// done is this run's: a goroutine that starts after the group has
	// been restarted again must not close the next run's channel.
	done := make(chan struct{})
	g.cancel, g.done, g.started = cancel, done, true
	for _, it := range g.members {
		it.rt.stop = g.stop
	}
	switch {
	case g.gen != nil:
		resume := int64(0)
		if g.checkpoint != nil && len(g.checkpoint.Positions) > 0 {
			resume = g.checkpoint.Positions[0].Offset
		}
		go func() {
			defer close(done)
			if err := g.gen.Run(ctx, resume, sink); err != nil {
				c.log.Error("coord: load generator stopped", "source", g.key, "err", err)
			}
		}()
	case g.pg != nil:
		r := g.pg.reader
		go func() {
			defer close(done)
			if err := r.Run(ctx); err != nil {
				c.log.Error("coord: PostgreSQL source stopped", "source", g.key, "err", err)
				c.mu.Lock()
				for _, it := range g.members {
					if g.run == sink.run && it.rt != nil && it.rt.sourceErr == nil {
						it.rt.sourceErr = pgcode.Wrap(err, pgcode.ConnectionException, "source stopped: "+err.Error())
					}
				}
				c.mu.Unlock()
			}
		}()
	case g.reader != nil:
		r := g.reader
		go func() {
			defer close(done)
			if err := r.Run(ctx); err != nil {
				c.log.Error("coord: Kafka source stopped", "source", g.key, "err", err)
				c.mu.Lock()
				for _, it := range g.members {
					if g.run == sink.run && it.rt != nil && it.rt.sourceErr == nil {
						it.rt.sourceErr = pgcode.Wrap(err, pgcode.ConnectionException, "source stopped: "+err.Error())
					}
				}
				c.mu.Unlock()
			}
		}()
	}
	return nil
}

// stop ends a group's ingestion (dropping one member stops the group; the
// remaining members restart without it).
func (g *sourceGroup) stop() {
	if g.cancel != nil {
		g.cancel()
		g.cancel = nil
	}
}

func (c *Coordinator) connectionBrokers(conn *sql.CatalogItem) ([]string, error) {
	if conn == nil {
		if len(c.cfg.KafkaBrokers) == 0 {
			return nil, pgcode.New(pgcode.InvalidParameterValue, "no Kafka brokers: name a CONNECTION")
		}
		return c.cfg.KafkaBrokers, nil
	}
	it := c.cat.items[conn.ID]
	if it == nil || it.conn == nil {
		return nil, pgcode.New(pgcode.UndefinedObject, "connection %q does not exist", conn.Name.Item)
	}
	var brokers []string
	for _, o := range it.conn.Options {
		switch o.Name {
		case "BROKER":
			brokers = append(brokers, optionString(o.Value))
		case "BROKERS":
			for _, v := range o.Value.Items {
				brokers = append(brokers, optionString(v))
			}
		}
	}
	if len(brokers) == 0 {
		brokers = c.cfg.KafkaBrokers
	}
	if len(brokers) == 0 {
		return nil, pgcode.New(pgcode.InvalidParameterValue, "connection %q names no BROKER", conn.Name.Item)
	}
	return brokers, nil
}

func formatOf(f *parse.Format, def sources.Format) (sources.Format, error) {
	if f == nil {
		return def, nil
	}
	switch strings.ToLower(f.Name) {
	case "json":
		return sources.FormatJSON, nil
	case "text":
		return sources.FormatText, nil
	case "bytes":
		return sources.FormatBytes, nil
	}
	return 0, pgcode.New(pgcode.FeatureNotSupported, "FORMAT %s is not supported (JSON, TEXT and BYTES are)", strings.ToUpper(f.Name))
}

func (c *Coordinator) createKafkaSource(ctx context.Context, p *sql.CreateSourcePlan, schema, name string, sp []string, persist bool) error {
	s := p.Source
	brokers, err := c.connectionBrokers(p.Connection)
	if err != nil {
		return err
	}
	spec := &sources.SourceSpec{Name: name}
	topic, ok := option(s.ConnectionOptions, "TOPIC")
	if !ok || optionString(topic) == "" {
		return pgcode.New(pgcode.InvalidParameterValue, "CREATE SOURCE FROM KAFKA needs (TOPIC 'name')")
	}
	spec.Topic = optionString(topic)
	if v, ok := option(s.ConnectionOptions, "START OFFSET"); ok {
		spec.StartOffsets = map[int32]int64{}
		items := v.Items
		if v.Kind != parse.ValueList {
			items = []parse.Value{v}
		}
		for i, it := range items {
			n, err := strconv.ParseInt(optionString(it), 10, 64)
			if err != nil || n < 0 {
				return pgcode.New(pgcode.InvalidParameterValue, "invalid START OFFSET %q", optionString(it))
			}
			spec.StartOffsets[int32(i)] = n
		}
	}
	if spec.Format, err = formatOf(s.ValueFormat, sources.FormatJSON); err != nil {
		return err
	}
	if spec.KeyFormat, err = formatOf(s.KeyFormat, sources.FormatText); err != nil {
		return err
	}
	for _, inc := range s.Include {
		switch strings.ToUpper(inc.What) {
		case "KEY":
			spec.Include.Key = true
		case "PARTITION":
			spec.Include.Partition = true
		case "OFFSET":
			spec.Include.Offset = true
		case "TIMESTAMP":
			spec.Include.Timestamp = true
		default:
			return pgcode.New(pgcode.FeatureNotSupported, "INCLUDE %s is not supported", inc.What)
		}
	}
	groupKey := ""
	var txSource plan.GlobalID
	txTopic := ""
	switch strings.ToLower(s.Envelope) {
	case "", "none":
		spec.Envelope = sources.EnvelopeNone
	case "debezium":
		spec.Envelope = sources.EnvelopeDebezium
		if v, ok := option(s.EnvelopeOptions, "TRANSACTION METADATA"); ok {
			src, _ := option(v.Options, "SOURCE")
			coll, _ := option(v.Options, "COLLECTION")
			tx, err := c.cat.resolve(sql.PartialName{Item: optionString(src)}, sp)
			if err != nil {
				return err
			}
			if tx.Kind != sql.KindSource || tx.source == nil || tx.source.spec == nil {
				return pgcode.New(pgcode.WrongObjectType, "%q is not a Kafka source", tx.Name.Item)
			}
			txSource, txTopic = tx.ID, tx.source.spec.Topic
			spec.Collection = optionString(coll)
			if spec.Collection == "" {
				return pgcode.New(pgcode.InvalidParameterValue, "TRANSACTION METADATA needs COLLECTION 'schema.table'")
			}
			groupKey = fmt.Sprint("debezium-tx:", tx.ID)
		}
	case "maxwell":
		spec.Envelope = sources.EnvelopeMaxwell
		if v, ok := option(s.EnvelopeOptions, "COLLECTION"); ok {
			spec.Collection = optionString(v)
		}
		groupKey = fmt.Sprint("maxwell:", connKey(p.Connection))
	case "cockroachdb":
		spec.Envelope = sources.EnvelopeCockroach
		groupKey = fmt.Sprint("cockroachdb:", connKey(p.Connection))
	case "upsert":
		spec.Envelope = sources.EnvelopeUpsert
		if v, ok := option(s.EnvelopeOptions, "VALUE DECODING ERRORS"); ok && strings.EqualFold(optionString(v), "inline") {
			spec.InlineErrors = true
		}
	default:
		return pgcode.New(pgcode.FeatureNotSupported, "ENVELOPE %s is not supported", strings.ToUpper(s.Envelope))
	}
	// Columns: declared, derived from a Debezium schema block, or the
	// envelope's defaults.
	if p.Columns != nil {
		d := repr.RelationDesc{Keys: p.Keys}
		for _, col := range p.Columns {
			d.Names = append(d.Names, col.Name)
			d.Types = append(d.Types, col.Type)
		}
		spec.Desc = &d
	} else if c.replaying != nil && c.replaying.desc != nil {
		spec.Desc = c.replaying.desc
	} else if spec.Envelope == sources.EnvelopeDebezium {
		c.mu.Unlock()
		d, err := sources.SampleDebeziumDesc(ctx, brokers, spec.Topic, 10*time.Second)
		c.mu.Lock()
		if err != nil {
			return err
		}
		spec.Desc = &d
	}
	id, oid, _, _ := c.sourceIDs(0)
	spec.ID = sources.CollectionID(id)
	asm, err := sources.NewAssembler(sources.Config{Sources: []sources.SourceSpec{*spec}, Logger: c.log})
	if err != nil {
		return err
	}
	desc, ok := asm.Desc(spec.ID)
	if !ok {
		return pgcode.New(pgcode.InvalidObjectDefinition, "could not determine the columns of source %q: declare them", name)
	}
	if persist {
		if err := c.persistLocked(ctx, catalogRecord{Op: "create", ID: id, OID: oid, SQL: p.SQL, SearchPath: sp, Desc: spec.Desc}); err != nil {
			return err
		}
	}
	var deps []plan.GlobalID
	if txSource != 0 {
		deps = append(deps, txSource)
	}
	st := &sourceState{typ: "kafka", collection: spec.ID, spec: spec, txSource: txSource, appendOnly: spec.Envelope == sources.EnvelopeNone}
	if key, tracked := asm.KeyColumns(spec.ID); tracked && len(key) > 0 {
		// Arranged by the key the reader resolves changes by (it looks
		// rows up there instead of keeping them: sourceCollections).
		st.primaryKey = key
	}
	it, err := c.newSourceItem(ctx, id, oid, schema, name, desc, p.SQL, st, deps)
	if err != nil {
		return err
	}
	// Find or make the group, and (re)start it with the new member.
	var g *sourceGroup
	if groupKey != "" {
		g = c.groups[groupKey]
	}
	if g == nil {
		g = &sourceGroup{c: c, key: groupKey, id: id, brokers: brokers, txTopic: txTopic}
		if groupKey == "" {
			g.key = fmt.Sprint("kafka:", id)
		}
		c.groups[g.key] = g
	} else {
		// The group restarts with the new member; units of the old run
		// still in flight are refused (see applyUnitsLocked).
		g.stop()
	}
	st.group = g
	g.kafka = true
	g.members = append(g.members, it)
	return c.startGroupLocked(g)
}

func connKey(conn *sql.CatalogItem) string {
	if conn == nil {
		return "default"
	}
	return fmt.Sprint(conn.ID)
}

// newReaderLocked creates a Kafka group's reader over its members,
// resuming from the group's checkpoint with their current contents.
func (c *Coordinator) newReaderLocked(g *sourceGroup) error {
	cfg := sources.ReaderConfig{Brokers: g.brokers, Config: sources.Config{TxnTopic: g.txTopic, Logger: c.log}}
	for _, it := range g.members {
		cfg.Sources = append(cfg.Sources, *it.source.spec)
	}
	if g.checkpoint != nil {
		cfg.Resume = g.checkpoint
		cfg.Contents = func(id sources.CollectionID) ([]sources.Update, error) {
			return c.sourceContents(plan.GlobalID(id))
		}
	}
	cfg.Collections = c.sourceCollectionsLocked(g)
	sink := groupSink{g: g, run: g.run + 1}
	r, err := sources.NewReader(cfg, sink)
	if err != nil {
		return err
	}
	g.reader = r
	return nil
}

// sourceContents reads a source collection's current contents. It is
// called by a reader's setup, which runs with the coordinator's lock held
// (newReaderLocked), so it reads without locking.
func (c *Coordinator) sourceContents(id plan.GlobalID) ([]sources.Update, error) {
	it := c.cat.items[id]
	if it == nil || it.rt == nil || (it.rt.out == nil && it.rt.primaryKey == nil) {
		return nil, nil
	}
	var out []sources.Update
	err := it.rt.scan(c.now, func(row repr.Row, d repr.Diff) bool {
		out = append(out, sources.Update{Row: row.Clone(), Diff: d})
		return true
	})
	return out, err
}

// sourceStatusRows reports every source's state for mz_source_statuses.
func (c *Coordinator) sourceStatusRows() [][]repr.Datum {
	var out [][]repr.Datum
	statuses := map[sources.CollectionID]sources.Status{}
	for _, g := range c.allGroups() {
		if g.reader != nil {
			for _, s := range g.reader.Status() {
				statuses[s.Collection] = s
			}
		}
		if g.pg != nil && g.pg.reader != nil {
			for _, s := range g.pg.reader.Status() {
				statuses[s.Collection] = s
			}
		}
	}
	for _, it := range c.userItems() {
		if it.Kind != sql.KindSource || it.source == nil || (it.rt == nil && it.source.group == nil) {
			continue
		}
		status, errText := "running", repr.Null
		var known, committed, lag, msgs, bytes, staged, committedUps int64
		var changed repr.Datum = repr.Null
		lsn, lagBytes, lagTime, snapTime := repr.Null, repr.Null, repr.Null, repr.Null
		st, ok := statuses[it.source.collection]
		if it.source.group != nil && it.source.group.pg != nil && it.source.collection == 0 {
			// The PostgreSQL source itself: its reader's state.
			if g := it.source.group; g.pg.reader != nil {
				if all := g.pg.reader.Status(); len(all) > 0 {
					st, ok = all[0], true
					st.State, st.LastError = sources.StateRunning, nil
					for _, s := range all {
						if s.State != sources.StateErrored {
							st.State, st.LastError = s.State, s.LastError
							break
						}
					}
				}
			}
		}
		if ok && it.source.group != nil && it.source.group.pg != nil {
			lsn = text(sources.FormatLSN(st.CommittedLSN))
			lagBytes = repr.Int8Datum(st.LagBytes)
			lagTime = repr.IntervalDatum(repr.Interval{Micros: st.LagTime.Microseconds()})
			snapTime = repr.IntervalDatum(repr.Interval{Micros: st.SnapshotTime.Microseconds()})
		}
		if ok {
			status = string(st.State)
			msgs, bytes, committedUps = st.MessagesRead, st.BytesRead, st.UpdatesEmitted
			for _, p := range st.Offsets {
				known += p.HighWatermark
				committed += p.NextOffset
				lag += p.Lag
			}
			if !st.Updated.IsZero() {
				changed = repr.TimestampTzDatum(st.Updated.UnixMicro())
			}
		}
		if g := it.source.group; g != nil && g.gen != nil {
			// A load generator's offsets are ticks: committed is the
			// first tick not yet durable, known its UP TO when it has one.
			if g.checkpoint != nil && len(g.checkpoint.Positions) > 0 {
				committed = g.checkpoint.Positions[0].Offset
			}
			known = max(g.gen.Options().UpTo, committed)
			lag = known - committed
		}
		if it.source.group != nil && !it.source.group.started {
			status = "starting"
		}
		if ok && st.LastError != nil {
			// Why a stalled source waits (a missing topic, an unreachable
			// upstream), what a running one still waits for, or why a
			// PostgreSQL source stopped. A collection's own error
			// (rt.sourceErr, below) takes precedence.
			errText = text(st.LastError.Err.Error())
		}
		if it.rt != nil && it.rt.sourceErr != nil {
			status = "error"
			msg := it.rt.sourceErr.Error()
			var pe *pgcode.Error
			if errors.As(it.rt.sourceErr, &pe) && pe.Detail != "" {
				msg += " (" + pe.Detail + ")"
			}
			errText = repr.TextDatum(msg)
		}
		out = append(out, []repr.Datum{text(formatID(it.ID)), text(it.Name.Item), text(it.sourceType()), text(status), errText,
			repr.Int8Datum(known), repr.Int8Datum(committed), repr.Int8Datum(lag), repr.Int8Datum(msgs), repr.Int8Datum(bytes), repr.Int8Datum(staged), repr.Int8Datum(committedUps), changed,
			lsn, lagBytes, lagTime, snapTime})
	}
	return out
}

func (c *Coordinator) allGroups() []*sourceGroup {
	seen := map[*sourceGroup]bool{}
	var out []*sourceGroup
	for _, it := range c.cat.items {
		if it.source != nil && it.source.group != nil && !seen[it.source.group] {
			seen[it.source.group] = true
			out = append(out, it.source.group)
		}
	}
	return out
}

// leaveGroupLocked removes a dropped source from its group; the group's
// other members go on with a new reader.
func (c *Coordinator) leaveGroupLocked(it *item) {
	g := it.source.group
	g.stop()
	c.abortChunksLocked(g)
	if g.pg != nil && it.ID == g.id {
		// The PostgreSQL source itself: its slot goes too.
		g.pg.dropping = true
		c.dropPGSlot(g)
		return
	}
	var rest []*item
	for _, m := range g.members {
		if m != it {
			rest = append(rest, m)
		}
	}
	g.members = rest
	if len(rest) == 0 {
		delete(c.groups, g.key)
		return
	}
	if (g.kafka || g.pg != nil && !g.pg.dropping) && c.replaying == nil && g.started {
		if err := c.runGroupLocked(g); err != nil {
			c.log.Error("coord: restarting source group", "group", g.key, "err", err)
		}
	}
}

// sourceGroup is the group reading the item, or nil.
func (it *item) sourceGroup() *sourceGroup {
	if it.source == nil {
		return nil
	}
	return it.source.group
}

// sourceCollections is a source reader's view of the collections it feeds
// (sources.CollectionReader): a PostgreSQL reader, or a Kafka reader of
// keyed or retraction-checked envelopes, keeps no copy of the upstream
// tables and looks a row up here when a change names only its key. A keyed
// collection is read through its primary arrangement (sourceState.primaryKey),
// one without a key through its output, both by the coordinator's own
// holds (whose since never passes the last step), outside the
// coordinator's lock.
type sourceCollections struct {
	c    *Coordinator
	g    *sourceGroup
	rts  map[sources.CollectionID]*runtimeState
	keys map[sources.CollectionID][]int
}

// sourceCollectionsLocked makes the view of g's current members.
func (c *Coordinator) sourceCollectionsLocked(g *sourceGroup) sourceCollections {
	sc := sourceCollections{c: c, g: g, rts: map[sources.CollectionID]*runtimeState{}, keys: map[sources.CollectionID][]int{}}
	for _, it := range g.members {
		if it.rt != nil && it.source != nil {
			sc.rts[it.source.collection] = it.rt
			sc.keys[it.source.collection] = it.source.primaryKey
		}
	}
	return sc
}

// KeyColumns implements sources.CollectionReader.
func (p sourceCollections) KeyColumns(id sources.CollectionID) ([]int, bool) {
	rt := p.rts[id]
	if rt == nil || (rt.primaryKey == nil && rt.out == nil) {
		return nil, false
	}
	return p.keys[id], true
}

// at returns the time to read rt at: its last complete time, once that
// includes the group's last applied unit. A unit is acknowledged to the
// reader in the step that applies it, before the dataflows step; that
// step ends under the coordinator's lock, so waiting for the lock is
// waiting for it.
func (p sourceCollections) at(rt *runtimeState) (repr.Timestamp, error) {
	upper := func() repr.Timestamp {
		if rt.primaryKey != nil {
			return rt.indexHold.Upper()
		}
		return rt.out.Upper()
	}
	applied := repr.Timestamp(p.g.appliedAt.Load())
	u := upper()
	if u <= applied {
		p.c.mu.Lock() // the step in progress ends under the lock
		p.c.mu.Unlock()
		if u = upper(); u <= applied {
			return 0, pgcode.New(pgcode.ObjectNotInPrerequisiteState, "the source's collection is not readable at %d (upper %d)", applied, u)
		}
	}
	return u - 1, nil
}

// read returns subsource id's compute state and the time to read it at.
func (p sourceCollections) read(id sources.CollectionID) (*runtimeState, repr.Timestamp, error) {
	rt := p.rts[id]
	if rt == nil || (rt.primaryKey == nil && rt.out == nil) {
		return nil, 0, pgcode.New(pgcode.UndefinedTable, "subsource %d has no collection", id)
	}
	at, err := p.at(rt)
	return rt, at, err
}

// Rows implements sources.CollectionReader.
func (p sourceCollections) Rows(id sources.CollectionID, key repr.Row, fn func(repr.Row, repr.Diff)) error {
	rt, at, err := p.read(id)
	if err != nil {
		return err
	}
	if rt.primaryKey != nil {
		return rt.indexHold.Lookup(at, key, func(v repr.Row, d repr.Diff) bool {
			fn(v, d)
			return true
		})
	}
	n, err := rt.out.Count(at, key)
	if err == nil && n != 0 {
		fn(key, n)
	}
	return err
}

// Scan implements sources.CollectionReader.
func (p sourceCollections) Scan(id sources.CollectionID, fn func(repr.Row, repr.Diff) error) error {
	rt, at, err := p.read(id)
	if err != nil {
		return err
	}
	return rt.scanArranged(at, func(_, row repr.Row, d repr.Diff) error { return fn(row, d) })
}
