package sql

import (
	"strconv"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql/parse"
)

// PostgreSQL functions and casts that read the catalog or the session:
// clients' catalog queries (psql's \d, JDBC's DatabaseMetaData,
// SQLAlchemy's inspector) call them. Session functions become literals
// at plan time. Catalog functions are SQL templates over the system
// relations, planned in place as (correlated) subqueries, as Materialize
// defines them: $n in a template is the n-th argument's expression.

// sqlImplFuncs are the catalog functions defined in SQL, by name and
// number of arguments.
var sqlImplFuncs = map[string]map[int]string{
	"pg_table_is_visible": {
		1: `COALESCE((SELECT __o.mz_text = ANY (pg_catalog.current_schemas(false)) OR __o.mz_text = 'pg_catalog' FROM mz_internal.mz_pg_objects __o WHERE __o.mz_oid = ($1)::oid AND __o.mz_kind = 'schema'), false)`,
	},
	"pg_get_indexdef": {
		1: `(SELECT __o.mz_text FROM mz_internal.mz_pg_objects __o WHERE __o.mz_oid = ($1)::oid AND __o.mz_kind = 'def' AND __o.mz_colno = 0)`,
		3: `(SELECT __o.mz_text FROM mz_internal.mz_pg_objects __o WHERE __o.mz_oid = ($1)::oid AND __o.mz_kind = 'def' AND __o.mz_colno = ($2)::int4 AND ($3)::bool IS NOT NULL)`,
	},
	"pg_get_viewdef": {
		1: `(SELECT __o.mz_text FROM mz_internal.mz_pg_objects __o WHERE __o.mz_oid = ($1)::oid AND __o.mz_kind = 'def' AND __o.mz_colno = 0)`,
		2: `(SELECT __o.mz_text FROM mz_internal.mz_pg_objects __o WHERE __o.mz_oid = ($1)::oid AND __o.mz_kind = 'def' AND __o.mz_colno = 0 AND ($2) IS NOT NULL)`,
	},
	"pg_get_constraintdef": {
		1: `(SELECT __o.mz_text FROM mz_internal.mz_pg_objects __o WHERE __o.mz_oid = ($1)::oid AND __o.mz_kind = 'def' AND __o.mz_colno = 0)`,
		2: `(SELECT __o.mz_text FROM mz_internal.mz_pg_objects __o WHERE __o.mz_oid = ($1)::oid AND __o.mz_kind = 'def' AND __o.mz_colno = 0 AND ($2)::bool IS NOT NULL)`,
	},
	// generate_subscripts(a, dim) in a select list.
	"generate_subscripts": {
		2: `generate_series(array_lower($1, ($2)::int4), array_upper($1, ($2)::int4))`,
	},
	// to_regtype and to_regnamespace: a type by its name or its SQL name
	// ('int4', 'integer'); a schema by its name.
	"to_regtype": {
		1: `(SELECT min(__t.oid) FROM pg_catalog.pg_type __t WHERE __t.typname = ($1)::text OR pg_catalog.format_type(__t.oid, NULL) = ($1)::text)`,
	},
	"to_regnamespace": {
		1: `(SELECT min(__n.oid) FROM pg_catalog.pg_namespace __n WHERE __n.nspname = ($1)::text)`,
	},
	// Privilege inquiries read the effective privileges the coordinator
	// lists (mz_internal.mz_object_privileges: a row per role, object and
	// privilege held; role 0, PUBLIC, for what everyone holds) and role
	// memberships (mz_internal.mz_role_members). Users and objects are
	// given by name or OID; a privilege list "SELECT, INSERT" asks for
	// any of them, as PostgreSQL does.
	"has_table_privilege":      privilegeTemplates("table"),
	"has_any_column_privilege": privilegeTemplates("table"),
	"has_schema_privilege":     privilegeTemplates("schema"),
	"pg_has_role": {
		2: currentUserForm(hasRoleTemplate),
		3: hasRoleTemplate,
	},
	"pg_get_userbyid": {
		1: `COALESCE((SELECT __r.rolname FROM pg_catalog.pg_roles __r WHERE __r.oid = ($1)::oid), 'unknown (OID=' || ($1)::text || ')')`,
	},
	"to_regclass": {
		// A qualified name, or a name in a schema of the search path (the
		// first in OID order when several match; a constant name is
		// looked up at plan time instead, in the search path's order).
		1: `(SELECT min(__o.mz_oid) FROM mz_internal.mz_pg_objects __o WHERE __o.mz_kind = 'qualified' AND (__o.mz_text = ($1)::text OR
		     (split_part(__o.mz_text, '.', 1) = ANY (pg_catalog.current_schemas(true)) AND substr(__o.mz_text, length(split_part(__o.mz_text, '.', 1)) + 2) = ($1)::text)))`,
	},
}

