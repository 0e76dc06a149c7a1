package coord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/sources"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/sql/parse"
)

// PostgreSQL sources (CREATE SOURCE ... FROM POSTGRES): the source item
// is a parent without columns; each published table it selects is a
// subsource (a read-only relation named after the table, or its AS name).
// All of them form one sourceGroup read by one sources.PGReader over one
// replication slot: every upstream transaction is one unit, applied at one
// timestamp across all subsources, and its end LSN is the group's
// durable checkpoint (applyUnitsLocked), the same binding Kafka sources
// use. The tables, their columns and the slot's name are kept in the
// catalog record, so replay needs no upstream.
//
// A large transaction, or the initial snapshot, arrives in chunks
// (sources.Unit.More): groupSink.stageChunk appends each to the log as
// pending (storage.Store.AppendSourceChunk) and stages its updates in the
// subsources' inputs (dataflow.Input.Stage: no step sees them, and they
// are consolidated as they grow); the transaction's last unit, applied at
// one timestamp by applyUnitsLocked, commits both: its source write
// record binds the group and so commits the chunks in the log, and the
// staged updates are committed at that timestamp in the inputs. A run
// that ends before the last unit (a member dropped, the source dropped)
// drops the staged chunks and writes an abort (abortChunksLocked); so
// does a chunk 0 or a whole unit arriving over staged chunks (the reader
// started the transaction over). The log is not compacted while chunks
// are pending.

// pgSourceRecord is a PostgreSQL source's part of its catalog record.
type pgSourceRecord struct {
	Slot        string            `json:"slot"`
	Publication string            `json:"publication"`
	Tables      []sources.PGTable `json:"tables"`
	// Names are the subsources' names, one per table.
	Names []string `json:"names"`
}

// pgGroup is the PostgreSQL part of a sourceGroup.
type pgGroup struct {
	conn   plan.GlobalID // the connection item
	rec    pgSourceRecord
	reader *sources.PGReader
	// dropping is set when the source itself is dropped: its subsources
	// leaving must not restart the reader.
	dropping bool
}

// createSecret executes CREATE SECRET: the value is kept in the item and
// its durable record only; every SQL view of the item (SHOW CREATE,
// catalogs, pg_stat_activity) shows p.SQL, which is redacted.
func (c *Coordinator) createSecret(ctx context.Context, p *sql.CreateSecretPlan, persist bool) error {
	schema, name, sp, skip, err := c.newObjectNameLocked(p.Name, "secret", p.IfNotExists)
	if skip || err != nil {
		return err
	}
	id, oid := c.newIDLocked()
	if persist {
		full := "CREATE SECRET " + sql.QualifiedName{Schema: schema, Item: name}.String() + " AS " + quoteLiteral(p.Value)
		if err := c.persistLocked(ctx, catalogRecord{Op: "create", ID: id, OID: oid, SQL: full, SearchPath: sp}); err != nil {
			return err
		}
	}
	it := &item{CatalogItem: sql.CatalogItem{ID: id, Name: sql.QualifiedName{Database: defaultDatabase, Schema: schema, Item: name}, Kind: sql.KindSecret, SQL: p.SQL},
		oid: oid, createSQL: p.SQL, secret: p.Value}
	return c.cat.insert(it)
}

// newObjectNameLocked resolves the name of a new non-relation object
// (connection, secret): its schema, name and search path. skip is true
// (with err nil, after a notice) when it exists and ifNotExists is set.
func (c *Coordinator) newObjectNameLocked(parts []string, kind string, ifNotExists bool) (schema, name string, sp []string, skip bool, err error) {
	n, err := partialName(parts)
	if err != nil {
		return "", "", nil, false, err
	}
	sp = c.searchPathFor(n)
	if schema, name, err = c.resolveNewName(n, sp); err != nil {
		return "", "", nil, false, err
	}
	if _, ok := c.exists(schema, name); ok {
		if ifNotExists {
			return schema, name, sp, true, c.noticeSkip(kind, name)
		}
		return "", "", nil, false, pgcode.New(pgcode.DuplicateObject, "%s %q already exists", kind, name)
	}
	return schema, name, sp, false, nil
}

