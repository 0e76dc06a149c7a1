package coord

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/storage"
)

// Config configures a coordinator.
type Config struct {
	// DataDir is where durable state lives.
	DataDir string
	// Workers is the dataflow worker count; 0 means the number of cores.
	Workers int
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
	// KafkaBrokers are the default brokers for Kafka connections that name
	// none (the embedded broker, when it runs).
	KafkaBrokers []string
	// TickInterval is how often time advances when nothing forces it; 0
	// means 10ms.
	TickInterval time.Duration
	// RetainHistory is how much history arrangements keep readable behind
	// the latest timestamp; 0 means 5s.
	RetainHistory time.Duration
	// Now returns the wall clock in milliseconds; nil means time.Now.
	Now func() repr.Timestamp
	// MaxQueryMemory bounds the memory one query may use for state it
	// must hold (sorting, transient dataflows): past it the query fails
	// with 53200. 0 means a quarter of the machine's memory.
	MaxQueryMemory int64
	// MaxDataflowMemory bounds a materialized view's dataflow: a step
	// that produces more than this many bytes (rows plus new keyed
	// state), or after which the view's own arrangements and group
	// state hold more,
	// stops; the view is then failed (its reads and those of everything
	// built on it return 53200) and its state dropped, while the server
	// and every other view go on. 0 means unlimited.
	MaxDataflowMemory int64
	// DisableFastPath makes every read build a transient dataflow (tests
	// compare the fast paths with it).
	DisableFastPath bool
	// CompactLogBytes is the durable log's size past which it is
	// compacted into a snapshot of the tables' contents; 0 means 64 MiB.
	CompactLogBytes int64
	// CompactSnapshotRatio: the log is also not compacted before it has
	// grown to this multiple of the live snapshot's size, so that a
	// growing collection is rewritten a bounded number of times over
	// (a compaction rewrites every table: at a fixed threshold, ingesting
	// N bytes would write O(N^2) bytes of snapshots). 0 means 1; a
	// negative ratio turns the rule off (compaction at CompactLogBytes
	// whatever the snapshot's size).
	CompactSnapshotRatio float64
	// SuperuserPassword is the password the bootstrap superuser viewd
	// gets when the catalog has no roles yet (a new data directory); ""
	// sets none. Later starts ignore it: ALTER ROLE changes a password.
	SuperuserPassword string
	// OSUser, when set, also gets a LOGIN SUPERUSER role at that first
	// start, as initdb makes one for the operating system user.
	OSUser string
}

