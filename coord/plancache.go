package coord

import (
	"context"
	"strings"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/wire"
)

// A prepared point read (`SELECT ... FROM v WHERE k = $1`, the shape
// drivers and pgbench -M prepared send thousands of times a second) would
// spend most of its time planning: parse tree to HIR, decorrelation, the
// optimiser's fixpoint, lowering. A lookupTemplate plans it once and
// executes it by substitution.
//
// The template is planned with sentinel parameter values (distinct values
// no query is likely to contain). It is kept only when the plan is a
// lookup fast path and every reference to a parameter that planning made
// reached the plan as exactly one sentinel literal: then no rule looked at
// the value (a folded `$1 > 0`, a CASE on $1, a LIMIT $1 all make a
// sentinel vanish or multiply), so replacing the sentinels by the bound
// values gives the plan those values would have given. A NULL parameter,
// a parameter of another type than its sentinel, a catalog change or a
// session whose search_path changed plans the statement as usual.

// lookupTemplate is a prepared statement's cached lookup plan.
type lookupTemplate struct {
	// none records that the statement is no cacheable lookup at version.
	none       bool
	version    uint64 // the catalog version it was planned at
	searchPath string
	rel        plan.Rel // the query as planned (for source errors)
	pp         plan.PeekPlan
	finishing  sql.Finishing
	sentinels  []repr.Datum
}

// maxTemplateParams bounds the parameters a cached lookup may have.
const maxTemplateParams = 8

// sentinelFor returns the sentinel value of parameter n of type t, or
// false for types that have none (the statement is then not cached).
func sentinelFor(t repr.ScalarType, n int) (repr.Datum, bool) {
	const base = 1_000_003_777
	switch t.Kind {
	case repr.KindInt2:
		return repr.IntDatum(repr.KindInt2, int64(29_989-n*7)), true
	case repr.KindInt4, repr.KindInt8:
		return repr.IntDatum(t.Kind, int64(base+n*7919)), true
	case repr.KindText:
		return repr.TextDatum("\u2063viewd parameter " + string(rune('a'+n)) + "\u2063"), true
	}
	return repr.Null, false
}

// sameDatum reports whether two datums are the same value of one kind.
func sameDatum(a, b repr.Datum) bool {
	return a.Kind() == b.Kind() && !a.IsNull() && !b.IsNull() && repr.Compare(a, b) == 0
}

// cachedLookup answers a prepared SELECT through its lookup template,
// building the template on first use. ok is false when the statement
// cannot be answered this way; the caller then plans it as usual.
func (s *session) cachedLookup(ctx context.Context, st *statement, params []repr.Datum) (*resultRows, bool, error) {
	if st.noTemplate || s.txn.failed || len(params) == 0 || len(params) > maxTemplateParams || len(s.txn.writes) > 0 || s.c.cfg.DisableFastPath {
		return nil, false, nil
	}
	if !isPlainSelect(st.sql) {
		st.noTemplate = true
		return nil, false, nil
	}
	c := s.c
	c.mu.Lock()
	// A template is checked for the role it was built for: a SET ROLE
	// builds (and checks) another, and GRANT and REVOKE change the
	// catalog version.
	path := s.vars.must("search_path") + "\x00" + sql.CurrentUser(s.vars.snapshot())
	tmpl := st.template
	if tmpl == nil || tmpl.version != c.cat.version || tmpl.searchPath != path {
		built, err := s.buildTemplateLocked(st, path)
		if err != nil || built == nil {
			// Not a cacheable lookup at this catalog version: remember
			// that until the catalog (say, a new index) changes.
			st.template = &lookupTemplate{none: true, version: c.cat.version, searchPath: path}
			c.mu.Unlock()
			return nil, false, nil
		}
		tmpl, st.template = built, built
	}
	if tmpl.none {
		c.mu.Unlock()
		return nil, false, nil
	}
	pp, ok := tmpl.bind(params)
	if !ok {
		c.mu.Unlock()
		return nil, false, nil
	}
	if err := c.freshCatalogLocked(tmpl.rel); err != nil {
		c.mu.Unlock()
		return nil, true, err
	}
	ts := s.readTSLocked()
	if ts < c.since {
		c.mu.Unlock()
		return nil, false, nil
	}
	if err := c.sourceErrors(tmpl.rel); err != nil {
		c.mu.Unlock()
		return nil, true, err
	}
	p := &peek{c: c, ts: ts, pp: pp, ev: expr.EvalCtx{LogicalNow: ts}}
	s.bindPeek(ctx, p)
	held := p.holdLookupLocked()
	c.mu.Unlock()
	if !held {
		return nil, false, nil
	}
	src, err := p.lookup()
	if err != nil {
		return nil, true, err
	}
	return newResultRows(src, tmpl.finishing, c.cfg.MaxQueryMemory), true, nil
}

