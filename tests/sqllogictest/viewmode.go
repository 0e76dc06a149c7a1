package sqllogictest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// View mode checks incremental maintenance: each query of a file becomes a
// materialized view created as early as possible, normally right after the
// CREATE TABLE/VIEW of the last relation it reads and so before the rows
// those relations will hold are written. At the query's place in the file
// the runner reads the view instead of running the query.
//
// Planning (planViews) pre-scans the records that run on the engine, up to
// the first halt, tracking which relations exist: a query's dependencies
// are the identifiers in its text that name an existing relation (plus,
// transitively, what a user view over them reads). A query is run as a
// plain SELECT, and counted as a select-fallback, when it
//
//   - expects an error,
//   - is not a SELECT/VALUES/WITH/TABLE query,
//   - reads no relation created in the file (SELECT 1, catalog queries), or
//   - calls a non-deterministic function (random(), now(), ...), itself or
//     through a view it reads (no maintained view can keep such a query:
//     its result changes without any write).
//
// Any other query is one PostgreSQL can keep as a materialized view: a
// query that succeeds, reads relations and is deterministic is accepted
// by PostgreSQL's CREATE MATERIALIZED VIEW (the runner names the columns,
// so duplicate or missing names do not matter). viewd must keep it too. If
// creating the view early fails, the runner tries again right before the
// query (a "late" view, which checks the view's initial contents only);
// if that fails too, the record fails ("viewd cannot keep ... as a
// materialized view"), unless the expected-failures list names it for
// view mode. The query is not run as a SELECT instead: that fallback
// would hide the very refusal view mode is there to find.
//
// Order. A materialized view has no order. Results compared with rowsort or
// valuesort, and nosort results of queries without a top-level ORDER BY,
// are read with "SELECT * FROM v". For a nosort query with a top-level
// ORDER BY, the clause is translated to output column positions (ORDER BY
// 2 DESC, 1) when every item is a position, repeats a select-list
// expression or names an output column; the view is read with that clause
// and compared with the expected result exactly. When it cannot be
// translated, the runner reads the view unordered, runs the query itself,
// checks the query's result against the expected one (order included) and
// checks that the view holds the same rows as the query (as a multiset).
//
// Views are named slt_v<N> and get explicit column names c1..cn (queries
// often have duplicate or unnamed columns), except for colnames queries.
// Before a statement drops or alters a relation a live view depends on, the
// runner drops that view; its query then gets a late view.
type viewPlans struct {
	plans map[int]*viewPlan // by query record index
	after map[int][]*viewPlan
	// drops maps a DROP/ALTER statement's record index to the relations it
	// drops or alters.
	drops map[int][]string
	live  map[*viewPlan]bool
	// deferred are views to drop once the open transaction block ends:
	// a DROP inside it could fail and abort the file's transaction.
	deferred []string
}

type viewPlan struct {
	seq      int // N in slt_v<N>
	name     string
	sql      string          // the query text without a trailing semicolon
	deps     map[string]bool // relations the view reads, transitively
	fallback string          // why the query runs as a SELECT; "" for a view
	orderBy  string          // ORDER BY to read the view with (nosort only)
	direct   bool            // also run the query to check order (see above)
	colNames bool
	ncols    int
}

type relation struct {
	deps map[string]bool // for views: relations read, transitively
	// nondet names the non-deterministic function a view calls, directly
	// or through the views it reads ("" if none).
	nondet string
}