func partialName(parts []string) (sql.PartialName, error) {
	var n sql.PartialName
	switch len(parts) {
	case 1:
		n.Item = parts[0]
	case 2:
		n.Schema, n.Item = parts[0], parts[1]
	case 3:
		n.Database, n.Schema, n.Item = parts[0], parts[1], parts[2]
	default:
		return n, pgcode.New(pgcode.SyntaxError, "improper qualified name")
	}
	return n, nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// redactStatement hides the value of CREATE SECRET in statement text that
// SQL can show (pg_stat_activity).
func redactStatement(text string) string {
	if !strings.Contains(strings.ToLower(text), "secret") {
		return text
	}
	stmts, err := parse.Parse(text)
	if err != nil {
		// Unparsable text naming a secret may still hold one.
		return "-- statement redacted: it mentions a secret"
	}
	var out []string
	for _, st := range stmts {
		if cs, ok := st.(*parse.CreateSecret); ok {
			out = append(out, sql.RedactedSecretSQL(cs.Name))
			continue
		}
		out = append(out, st.SQL())
	}
	return strings.Join(out, "; ")
}

// pgConnOptions are CREATE CONNECTION ... TO POSTGRES's options.
var pgConnOptions = map[string]bool{"HOST": true, "PORT": true, "USER": true, "PASSWORD SECRET": true, "PASSWORD": true, "DATABASE": true, "SSL MODE": true}

// checkConnectionLocked validates a new connection's options and returns
// the items it depends on (a PostgreSQL connection's password secret).
func (c *Coordinator) checkConnectionLocked(p *sql.CreateConnectionPlan, sp []string) ([]plan.GlobalID, error) {
	if !strings.EqualFold(p.Type, "postgres") {
		return nil, nil
	}
	var deps []plan.GlobalID
	for _, o := range p.Options {
		if !pgConnOptions[o.Name] {
			return nil, pgcode.New(pgcode.InvalidParameterValue, "unrecognized POSTGRES connection option %s", o.Name)
		}
		switch o.Name {
		case "PASSWORD":
			return nil, pgcode.New(pgcode.InvalidParameterValue, "PASSWORD must name a secret").
				WithHint("CREATE SECRET pgpass AS '...'; then PASSWORD SECRET pgpass.")
		case "PASSWORD SECRET":
			s, err := c.cat.resolve(sql.PartialName{Item: optionString(o.Value)}, sp)
			if err != nil || s.Kind != sql.KindSecret {
				return nil, pgcode.New(pgcode.UndefinedObject, "secret %q does not exist", optionString(o.Value))
			}
			if err := c.checkUsageLocked(s); err != nil {
				return nil, err
			}
			deps = append(deps, s.ID)
		case "SSL MODE":
			switch strings.ToLower(optionString(o.Value)) {
			case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
			default:
				return nil, pgcode.New(pgcode.InvalidParameterValue, "invalid SSL MODE %q", optionString(o.Value))
			}
		case "PORT":
			if n, err := strconv.Atoi(optionString(o.Value)); err != nil || n <= 0 || n > 65535 {
				return nil, pgcode.New(pgcode.InvalidParameterValue, "invalid PORT %q", optionString(o.Value))
			}
		}
	}
	if _, ok := option(p.Options, "HOST"); !ok {
		return nil, pgcode.New(pgcode.InvalidParameterValue, "CREATE CONNECTION ... TO POSTGRES needs HOST")
	}
	return deps, nil
}

// pgConnLocked builds the upstream address of a PostgreSQL connection,
// reading its password secret now.
func (c *Coordinator) pgConnLocked(connID plan.GlobalID) (sources.PGConn, error) {
	it := c.cat.items[connID]
	if it == nil || it.conn == nil {
		return sources.PGConn{}, pgcode.New(pgcode.UndefinedObject, "connection does not exist")
	}
	if !strings.EqualFold(it.conn.Type, "postgres") {
		return sources.PGConn{}, pgcode.New(pgcode.WrongObjectType, "connection %q is not a POSTGRES connection", it.Name.Item)
	}
	pc := sources.PGConn{Port: 5432, User: "postgres", Database: "postgres", SSLMode: "prefer"}
	for _, o := range it.conn.Options {
		v := optionString(o.Value)
		switch o.Name {
		case "HOST":
			pc.Host = v
		case "PORT":
			pc.Port, _ = strconv.Atoi(v)
		case "USER":
			pc.User = v
		case "DATABASE":
			pc.Database = v
		case "SSL MODE":
			pc.SSLMode = strings.ToLower(v)
		case "PASSWORD SECRET":
			s, err := c.cat.resolve(sql.PartialName{Item: v}, it.searchPath)
			if err != nil || s.Kind != sql.KindSecret {
				return pc, pgcode.New(pgcode.UndefinedObject, "secret %q does not exist", v)
			}
			pc.Password = s.secret
		}
	}
	return pc, nil
}

// createPostgresSource executes CREATE SOURCE ... FROM POSTGRES.
func (c *Coordinator) createPostgresSource(ctx context.Context, p *sql.CreateSourcePlan, schema, name string, sp []string, persist bool) error {
	s := p.Source
	if p.Connection == nil {
		return pgcode.New(pgcode.InvalidParameterValue, "CREATE SOURCE FROM POSTGRES needs a CONNECTION")
	}
	if p.Columns != nil {
		return pgcode.New(pgcode.InvalidParameterValue, "a PostgreSQL source takes its columns from the upstream tables")
	}
	var rec pgSourceRecord
	if c.replaying != nil && c.replaying.pg != nil {
		rec = *c.replaying.pg
	} else {
		pc, err := c.pgConnLocked(p.Connection.ID)
		if err != nil {
			return err
		}
		pub, ok := option(s.ConnectionOptions, "PUBLICATION")
		if !ok || optionString(pub) == "" {
			return pgcode.New(pgcode.InvalidParameterValue, "CREATE SOURCE FROM POSTGRES needs (PUBLICATION 'name')")
		}
		rec.Publication = optionString(pub)
		var selTables []sources.PGTableRef
		sel := sources.PGSelection{All: s.ForAllTables, Schemas: s.ForSchemas}
		for _, o := range s.ConnectionOptions {
			switch o.Name {
			case "PUBLICATION":
			case "TEXT COLUMNS":
				items := o.Value.Items
				if o.Value.Kind != parse.ValueList {
					items = []parse.Value{o.Value}
				}
				for _, v := range items {
					sel.TextColumns = append(sel.TextColumns, optionString(v))
				}
			default:
				return pgcode.New(pgcode.InvalidParameterValue, "unrecognized POSTGRES source option %s", o.Name)
			}
		}
		for _, t := range s.ForTables {
			ref := sources.PGTableRef{Name: t[len(t)-1]}
			if len(t) >= 2 {
				ref.Schema = t[len(t)-2]
			}
			selTables = append(selTables, ref)
		}
		sel.Tables = selTables
		if !sel.All && len(sel.Tables) == 0 && len(sel.Schemas) == 0 {
			return pgcode.New(pgcode.InvalidParameterValue, "CREATE SOURCE FROM POSTGRES needs FOR ALL TABLES, FOR TABLES (...) or FOR SCHEMAS (...)")
		}
		// Reading the upstream catalog must not hold the coordinator.
		c.mu.Unlock()
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		tables, err := sources.DiscoverPG(dctx, pc, rec.Publication, sel)
		cancel()
		c.mu.Lock()
		if err != nil {
			return err
		}
		if _, ok := c.exists(schema, name); ok {
			return pgcode.New(pgcode.DuplicateRelation, "relation %q already exists", name)
		}
		rec.Tables = tables
		for _, t := range tables {
			n := t.Name
			for i, ref := range selTables {
				if ref.Name == t.Name && (ref.Schema == "" || ref.Schema == t.Schema) && s.ForTableAliases[i] != "" {
					n = s.ForTableAliases[i]
				}
			}
			rec.Names = append(rec.Names, n)
		}
	}
	seen := map[string]bool{name: true}
	for _, n := range rec.Names {
		if seen[n] {
			return pgcode.New(pgcode.DuplicateRelation, "two subsources would be named %q: rename one with FOR TABLES (schema.table AS name)", n)
		}
		seen[n] = true
		if _, ok := c.exists(schema, n); ok {
			return pgcode.New(pgcode.DuplicateRelation, "relation %q already exists", n).
				WithHint("Rename the subsource with FOR TABLES (schema.table AS name).")
		}
	}
	id, oid, subs, soids := c.sourceIDs(len(rec.Tables))
	if rec.Slot == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("coord: slot name: %w", err)
		}
		rec.Slot = fmt.Sprintf("viewd_%d_%s", id, hex.EncodeToString(b[:]))
	}
	for i := range rec.Tables {
		rec.Tables[i].ID = sources.CollectionID(subs[i])
	}
	if persist {
		r := catalogRecord{Op: "create", ID: id, OID: oid, SQL: p.SQL, SearchPath: sp, PG: &rec}
		for i := range subs {
			r.IDs = append(r.IDs, uint64(subs[i]))
			r.OIDs = append(r.OIDs, soids[i])
		}
		if err := c.persistLocked(ctx, r); err != nil {
			return err
		}
	}
	g := &sourceGroup{c: c, key: fmt.Sprint("postgres:", id), id: id, pg: &pgGroup{conn: p.Connection.ID, rec: rec}}
	parent := &item{CatalogItem: sql.CatalogItem{ID: id, Name: sql.QualifiedName{Database: defaultDatabase, Schema: schema, Item: name}, Kind: sql.KindSource, SQL: p.SQL},
		oid: oid, createSQL: p.SQL, source: &sourceState{typ: "postgres", group: g}, deps: []plan.GlobalID{p.Connection.ID}}
	if err := c.cat.insert(parent); err != nil {
		return err
	}
	for i, t := range rec.Tables {
		st := &sourceState{typ: "subsource", group: g, collection: t.ID, parent: id, primaryKey: t.KeyCols}
		it, err := c.newSourceItem(ctx, subs[i], soids[i], schema, rec.Names[i], t.Desc(), "", st, []plan.GlobalID{id})
		if err != nil {
			return err
		}
		it.createSQL = fmt.Sprintf("-- subsource %s of %s: upstream table %s", rec.Names[i], name, t.QualifiedName())
		g.members = append(g.members, it)
	}
	return c.startGroupLocked(g)
}