// hasPrivilegeTemplate is has_*_privilege(user, object, privileges) for
// objects of kind __KIND__.
const hasPrivilegeTemplate = `EXISTS (SELECT FROM mz_internal.mz_object_privileges __p WHERE __p.object_kind = '__KIND__'
	AND (__p.role_oid = 0 OR __p.role_name = ($1)::text OR __p.role_oid::text = ($1)::text)
	AND (__p.object_oid::text = ($2)::text OR __p.qualified_name = ($2)::text
	     OR (__p.object_name = ($2)::text AND __p.schema_name = ANY (pg_catalog.current_schemas(true))))
	AND __p.privilege = ANY (string_to_array(upper(replace(($3)::text, ' ', '')), ',')))`

// hasRoleTemplate is pg_has_role(user, role, privileges): MEMBER asks for
// membership at any depth, USAGE for the role's privileges (through
// roles that inherit).
const hasRoleTemplate = `EXISTS (SELECT FROM mz_internal.mz_role_members __m
	WHERE (__m.member_name = ($1)::text OR __m.member_oid::text = ($1)::text)
	AND (__m.role_name = ($2)::text OR __m.role_oid::text = ($2)::text)
	AND (__m.usage OR upper(($3)::text) NOT LIKE '%USAGE%'))`

// privilegeTemplates are the two- and three-argument forms of a
// has_*_privilege function; the two-argument form asks for current_user.
func privilegeTemplates(kind string) map[int]string {
	three := strings.ReplaceAll(hasPrivilegeTemplate, "__KIND__", kind)
	return map[int]string{3: three, 2: currentUserForm(three)}
}

// currentUserForm turns a template whose $1 is the user into the form
// without it: $1 becomes current_user and the other arguments move down.
func currentUserForm(t string) string {
	t = strings.ReplaceAll(t, "($1)", "(current_user)")
	for i := 2; i <= 9; i++ {
		t = strings.ReplaceAll(t, "($"+strconv.Itoa(i)+")", "($"+strconv.Itoa(i-1)+")")
	}
	return t
}

// sessionViews are the information_schema views whose rows depend on
// who asks (PostgreSQL's definitions, over the coordinator's lists of
// grants and memberships): planned in place, as a subquery, where they
// are named, so that current_user is the asker's.
var sessionViews = map[string]string{
	"enabled_roles": `SELECT __m.role_name FROM mz_internal.mz_role_members __m WHERE __m.member_name = current_user AND __m.usage`,
	"applicable_roles": `SELECT __a.rolname AS grantee, __b.rolname AS role_name, CASE WHEN __am.admin_option THEN 'YES' ELSE 'NO' END AS is_grantable
		FROM pg_catalog.pg_auth_members __am JOIN pg_catalog.pg_roles __a ON __am.member = __a.oid JOIN pg_catalog.pg_roles __b ON __am.roleid = __b.oid
		WHERE pg_has_role(__a.oid, 'USAGE')`,
	"table_privileges": `SELECT * FROM mz_internal.mz_table_grants __g
		WHERE __g.grantee = 'PUBLIC' OR pg_has_role(__g.grantor, 'USAGE') OR pg_has_role(__g.grantee, 'USAGE')`,
	"role_table_grants": `SELECT * FROM mz_internal.mz_table_grants __g WHERE __g.grantor IN
		(SELECT __m.role_name FROM mz_internal.mz_role_members __m WHERE __m.member_name = current_user AND __m.usage)
		OR __g.grantee IN (SELECT __m.role_name FROM mz_internal.mz_role_members __m WHERE __m.member_name = current_user AND __m.usage)`,
}