// planViews pre-scans records and plans one view per query.
func planViews(recs []Record, engine string, late bool) *viewPlans {
	vp := &viewPlans{
		plans: make(map[int]*viewPlan),
		after: make(map[int][]*viewPlan),
		drops: make(map[int][]string),
		live:  make(map[*viewPlan]bool),
	}
	rels := make(map[string]*relation)
	createdAt := make(map[string]int)
	n := 0
	for i := range recs {
		rec := &recs[i]
		if !rec.Applies(engine) {
			continue
		}
		if rec.Kind == KindHalt {
			break
		}
		switch rec.Kind {
		case KindStatement:
			toks := scanSQL(rec.SQL)
			kind, names := classifyDDL(toks)
			switch kind {
			case ddlCreate:
				rel := &relation{deps: make(map[string]bool)}
				if isViewDDL(toks) {
					if fn, ok := hasNondeterminism(toks); ok {
						rel.nondet = fn
					}
					for name := range identNames(toks) {
						if dep, ok := rels[name]; ok && name != names[0] {
							rel.deps[name] = true
							for d := range dep.deps {
								rel.deps[d] = true
							}
							if rel.nondet == "" {
								rel.nondet = dep.nondet
							}
						}
					}
				}
				rels[names[0]] = rel
				createdAt[names[0]] = i
			case ddlDrop:
				vp.drops[i] = names
				for _, name := range names {
					delete(rels, name)
					delete(createdAt, name)
				}
			case ddlAlter:
				vp.drops[i] = names
			}
		case KindQuery:
			n++
			p := &viewPlan{
				seq:      n,
				name:     fmt.Sprintf("slt_v%d", n),
				sql:      strings.TrimRight(strings.TrimSpace(rec.SQL), "; \t\n"),
				deps:     make(map[string]bool),
				colNames: rec.ColNames,
				ncols:    len(rec.Types),
			}
			vp.plans[i] = p
			toks := scanSQL(p.sql)
			after := -1
			viaView := ""
			for name := range identNames(toks) {
				if rel, ok := rels[name]; ok {
					p.deps[name] = true
					for d := range rel.deps {
						p.deps[d] = true
					}
					after = max(after, createdAt[name])
					if rel.nondet != "" {
						viaView = rel.nondet
					}
				}
			}
			switch {
			case rec.ExpectError:
				p.fallback = "expects an error"
			case len(toks) == 0 || !(toks[0].is("select") || toks[0].is("with") || toks[0].is("values") ||
				toks[0].is("table") || toks[0].norm == "("):
				p.fallback = "not a SELECT"
			case len(p.deps) == 0:
				p.fallback = "reads no relation"
			default:
				if fn, ok := hasNondeterminism(toks); ok {
					p.fallback = "calls " + fn + "()"
				} else if viaView != "" {
					p.fallback = "reads a view that calls " + viaView + "()"
				}
			}
			if p.fallback != "" {
				continue
			}
			if rec.Sort == NoSort {
				clause, hasOrder, ok := positionalOrderBy(toks)
				switch {
				case ok:
					p.orderBy = clause
				case hasOrder:
					p.direct = true
				}
			}
			if !late {
				vp.after[after] = append(vp.after[after], p)
			}
		}
	}
	return vp
}

// isViewDDL reports whether a CREATE statement creates a view (whose
// dependencies then matter) rather than a table or source.
func isViewDDL(toks []token) bool {
	for _, t := range toks {
		if t.is("view") {
			return true
		}
		if t.is("table") || t.is("source") || t.is("as") {
			return false
		}
	}
	return false
}

// create creates the plan's view and reports the error, if any.
func (vp *viewPlans) create(ctx context.Context, r *fileRun, p *viewPlan) error {
	cols := ""
	if !p.colNames && p.ncols > 0 {
		names := make([]string, p.ncols)
		for i := range names {
			names[i] = fmt.Sprintf("c%d", i+1)
		}
		cols = " (" + strings.Join(names, ", ") + ")"
	}
	_, err := r.exec(ctx, "CREATE MATERIALIZED VIEW "+p.name+cols+" AS "+p.sql)
	if err != nil {
		return err
	}
	vp.live[p] = true
	return nil
}

func (vp *viewPlans) drop(ctx context.Context, r *fileRun, p *viewPlan) {
	delete(vp.live, p)
	if r.conn != nil && r.conn.InTransaction() {
		vp.deferred = append(vp.deferred, p.name)
		return
	}
	vp.dropName(ctx, r, p.name)
}