// newPGReaderLocked makes the group's reader over its current members,
// resuming from the group's checkpoint with their contents.
func (c *Coordinator) newPGReaderLocked(g *sourceGroup) error {
	pc, err := c.pgConnLocked(g.pg.conn)
	if err != nil {
		return err
	}
	cfg := sources.PGReaderConfig{Conn: pc, Source: g.pg.rec.Slot, Publication: g.pg.rec.Publication, Slot: g.pg.rec.Slot, Logger: c.log}
	if c.cfg.DataDir != "" {
		// One directory per slot, emptied when its reader starts: spill
		// files a killed process left behind are of transactions the
		// upstream sends again.
		cfg.SpillDir = filepath.Join(c.cfg.DataDir, "pgspill", g.pg.rec.Slot)
	}
	if parent := c.cat.items[g.id]; parent != nil {
		cfg.Source = parent.Name.Item
	}
	for _, it := range g.members {
		for _, t := range g.pg.rec.Tables {
			if t.ID == it.source.collection {
				cfg.Tables = append(cfg.Tables, t)
			}
		}
	}
	if g.checkpoint != nil {
		cp := *g.checkpoint
		cfg.Resume = &cp
	}
	cfg.Collections = c.sourceCollectionsLocked(g)
	r, err := sources.NewPGReader(cfg, groupSink{g: g, run: g.run + 1})
	if err != nil {
		return err
	}
	g.pg.reader = r
	return nil
}