// Coordinator is the server's state. Create one with Open.
type Coordinator struct {
	cfg   Config
	log   *slog.Logger
	store *storage.Store

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	cat *catalog
	// reading is the session whose read is being planned (under mu), for
	// the system relations that show the reading session's own state
	// (pg_cursors); nil otherwise.
	reading *session
	// reads caches the plans of SELECTs without parameters (stmtcache.go).
	reads readCache
	// now is the latest complete timestamp: every input has been fed and
	// every dataflow stepped through it.
	now repr.Timestamp
	// nowA mirrors now for readers outside the lock (evaluation contexts).
	nowA atomic.Uint64
	// ingested counts the source updates applied (applyUnitsLocked), for
	// the memory loop, which releases no memory during a bulk load.
	ingested atomic.Int64
	// catalogRefreshWanted makes the next step feed the arranged system
	// relations whether or not a dataflow reads them (a read does:
	// freshCatalogLocked).
	catalogRefreshWanted bool
	// unconverged counts the plans whose optimisation stopped at a
	// batch's pass limit (plan.Report): rules undoing each other, which
	// costs planning time on every such query. Tests assert it stays 0.
	unconverged atomic.Int64
	// since is the earliest timestamp reads may ask for.
	since repr.Timestamp
	// advanced is broadcast (under mu) whenever now moves.
	advanced *sync.Cond
	// dataflows are stepped in this order at each tick.
	dataflows []*dataflowState
	// dataflowFailed is set once a materialized view's dataflow has
	// failed (MaxDataflowMemory): from then on each step checks whether
	// a dataflow is built on a failed one.
	dataflowFailed bool
	// subscribes are live SUBSCRIBE dataflows, stepped after dataflows.
	subscribes map[*subscription]bool
	// pendingUnits are source units waiting for the next tick.
	pendingUnits []*pendingUnit
	sessions     map[uint32]*session
	closed       bool
	// logins are every role's login facts, published after each change
	// to roles (LoginRole reads them without the lock).
	logins atomic.Pointer[map[string]Login]

	// replaying is set while the catalog is replayed: the id, oid and
	// search path the CREATE being replayed must use.
	replaying *creating
	// planningPath and notice are the search path and notice sink of the
	// session whose DDL is running (under mu).
	planningPath []string
	notice       func(*pgcode.Error)
	// builtinVersion is the catalog version the arranged system relations
	// were last fed at (catalogrel.go).
	builtinVersion uint64
	// ddlSession is the session whose DDL is running (under mu), whose
	// current role the DDL's privilege checks use; nil for the
	// coordinator's own changes.
	ddlSession *session
	// needStep asks for a step after replay (table contents were loaded).
	needStep bool
	// commitQ holds transactions waiting to commit (group commit); it is
	// guarded by commitMu, not mu, so writers can queue while a commit
	// holds mu.
	commitMu sync.Mutex
	commitQ  []*commitReq
	// commits and commitGroups count committed transactions and the
	// durable writes (groups) that carried them.
	commits, commitGroups atomic.Int64
	// foreignKeys counts the FOREIGN KEY constraints in the catalog:
	// writes take the lock to run them only when there is one.
	foreignKeys atomic.Int64
	// catalogRecs are every durable catalog record in order (what a
	// compaction writes back); compactedBytes is the log size below which
	// no compaction is tried.
	catalogRecs     [][]byte
	compactedBytes  int64
	compactions     int
	compacting      bool // a compaction's goroutine is writing its snapshot
	compactFailures int
	// waiters counts readers waiting for a later timestamp.
	waiters int
	// kick wakes the tick loop early; memKick the memory loop.
	kick    chan struct{}
	memKick chan struct{}
	// compactedAt is when history was last compacted.
	compactedAt repr.Timestamp
	// groups are the Kafka reader groups by key; deferredGroups wait for
	// replay to finish; bindings are the durable source checkpoints.
	groups         map[string]*sourceGroup
	deferredGroups []*sourceGroup
	bindings       map[plan.GlobalID]storage.Binding
	// testHook, when set (by tests only), is called at the named points of
	// a commit: "queued" by the committing session once its transaction
	// is queued (before it takes the lock), "resolved" by an INSERT ... ON
	// CONFLICT once it has resolved its conflicts (before it writes),
	// "append" under the lock once
	// the group passed its checks and before its log record is written,
	// "durable" once the record is durable and before any input sees it.
	testHook atomic.Pointer[func(point string)]
}

// hook calls the test hook, if any, at point.
func (c *Coordinator) hook(point string) {
	if f := c.testHook.Load(); f != nil {
		(*f)(point)
	}
}

// dataflowState is a persistent dataflow: a table's or source's input
// graph, or an index's or materialized view's graph.
type dataflowState struct {
	owner plan.GlobalID
	graph *dataflow.Graph
	// bounded is set for a materialized view's dataflow, which
	// Config.MaxDataflowMemory limits.
	bounded bool
}