func (vp *viewPlans) dropName(ctx context.Context, r *fileRun, name string) {
	if _, err := r.exec(ctx, "DROP MATERIALIZED VIEW IF EXISTS "+name); err != nil {
		r.cfg.Log.Warn("sqllogictest: dropping view", "file", r.path, "view", name, "err", err)
	}
}

// flushDeferred drops the views whose drop waited for a transaction block
// to end.
func (vp *viewPlans) flushDeferred(ctx context.Context, r *fileRun) {
	if len(vp.deferred) == 0 || (r.conn != nil && r.conn.InTransaction()) {
		return
	}
	names := vp.deferred
	vp.deferred = nil
	for _, n := range names {
		vp.dropName(ctx, r, n)
	}
}

// beforeStatement drops the live views that depend on a relation the
// statement at index i drops or alters.
func (vp *viewPlans) beforeStatement(ctx context.Context, r *fileRun, i int) {
	names := vp.drops[i]
	if len(names) == 0 {
		return
	}
	var doomed []*viewPlan
	for p := range vp.live {
		if slices.ContainsFunc(names, func(n string) bool { return p.deps[n] }) {
			doomed = append(doomed, p)
		}
	}
	slices.SortFunc(doomed, func(a, b *viewPlan) int { return a.seq - b.seq })
	for _, p := range doomed {
		vp.drop(ctx, r, p)
	}
}

// afterStatement creates the views planned to follow statement i.
func (vp *viewPlans) afterStatement(ctx context.Context, r *fileRun, i int) {
	for _, p := range vp.after[i] {
		if vp.live[p] {
			continue
		}
		if err := vp.create(ctx, r, p); err != nil && r.cfg.Verbose {
			r.cfg.Log.Info("sqllogictest: early view creation failed; will retry before the query",
				"file", r.path, "view", p.name, "err", err)
		}
	}
}

// query checks a query record through its view.
func (vp *viewPlans) query(ctx context.Context, r *fileRun, i int, rec *Record) error {
	p := vp.plans[i]
	if p == nil || p.fallback != "" {
		r.res.SelectFallback++
		return r.selectQuery(ctx, rec)
	}
	if vp.live[p] {
		r.res.ViewsEarly++
	} else {
		if err := vp.create(ctx, r, p); err != nil {
			r.res.ViewRefused++
			return fmt.Errorf("viewd cannot keep the query as a materialized view, which PostgreSQL can: %w", err)
		}
		r.res.ViewsLate++
	}
	// Read the view once the query's place is reached; drop it afterwards
	// so that views do not pile up for the rest of the file.
	defer vp.drop(ctx, r, p)
	read := "SELECT * FROM " + p.name
	if p.orderBy != "" {
		read += " " + p.orderBy
	}
	rows, err := r.exec(ctx, read)
	if err != nil {
		return fmt.Errorf("reading view %s: %w", p.name, err)
	}
	if !p.direct {
		if _, err := r.checkRows(rec, rows); err != nil {
			return fmt.Errorf("view %s: %w", p.name, err)
		}
		return nil
	}
	viewRows, err := r.formatRows(rec, rows)
	if err != nil {
		return fmt.Errorf("view %s: %w", p.name, err)
	}
	direct, err := r.exec(ctx, rec.SQL)
	if err != nil {
		return fmt.Errorf("running the query to check its order: %w", err)
	}
	queryRows, err := r.checkRows(rec, direct)
	if err != nil {
		return fmt.Errorf("query (run directly to check order): %w", err)
	}
	if !multisetEqual(viewRows, queryRows) {
		var b strings.Builder
		fmt.Fprintf(&b, "view %s holds other rows than the query\nview:\n", p.name)
		writeValues(&b, sortRows(viewRows, RowSort))
		b.WriteString("query:\n")
		writeValues(&b, sortRows(queryRows, RowSort))
		return errors.New(strings.TrimRight(b.String(), "\n"))
	}
	return nil
}
