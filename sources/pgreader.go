package sources

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// PGReaderConfig configures a PostgreSQL logical replication reader.
type PGReaderConfig struct {
	Conn PGConn
	// Source is the source's name, for messages.
	Source      string
	Publication string
	// Slot is the replication slot's name; the reader creates it when it
	// takes the snapshot.
	Slot   string
	Tables []PGTable
	// Resume, when set, restarts streaming after the last durable unit
	// (its Token is that unit's end LSN). Without Resume the reader
	// takes the initial snapshot first.
	Resume *Checkpoint
	// Collections reads the tables' collections as the sink has applied
	// them: the reader resolves changes against them instead of keeping
	// a copy of every table (see CollectionReader).
	Collections CollectionReader
	// SpillDir holds the spill files of transactions larger than
	// SpillBytes (default os.TempDir(), 8 MiB). When set, it belongs to
	// this reader: NewPGReader creates it and removes files left in it.
	SpillDir   string
	SpillBytes int
	// ChunkBytes bounds what a committed transaction or the snapshot holds
	// in memory here (default 8 MiB of packed rows): past it, the updates
	// built so far are emitted as a chunk (Unit.More) and the next ones
	// start a new unit.
	ChunkBytes int
	Logger     *slog.Logger
}

// PGReader reads one PostgreSQL publication through a logical replication
// slot with the pgoutput plugin and emits one Unit per upstream
// transaction. See doc.go ("PostgreSQL") for the protocol and its
// guarantees.
type PGReader struct {
	cfg   PGReaderConfig
	sink  Sink
	log   *slog.Logger
	byRel map[uint32]*pgTable
	names map[string]*pgTable
	list  []*pgTable
	// resume is the LSN streaming restarts from: the end of the last unit
	// emitted (durable), or the snapshot's consistent point; 0 before the
	// snapshot.
	resume uint64
	// frontier: every upstream transaction that committed before it has
	// been emitted and is durable.
	frontier atomic.Uint64
	progress chan struct{}

	mu         sync.Mutex
	state      State
	lastErr    *SourceError
	upstream   uint64
	lagTime    time.Duration
	msgs       int64
	bytes      int64
	updates    int64
	units      int64
	updated    time.Time
	snapshotAt time.Duration

	// lsnMu guards lsnConn, the connection CurrentLSN queries on; apart
	// from mu so that Status never waits for the upstream.
	lsnMu   sync.Mutex
	lsnConn *pgx.Conn

	// checked is set once the tables' columns have been checked against
	// the upstream catalog (at the snapshot, or when resuming).
	checked bool
	// seq numbers the transactions resolved (pgPending).
	seq uint64
}

// pgTable is one table's ingestion state.
type pgTable struct {
	t PGTable
	// pend holds the table's changes resolved but not yet acknowledged
	// by the sink.
	pend      pgPending
	err       *SourceError
	scratch   []repr.Datum
	keyPacker repr.Packer
}

// NewPGReader makes a reader; Run starts it.
func NewPGReader(cfg PGReaderConfig, sink Sink) (*PGReader, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SpillBytes <= 0 {
		cfg.SpillBytes = 8 << 20
	}
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = 8 << 20
	}
	if cfg.Collections == nil {
		return nil, fmt.Errorf("sources: a PostgreSQL reader needs its collections (PGReaderConfig.Collections)")
	}
	if cfg.SpillDir != "" {
		if err := os.RemoveAll(cfg.SpillDir); err != nil {
			return nil, fmt.Errorf("sources: clearing %s: %w", cfg.SpillDir, err)
		}
		if err := os.MkdirAll(cfg.SpillDir, 0o700); err != nil {
			return nil, fmt.Errorf("sources: spill directory: %w", err)
		}
	}
	r := &PGReader{cfg: cfg, sink: sink, log: cfg.Logger, byRel: map[uint32]*pgTable{}, names: map[string]*pgTable{},
		progress: make(chan struct{}, 1), state: StateStarting}
	for _, t := range cfg.Tables {
		pt := &pgTable{t: t}
		r.names[t.QualifiedName()] = pt
		r.list = append(r.list, pt)
	}
	if cfg.Resume != nil {
		lsn, err := pglogrepl.ParseLSN(cfg.Resume.Token)
		if err != nil {
			return nil, fmt.Errorf("sources: resume point %q: %w", cfg.Resume.Token, err)
		}
		r.resume = uint64(lsn)
		r.frontier.Store(r.resume)
	}
	return r, nil
}

// pgFatal marks errors retrying cannot cure (the slot is gone, the sink
// refused a unit).
type pgFatal struct{ err error }

func (e pgFatal) Error() string { return e.err.Error() }
func (e pgFatal) Unwrap() error { return e.err }

