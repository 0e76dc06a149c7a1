package randquery

import (
	"fmt"
	"math/rand"
	"strings"
)

// typ is the SQL type of a generated expression.
type typ int

const (
	tNone typ = iota
	tInt2
	tInt4
	tInt8
	tNum
	tFloat
	tText
	tBool
	tDate
	tTs
	tInterval
	tJsonb
	nTypes
)

var typNames = [...]string{"", "int2", "int4", "int8", "numeric", "float8", "text", "bool", "date", "timestamp", "interval", "jsonb"}

func (t typ) String() string { return typNames[t] }

func (t typ) isInt() bool     { return t == tInt2 || t == tInt4 || t == tInt8 }
func (t typ) isNumeric() bool { return t.isInt() || t == tNum || t == tFloat }

// ordered: the type has min/max and a btree order (jsonb has an order
// but no min/max; bool has neither min nor max in PostgreSQL).
func (t typ) ordered() bool { return t != tJsonb && t != tBool && t != tNone }

// A column of a generated table. decl is its declared type (numeric's
// precision and scale); scale the number of decimals of its numeric
// values.
type column struct {
	name  string
	t     typ
	decl  string
	scale int
}

// A table: column 0 is id int4 PRIMARY KEY.
type table struct {
	name string
	cols []column
}

func (tb *table) ddl() string {
	var defs []string
	for i, c := range tb.cols {
		d := c.name + " " + c.decl
		if i == 0 {
			d += " PRIMARY KEY"
		}
		defs = append(defs, d)
	}
	return fmt.Sprintf("CREATE TABLE %s (%s)", tb.name, strings.Join(defs, ", "))
}

// numericDecls are the numeric column declarations, with the scale of
// their values. The unconstrained one holds values of one scale only, so
// that equal values print alike (PostgreSQL keeps whichever of 1.1 and
// 1.10 it meets first as a group's key or an extreme, which no other
// server can reproduce).
var numericDecls = []struct {
	decl  string
	scale int
}{{"numeric(10,2)", 2}, {"numeric(12,4)", 4}, {"numeric(8,0)", 0}, {"numeric", 3}}

// genSchema makes 2 to 4 tables named prefix0, prefix1, ... with 3 to 6
// typed, nullable columns each besides id.
func genSchema(r *rand.Rand, prefix string) []*table {
	var out []*table
	for i := range 2 + r.Intn(3) {
		tb := &table{name: fmt.Sprintf("%s%d", prefix, i)}
		tb.cols = append(tb.cols, column{name: "id", t: tInt4, decl: "int4"})
		for j := range 3 + r.Intn(4) {
			t := typ(1 + r.Intn(int(nTypes)-1))
			c := column{name: fmt.Sprintf("c%d", j+1), t: t, decl: t.String()}
			if t == tNum {
				d := numericDecls[r.Intn(len(numericDecls))]
				c.decl, c.scale = d.decl, d.scale
			}
			tb.cols = append(tb.cols, c)
		}
		out = append(out, tb)
	}
	return out
}

var words = []string{"", "a", "b", "ab", "abc", "B", "ba", "x y", " pad ", "a%c", "zz", "Abc"}

// value returns a literal for column c (NULL sometimes), usable in
// VALUES and SET.
func (g *gen) value(c column) string {
	if g.r.Intn(7) == 0 {
		return "NULL"
	}
	return g.literal(c.t, c.scale)
}

// literal returns a non-NULL literal of type t whose type PostgreSQL
// resolves as t (int2 and int8 casts, numeric with a decimal point).
// Values are small so that sums and products rarely overflow; float8
// values are multiples of 1/4, so that their sums and products are
// exact in any order and both servers print the same digits. Values that
// overflow int4 (100000, 5000000000::int8) come only while the known
// difference "error from a discarded row" is not avoided.
func (g *gen) literal(t typ, scale int) string {
	r := g.r
	big := g.on("big-values")
	switch t {
	case tInt2:
		return fmt.Sprintf("%d::int2", r.Intn(41)-20)
	case tInt4:
		if r.Intn(8) == 0 {
			if big {
				return fmt.Sprint([]int{0, 1, -1, 100000}[r.Intn(4)])
			}
			return fmt.Sprint([]int{0, 1, -1}[r.Intn(3)])
		}
		return fmt.Sprint(r.Intn(41) - 20)
	case tInt8:
		if r.Intn(10) == 0 && big {
			return "5000000000::int8"
		}
		return fmt.Sprintf("%d::int8", r.Intn(41)-20)
	case tNum:
		if scale < 0 {
			scale = r.Intn(4)
		}
		v := r.Intn(4001) - 2000
		if scale == 0 {
			return fmt.Sprintf("%d::numeric", v/10)
		}
		neg := ""
		if v < 0 {
			neg, v = "-", -v
		}
		s := fmt.Sprintf("%0*d", scale+1, v)
		return neg + s[:len(s)-scale] + "." + s[len(s)-scale:]
	case tFloat:
		return fmt.Sprintf("%g::float8", float64(r.Intn(81)-40)/4)
	case tText:
		return "'" + strings.ReplaceAll(words[r.Intn(len(words))], "'", "''") + "'"
	case tBool:
		return []string{"true", "false"}[r.Intn(2)]
	case tDate:
		return fmt.Sprintf("DATE '2024-%02d-%02d'", 1+r.Intn(3), 1+r.Intn(28))
	case tTs:
		return fmt.Sprintf("TIMESTAMP '2024-%02d-%02d %02d:%02d:00'", 1+r.Intn(3), 1+r.Intn(28), r.Intn(24), 15*r.Intn(4))
	case tInterval:
		switch r.Intn(4) {
		case 0:
			return fmt.Sprintf("INTERVAL '%d' day", r.Intn(20))
		case 1:
			return fmt.Sprintf("INTERVAL '%d hours'", r.Intn(30))
		case 2:
			return fmt.Sprintf("INTERVAL '%d mons %d days'", r.Intn(3), r.Intn(28))
		}
		return fmt.Sprintf("INTERVAL '%d days %02d:%02d:00'", r.Intn(28), r.Intn(24), 15*r.Intn(4))
	case tJsonb:
		docs := []string{`{"a": 1, "b": "x"}`, `{"a": 2, "c": [1, 2]}`, `{"b": "y", "d": {"e": true}}`, `[1, "a", null]`, `{"a": null}`, `3`, `"s"`, `{}`, `{"a": 1.5, "b": "z", "c": []}`}
		return "'" + docs[r.Intn(len(docs))] + "'::jsonb"
	}
	panic(fmt.Sprintf("randquery: literal of %v", t))
}