// sessionView returns the definition of the session view rv names, if it
// does: information_schema.name, or name with information_schema in the
// search path.
func (q *qctx) sessionView(rv *pg_query.RangeVar) (string, bool) {
	text, ok := sessionViews[rv.Relname]
	if !ok || rv.Catalogname != "" && rv.Catalogname != q.scx.Catalog.DefaultDatabase() {
		return "", false
	}
	if rv.Schemaname == "information_schema" {
		return text, true
	}
	if rv.Schemaname != "" {
		return "", false
	}
	for _, s := range q.scx.SearchPath() {
		if s == "information_schema" {
			return text, true
		}
		if q.scx.Catalog.ResolveSchema("", s) {
			if _, err := q.scx.Catalog.ResolveItem(PartialName{Schema: s, Item: rv.Relname}, nil); err == nil {
				return "", false
			}
		}
	}
	return "", false
}

// planSessionView plans a session view's definition as a FROM item.
func (q *qctx) planSessionView(outer *scope, text, alias string, colAliases []*pg_query.Node) (HRel, []scopeCol, error) {
	res, err := pg_query.Parse(text)
	if err != nil || len(res.Stmts) != 1 || res.Stmts[0].Stmt.GetSelectStmt() == nil {
		return nil, nil, pgcode.New(pgcode.InternalError, "sql: session view %q: %v", alias, err)
	}
	r, err := q.planQuery(outer, res.Stmts[0].Stmt.GetSelectStmt(), nil)
	if err != nil {
		return nil, nil, err
	}
	rel := r.applyFinishing()
	cols, err := aliasCols(alias, r.names, rel.Cols(), colAliases)
	return rel, cols, err
}

// jsonAliases call the jsonb functions for their json forms: viewd's json
// type is jsonb.
var jsonAliases = map[string]string{
	"json_build_object": "jsonb_build_object", "json_build_array": "jsonb_build_array",
	"to_json": "to_jsonb", "json_typeof": "jsonb_typeof", "json_array_length": "jsonb_array_length",
	"json_strip_nulls": "jsonb_strip_nulls", "json_agg": "jsonb_agg", "json_object_agg": "jsonb_object_agg",
}

// callSQLImpl plans a call of a function defined by a SQL template, or
// reports ok false when name has none for this many arguments.
func (e *ectx) callSQLImpl(name string, args []*pg_query.Node, loc int32) (HScalar, bool, error) {
	tmpl, ok := sqlImplFuncs[name][len(args)]
	if !ok {
		return nil, false, nil
	}
	if oc, isOC := e.q.scx.Catalog.(OIDCatalog); isOC && name == "pg_table_is_visible" {
		// The visible relations are known now: a list is much cheaper to
		// evaluate than a lookup per row.
		var b strings.Builder
		// One array literal rather than an IN list: x IN (a, b, ...) is
		// an OR of equalities, which every optimiser pass walks and
		// folds (with 50 relations that was half the planning time of
		// psql's \d queries). NULL in gives NULL, as the function is
		// strict.
		b.WriteString("CASE WHEN ($1) IS NULL THEN NULL::bool ELSE pg_catalog.array_position('{0")
		for _, o := range oc.VisibleRelationOIDs(e.q.scx.SearchPath()) {
			b.WriteString(",")
			b.WriteString(strconv.FormatUint(uint64(o), 10))
		}
		b.WriteString("}'::pg_catalog.oid[], ($1)::oid) IS NOT NULL END")
		tmpl = b.String()
	}
	n, err := parseExpr(tmpl)
	if err != nil {
		return nil, true, err
	}
	walkNodes(n, func(x *pg_query.Node) bool {
		if p := x.GetParamRef(); p != nil && int(p.Number) <= len(args) {
			x.Node = proto.Clone(args[p.Number-1]).(*pg_query.Node).Node
			return false
		}
		return true
	})
	s, err := e.plan(n)
	return s, true, e.q.errAt(err, loc)
}

