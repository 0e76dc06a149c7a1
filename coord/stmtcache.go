package coord

import (
	"bytes"
	"sort"
	"strings"

	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/sql/parse"
)

// The read cache.
//
// Clients introspect the catalog with the same statements again and
// again: psql sends a dozen for each \d, JDBC's DatabaseMetaData and
// SQLAlchemy's inspector a few per call, BI tools theirs at every
// connect. Parsing, planning and optimising such a statement costs most
// of its time (the transient dataflow that computes it, a fraction). The
// read cache keeps, for a SELECT without parameters, its parse tree, its
// plan and its optimised and lowered plan, shared by every session, and
// a statement whose text and planning context match skips those stages.
//
// Validity. Planning (sql.PlanStatement) reads only the statement, the
// catalog and the session's variables (StatementContext), so an entry is
// keyed by the text and a fingerprint of the variables, and holds the
// catalog version it was planned at: DDL, GRANT and REVOKE, role changes
// move the version and every older entry is dead; SET (search_path, role,
// anything else) changes the fingerprint. The variables that identify the
// session itself (backend_pid and the connection's addresses) are left
// out of the fingerprint, so that sessions share entries, and a statement
// whose text names the functions that read them is not cached. The
// optimised plan also depends on the contents of the system relations
// that are computed when read and inlined as constants (pg_stat_activity's
// sessions, pg_settings, the roles, ...): the entry records the rows each
// had, and the optimised plan is reused only when they are all the same
// now (computing those small relations costs far less than optimising).
// A read that overlays its transaction's uncommitted writes optimises as
// usual.

// maxReadCache bounds the entries of the read cache; when full, dead
// entries go first, then all of them. An entry of psql's or a driver's
// catalog statements holds about 100 KB (parse tree, plans): measured as
// about 22 MB of live heap after psql's \d and \d+ and SQLAlchemy's
// reflect of 50 tables, with a few hundred entries cached.
const maxReadCache = 256

// readCache is the coordinator's cache of read plans, guarded by
// Coordinator.mu.
type readCache struct {
	plans map[readKey]*readPlan
	// msgs maps the text of a simple Query message holding one statement
	// to that statement's text, so that Split need not parse it.
	msgs map[string]string
	// hits counts the statements that took a cached plan (for tests).
	hits uint64
}

// readKey is a cached statement: its text and its planning context.
type readKey struct {
	text string
	vars string
}

// readPlan is one cached read. Everything in it is shared and read-only,
// except lir and builtins, which are set (under Coordinator.mu) by the
// first read that optimises it.
type readPlan struct {
	version uint64
	vars    string // the fingerprint of the variables it was planned with
	parsed  parse.Statement
	plan    *sql.SelectPlan
	desc    *repr.RelationDesc
	// lir is plan.Query.Expr optimised and lowered at version, when no
	// transaction overlay applied; builtins are the system relations
	// inlined into it as constants, with their rows then. nil until a
	// read optimises it.
	lir      plan.Node
	builtins []inlinedBuiltin
}

// inlinedBuiltin is a system relation computed when read, with the rows
// an optimised plan inlined.
type inlinedBuiltin struct {
	id   plan.GlobalID
	rows []repr.Row
}

// sessionIdentityVars are the variables planning reads that tell sessions
// apart; sessionIdentityFuncs the functions that read them.
var (
	sessionIdentityVars  = map[string]bool{"backend_pid": true, "server_addr": true, "server_port": true, "client_addr": true, "client_port": true}
	sessionIdentityFuncs = []string{"pg_backend_pid", "inet_server_", "inet_client_"}
)

