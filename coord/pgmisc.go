package coord

import (
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// The catalogs psql's \dC, \do, \dc, \dy, \des, \dF and \dd read: casts
// and operators with viewd's own contents, the rest (conversions, event
// triggers, foreign servers, text search, operator classes) empty, as
// viewd has none of them. Appended after pgStatDefs so that earlier
// system relations keep their OIDs.

func init() {
	for name, o := range map[string]uint32{
		"pg_cast": 2605, "pg_operator": 2617, "pg_conversion": 2607, "pg_event_trigger": 3466,
		"pg_foreign_server": 1417, "pg_foreign_data_wrapper": 2328, "pg_foreign_table": 3118, "pg_user_mapping": 1418,
		"pg_ts_config": 3602, "pg_ts_parser": 3601, "pg_ts_dict": 3600, "pg_ts_template": 3764,
		"pg_opclass": 2616, "pg_opfamily": 2753, "pg_amop": 2602, "pg_amproc": 2603,
	} {
		pgRelationOIDs["pg_catalog."+name] = o
	}
}

func pgMiscDefs() []builtinDef {
	return []builtinDef{
		cols("oid oid, castsource oid, casttarget oid, castfunc oid, castcontext text, castmethod text").
			def("pg_catalog", "pg_cast", pgCastRows),
		cols("oid oid, oprname text, oprnamespace oid, oprowner oid, oprkind text, oprcanmerge bool, oprcanhash bool",
			"oprleft oid, oprright oid, oprresult oid, oprcom oid, oprnegate oid, oprcode oid, oprrest oid, oprjoin oid").
			def("pg_catalog", "pg_operator", pgOperatorRows),
		cols("oid oid, conname text, connamespace oid, conowner oid, conforencoding int4, contoencoding int4, conproc oid, condefault bool").
			def("pg_catalog", "pg_conversion", empty),
		cols("oid oid, evtname text, evtevent text, evtowner oid, evtfoid oid, evtenabled text, evttags text[]").
			def("pg_catalog", "pg_event_trigger", empty),
		cols("oid oid, srvname text, srvowner oid, srvfdw oid, srvtype text, srvversion text, srvacl text[], srvoptions text[]").
			def("pg_catalog", "pg_foreign_server", empty),
		cols("oid oid, fdwname text, fdwowner oid, fdwhandler oid, fdwvalidator oid, fdwacl text[], fdwoptions text[]").
			def("pg_catalog", "pg_foreign_data_wrapper", empty),
		cols("ftrelid oid, ftserver oid, ftoptions text[]").def("pg_catalog", "pg_foreign_table", empty),
		cols("oid oid, umuser oid, umserver oid, umoptions text[]").def("pg_catalog", "pg_user_mapping", empty),
		cols("oid oid, cfgname text, cfgnamespace oid, cfgowner oid, cfgparser oid").def("pg_catalog", "pg_ts_config", empty),
		cols("oid oid, prsname text, prsnamespace oid, prsstart oid, prstoken oid, prsend oid, prsheadline oid, prslextype oid").
			def("pg_catalog", "pg_ts_parser", empty),
		cols("oid oid, dictname text, dictnamespace oid, dictowner oid, dicttemplate oid, dictinitoption text").
			def("pg_catalog", "pg_ts_dict", empty),
		cols("oid oid, tmplname text, tmplnamespace oid, tmplinit oid, tmpllexize oid").def("pg_catalog", "pg_ts_template", empty),
		cols("oid oid, opcmethod oid, opcname text, opcnamespace oid, opcowner oid, opcfamily oid, opcintype oid, opcdefault bool, opckeytype oid").
			def("pg_catalog", "pg_opclass", empty),
		cols("oid oid, opfmethod oid, opfname text, opfnamespace oid, opfowner oid").def("pg_catalog", "pg_opfamily", empty),
		cols("oid oid, amopfamily oid, amoplefttype oid, amoprighttype oid, amopstrategy int2, amoppurpose text, amopopr oid, amopmethod oid, amopsortfamily oid").
			def("pg_catalog", "pg_amop", empty),
		cols("oid oid, amprocfamily oid, amproclefttype oid, amprocrighttype oid, amprocnum int2, amproc oid").
			def("pg_catalog", "pg_amproc", empty),
	}
}

// OID ranges of the rows of pg_cast and pg_operator (below the ranges of
// builtin.go's derived OIDs).
const (
	pgCastOIDBase     = 0x30000000
	pgOperatorOIDBase = 0x38000000
)

// pgCastRows lists the casts between viewd's base types that pg_cast
// would: not the automatic I/O conversions to and from the string types
// (PostgreSQL leaves those out too), but the string types among
// themselves, which are binary coercible.
func pgCastRows(*Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	var base []repr.ScalarType
	for _, t := range pgTypes() {
		if t.category != "A" && t.category != "P" {
			base = append(base, t.typ)
		}
	}
	n := uint32(0)
	for _, from := range base {
		for _, to := range base {
			if from.Kind == to.Kind || from.Kind.IsString() != to.Kind.IsString() {
				continue
			}
			c, ok := expr.LookupCast(from, to)
			if !ok {
				continue
			}
			context := map[expr.CastContext]string{expr.Implicit: "i", expr.Assignment: "a", expr.Explicit: "e"}[c.Context]
			method := "f"
			if from.Kind.IsString() {
				method = "b"
			}
			out = append(out, []repr.Datum{oid(pgCastOIDBase + n), oid(from.Oid()), oid(to.Oid()), oid(0), text(context), text(method)})
			n++
		}
	}
	return out
}

// pgOperatorRows lists viewd's symbolic operators, one row per overload
// whose operand and result types pg_type lists (the polymorphic ones
// are left out).
func pgOperatorRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	ns := oid(c.cat.schemas["pg_catalog"].oid)
	known := map[uint32]bool{0: true}
	for _, t := range pgTypes() {
		known[t.typ.Oid()] = true
	}
	n := uint32(0)
	add := func(name, kind string, left, right, result uint32) {
		if !known[left] || !known[right] || !known[result] {
			return
		}
		out = append(out, []repr.Datum{oid(pgOperatorOIDBase + n), text(name), ns, oid(ownerOID), text(kind), repr.False, boolD(name == "="),
			oid(left), oid(right), oid(result), oid(0), oid(0), oid(0), oid(0), oid(0)})
		n++
	}
	for _, name := range expr.OperatorNames() {
		for _, o := range expr.LookupBinaryOp(name) {
			if len(o.Params) == 2 {
				add(name, "b", paramOID(o.Params[0]), paramOID(o.Params[1]), paramOID(o.Ret))
			}
		}
	}
	for _, name := range expr.PrefixOperatorNames() {
		for _, o := range expr.LookupUnaryOp(name) {
			if len(o.Params) == 1 {
				add(name, "l", 0, paramOID(o.Params[0]), paramOID(o.Ret))
			}
		}
	}
	return out
}