// parseExpr parses one SQL expression.
func parseExpr(text string) (*pg_query.Node, error) {
	exprCache.Lock()
	n, ok := exprCache.m[text]
	exprCache.Unlock()
	if ok {
		return proto.Clone(n).(*pg_query.Node), nil
	}
	n, err := parseExprText(text)
	if err != nil {
		return nil, err
	}
	exprCache.Lock()
	if len(exprCache.m) >= exprCacheMax {
		clear(exprCache.m)
	}
	exprCache.m[text] = proto.Clone(n).(*pg_query.Node)
	exprCache.Unlock()
	return n, nil
}

// exprCache keeps parseExpr's trees by text: the templates of the catalog
// functions and the reg* casts are parsed for every use, and pg_query's
// parse (through cgo and protobuf) was 10% of psql's `\d t07`; a cached
// tree is cloned, as callers rewrite it in place. Cleared when full.
var exprCache = struct {
	sync.Mutex
	m map[string]*pg_query.Node
}{m: map[string]*pg_query.Node{}}

const exprCacheMax = 512

// parseExprText parses text as one expression.
func parseExprText(text string) (*pg_query.Node, error) {
	// Through the nesting guard: text may hold a client's string
	// constant ('...'::regtype), which must not reach pg_query's C code
	// unchecked (30,000 '+ 1' in one killed the server).
	res, err := parse.ParseRaw("SELECT " + text)
	if err != nil {
		return nil, pgcode.New(pgcode.InternalError, "sql: parsing %q: %v", text, err)
	}
	if len(res.Stmts) != 1 || res.Stmts[0].Stmt.GetSelectStmt() == nil || len(res.Stmts[0].Stmt.GetSelectStmt().TargetList) != 1 {
		return nil, pgcode.New(pgcode.InternalError, "sql: %q is not one expression", text)
	}
	return res.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val, nil
}