// Open opens (or creates) the data directory, replays the catalog and table
// contents, and starts the clock.
func Open(ctx context.Context, cfg Config) (*Coordinator, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 10 * time.Millisecond
	}
	if cfg.RetainHistory <= 0 {
		cfg.RetainHistory = 5 * time.Second
	}
	if cfg.CompactLogBytes <= 0 {
		cfg.CompactLogBytes = defaultCompactLogBytes
	}
	if cfg.CompactSnapshotRatio == 0 {
		cfg.CompactSnapshotRatio = 1
	}
	if cfg.MaxQueryMemory <= 0 {
		cfg.MaxQueryMemory = defaultQueryMemory()
	}
	if cfg.Now == nil {
		cfg.Now = func() repr.Timestamp { return repr.Timestamp(time.Now().UnixMilli()) }
	}
	began := time.Now()
	store, state, err := storage.Open(cfg.DataDir, cfg.Logger)
	loaded := time.Since(began)
	if err != nil {
		return nil, fmt.Errorf("coord: %w", err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Coordinator{
		cfg:        cfg,
		log:        cfg.Logger,
		store:      store,
		ctx:        cctx,
		cancel:     cancel,
		cat:        newCatalog(),
		subscribes: map[*subscription]bool{},
		sessions:   map[uint32]*session{},
		groups:     map[string]*sourceGroup{},
		kick:       make(chan struct{}, 1),
		memKick:    make(chan struct{}, 1),
		bindings:   map[plan.GlobalID]storage.Binding{},
	}
	for id, b := range state.Bindings {
		c.bindings[plan.GlobalID(id)] = b
	}
	c.advanced = sync.NewCond(&c.mu)
	installBuiltins(c.cat)
	c.catalogRecs = state.Catalog
	start := max(state.Timestamp+1, cfg.Now())
	c.now = start
	c.nowA.Store(uint64(start))
	c.since = start
	c.mu.Lock()
	err = c.installCatalogRelationsLocked()
	c.mu.Unlock()
	if err != nil {
		c.closeDataflows()
		cancel()
		store.Close()
		return nil, err
	}
	replayStart := time.Now()
	if err := c.replay(ctx, state); err != nil {
		c.closeDataflows()
		cancel()
		store.Close()
		return nil, err
	}
	replayed := time.Since(replayStart)
	c.mu.Lock()
	err = c.bootstrapRolesLocked(cfg.SuperuserPassword, cfg.OSUser)
	c.publishLoginsLocked()
	c.mu.Unlock()
	if err != nil {
		c.closeDataflows()
		cancel()
		store.Close()
		return nil, fmt.Errorf("coord: bootstrap roles: %w", err)
	}
	stepStart := time.Now()
	if c.needStep {
		c.mu.Lock()
		_, err := c.advanceLocked(nil)
		c.mu.Unlock()
		if err != nil {
			c.closeDataflows()
			cancel()
			store.Close()
			return nil, fmt.Errorf("coord: loading tables: %w", err)
		}
	}
	c.mu.Lock()
	for _, g := range c.deferredGroups {
		if err := c.runGroupLocked(g); err != nil {
			c.log.Error("coord: starting source", "source", g.key, "err", err)
		}
	}
	c.deferredGroups = nil
	c.mu.Unlock()
	// Logged before the loops start: the tick loop changes now and the
	// catalog under the lock.
	c.log.Info("coord: opened", "data-dir", cfg.DataDir, "items", len(c.cat.items), "timestamp", uint64(c.now),
		"storage", loaded.Round(time.Millisecond), "catalog", replayed.Round(time.Millisecond),
		"first-step", time.Since(stepStart).Round(time.Millisecond), "total", time.Since(began).Round(time.Millisecond))
	installBallast()
	c.wg.Add(2)
	go c.tickLoop()
	go c.memoryLoop()
	return c, nil
}

// Close stops the clock, drops every dataflow and closes the store.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.advanced.Broadcast()
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.closeDataflows()
	return c.store.Close()
}

func (c *Coordinator) closeDataflows() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range c.cat.items {
		if it.rt != nil && it.rt.stop != nil {
			it.rt.stop()
		}
	}
	for _, d := range c.dataflows {
		d.graph.Close()
	}
	c.dataflows = nil
	for s := range c.subscribes {
		s.closeLocked(pgcode.New(pgcode.AdminShutdown, "terminating connection due to administrator command"))
	}
}