// buildTemplateLocked plans st with sentinel parameters and returns its
// lookup template, or nil when the statement is not a cacheable lookup.
func (s *session) buildTemplateLocked(st *statement, path string) (*lookupTemplate, error) {
	types := st.paramTypes
	sentinels := make([]repr.Datum, len(types))
	for i, t := range types {
		d, ok := sentinelFor(t, i)
		if !ok {
			return nil, nil
		}
		sentinels[i] = d
	}
	scx := s.statementContext(append([]repr.ScalarType(nil), types...))
	p, err := sql.PlanStatement(scx, st.parsed, sentinels)
	if err != nil {
		return nil, err
	}
	sel, ok := p.(*sql.SelectPlan)
	if !ok || sel.AsOf != nil {
		return nil, nil
	}
	if s.authorizeLocked(sel) != nil {
		// No template: the statement runs as usual and fails there.
		return nil, nil
	}
	lir, err := s.c.optimizeLocked(sel.Query.Expr)
	if err != nil {
		return nil, err
	}
	pp := plan.PlanPeek(lir)
	if pp.Kind != plan.PeekLookup {
		return nil, nil
	}
	// Every reference planning made must be in the plan as one sentinel.
	if len(scx.ParamUses) != len(sentinels) {
		return nil, nil
	}
	counts := make([]int, len(sentinels))
	countSentinels(pp.Get.MFP, sentinels, counts)
	for i, n := range counts {
		if n != scx.ParamUses[i] {
			return nil, nil
		}
	}
	return &lookupTemplate{version: s.c.cat.version, searchPath: path, rel: sel.Query.Expr, pp: pp, finishing: sel.Query.Finishing, sentinels: sentinels}, nil
}

// sentinelIndex returns the parameter whose sentinel d is, or -1.
func sentinelIndex(d repr.Datum, sentinels []repr.Datum) int {
	for i, s := range sentinels {
		if sameDatum(d, s) {
			return i
		}
	}
	return -1
}

// countSentinels counts the sentinel literals in an MFP.
func countSentinels(m expr.MapFilterProject, sentinels []repr.Datum, counts []int) {
	visit := func(e expr.Scalar) {
		expr.Rewrite(e, func(x expr.Scalar) expr.Scalar {
			if l, ok := x.(expr.Literal); ok && l.Err == nil {
				if i := sentinelIndex(l.Value, sentinels); i >= 0 {
					counts[i]++
				}
			}
			return x
		})
	}
	for _, e := range m.Expressions {
		visit(e)
	}
	for _, p := range m.Predicates {
		visit(p.Expr)
	}
}

// bind returns the template's peek plan with the sentinels replaced by
// params. ok is false when a parameter is NULL or of another kind than its
// sentinel.
func (t *lookupTemplate) bind(params []repr.Datum) (plan.PeekPlan, bool) {
	if len(params) != len(t.sentinels) {
		return plan.PeekPlan{}, false
	}
	for i, p := range params {
		if p.IsNull() || p.Kind() != t.sentinels[i].Kind() {
			return plan.PeekPlan{}, false
		}
	}
	subst := func(e expr.Scalar) expr.Scalar {
		return expr.Rewrite(e, func(x expr.Scalar) expr.Scalar {
			if l, ok := x.(expr.Literal); ok && l.Err == nil {
				if i := sentinelIndex(l.Value, t.sentinels); i >= 0 {
					l.Value = params[i]
					return l
				}
			}
			return x
		})
	}
	pp := t.pp
	g := pp.Get
	m := g.MFP
	m.Expressions = make([]expr.Scalar, len(g.MFP.Expressions))
	for i, e := range g.MFP.Expressions {
		m.Expressions[i] = subst(e)
	}
	m.Predicates = make([]expr.Predicate, len(g.MFP.Predicates))
	for i, p := range g.MFP.Predicates {
		m.Predicates[i] = expr.Predicate{Support: p.Support, Expr: subst(p.Expr)}
	}
	g.MFP = m
	pp.Get, pp.Node = g, g
	pp.Values = make([][]repr.Datum, len(t.pp.Values))
	for i, tuple := range t.pp.Values {
		out := make([]repr.Datum, len(tuple))
		for j, d := range tuple {
			if k := sentinelIndex(d, t.sentinels); k >= 0 {
				d = params[k]
			}
			out[j] = d
		}
		pp.Values[i] = out
	}
	return pp, true
}

// isPlainSelect reports whether a statement's text starts with SELECT (a
// cheap filter before planning a template).
func isPlainSelect(text string) bool {
	t := strings.TrimSpace(text)
	return len(t) >= 6 && strings.EqualFold(t[:6], "select")
}

// executeCached runs a prepared statement through its lookup template
// when it has one, else plans it.
func (s *session) executeCached(ctx context.Context, st *statement, params []repr.Datum) (wire.Result, error) {
	p := s.takePlan(st)
	if p == nil && len(params) == 0 {
		p = s.liveReadPlan(st.read)
	}
	if p != nil && !(s.txn.explicit && s.txn.failed) {
		if st.read != nil && p == sql.Plan(st.read.plan) {
			s.curRead = st.read
			defer func() { s.curRead = nil }()
		}
		return s.run(ctx, p)
	}
	rows, ok, err := s.cachedLookup(ctx, st, params)
	switch {
	case !ok:
		return s.execute(ctx, st.parsed, params, st.paramTypes)
	case err != nil:
		return wire.Result{}, err
	}
	return wire.Result{Rows: rows}, nil
}