// sessionFunc plans the functions whose value is the session's:
// current_database(), current_schema(), current_schemas(bool),
// current_user and session_user as calls, current_setting(name),
// pg_backend_pid() and inet_{server,client}_{addr,port}(). ok is false for
// other names.
func (e *ectx) sessionFunc(name string, args []*pg_query.Node, loc int32) (HScalar, bool, error) {
	scx := e.q.scx
	switch {
	case name == "current_database" && len(args) == 0:
		return lit(repr.TextDatum(scx.Catalog.DefaultDatabase()), repr.TypeText), true, nil
	case (name == "current_user" || name == "current_role" || name == "user") && len(args) == 0:
		return lit(repr.TextDatum(CurrentUser(scx.Vars)), repr.TypeText), true, nil
	case name == "session_user" && len(args) == 0:
		return lit(repr.TextDatum(SessionUser(scx.Vars)), repr.TypeText), true, nil
	case name == "current_schema" && len(args) == 0:
		for _, s := range scx.SearchPath() {
			if scx.Catalog.ResolveSchema("", s) {
				return lit(repr.TextDatum(s), repr.TypeText), true, nil
			}
		}
		return nullLit(repr.TypeText), true, nil
	case name == "current_schemas" && len(args) == 1:
		a, err := e.plan(args[0])
		if err != nil {
			return nil, true, err
		}
		if a, err = e.q.coerce(a, repr.TypeBool, expr.Implicit, ""); err != nil {
			return nil, true, e.q.errAt(err, loc)
		}
		var implicit, explicit []repr.Datum
		implicit = append(implicit, repr.TextDatum("mz_catalog"), repr.TextDatum("pg_catalog"))
		for _, s := range scx.SearchPath() {
			if scx.Catalog.ResolveSchema("", s) {
				explicit = append(explicit, repr.TextDatum(s))
			}
		}
		t := repr.ArrayOf(repr.TypeText)
		all := lit(repr.ArrayDatum(append(implicit, explicit...)), t)
		only := lit(repr.ArrayDatum(explicit), t)
		return HIf{Cond: a, Then: all, Else: only}, true, nil
	case name == "to_regclass" && len(args) == 1 && args[0].GetAConst() != nil && args[0].GetAConst().GetSval() != nil:
		// A constant name is looked up now, like 'name'::regclass but
		// NULL when there is no such relation.
		oc, ok := scx.Catalog.(OIDCatalog)
		if !ok {
			return nil, false, nil
		}
		name, err := parseRelationName(args[0].GetAConst().GetSval().Sval)
		if err != nil {
			return nullLit(repr.TypeOid), true, nil
		}
		o, err := oc.RelationOID(name, scx.SearchPath())
		if err != nil {
			return nullLit(repr.TypeOid), true, nil
		}
		return lit(repr.OidDatum(o), repr.TypeOid), true, nil
	case name == "pg_backend_pid" && len(args) == 0:
		pid, _ := strconv.Atoi(scx.Vars["backend_pid"])
		return lit(repr.Int4Datum(int32(pid)), repr.TypeInt4), true, nil
	case (name == "inet_server_addr" || name == "inet_client_addr") && len(args) == 0:
		// text: viewd has no inet type.
		if a, ok := scx.Vars[strings.TrimPrefix(name, "inet_")]; ok {
			return lit(repr.TextDatum(a), repr.TypeText), true, nil
		}
		return nullLit(repr.TypeText), true, nil
	case (name == "inet_server_port" || name == "inet_client_port") && len(args) == 0:
		if p, err := strconv.Atoi(scx.Vars[strings.TrimPrefix(name, "inet_")]); err == nil {
			return lit(repr.Int4Datum(int32(p)), repr.TypeInt4), true, nil
		}
		return nullLit(repr.TypeInt4), true, nil
	case name == "current_setting" && (len(args) == 1 || len(args) == 2):
		c := args[0].GetAConst()
		if c == nil || c.GetSval() == nil {
			return nil, true, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "current_setting requires a constant setting name"), loc)
		}
		k := strings.ToLower(c.GetSval().Sval)
		if v, ok := scx.Vars[k]; ok {
			return lit(repr.TextDatum(v), repr.TypeText), true, nil
		}
		if v, ok := settingDefaults[k]; ok {
			return lit(repr.TextDatum(v), repr.TypeText), true, nil
		}
		if len(args) == 2 {
			return nullLit(repr.TypeText), true, nil
		}
		return nil, true, e.q.errAt(pgcode.New(pgcode.UndefinedObject, "unrecognized configuration parameter %q", k), loc)
	}
	return nil, false, nil
}

// settingDefaults are current_setting's answers for settings the session
// does not carry.
var settingDefaults = map[string]string{
	"server_version": "15.0.0", "server_version_num": "150000", "server_encoding": "UTF8",
	"client_encoding": "UTF8", "standard_conforming_strings": "on", "datestyle": "ISO, MDY",
	"integer_datetimes": "on", "max_identifier_length": "63", "max_index_keys": "32", "search_path": `"$user", public`,
	"transaction_isolation": "serializable", "default_transaction_isolation": "serializable",
	"timezone": "UTC", "lc_collate": "C", "lc_ctype": "C",
}

// OIDCatalog is implemented by a Catalog that knows the PostgreSQL OIDs
// of relations, so that 'name'::regclass plans to a constant.
type OIDCatalog interface {
	// RelationOID resolves a relation (or an index, including those
	// pg_catalog lists for tables' keys) as ResolveItem does and returns
	// its OID.
	RelationOID(name PartialName, searchPath []string) (uint32, error)
	// VisibleRelationOIDs returns the OIDs of the relations (and indexes)
	// in pg_catalog and the schemas of searchPath: pg_table_is_visible.
	VisibleRelationOIDs(searchPath []string) []uint32
}