// tickLoop advances time every TickInterval.
func (c *Coordinator) tickLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
		c.mu.Lock()
		if !c.closed && c.shouldTickLocked() {
			if _, err := c.advanceLocked(nil); err != nil && c.ctx.Err() == nil {
				c.log.Error("coord: advancing time failed", "err", err)
			}
		}
		if !c.closed {
			// Here rather than in advanceLocked: a commit that grows the
			// log past the threshold is acknowledged first.
			c.maybeCompactLocked()
		}
		c.mu.Unlock()
	}
}

// wake asks the clock to advance now rather than at the next tick (source
// units are waiting).
func (c *Coordinator) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// idleAdvance is how often time advances when nothing happens.
const idleAdvance = 250 // milliseconds

// shouldTickLocked reports whether the clock must advance now: source
// units are waiting, a reader waits for a later timestamp, a SUBSCRIBE is
// running, a dataflow has work scheduled (temporal filters), or time has
// not advanced for idleAdvance. Otherwise an idle server skips the tick
// rather than advance every dataflow every TickInterval.
func (c *Coordinator) shouldTickLocked() bool {
	wall := c.cfg.Now()
	switch {
	case len(c.pendingUnits) > 0, c.waiters > 0, len(c.subscribes) > 0:
		return true
	case wall >= c.now+idleAdvance:
		return true
	}
	for _, d := range c.dataflows {
		if t, ok := d.graph.NextScheduled(); ok && t <= wall {
			return true
		}
	}
	return false
}

// nextTimestampLocked returns the timestamp of the next step: the wall
// clock, but always after now.
func (c *Coordinator) nextTimestampLocked() repr.Timestamp {
	return max(c.now+1, c.cfg.Now())
}

// tableWrite is a committed transaction's table updates.
type tableWrite struct {
	updates []storage.TableUpdate
}

// advanceLocked steps the world to the next timestamp: it makes w durable
// at that timestamp (if any), applies pending source units, steps every
// dataflow, and compacts history. It returns the timestamp.
//
// It runs under the coordinator's own context, never a client's: once a
// write is durable it must reach every input, index and view whatever the
// client does (a statement timeout or cancel during commit used to leave a
// durable write half applied), and persistent dataflows must never see a
// cancelled step (it leaves a graph unusable).
func (c *Coordinator) advanceLocked(w *tableWrite) (repr.Timestamp, error) {
	ctx := c.ctx
	t := c.nextTimestampLocked()
	if w != nil && len(w.updates) > 0 {
		c.hook("append")
		if err := c.store.AppendTableWrite(ctx, t, w.updates); err != nil {
			return 0, pgcode.Wrap(err, pgcode.IOError, "could not persist the write: "+err.Error())
		}
		c.hook("durable")
		c.reserveInputsLocked(w.updates)
		for _, u := range w.updates {
			it := c.cat.items[plan.GlobalID(u.Table)]
			if it == nil || it.rt == nil || it.rt.input == nil {
				continue
			}
			if err := it.rt.input.Send(repr.Update{Row: u.Row, Time: t, Diff: u.Diff}); err != nil {
				return 0, fmt.Errorf("coord: feed table %s: %w", it.Name, err)
			}
		}
	}
	if c.catalogRefreshWanted || c.catalogWatchedLocked() {
		if err := c.refreshCatalogRelationsLocked(t); err != nil {
			return 0, err
		}
	}
	c.catalogRefreshWanted = false
	if err := c.applyUnitsLocked(ctx, t); err != nil {
		return 0, err
	}
	if err := c.stepAllLocked(ctx, t); err != nil {
		return 0, err
	}
	c.now = t
	c.nowA.Store(uint64(t))
	// Compact at most every idleAdvance: each compaction visits every
	// arrangement.
	retain := repr.Timestamp(c.cfg.RetainHistory.Milliseconds())
	if t > retain && t-retain > c.since && t >= c.compactedAt+idleAdvance {
		since := t - retain
		for _, s := range c.sessions {
			// An explicit transaction reads at the timestamp it
			// pinned until it ends, as a PostgreSQL snapshot does.
			if pin := s.pin.Load(); pin != 0 {
				since = min(since, repr.Timestamp(pin-1))
			}
		}
		c.since = max(c.since, since)
		c.compactedAt = t
		c.compactLocked(c.since)
	}
	c.advanced.Broadcast()
	return t, nil
}