// Run reads until ctx is cancelled, reconnecting with backoff after
// upstream trouble (the collections are then stalled). It returns nil on
// cancellation, or the error that stopped it.
func (r *PGReader) Run(ctx context.Context) error {
	defer r.closeLSNConn()
	backoff := 100 * time.Millisecond
	for {
		err := r.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var fatal pgFatal
		if errors.As(err, &fatal) {
			r.setState(StateErrored, &SourceError{Source: r.cfg.Source, Where: "replication slot " + r.cfg.Slot, Err: err})
			return err
		}
		r.log.Warn("sources: PostgreSQL source interrupted; retrying", "source", r.cfg.Source, "err", err, "backoff", backoff)
		r.setState(StateStalled, &SourceError{Source: r.cfg.Source, Where: "replication slot " + r.cfg.Slot, Err: err})
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (r *PGReader) setState(s State, e *SourceError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = s
	if s != StateRunning {
		r.lastErr = e
	} else {
		r.lastErr = nil
	}
	r.updated = time.Now()
}

func (r *PGReader) runOnce(ctx context.Context) error {
	rconn, err := pgconn.Connect(ctx, r.cfg.Conn.connString(true))
	if err != nil {
		return fmt.Errorf("sources: replication connection: %w", err)
	}
	defer rconn.Close(context.WithoutCancel(ctx))
	if r.resume == 0 {
		start := time.Now()
		lsn, err := r.snapshot(ctx, rconn)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.snapshotAt = time.Since(start)
		r.mu.Unlock()
		r.log.Info("sources: PostgreSQL snapshot ingested", "source", r.cfg.Source, "lsn", pglogrepl.LSN(lsn), "took", time.Since(start))
		r.resume = lsn
		r.frontier.Store(lsn)
	} else if !r.checked {
		// Resuming: a table whose columns changed before a restart may
		// send no Relation message until its next change; check the
		// catalog now so that its subsource is errored again at once.
		if err := r.checkColumns(ctx); err != nil {
			return err
		}
	}
	r.checked = true
	return r.stream(ctx, rconn)
}

// checkColumns compares every table's current columns upstream with the
// source's and errors the tables that changed.
func (r *PGReader) checkColumns(ctx context.Context) error {
	conn, err := ConnectPG(ctx, r.cfg.Conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, pt := range r.list {
		if pt.err != nil {
			continue
		}
		if err := r.checkSnapshotColumns(ctx, conn, pt); err != nil {
			r.fail(pt, r.resume, err)
		}
	}
	return nil
}

// snapshot creates the slot with an exported snapshot, COPYs every table
// at that snapshot in one transaction, and emits the whole as one unit
// bound to the slot's consistent point, from where streaming starts.
func (r *PGReader) snapshot(ctx context.Context, rconn *pgconn.PgConn) (uint64, error) {
	conn, err := ConnectPG(ctx, r.cfg.Conn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// A slot left by an earlier attempt whose snapshot never became
	// durable: start over.
	if err := dropSlot(ctx, conn, r.cfg.Slot); err != nil {
		return 0, err
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, rconn, r.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		return 0, fmt.Errorf("sources: creating replication slot %s: %w", r.cfg.Slot, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, fmt.Errorf("sources: slot consistent point %q: %w", res.ConsistentPoint, err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, fmt.Errorf("sources: snapshot transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+res.SnapshotName+"'"); err != nil {
		return 0, fmt.Errorf("sources: SET TRANSACTION SNAPSHOT: %w", err)
	}
	ch := &pgChunker{r: r, u: Unit{Updates: map[CollectionID][]Update{}, TxnID: "snapshot"}}
	// The tables' size on disk (row headers and free space included)
	// bounds the packed rows of the snapshot from above, usually by
	// 10-30%: the sink's hint.
	for _, pt := range r.list {
		var size int64
		if err := tx.QueryRow(ctx, "SELECT coalesce(pg_table_size(to_regclass($1)), 0)", pgx.Identifier{pt.t.Schema, pt.t.Name}.Sanitize()).Scan(&size); err != nil {
			return 0, fmt.Errorf("sources: size of %s: %w", pt.t.QualifiedName(), err)
		}
		ch.hint += int(size)
	}
	for _, pt := range r.list {
		// The table as of the snapshot must be the table the source
		// was created with.
		if err := r.checkSnapshotColumns(ctx, tx, pt); err != nil {
			r.fail(pt, uint64(lsn), err)
			continue
		}
		var cols []string
		for _, c := range pt.t.Columns {
			cols = append(cols, pgx.Identifier{c.Name}.Sanitize())
		}
		q := fmt.Sprintf("COPY %s (%s) TO STDOUT", pgx.Identifier{pt.t.Schema, pt.t.Name}.Sanitize(), strings.Join(cols, ", "))
		w := &copyDecoder{ctx: ctx, ch: ch, pt: pt}
		if _, err := tx.Conn().PgConn().CopyTo(ctx, w, q); err != nil {
			if w.emitErr != nil {
				return 0, w.emitErr
			}
			return 0, fmt.Errorf("sources: COPY %s: %w", pt.t.QualifiedName(), err)
		}
		if w.err != nil {
			// Rows of the table already emitted in chunks stay; the
			// table is errored, so reads of it fail.
			r.fail(pt, uint64(lsn), w.err)
			delete(ch.u.Updates, pt.t.ID)
			continue
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("sources: snapshot transaction: %w", err)
	}
	unit := ch.u
	unit.Checkpoint, unit.Chunk = Checkpoint{Token: lsn.String()}, ch.chunks
	if err := r.emit(ctx, []Unit{unit}, time.Now()); err != nil {
		return 0, err
	}
	return uint64(lsn), nil
}

// pgChunker builds the unit of one transaction (or of the snapshot),
// emitting it in chunks (Unit.More) whenever its updates pass
// ChunkBytes, so that the reader never holds a large one whole.
type pgChunker struct {
	r *PGReader
	u Unit
	// bytes estimates the memory of u's updates: packed rows plus the
	// Update headers.
	bytes int
	// before runs once, ahead of the first chunk: units already complete
	// must reach the sink before it.
	before func(context.Context) error
	chunks int
	// hint estimates the packed bytes of the whole transaction (0:
	// unknown), passed on with its first chunk.
	hint int
}

// updateOverhead is an Update's size beside its packed row (a slice
// header and a diff).
const updateOverhead = 32

// note counts the updates appended to u since its length was n.
func (c *pgChunker) note(id CollectionID, n int) {
	for _, x := range c.u.Updates[id][n:] {
		c.bytes += len(x.Row) + updateOverhead
	}
}

// maybeEmit emits u as a chunk when it has grown past ChunkBytes and
// starts a new unit.
func (c *pgChunker) maybeEmit(ctx context.Context) error {
	if c.bytes < c.r.cfg.ChunkBytes {
		return nil
	}
	if c.chunks == 0 && c.before != nil {
		if err := c.before(ctx); err != nil {
			return err
		}
	}
	chunk := c.u
	chunk.More, chunk.Chunk = true, c.chunks
	if c.chunks == 0 {
		chunk.SizeHint = c.hint
	}
	c.u = Unit{Updates: map[CollectionID][]Update{}, TxnID: chunk.TxnID}
	c.bytes = 0
	c.chunks++
	if err := c.r.sink.Emit(ctx, chunk); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return pgFatal{fmt.Errorf("sources: emitting a chunk of transaction %s: %w", chunk.TxnID, err)}
	}
	c.r.mu.Lock()
	c.r.updates += int64(chunk.Len())
	c.r.mu.Unlock()
	return nil
}

// checkSnapshotColumns compares the table's columns as tx sees them (at
// the snapshot, or now when resuming) with the source's.
func (r *PGReader) checkSnapshotColumns(ctx context.Context, tx pgQuerier, pt *pgTable) error {
	rows, err := tx.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod FROM pg_attribute a
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, pgx.Identifier{pt.t.Schema, pt.t.Name}.Sanitize())
	if err != nil {
		return fmt.Errorf("sources: reading columns of %s: %w", pt.t.QualifiedName(), err)
	}
	var names []string
	var oids []uint32
	var mods []int32
	for rows.Next() {
		var n string
		var o uint32
		var m int32
		if err := rows.Scan(&n, &o, &m); err != nil {
			rows.Close()
			return err
		}
		if pt.t.ColumnList && !slices.ContainsFunc(pt.t.Columns, func(c PGColumn) bool { return c.Name == n }) {
			// Not in the publication's column list: never sent.
			continue
		}
		names, oids, mods = append(names, n), append(oids, o), append(mods, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if !sameColumns(pt.t.Columns, names, oids, mods) {
		return schemaChanged(pt.t)
	}
	return nil
}

func schemaChanged(t PGTable) error {
	return pgcode.New(pgcode.ObjectNotInPrerequisiteState, "the upstream table %s changed its columns (or was dropped)", t.QualifiedName()).
		WithHint("Recreate the source (DROP SOURCE ...; CREATE SOURCE ...) to pick up the new columns.")
}

// copyDecoder decodes COPY TO STDOUT's text format into rows, adding
// them to the snapshot's unit (which emits chunks as it grows).
type copyDecoder struct {
	ctx    context.Context
	ch     *pgChunker
	pt     *pgTable
	buf    []byte
	fields [][]byte
	err    error
	// emitErr is the error of emitting a chunk: it stops the COPY.
	emitErr error
}

func (w *copyDecoder) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := w.buf[:i]
		if w.err == nil {
			w.line(line)
		}
		w.buf = w.buf[i+1:]
	}
	if w.err == nil {
		if err := w.ch.maybeEmit(w.ctx); err != nil {
			w.emitErr = err
			return 0, err
		}
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(p), nil
}

func (w *copyDecoder) line(line []byte) {
	fs, err := copyFields(line, w.fields)
	if err != nil {
		w.err = err
		return
	}
	w.fields = fs
	if len(fs) != len(w.pt.t.Columns) {
		w.err = fmt.Errorf("COPY row has %d fields, want %d", len(fs), len(w.pt.t.Columns))
		return
	}
	ds := w.pt.scratch[:0]
	for i, f := range fs {
		if f == nil {
			ds = append(ds, repr.Null)
			continue
		}
		d, err := parseText(string(f), w.pt.t.Columns[i].Type)
		if err != nil {
			w.err = fmt.Errorf("column %s: %w", w.pt.t.Columns[i].Name, err)
			return
		}
		ds = append(ds, d)
	}
	w.pt.scratch = ds
	var p repr.Packer
	p.PushAll(ds)
	row := p.Row()
	u := &w.ch.u
	u.Updates[w.pt.t.ID] = append(u.Updates[w.pt.t.ID], Update{Row: row, Diff: 1})
	u.Records++
	w.ch.bytes += len(row) + updateOverhead
}

// fail puts one collection into the errored state; the others go on.
func (r *PGReader) fail(pt *pgTable, lsn uint64, err error) {
	if pt.err != nil {
		return
	}
	se := &SourceError{Collection: pt.t.ID, Source: r.cfg.Source, Topic: pt.t.QualifiedName(), Where: fmt.Sprintf("table %s LSN %s", pt.t.QualifiedName(), FormatLSN(lsn)), Err: err}
	pt.err = se
	r.log.Warn("sources: PostgreSQL table errored", "source", r.cfg.Source, "table", pt.t.QualifiedName(), "err", err)
	r.sink.ReportError(se)
}

// emit hands units to the sink and, once they are durable, moves the
// resume point and the frontier past them.
func (r *PGReader) emit(ctx context.Context, us []Unit, commitTime time.Time) error {
	if len(us) == 0 {
		return nil
	}
	var err error
	if bs, ok := r.sink.(BatchSink); ok {
		err = bs.EmitAll(ctx, us)
	} else {
		for _, u := range us {
			if err = r.sink.Emit(ctx, u); err != nil {
				break
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return pgFatal{fmt.Errorf("sources: emitting: %w", err)}
	}
	last, _ := pglogrepl.ParseLSN(us[len(us)-1].Checkpoint.Token)
	r.resume = uint64(last)
	if uint64(last) > r.frontier.Load() {
		r.frontier.Store(uint64(last))
	}
	n := 0
	for _, u := range us {
		n += u.Len()
	}
	r.mu.Lock()
	r.updates += int64(n)
	r.units += int64(len(us))
	if !commitTime.IsZero() {
		r.lagTime = max(0, time.Since(commitTime))
	}
	if r.state != StateRunning {
		r.state, r.lastErr, r.updated = StateRunning, nil, time.Now()
	}
	r.mu.Unlock()
	return nil
}

// pgTxn buffers one upstream transaction's pgoutput messages until its
// commit: in memory up to a bound, then in a spill file, so a large
// transaction is never held whole in memory before it commits.
type pgTxn struct {
	xid        uint32
	finalLSN   uint64
	commitTime time.Time
	streamed   bool
	mem        [][]byte
	memBytes   int
	// total is the bytes of every message added, for a size estimate.
	total   int
	file    *os.File
	w       *bufio.Writer
	aborted map[uint32]bool
}

func (t *pgTxn) add(data []byte, limit int, dir string) error {
	t.total += len(data)
	if t.file == nil && t.memBytes+len(data) > limit {
		f, err := os.CreateTemp(dir, "viewd-pgtxn-*")
		if err != nil {
			return fmt.Errorf("sources: spilling a large transaction: %w", err)
		}
		t.file, t.w = f, bufio.NewWriterSize(f, 1<<16)
		for _, m := range t.mem {
			if err := t.write(m); err != nil {
				return err
			}
		}
		t.mem, t.memBytes = nil, 0
	}
	if t.file != nil {
		return t.write(data)
	}
	t.mem = append(t.mem, append([]byte(nil), data...))
	t.memBytes += len(data)
	return nil
}

func (t *pgTxn) write(data []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	if _, err := t.w.Write(n[:]); err != nil {
		return fmt.Errorf("sources: spilling a large transaction: %w", err)
	}
	if _, err := t.w.Write(data); err != nil {
		return fmt.Errorf("sources: spilling a large transaction: %w", err)
	}
	return nil
}

// each replays the buffered messages in order.
func (t *pgTxn) each(fn func([]byte) error) error {
	if t.file == nil {
		for _, m := range t.mem {
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	}
	if err := t.w.Flush(); err != nil {
		return err
	}
	if _, err := t.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	br := bufio.NewReaderSize(t.file, 1<<16)
	var n [4]byte
	for {
		if _, err := io.ReadFull(br, n[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		m := make([]byte, binary.BigEndian.Uint32(n[:]))
		if _, err := io.ReadFull(br, m); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

func (t *pgTxn) close() {
	if t.file != nil {
		t.file.Close()
		os.Remove(t.file.Name())
		t.file = nil
	}
}

// pgMsg is one message from the replication connection.
type pgMsg struct {
	data []byte
	err  error
}

// stream runs START_REPLICATION from the resume point and turns
// transactions into units.
func (r *PGReader) stream(ctx context.Context, rconn *pgconn.PgConn) error {
	v2 := false
	if n, err := strconv.Atoi(rconn.ParameterStatus("server_version_num")); err == nil && n >= 140000 {
		v2 = true
	} else if s := rconn.ParameterStatus("server_version"); s != "" {
		if maj, err := strconv.Atoi(strings.SplitN(s, ".", 2)[0]); err == nil && maj >= 14 {
			v2 = true
		}
	}
	pub := strings.ReplaceAll(pgx.Identifier{r.cfg.Publication}.Sanitize(), "'", "''")
	args := []string{"proto_version '1'", "publication_names '" + pub + "'"}
	if v2 {
		args = []string{"proto_version '2'", "publication_names '" + pub + "'", "streaming 'on'"}
	}
	if err := pglogrepl.StartReplication(ctx, rconn, r.cfg.Slot, pglogrepl.LSN(r.resume),
		pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication, PluginArgs: args}); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42704" {
			return pgFatal{fmt.Errorf("sources: replication slot %s is gone upstream: %w", r.cfg.Slot, err)}
		}
		return fmt.Errorf("sources: START_REPLICATION: %w", err)
	}
	r.setState(StateRunning, nil)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan pgMsg, 4096)
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			m, err := rconn.ReceiveMessage(rctx)
			if err != nil {
				select {
				case ch <- pgMsg{err: err}:
				case <-rctx.Done():
				}
				return
			}
			var out pgMsg
			switch m := m.(type) {
			case *pgproto3.CopyData:
				out.data = append([]byte(nil), m.Data...)
			case *pgproto3.ErrorResponse:
				out.err = pgconn.ErrorResponseToPgError(m)
			default:
				continue
			}
			select {
			case ch <- out:
			case <-rctx.Done():
				return
			}
			if out.err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		<-recvDone
	}()
	// What was resolved but not acknowledged on an earlier connection
	// is received again from the resume point.
	for _, pt := range r.list {
		pt.pend.reset()
	}
	s := &pgStream{r: r, v2: v2, streams: map[uint32]*pgTxn{}}
	defer s.closeAll()
	status := time.NewTicker(time.Second)
	defer status.Stop()
	var lastAsk time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-status.C:
			if err := r.sendStatus(ctx, rconn, false); err != nil {
				return err
			}
			continue
		case <-r.progress:
			if time.Since(lastAsk) < 2*time.Millisecond {
				time.Sleep(2 * time.Millisecond)
			}
			lastAsk = time.Now()
			if err := r.sendStatus(ctx, rconn, true); err != nil {
				return err
			}
			continue
		case m := <-ch:
			if m.err != nil {
				// Complete transactions received are still emitted.
				if err := s.flush(ctx); err != nil {
					return err
				}
				return fmt.Errorf("sources: replication stream: %w", m.err)
			}
			if err := s.handle(ctx, rconn, m.data); err != nil {
				return err
			}
		}
		if len(s.ready) > 0 && (len(ch) == 0 || len(s.ready) >= 512) {
			if err := s.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// sendStatus confirms the frontier to the upstream (write, flush and
// apply positions alike): everything before it is durable in viewd, so
// the slot may release the WAL before it.
func (r *PGReader) sendStatus(ctx context.Context, rconn *pgconn.PgConn, reply bool) error {
	f := r.frontier.Load()
	if f == 0 {
		return nil
	}
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, rconn, pglogrepl.StandbyStatusUpdate{WALWritePosition: pglogrepl.LSN(f), ReplyRequested: reply}); err != nil {
		return fmt.Errorf("sources: standby status update: %w", err)
	}
	return nil
}

// pgStream is the state of one replication connection: the open
// transaction, the streamed transactions in progress, and the complete
// units waiting to be emitted.
type pgStream struct {
	r        *PGReader
	v2       bool
	txn      *pgTxn
	streams  map[uint32]*pgTxn
	inStream uint32
	ready    []Unit
	// readySeq is the sequence number (PGReader.seq) of the last
	// transaction in ready.
	readySeq uint64
	lastTime time.Time
	// once, while a large transaction is resolved in two passes, counts
	// the changes of each key it makes (countKeys); twoPasses counts
	// such transactions.
	once      map[uint64]uint8
	twoPasses int
}

func (s *pgStream) closeAll() {
	if s.txn != nil {
		s.txn.close()
	}
	for _, t := range s.streams {
		t.close()
	}
}

// flush emits the complete units waiting; once the sink has applied
// them, the tables' pending changes of their transactions go.
func (s *pgStream) flush(ctx context.Context) error {
	us := s.ready
	s.ready = nil
	if err := s.r.emit(ctx, us, s.lastTime); err != nil {
		return err
	}
	if len(us) > 0 {
		for _, pt := range s.r.list {
			pt.pend.prune(s.readySeq)
		}
	}
	return nil
}

func (s *pgStream) handle(ctx context.Context, rconn *pgconn.PgConn, data []byte) error {
	r := s.r
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("sources: keepalive: %w", err)
		}
		r.noteUpstream(uint64(ka.ServerWALEnd), 0)
		if s.txn == nil {
			// Every transaction that committed before ServerWALEnd has
			// been received: once the ready ones are durable, the
			// frontier is there.
			if err := s.flush(ctx); err != nil {
				return err
			}
			if w := uint64(ka.ServerWALEnd); w > r.frontier.Load() {
				r.frontier.Store(w)
			}
		}
		if ka.ReplyRequested {
			return r.sendStatus(ctx, rconn, false)
		}
		return nil
	case pglogrepl.XLogDataByteID:
	default:
		return nil
	}
	xld, err := pglogrepl.ParseXLogData(data[1:])
	if err != nil {
		return fmt.Errorf("sources: XLogData: %w", err)
	}
	r.noteUpstream(uint64(xld.ServerWALEnd), len(data))
	w := xld.WALData
	if len(w) == 0 {
		return nil
	}
	switch pglogrepl.MessageType(w[0]) {
	case pglogrepl.MessageTypeBegin:
		var b pglogrepl.BeginMessage
		if err := decodePGOutput(func() error { return b.Decode(w[1:]) }); err != nil {
			return fmt.Errorf("sources: BEGIN: %w", err)
		}
		if s.txn != nil {
			// A protocol violation: the open transaction's messages
			// (and spill file) go, and the stream ends.
			open := s.txn
			open.close()
			s.txn = nil
			return fmt.Errorf("sources: BEGIN of %d inside transaction %d", b.Xid, open.xid)
		}
		s.txn = &pgTxn{xid: b.Xid, finalLSN: uint64(b.FinalLSN), commitTime: b.CommitTime}
	case pglogrepl.MessageTypeCommit:
		var c pglogrepl.CommitMessage
		if err := decodePGOutput(func() error { return c.Decode(w[1:]) }); err != nil {
			return fmt.Errorf("sources: COMMIT: %w", err)
		}
		t := s.txn
		s.txn = nil
		if t == nil {
			return fmt.Errorf("sources: COMMIT without BEGIN at %s", c.CommitLSN)
		}
		defer t.close()
		return s.commit(ctx, t, uint64(c.CommitLSN), uint64(c.TransactionEndLSN), c.CommitTime)
	case pglogrepl.MessageTypeRelation:
		m, err := parsePGOutput(w, s.inStream != 0)
		if err != nil {
			return fmt.Errorf("sources: RELATION: %w", err)
		}
		rel := relationOf(m)
		if rel != nil {
			s.relation(rel, uint64(xld.WALStart))
		}
	case pglogrepl.MessageTypeStreamStart:
		var m pglogrepl.StreamStartMessageV2
		if err := decodePGOutput(func() error { return m.DecodeV2(w[1:], false) }); err != nil {
			return fmt.Errorf("sources: STREAM START: %w", err)
		}
		s.inStream = m.Xid
		if s.streams[m.Xid] == nil {
			s.streams[m.Xid] = &pgTxn{xid: m.Xid, streamed: true}
		}
	case pglogrepl.MessageTypeStreamStop:
		s.inStream = 0
	case pglogrepl.MessageTypeStreamAbort:
		var m pglogrepl.StreamAbortMessageV2
		if err := decodePGOutput(func() error { return m.DecodeV2(w[1:], false) }); err != nil {
			return fmt.Errorf("sources: STREAM ABORT: %w", err)
		}
		if t := s.streams[m.Xid]; t != nil {
			if m.SubXid == m.Xid {
				t.close()
				delete(s.streams, m.Xid)
			} else {
				if t.aborted == nil {
					t.aborted = map[uint32]bool{}
				}
				t.aborted[m.SubXid] = true
			}
		}
	case pglogrepl.MessageTypeStreamCommit:
		var m pglogrepl.StreamCommitMessageV2
		if err := decodePGOutput(func() error { return m.DecodeV2(w[1:], false) }); err != nil {
			return fmt.Errorf("sources: STREAM COMMIT: %w", err)
		}
		t := s.streams[m.Xid]
		delete(s.streams, m.Xid)
		if t == nil {
			return nil
		}
		defer t.close()
		return s.commit(ctx, t, uint64(m.CommitLSN), uint64(m.TransactionEndLSN), m.CommitTime)
	case pglogrepl.MessageTypeInsert, pglogrepl.MessageTypeUpdate, pglogrepl.MessageTypeDelete, pglogrepl.MessageTypeTruncate:
		t := s.txn
		if s.inStream != 0 {
			t = s.streams[s.inStream]
		}
		if t == nil {
			return fmt.Errorf("sources: change outside a transaction at %s", xld.WALStart)
		}
		return t.add(w, r.cfg.SpillBytes, r.cfg.SpillDir)
	}
	return nil
}

// parsePGOutput is pglogrepl.ParseV2 that returns an error where the
// library panics: its decoders do not check lengths, and a truncated
// tuple (FuzzPGOutput) indexed past the message. A malformed message then
// ends the stream with an error (the source reconnects and reports it)
// instead of taking the server down.
func parsePGOutput(w []byte, inStream bool) (m pglogrepl.Message, err error) {
	if err := checkPGOutputLengths(w, inStream); err != nil {
		return nil, err
	}
	err = decodePGOutput(func() error {
		var perr error
		m, perr = pglogrepl.ParseV2(w, inStream)
		return perr
	})
	return m, err
}

// checkPGOutputLengths checks the lengths an insert, update, delete or
// truncate message declares against its bytes before pglogrepl decodes
// it: pglogrepl allocates what a length field says first (a tuple
// column's 4-byte length, a truncate's relation count), so one bad
// message would ask for gigabytes, which no recover undoes.
func checkPGOutputLengths(w []byte, inStream bool) error {
	if len(w) == 0 {
		return nil
	}
	bad := func(what string) error {
		return fmt.Errorf("sources: malformed pgoutput %c message: %s", w[0], what)
	}
	p := w[1:]
	switch pglogrepl.MessageType(w[0]) {
	case pglogrepl.MessageTypeInsert, pglogrepl.MessageTypeUpdate, pglogrepl.MessageTypeDelete, pglogrepl.MessageTypeTruncate:
	default:
		return nil
	}
	if inStream {
		if len(p) < 4 {
			return bad("short")
		}
		p = p[4:] // the transaction id
	}
	if pglogrepl.MessageType(w[0]) == pglogrepl.MessageTypeTruncate {
		if len(p) < 5 {
			return bad("short")
		}
		n := uint64(binary.BigEndian.Uint32(p))
		if n*4 > uint64(len(p)-5) {
			return bad(fmt.Sprintf("%d relations in %d bytes", n, len(p)-5))
		}
		return nil
	}
	if len(p) < 4 {
		return bad("short")
	}
	p = p[4:] // the relation id
	// Tuples follow, each after a one-byte tag ('K', 'O' or 'N').
	for len(p) > 0 {
		p = p[1:]
		if len(p) < 2 {
			return bad("short tuple")
		}
		cols := int(binary.BigEndian.Uint16(p))
		p = p[2:]
		for i := 0; i < cols; i++ {
			if len(p) < 1 {
				return bad("short tuple")
			}
			kind := p[0]
			p = p[1:]
			if kind != pglogrepl.TupleDataTypeText && kind != pglogrepl.TupleDataTypeBinary {
				continue
			}
			if len(p) < 4 {
				return bad("short column")
			}
			n := uint64(binary.BigEndian.Uint32(p))
			p = p[4:]
			if n > uint64(len(p)) {
				return bad(fmt.Sprintf("a column of %d bytes in %d", n, len(p)))
			}
			p = p[n:]
		}
	}
	return nil
}

// decodePGOutput runs a pglogrepl decoder, turning a panic into an error.
func decodePGOutput(decode func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sources: malformed pgoutput message: %v", p)
		}
	}()
	return decode()
}

func relationOf(m pglogrepl.Message) *pglogrepl.RelationMessage {
	switch m := m.(type) {
	case *pglogrepl.RelationMessage:
		return m
	case *pglogrepl.RelationMessageV2:
		return &m.RelationMessage
	}
	return nil
}

// relation learns a relation id and checks the table's columns against
// the source's: a table whose columns changed is errored (its later
// changes are dropped; the other tables go on).
func (s *pgStream) relation(m *pglogrepl.RelationMessage, lsn uint64) {
	pt := s.r.names[m.Namespace+"."+m.RelationName]
	if pt == nil {
		s.r.byRel[m.RelationID] = nil
		return
	}
	s.r.byRel[m.RelationID] = pt
	names := make([]string, len(m.Columns))
	oids := make([]uint32, len(m.Columns))
	mods := make([]int32, len(m.Columns))
	for i, c := range m.Columns {
		names[i], oids[i], mods[i] = c.Name, c.DataType, c.TypeModifier
	}
	if !sameColumns(pt.t.Columns, names, oids, mods) {
		s.r.fail(pt, lsn, schemaChanged(pt.t))
	}
}

// commit turns a complete transaction into a unit, unless it is at or
// before the resume point (already durable: a restart re-sends it). A
// transaction whose updates pass ChunkBytes is emitted in chunks as its
// buffered messages are replayed (after the units already complete);
// its last unit, with the checkpoint, joins the ready ones.
func (s *pgStream) commit(ctx context.Context, t *pgTxn, commitLSN, endLSN uint64, commitTime time.Time) error {
	r := s.r
	if commitLSN < r.resume {
		return nil
	}
	// pgoutput's text tuples are about as long as the packed rows they
	// become: the messages' bytes estimate the transaction's updates.
	ch := &pgChunker{r: r, u: Unit{Updates: map[CollectionID][]Update{}, TxnID: strconv.FormatUint(uint64(t.xid), 10)}, before: s.flush, hint: t.total}
	r.seq++
	seq := r.seq
	twoPass := false
	if t.file != nil {
		// Spilled: counted first, resolved alone (see countKeys).
		once, err := s.countKeys(t)
		if err != nil {
			return err
		}
		if once != nil {
			if err := s.flush(ctx); err != nil {
				return err
			}
			s.once, twoPass = once, true
			s.twoPasses++
			defer func() { s.once = nil }()
		}
	}
	applied := 0 // changes resolved against the tables' states
	err := t.each(func(w []byte) error {
		m, err := parsePGOutput(w, t.streamed)
		if err != nil {
			return fmt.Errorf("sources: decoding a change: %w", err)
		}
		ch.u.Records++
		applied++
		if err := s.change(ctx, ch, m, t.aborted, commitLSN, seq); err != nil {
			return err
		}
		return ch.maybeEmit(ctx)
	})
	if err != nil {
		if applied > 0 {
			// Part of the transaction is resolved (and perhaps emitted
			// in chunks): a message that cannot be read now cannot be
			// later either, so the source stops rather than retry it
			// forever (a restart resumes from what is durable).
			return pgFatal{err}
		}
		return err
	}
	u := ch.u
	u.Checkpoint, u.Chunk = Checkpoint{Token: pglogrepl.LSN(endLSN).String()}, ch.chunks
	s.ready = append(s.ready, u)
	s.readySeq = seq
	s.lastTime = commitTime
	if twoPass {
		// The keys it changed once have no pending entry: no later
		// transaction may be resolved before it is applied.
		s.once = nil
		return s.flush(ctx)
	}
	return nil
}

// change resolves one insert, update, delete or truncate against its
// table (resolve) and appends the resulting updates to the chunker's
// unit. seq numbers the transaction (pgPending).
func (s *pgStream) change(ctx context.Context, ch *pgChunker, m pglogrepl.Message, aborted map[uint32]bool, lsn, seq uint64) error {
	r := s.r
	u := &ch.u
	var c pgChange
	var relID, xid uint32
	// ParseV2 gives the V2 types for both protocol versions (Xid 0 outside
	// streamed transactions).
	switch m := m.(type) {
	case *pglogrepl.InsertMessageV2:
		xid, relID, c.newT, c.kind = m.Xid, m.RelationID, m.Tuple, opInsert
	case *pglogrepl.UpdateMessageV2:
		xid, relID, c.oldT, c.newT, c.kind = m.Xid, m.RelationID, m.OldTuple, m.NewTuple, opUpdate
		c.oldFull = m.OldTupleType == pglogrepl.UpdateMessageTupleTypeOld
	case *pglogrepl.DeleteMessageV2:
		xid, relID, c.oldT, c.kind = m.Xid, m.RelationID, m.OldTuple, opDelete
		c.oldFull = m.OldTupleType == pglogrepl.DeleteMessageTupleTypeOld
	case *pglogrepl.TruncateMessageV2:
		if aborted[m.Xid] {
			return nil
		}
		return s.truncate(ctx, ch, m.RelationIDs, seq)
	default:
		return nil
	}
	if aborted[xid] {
		// A subtransaction rolled back inside a streamed transaction.
		return nil
	}
	pt := r.byRel[relID]
	if pt == nil || pt.err != nil {
		return nil
	}
	if c.oldT != nil && hasUnchanged(c.oldT) {
		c.oldFull = false
	}
	n := len(u.Updates[pt.t.ID])
	out, err := s.resolve(pt, c, seq, u.Updates[pt.t.ID])
	if err != nil {
		var ce collectionErr
		if errors.As(err, &ce) {
			return err
		}
		// The table's updates in chunks already emitted stay; the table
		// is errored, so reads of it fail.
		r.fail(pt, lsn, err)
		delete(u.Updates, pt.t.ID)
		return nil
	}
	u.Updates[pt.t.ID] = out
	ch.note(pt.t.ID, n)
	return nil
}

func hasUnchanged(t *pglogrepl.TupleData) bool {
	for _, c := range t.Columns {
		if c.DataType == pglogrepl.TupleDataTypeToast {
			return true
		}
	}
	return false
}

// tuple decodes a pgoutput tuple (text format) into a row; an unchanged
// TOASTed value is taken from fill.
func (s *pgStream) tuple(pt *pgTable, t *pglogrepl.TupleData, fill repr.Row) (repr.Row, error) {
	if len(t.Columns) != len(pt.t.Columns) {
		return nil, fmt.Errorf("tuple has %d columns, want %d", len(t.Columns), len(pt.t.Columns))
	}
	ds := pt.scratch[:0]
	for i, c := range t.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			ds = append(ds, repr.Null)
		case pglogrepl.TupleDataTypeToast:
			if fill == nil {
				ds = append(ds, repr.Null)
				continue
			}
			ds = append(ds, fill.Get(i))
		case pglogrepl.TupleDataTypeText:
			d, err := parseText(string(c.Data), pt.t.Columns[i].Type)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", pt.t.Columns[i].Name, err)
			}
			ds = append(ds, d)
		default:
			return nil, fmt.Errorf("column %s: unexpected tuple data type %q", pt.t.Columns[i].Name, c.DataType)
		}
	}
	pt.scratch = ds
	var p repr.Packer
	p.PushAll(ds)
	return p.Row(), nil
}

func (r *PGReader) noteUpstream(lsn uint64, n int) {
	r.mu.Lock()
	if lsn > r.upstream {
		r.upstream = lsn
	}
	if n > 0 {
		r.msgs++
		r.bytes += int64(n)
	}
	r.mu.Unlock()
}

// Source returns the name of the source the reader reads for.
func (r *PGReader) Source() string { return r.cfg.Source }

// Frontier returns the LSN before which every upstream transaction is
// durable in viewd.
func (r *PGReader) Frontier() uint64 { return r.frontier.Load() }

// RequestProgress asks the upstream for a keepalive now, so that the
// frontier catches up with the upstream's WAL without waiting for the
// next periodic one (real-time recency reads call it while they wait).
func (r *PGReader) RequestProgress() {
	select {
	case r.progress <- struct{}{}:
	default:
	}
}

// CurrentLSN returns the upstream's pg_current_wal_lsn(), over an
// ordinary connection kept for the purpose.
func (r *PGReader) CurrentLSN(ctx context.Context) (uint64, error) {
	r.lsnMu.Lock()
	defer r.lsnMu.Unlock()
	if r.lsnConn == nil || r.lsnConn.IsClosed() {
		c, err := ConnectPG(ctx, r.cfg.Conn)
		if err != nil {
			return 0, err
		}
		r.lsnConn = c
	}
	var lsn pglogrepl.LSN
	if err := r.lsnConn.QueryRow(ctx, "SELECT pg_current_wal_lsn()").Scan(&lsn); err != nil {
		r.lsnConn.Close(context.WithoutCancel(ctx))
		r.lsnConn = nil
		return 0, pgcode.Wrap(err, pgcode.ConnectionException, "sources: reading the upstream's WAL position: "+err.Error())
	}
	return uint64(lsn), nil
}

func (r *PGReader) closeLSNConn() {
	r.lsnMu.Lock()
	defer r.lsnMu.Unlock()
	if r.lsnConn != nil {
		r.lsnConn.Close(context.Background())
		r.lsnConn = nil
	}
}

// Status reports each collection's state, with the reader's LSNs and lag.
func (r *PGReader) Status() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frontier.Load()
	var lagBytes int64
	if r.upstream > f {
		lagBytes = int64(r.upstream - f)
	}
	out := make([]Status, 0, len(r.list))
	for _, pt := range r.list {
		st := Status{Collection: pt.t.ID, Name: pt.t.QualifiedName(), State: r.state, LastError: r.lastErr,
			MessagesRead: r.msgs, BytesRead: r.bytes, UpdatesEmitted: r.updates, UnitsEmitted: r.units, Updated: r.updated,
			CommittedLSN: f, UpstreamLSN: max(r.upstream, f), LagBytes: lagBytes, LagTime: r.lagTime, SnapshotTime: r.snapshotAt}
		if pt.err != nil {
			st.State, st.LastError = StateErrored, pt.err
		}
		out = append(out, st)
	}
	return out
}

// FormatLSN prints an LSN as PostgreSQL does (16/B374D848).
func FormatLSN(lsn uint64) string { return pglogrepl.LSN(lsn).String() }

// DropPGSlot drops a source's replication slot upstream, waiting (up to
// ctx) for a walsender still holding it to exit. A missing slot is not an
// error.
func DropPGSlot(ctx context.Context, c PGConn, slot string) error {
	conn, err := ConnectPG(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		err := dropSlot(ctx, conn, slot)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func dropSlot(ctx context.Context, conn *pgx.Conn, slot string) error {
	// A walsender of a killed viewd may hold the slot for a moment.
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE slot_name = $1 AND active_pid IS NOT NULL AND active_pid <> pg_backend_pid()`, slot); err != nil {
		return fmt.Errorf("sources: releasing replication slot %s: %w", slot, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot); err != nil {
		return fmt.Errorf("sources: dropping replication slot %s: %w", slot, err)
	}
	return nil
}