// dropPGSlot drops a dropped source's replication slot once its reader
// has stopped, in the background (the upstream may be slow or away; the
// drop is already durable).
func (c *Coordinator) dropPGSlot(g *sourceGroup) {
	pc, err := c.pgConnLocked(g.pg.conn)
	if err != nil {
		c.log.Warn("coord: cannot drop the replication slot of a dropped source", "slot", g.pg.rec.Slot, "err", err)
		return
	}
	done := g.done
	slot := g.pg.rec.Slot
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if done != nil {
			select {
			case <-done:
			case <-c.ctx.Done():
				return
			}
		}
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		defer cancel()
		if err := sources.DropPGSlot(ctx, pc, slot); err != nil {
			c.log.Warn("coord: dropping replication slot", "slot", slot, "err", err)
			return
		}
		c.log.Info("coord: dropped replication slot", "slot", slot)
	}()
}

// pgReadersLocked returns the readers of the running PostgreSQL sources
// that the items deps read, directly or through views and materialized
// views.
func (c *Coordinator) pgReadersLocked(deps []plan.GlobalID) []*sources.PGReader {
	var out []*sources.PGReader
	seen := map[plan.GlobalID]bool{}
	groups := map[*sourceGroup]bool{}
	var visit func(plan.GlobalID)
	visit = func(id plan.GlobalID) {
		if seen[id] {
			return
		}
		seen[id] = true
		it := c.cat.items[id]
		if it == nil {
			return
		}
		if g := it.sourceGroupOf(); g != nil && g.pg != nil && g.pg.reader != nil && g.cancel != nil && !groups[g] {
			groups[g] = true
			out = append(out, g.pg.reader)
		}
		for _, d := range it.deps {
			visit(d)
		}
	}
	for _, id := range deps {
		visit(id)
	}
	return out
}