// reserveInputsLocked makes room in the tables' inputs for a large
// write's updates, which would otherwise grow each queue by doubling
// (copying a bulk load's rows several times).
func (c *Coordinator) reserveInputsLocked(ups []storage.TableUpdate) {
	if len(ups) < bulkUpdates {
		return
	}
	type size struct{ n, bytes int }
	sizes := map[uint64]size{}
	for _, u := range ups {
		s := sizes[u.Table]
		s.n++
		s.bytes += len(u.Row)
		sizes[u.Table] = s
	}
	for id, s := range sizes {
		if it := c.cat.items[plan.GlobalID(id)]; it != nil && it.rt != nil && it.rt.input != nil {
			it.rt.input.Reserve(s.n, s.bytes)
		}
	}
}

// stepAllLocked advances every input's upper past t and steps every
// dataflow at t in order; a failing SUBSCRIBE is closed, any other failure
// is returned.
func (c *Coordinator) stepAllLocked(ctx context.Context, t repr.Timestamp) error {
	for _, it := range c.cat.items {
		if it.rt != nil && it.rt.input != nil {
			it.rt.input.Advance(t + 1)
		}
	}
	failed := false
	for _, d := range c.dataflows {
		if c.dataflowFailed {
			// A dataflow built on a failed view cannot step (its import
			// stops advancing): it fails with it.
			if err := c.failedDependency(d.owner); err != nil {
				c.failDataflowLocked(d, err)
				failed = true
				continue
			}
		}
		// A dataflow none of whose inputs changed only advances its
		// frontiers: with hundreds of views, most are idle at any step.
		if d.graph.Quiet(t) {
			d.graph.AdvanceIdle(t)
			continue
		}
		err := d.graph.Step(ctx, t)
		if err == nil && d.bounded {
			err = c.checkStateLocked(d)
		}
		if err != nil {
			if d.bounded && isOutOfMemory(err) {
				c.failDataflowLocked(d, err)
				failed = true
				continue
			}
			return fmt.Errorf("coord: step dataflow of %d at %d: %w", d.owner, t, err)
		}
	}
	if failed {
		c.dataflows = slices.DeleteFunc(c.dataflows, func(d *dataflowState) bool { return d.graph == nil })
	}
	for s := range c.subscribes {
		if err := s.graph.Step(ctx, t); err != nil {
			s.closeLocked(err)
		}
	}
	return nil
}

// compactLocked lets arrangements forget history before since.
func (c *Coordinator) compactLocked(since repr.Timestamp) {
	for _, it := range c.cat.items {
		if it.rt != nil && it.rt.out != nil {
			it.rt.out.SetSince(since)
		}
		if it.rt != nil && it.rt.indexHold != nil {
			it.rt.indexHold.SetSince(since)
		}
	}
}

// waitForLocked blocks until now >= t, ctx ends or the coordinator closes.
func (c *Coordinator) waitForLocked(ctx context.Context, t repr.Timestamp) error {
	if c.now >= t {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.advanced.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.waiters++
	defer func() { c.waiters-- }()
	for c.now < t {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c.closed {
			return pgcode.New(pgcode.AdminShutdown, "terminating connection due to administrator command")
		}
		c.advanced.Wait()
	}
	return nil
}