// regCast plans casts to the object identifier types: a string literal
// naming a relation (or type) is looked up now, as PostgreSQL's regclass
// and regtype input functions do; x::regtype::text and x::regclass::text
// print the type's or relation's name. ok is false for other casts.
func (e *ectx) regCast(tc *pg_query.TypeCast) (HScalar, bool, error) {
	target := typeNameString(tc.TypeName)
	if len(tc.TypeName.ArrayBounds) > 0 {
		return nil, false, nil
	}
	switch target {
	case "regproc", "regprocedure":
		c := tc.Arg.GetAConst()
		if c == nil || c.GetSval() == nil {
			return nil, false, nil
		}
		s := strings.TrimPrefix(c.GetSval().Sval, "pg_catalog.")
		if _, err := strconv.ParseUint(s, 10, 32); err == nil {
			return nil, false, nil
		}
		if o, ok := knownProcOIDs[s]; ok {
			return lit(repr.OidDatum(o), repr.TypeOid), true, nil
		}
		return nil, true, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function %q does not exist", s), nodeLocation(tc.Arg))
	case "regclass", "regtype":
		c := tc.Arg.GetAConst()
		if c == nil || c.GetSval() == nil {
			return e.regLookupAtRunTime(tc, target)
		}
		s := c.GetSval().Sval
		if _, err := strconv.ParseUint(s, 10, 32); err == nil {
			return nil, false, nil // a numeric OID
		}
		if target == "regtype" {
			if o, ok := pseudoTypeOIDs[strings.TrimPrefix(s, "pg_catalog.")]; ok {
				return lit(repr.OidDatum(o), repr.TypeOid), true, nil
			}
			n, err := parseExpr("NULL::" + s)
			if err != nil || n.GetTypeCast() == nil || n.GetTypeCast().GetTypeName() == nil || strings.ContainsAny(s, ";") {
				return nil, true, e.q.errAt(pgcode.New(pgcode.UndefinedObject, "type %q does not exist", s), nodeLocation(tc.Arg))
			}
			t, err := resolveType(n.GetTypeCast().GetTypeName())
			if err != nil {
				return nil, true, e.q.errAt(err, nodeLocation(tc.Arg))
			}
			return lit(repr.OidDatum(t.Oid()), repr.TypeOid), true, nil
		}
		name, err := parseRelationName(s)
		if err != nil {
			return nil, true, e.q.errAt(err, nodeLocation(tc.Arg))
		}
		if oc, ok := e.q.scx.Catalog.(OIDCatalog); ok {
			o, err := oc.RelationOID(name, e.q.scx.SearchPath())
			if err != nil {
				return nil, true, e.q.errAt(err, nodeLocation(tc.Arg))
			}
			return lit(repr.OidDatum(o), repr.TypeOid), true, nil
		}
		it, err := e.q.scx.Catalog.ResolveItem(name, e.q.scx.SearchPath())
		if err != nil {
			return nil, true, e.q.errAt(err, nodeLocation(tc.Arg))
		}
		n, err := parseExpr(`(SELECT __o.mz_oid FROM mz_internal.mz_pg_objects __o WHERE __o.mz_kind = 'qualified' AND __o.mz_text = ` +
			quoteLiteral(it.Name.Schema+"."+it.Name.Item) + `)`)
		if err != nil {
			return nil, true, err
		}
		s2, err := e.plan(n)
		return s2, true, err
	case "regnamespace":
		// A constant schema name is looked up now.
		c := tc.Arg.GetAConst()
		if c == nil || c.GetSval() == nil {
			return e.regLookupAtRunTime(tc, target)
		}
		nc, ok := e.q.scx.Catalog.(NamespaceOIDCatalog)
		if !ok {
			return nil, false, nil
		}
		s := c.GetSval().Sval
		if _, err := strconv.ParseUint(s, 10, 32); err == nil {
			return nil, false, nil // a numeric OID
		}
		name, err := parseRelationName(s)
		if err != nil || name.Schema != "" {
			return nil, true, e.q.errAt(pgcode.New(pgcode.InvalidName, "invalid name syntax"), nodeLocation(tc.Arg))
		}
		o, found := nc.SchemaOID(name.Item)
		if !found {
			return nil, true, e.q.errAt(pgcode.New(pgcode.InvalidSchemaName, "schema %q does not exist", name.Item), nodeLocation(tc.Arg))
		}
		return lit(repr.OidDatum(o), repr.TypeOid), true, nil
	case "text", "varchar", "name", "character varying":
		inner := tc.Arg.GetTypeCast()
		if inner == nil || len(inner.TypeName.ArrayBounds) > 0 {
			return nil, false, nil
		}
		var tmpl string
		// The output functions print an unknown OID as a number, and 0
		// (no object) as "-".
		switch typeNameString(inner.TypeName) {
		case "regtype":
			tmpl = `pg_catalog.format_type(($1)::oid, NULL)`
		case "regclass":
			// As regclassout: the name, quoted where it must be, and
			// qualified by its schema when the search path does not find
			// it. pg_class and pg_namespace are arranged by their unique
			// oid, so the subquery is a lookup the optimiser knows returns
			// at most one row (no cardinality check to plan).
			tmpl = `CASE WHEN ($1)::oid = 0 THEN '-' ELSE COALESCE((SELECT CASE WHEN pg_catalog.pg_table_is_visible(__c.oid) THEN pg_catalog.quote_ident(__c.relname) ELSE pg_catalog.quote_ident(__n.nspname) || '.' || pg_catalog.quote_ident(__c.relname) END ` +
				`FROM pg_catalog.pg_class __c JOIN pg_catalog.pg_namespace __n ON __n.oid = __c.relnamespace ` +
				`WHERE __c.oid = ($1)::oid), ($1)::oid::text) END`
		case "regnamespace":
			// As regnamespaceout: the name, quoted where it must be.
			tmpl = `CASE WHEN ($1)::oid = 0 THEN '-' ELSE COALESCE((SELECT pg_catalog.quote_ident(__n.nspname) FROM pg_catalog.pg_namespace __n WHERE __n.oid = ($1)::oid), ($1)::oid::text) END`
		case "regrole":
			tmpl = `CASE WHEN ($1)::oid = 0 THEN '-' ELSE COALESCE((SELECT pg_catalog.quote_ident(__r.rolname) FROM pg_catalog.pg_roles __r WHERE __r.oid = ($1)::oid), ($1)::oid::text) END`
		case "regproc":
			tmpl = `CASE WHEN ($1)::oid = 0 THEN '-' ELSE COALESCE((SELECT min(__p.proname) FROM pg_catalog.pg_proc __p WHERE __p.oid = ($1)::oid), ($1)::oid::text) END`
		default:
			return nil, false, nil
		}
		n, err := parseExpr(tmpl)
		if err != nil {
			return nil, true, err
		}
		walkNodes(n, func(x *pg_query.Node) bool {
			if x.GetParamRef() != nil {
				x.Node = &pg_query.Node_TypeCast{TypeCast: proto.Clone(inner).(*pg_query.TypeCast)}
				return false
			}
			return true
		})
		s, err := e.plan(n)
		if err != nil {
			return nil, true, err
		}
		if target != "text" {
			t, err := resolveType(tc.TypeName)
			if err != nil {
				return nil, true, err
			}
			s, err = e.q.coerce(s, t, expr.Explicit, "")
			return s, true, e.q.errAt(err, tc.Location)
		}
		return s, true, nil
	}
	return nil, false, nil
}