func (it *item) sourceGroupOf() *sourceGroup {
	if it.source == nil {
		return nil
	}
	return it.source.group
}

// waitSnapshots blocks a read until every PostgreSQL source that deps read
// (directly or through views) has made its initial snapshot visible, as
// Materialize holds reads until a new source's first timestamp: without
// it, a read right after CREATE SOURCE saw the subsources empty (a
// consistent time, but one that never held the upstream's data). It
// gives up after asOfWait with 57014, naming the source and its last
// error if it has one (an unreachable upstream).
func (c *Coordinator) waitSnapshots(ctx context.Context, deps []plan.GlobalID) error {
	c.mu.Lock()
	readers := c.pgReadersLocked(deps)
	c.mu.Unlock()
	var ctxWait context.Context
	wait := 200 * time.Microsecond
	for _, r := range readers {
		for r.Frontier() == 0 {
			if ctxWait == nil {
				var cancel context.CancelFunc
				ctxWait, cancel = context.WithTimeout(ctx, asOfWait)
				defer cancel()
			}
			select {
			case <-ctxWait.Done():
				if ctx.Err() != nil {
					return ctx.Err()
				}
				msg := fmt.Sprintf("timed out waiting for the initial snapshot of PostgreSQL source %s", r.Source())
				if sts := r.Status(); len(sts) > 0 && sts[0].LastError != nil {
					msg += ": " + sts[0].LastError.Error()
				}
				return pgcode.New(pgcode.QueryCanceled, "%s", msg)
			case <-time.After(wait):
			}
			wait = min(2*wait, 10*time.Millisecond)
		}
	}
	return nil
}

// waitRealTimeRecency blocks until every PostgreSQL source that deps read
// has ingested (durably, and applied at a timestamp no later than the
// coordinator's now) every transaction its upstream had committed when
// the wait began: it reads pg_current_wal_lsn() upstream and waits for
// the source's frontier to pass it, asking the upstream for keepalives
// meanwhile.
func (c *Coordinator) waitRealTimeRecency(ctx context.Context, deps []plan.GlobalID) error {
	c.mu.Lock()
	readers := c.pgReadersLocked(deps)
	c.mu.Unlock()
	if len(readers) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, asOfWait)
	defer cancel()
	targets := make([]uint64, len(readers))
	for i, r := range readers {
		lsn, err := r.CurrentLSN(ctx)
		if err != nil {
			return err
		}
		targets[i] = lsn
	}
	for i, r := range readers {
		wait := 200 * time.Microsecond
		for r.Frontier() < targets[i] {
			r.RequestProgress()
			select {
			case <-ctx.Done():
				return pgcode.New(pgcode.QueryCanceled, "real_time_recency: timed out waiting for a PostgreSQL source to reach upstream LSN %s (it is at %s)",
					sources.FormatLSN(targets[i]), sources.FormatLSN(r.Frontier()))
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Millisecond)
		}
	}
	return nil
}