// simpleLiteral is the shrinker's replacement for an expression of type t.
func simpleLiteral(t typ) *node {
	s := map[typ]string{
		tInt2: "1::int2", tInt4: "1", tInt8: "1::int8", tNum: "1.5", tFloat: "1.5::float8",
		tText: "'a'", tBool: "true", tDate: "DATE '2024-01-01'", tTs: "TIMESTAMP '2024-01-01 00:00:00'",
		tInterval: "INTERVAL '1 day'", tJsonb: `'{"a": 1}'::jsonb`,
	}[t]
	return leaf(t, s)
}

// A unit of DML: one statement, or a transaction of several (committed,
// or rolled back).
type unit struct {
	stmts    []string
	tx       bool
	rollback bool
}

func (u unit) String() string {
	if !u.tx {
		return strings.Join(u.stmts, "; ")
	}
	end := "COMMIT"
	if u.rollback {
		end = "ROLLBACK"
	}
	return "BEGIN; " + strings.Join(u.stmts, "; ") + "; " + end
}

// script returns u as SQL statements.
func (u unit) script() []string {
	if !u.tx {
		return u.stmts
	}
	end := "COMMIT"
	if u.rollback {
		end = "ROLLBACK"
	}
	return append(append([]string{"BEGIN"}, u.stmts...), end)
}

// insertRow returns an INSERT of one random row with key id.
func (g *gen) insertRow(tb *table, id int) string {
	vals := []string{fmt.Sprint(id)}
	for _, c := range tb.cols[1:] {
		vals = append(vals, g.value(c))
	}
	return fmt.Sprintf("INSERT INTO %s VALUES (%s)", tb.name, strings.Join(vals, ", "))
}

// dmlStmt returns a random INSERT, UPDATE or DELETE on one of tables.
// Its expressions start at depth 3, below which no subquery is generated:
// a statement PostgreSQL refuses as invalid cannot be discarded the way
// a query is.
// Keys are drawn from 1..maxID, so that inserts sometimes collide (both
// servers must refuse with 23505) and updates and deletes mostly hit.
func dmlStmt(g *gen, tables []*table, maxID int) string {
	r := g.r
	tb := tables[r.Intn(len(tables))]
	sc := &scope{}
	for _, c := range tb.cols {
		sc.cols = append(sc.cols, scopeCol{qual: tb.name, name: c.name, t: c.t})
	}
	where := func() string {
		switch r.Intn(4) {
		case 0:
			return fmt.Sprintf("id = %d", 1+r.Intn(maxID))
		case 1:
			lo := 1 + r.Intn(maxID)
			return fmt.Sprintf("id BETWEEN %d AND %d", lo, lo+r.Intn(4))
		}
		return g.expr(&ectx{sc: sc, depth: 3}, tBool).sql()
	}
	switch k := r.Intn(10); {
	case k < 4:
		if r.Intn(3) == 0 {
			n := 2 + r.Intn(3)
			var rows []string
			for range n {
				s := g.insertRow(tb, 1+r.Intn(maxID))
				rows = append(rows, s[strings.Index(s, "VALUES ")+7:])
			}
			return fmt.Sprintf("INSERT INTO %s VALUES %s", tb.name, strings.Join(rows, ", "))
		}
		return g.insertRow(tb, 1+r.Intn(maxID))
	case k < 8:
		c := tb.cols[1+r.Intn(len(tb.cols)-1)]
		var val string
		switch r.Intn(3) {
		case 0:
			val = g.value(c)
		case 1:
			val = g.expr(&ectx{sc: sc, depth: 3}, c.t).sql()
		default:
			if r.Intn(2) == 0 {
				c = tb.cols[0]
				val = fmt.Sprintf("id + %d", maxID)
			} else {
				val = g.value(c)
			}
		}
		return fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s", tb.name, c.name, val, where())
	default:
		return fmt.Sprintf("DELETE FROM %s WHERE %s", tb.name, where())
	}
}

// dmlBatch returns n units of random DML, about a third of them
// transactions (some rolled back).
func dmlBatch(g *gen, tables []*table, maxID, n int) []unit {
	var out []unit
	for range n {
		r := g.r
		if r.Intn(3) == 0 {
			u := unit{tx: true, rollback: r.Intn(5) == 0}
			for range 2 + r.Intn(3) {
				u.stmts = append(u.stmts, dmlStmt(g, tables, maxID))
			}
			out = append(out, u)
			continue
		}
		out = append(out, unit{stmts: []string{dmlStmt(g, tables, maxID)}})
	}
	return out
}