// regLookupAtRunTime plans x::regclass, x::regtype or x::regnamespace
// of a name computed at run time, or of a parameter a client sends as
// text (node-postgres, pgx: $1::regclass with 'public.t'): the name is
// looked up then, NULL when there is no such object (PostgreSQL errors).
// ok is false for other arguments (an OID).
func (e *ectx) regLookupAtRunTime(tc *pg_query.TypeCast, target string) (HScalar, bool, error) {
	if tc.Arg.GetAConst() != nil {
		return nil, false, nil
	}
	a, err := e.plan(tc.Arg)
	if err != nil {
		return nil, true, err
	}
	k := a.Typ().Type.Kind
	isParam := tc.Arg.GetParamRef() != nil && k == repr.KindNull
	if k != repr.KindText && k != repr.KindVarchar && k != repr.KindChar && !isParam {
		return nil, false, nil
	}
	s, _, err := e.callSQLImpl("to_"+target, []*pg_query.Node{tc.Arg}, tc.Location)
	return s, true, err
}

// NamespaceOIDCatalog is implemented by a Catalog that knows its schemas'
// OIDs, so that 'name'::regnamespace plans to a constant.
type NamespaceOIDCatalog interface {
	SchemaOID(name string) (uint32, bool)
}

// pseudoTypeOIDs are the pseudo-types clients name with 'name'::regtype
// (pgcli: prorettype::regtype != 'trigger'::regtype).
var pseudoTypeOIDs = map[string]uint32{
	"trigger": 2279, "void": 2278, "record": 2249, "any": 2276, "anyelement": 2283, "anyarray": 2277,
	"event_trigger": 3838, "internal": 2281, "cstring": 2275, "language_handler": 2280,
}