// readCacheKey returns the cache key of a statement text in this
// session, or false when the statement must not be shared.
func (s *session) readCacheKey(text string) (readKey, bool) {
	if len(text) > 1<<16 {
		return readKey{}, false
	}
	lower := strings.ToLower(text)
	for _, f := range sessionIdentityFuncs {
		if strings.Contains(lower, f) {
			return readKey{}, false
		}
	}
	if !s.varsPrintValid || s.varsPrintGen != s.vars.gen {
		vs := s.vars.snapshot()
		names := make([]string, 0, len(vs))
		for k := range vs {
			if !sessionIdentityVars[k] {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		var b strings.Builder
		for _, k := range names {
			b.WriteString(k)
			b.WriteByte(0)
			b.WriteString(vs[k])
			b.WriteByte(0)
		}
		s.varsPrint, s.varsPrintGen, s.varsPrintValid = b.String(), s.vars.gen, true
	}
	return readKey{text: text, vars: s.varsPrint}, true
}

// lookupLocked returns the live entry of key, or nil.
func (rc *readCache) lookupLocked(key readKey, version uint64) *readPlan {
	e := rc.plans[key]
	if e == nil || e.version != version {
		return nil
	}
	return e
}

// splitLocked returns the one statement of a simple Query message whose
// plan is cached, or false.
func (rc *readCache) splitLocked(msg, vars string, version uint64) (string, *readPlan, bool) {
	text, ok := rc.msgs[msg]
	if !ok {
		return "", nil, false
	}
	e := rc.lookupLocked(readKey{text: text, vars: vars}, version)
	return text, e, e != nil
}

// addLocked caches e under key (and msg, the simple Query message that
// held it alone, when not empty).
func (rc *readCache) addLocked(key readKey, msg string, e *readPlan) {
	if rc.plans == nil {
		rc.plans, rc.msgs = map[readKey]*readPlan{}, map[string]string{}
	}
	if len(rc.plans) >= maxReadCache {
		for k, old := range rc.plans {
			if old.version != e.version {
				delete(rc.plans, k)
			}
		}
		if len(rc.plans) >= maxReadCache {
			clear(rc.plans)
		}
	}
	if len(rc.msgs) >= maxReadCache {
		clear(rc.msgs)
	}
	rc.plans[key] = e
	if msg != "" {
		rc.msgs[msg] = key.text
	}
}

// cacheablePlan reports whether a plan Prepare made may be cached.
func cacheablePlan(p sql.Plan, params []repr.ScalarType) (*sql.SelectPlan, bool) {
	sel, ok := p.(*sql.SelectPlan)
	return sel, ok && len(params) == 0 && sel.AsOf == nil
}

// builtinsUnchangedLocked reports whether every system relation inlined
// into a cached optimised plan has the same rows now.
func (c *Coordinator) builtinsUnchangedLocked(bs []inlinedBuiltin) bool {
	for _, b := range bs {
		it := c.cat.items[b.id]
		if it == nil || it.builtin == nil || it.builtin.arranged {
			return false
		}
		rows := it.builtin.rows(c)
		if len(rows) != len(b.rows) {
			return false
		}
		var pk repr.Packer
		for i, ds := range rows {
			pk.Reset()
			pk.PushAll(ds)
			if !bytes.Equal(pk.Row(), b.rows[i]) {
				return false
			}
		}
	}
	return true
}

// cachedLIRLocked returns the optimised and lowered plan of a cached read
// when it still holds, or nil.
func (c *Coordinator) cachedLIRLocked(e *readPlan) plan.Node {
	if e == nil || e.lir == nil || e.version != c.cat.version || !c.builtinsUnchangedLocked(e.builtins) {
		return nil
	}
	c.reads.hits++
	return e.lir
}

// liveReadPlan returns the plan of a statement's read cache entry when it
// still holds for this session (a prepared statement executed again), or
// nil.
func (s *session) liveReadPlan(e *readPlan) sql.Plan {
	if e == nil {
		return nil
	}
	if key, ok := s.readCacheKey(e.parsed.SQL()); !ok || key.vars != e.vars {
		return nil
	}
	if !s.catalogAt(e.version) {
		return nil
	}
	return e.plan
}

// catalogAt reports whether the catalog is at version.
func (s *session) catalogAt(version uint64) bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.c.cat.version == version
}