// knownProcOIDs are the functions clients name with 'name'::regproc:
// pg_type.typinput is array_in's OID for array types.
var knownProcOIDs = map[string]uint32{"array_in": 750, "record_in": 2290}

// typeNameString is a type name without a pg_catalog qualification.
func typeNameString(tn *pg_query.TypeName) string {
	var names []string
	for _, n := range tn.Names {
		names = append(names, n.GetString_().GetSval())
	}
	if len(names) == 2 && names[0] == "pg_catalog" {
		names = names[1:]
	}
	return strings.Join(names, ".")
}

// parseRelationName splits a regclass literal ("t", "public.t",
// "\"My T\"") into a name, folding unquoted parts to lower case.
func parseRelationName(s string) (PartialName, error) {
	var parts []string
	cur, quoted, inQuote := strings.Builder{}, false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inQuote && ch == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case ch == '"':
			inQuote, quoted = !inQuote, true
		case !inQuote && ch == '.':
			parts = append(parts, foldPart(cur.String(), quoted))
			cur.Reset()
			quoted = false
		default:
			cur.WriteByte(ch)
		}
	}
	parts = append(parts, foldPart(cur.String(), quoted))
	switch len(parts) {
	case 1:
		return PartialName{Item: parts[0]}, nil
	case 2:
		return PartialName{Schema: parts[0], Item: parts[1]}, nil
	case 3:
		return PartialName{Database: parts[0], Schema: parts[1], Item: parts[2]}, nil
	}
	return PartialName{}, pgcode.New(pgcode.InvalidName, "improper relation name (too many dotted names): %s", s)
}

func foldPart(s string, quoted bool) string {
	if quoted {
		return s
	}
	return strings.ToLower(strings.TrimSpace(s))
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// indirection plans array subscripts, a[i] (catalog queries index
// int2vector columns such as pg_index.indkey this way), and field
// selection from records whose type knows its fields. Slices are not
// supported.
func (e *ectx) indirection(ind *pg_query.A_Indirection) (HScalar, error) {
	s, err := e.plan(ind.Arg)
	if err != nil {
		return nil, err
	}
	loc := nodeLocation(ind.Arg)
	for _, n := range ind.Indirection {
		if f := n.GetString_(); f != nil {
			// (rec).field of a record whose fields are known.
			i, t, ok := repr.RecordField(s.Typ().Type, f.Sval)
			if !ok {
				return nil, e.q.errAt(pgcode.New(pgcode.UndefinedColumn, "could not identify column %q in record data type", f.Sval), loc)
			}
			if c, isRow := s.(HCall); isRow && c.Func.Name == "row" && i < len(c.Args) {
				s = c.Args[i] // a record built here: the field itself
				continue
			}
			s = HCall{Func: expr.RecordField(i, t), Args: []HScalar{s}}
			continue
		}
		ix := n.GetAIndices()
		if ix == nil || ix.IsSlice || ix.Uidx == nil {
			return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "only array subscripts a[i] are supported"), loc)
		}
		i, err := e.plan(ix.Uidx)
		if err != nil {
			return nil, err
		}
		if s, err = e.callResolved("array_subscript", []HScalar{s, i}, loc); err != nil {
			return nil, err
		}
	}
	return s, nil
}
