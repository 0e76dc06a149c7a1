package differential

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"strings"
)

// A unit is what the generator applies atomically: one statement, or a
// transaction of several that ends in COMMIT (or, sometimes, ROLLBACK).
type unit struct {
	stmts    []string
	tx       bool
	rollback bool
}

func (u unit) String() string {
	if !u.tx {
		return u.stmts[0]
	}
	end := "COMMIT"
	if u.rollback {
		end = "ROLLBACK"
	}
	return "BEGIN; " + strings.Join(u.stmts, "; ") + "; " + end
}

// keys are the primary keys the generator believes exist; they are
// refreshed from PostgreSQL after every batch, so range DELETEs only make
// the belief stale within one batch (an UPDATE or DELETE of a missing key
// is a no-op on both servers, and an INSERT only uses keys believed free,
// which are free).
type keys struct {
	customers, products, orders map[int]bool
	edges                       map[[2]int]bool
}

func (k keys) clone() keys {
	c := keys{customers: maps.Clone(k.customers), products: maps.Clone(k.products), orders: maps.Clone(k.orders), edges: maps.Clone(k.edges)}
	return c
}

// Key domains: small, so that joins match, groups collide and rows move
// between groups; customer and product ids in orders range a little past
// the tables' domains so that some orders dangle.
const (
	maxCustomer = 40
	maxProduct  = 15
	maxOrder    = 400
	maxNode     = 10
)

type gen struct {
	r *rand.Rand
	k keys
	// overlap lets the statements of one transaction touch the same rows
	// (an UPDATE of a row inserted or updated earlier in the transaction,
	// range UPDATEs and DELETEs). viewd does not yet read its own writes
	// inside a transaction (see TestTransactions), so by default the
	// statements of a transaction write disjoint rows by primary key.
	overlap bool
	// touched are the keys written by the current transaction, per table;
	// nil outside a transaction or when overlap is set.
	touched map[string]map[int]bool
}

// claim reports whether key k of table may be written by the current
// statement, and records it as written.
func (g *gen) claim(table string, k int) bool {
	if g.touched == nil {
		return true
	}
	if g.touched[table] == nil {
		g.touched[table] = map[int]bool{}
	}
	if g.touched[table][k] {
		return false
	}
	g.touched[table][k] = true
	return true
}

func newGen(seed uint64) *gen {
	return &gen{
		r: rand.New(rand.NewPCG(seed, 0x5eed)),
		k: keys{customers: map[int]bool{}, products: map[int]bool{}, orders: map[int]bool{}, edges: map[[2]int]bool{}},
	}
}

var (
	names      = []string{"ada", "bob", "cara", "dan", "eve", "fay", "gus", "hal", "ivy", "jo", "kamal", "Lea"}
	regions    = []string{"'eu'", "'us'", "'apac'", "'Eu'", "NULL"}
	categories = []string{"tools", "food", "toys"}
	statuses   = []string{"open", "shipped", "cancelled", "lost"}
)

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }
func (g *gen) chance(p float64) bool   { return g.r.Float64() < p }

func (g *gen) freeKey(table string, m map[int]bool, max int) (int, bool) {
	for range 50 {
		k := 1 + g.r.IntN(max)
		if !m[k] && g.claim(table, k) {
			return k, true
		}
	}
	return 0, false
}

// someKey returns a key believed to exist (rarely, any key), or false when
// the transaction has already written every candidate.
func (g *gen) someKey(table string, m map[int]bool, max int) (int, bool) {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	for range 50 {
		k := 1 + g.r.IntN(max) // maybe missing: a no-op
		if len(ks) > 0 && !g.chance(0.05) {
			k = ks[g.r.IntN(len(ks))]
		}
		if g.claim(table, k) {
			return k, true
		}
	}
	return 0, false
}

func (g *gen) boolLit() string {
	switch g.r.IntN(5) {
	case 0:
		return "NULL"
	case 1, 2:
		return "true"
	default:
		return "false"
	}
}

func (g *gen) dateLit() string {
	return fmt.Sprintf("date '2022-01-01' + %d", g.r.IntN(900))
}

func (g *gen) tsLit() string {
	m := g.r.IntN(120 * 24 * 60)
	return fmt.Sprintf("timestamp '2024-01-01 00:00:00' + interval '%d minutes'", m)
}

func (g *gen) creditLit() string {
	switch {
	case g.chance(0.2):
		return "NULL"
	case g.chance(0.5):
		return fmt.Sprint(100 * g.r.IntN(9))
	default:
		return fmt.Sprint(g.r.IntN(1000))
	}
}

func (g *gen) priceLit() string { return fmt.Sprintf("%d.%02d", g.r.IntN(100), g.r.IntN(100)) }

func (g *gen) discountLit() string {
	if g.chance(0.3) {
		return "NULL"
	}
	return fmt.Sprintf("0.%02d", g.r.IntN(50))
}

func (g *gen) customerIDLit() string {
	if g.chance(0.1) {
		return "NULL"
	}
	return fmt.Sprint(1 + g.r.IntN(maxCustomer+5))
}

func (g *gen) customerRow(id int) string {
	return fmt.Sprintf("(%d, '%s', %s, %s, %s, %s)", id, g.pick(names), g.pick(regions), g.boolLit(), g.dateLit(), g.creditLit())
}

func (g *gen) productRow(id int) string {
	return fmt.Sprintf("(%d, 'p%c%d', '%s', %s, %v)", id, 'a'+rune(g.r.IntN(6)), g.r.IntN(10), g.pick(categories), g.priceLit(), g.chance(0.7))
}

func (g *gen) orderRow(id int) string {
	return fmt.Sprintf("(%d, %s, %d, %d, %s, %s, '%s')", id, g.customerIDLit(), 1+g.r.IntN(maxProduct+2), 1+g.r.IntN(8), g.discountLit(), g.tsLit(), g.pick(statuses))
}

// initial returns statements that load the starting data.
func (g *gen) initial() []string {
	var out []string
	var rows []string
	for id := 1; id <= 25; id++ {
		g.k.customers[id] = true
		rows = append(rows, g.customerRow(id))
	}
	out = append(out, "INSERT INTO customers VALUES "+strings.Join(rows, ", "))
	rows = nil
	for id := 1; id <= 10; id++ {
		g.k.products[id] = true
		rows = append(rows, g.productRow(id))
	}
	out = append(out, "INSERT INTO products VALUES "+strings.Join(rows, ", "))
	rows = nil
	for id := 1; id <= 120; id++ {
		g.k.orders[id] = true
		rows = append(rows, g.orderRow(id))
	}
	out = append(out, "INSERT INTO orders VALUES "+strings.Join(rows, ", "))
	rows = nil
	for len(g.k.edges) < 12 {
		e := [2]int{1 + g.r.IntN(maxNode), 1 + g.r.IntN(maxNode)}
		if !g.k.edges[e] {
			g.k.edges[e] = true
			rows = append(rows, fmt.Sprintf("(%d, %d, %d)", e[0], e[1], 1+g.r.IntN(5)))
		}
	}
	out = append(out, "INSERT INTO edges VALUES "+strings.Join(rows, ", "))
	return out
}

// stmt returns one random DML statement, or "" when it found nothing to do.
func (g *gen) stmt() string {
	k := &g.k
	inTx := g.touched != nil
	switch g.r.IntN(24) {
	case 0, 1, 2: // insert orders, sometimes several rows
		if len(k.orders) > 250 { // keep the key space from filling up
			return ""
		}
		n := 1 + g.r.IntN(3)
		var rows []string
		for range n {
			if id, ok := g.freeKey("orders", k.orders, maxOrder); ok {
				k.orders[id] = true
				rows = append(rows, g.orderRow(id))
			}
		}
		if len(rows) == 0 {
			return ""
		}
		return "INSERT INTO orders VALUES " + strings.Join(rows, ", ")
	case 3:
		if id, ok := g.freeKey("customers", k.customers, maxCustomer); ok {
			k.customers[id] = true
			return "INSERT INTO customers VALUES " + g.customerRow(id)
		}
	case 4:
		if id, ok := g.freeKey("products", k.products, maxProduct); ok {
			k.products[id] = true
			return "INSERT INTO products VALUES " + g.productRow(id)
		}
	case 5:
		e := [2]int{1 + g.r.IntN(maxNode), 1 + g.r.IntN(maxNode)}
		if !k.edges[e] && g.claim("edges", e[0]*1000+e[1]) {
			k.edges[e] = true
			return fmt.Sprintf("INSERT INTO edges VALUES (%d, %d, %d)", e[0], e[1], 1+g.r.IntN(5))
		}
	case 6, 7: // key-preserving update of non-key, non-grouping columns
		if id, ok := g.someKey("orders", k.orders, maxOrder); ok {
			return fmt.Sprintf("UPDATE orders SET qty = %d, discount = %s WHERE id = %d", 1+g.r.IntN(8), g.discountLit(), id)
		}
	case 8:
		if id, ok := g.someKey("orders", k.orders, maxOrder); ok {
			return fmt.Sprintf("UPDATE orders SET status = '%s' WHERE id = %d", g.pick(statuses), id)
		}
	case 9, 10: // move an order between customer groups
		if id, ok := g.someKey("orders", k.orders, maxOrder); ok {
			return fmt.Sprintf("UPDATE orders SET customer_id = %s WHERE id = %d", g.customerIDLit(), id)
		}
	case 11: // move an order between product groups and months
		if id, ok := g.someKey("orders", k.orders, maxOrder); ok {
			return fmt.Sprintf("UPDATE orders SET product_id = %d, placed_at = %s WHERE id = %d", 1+g.r.IntN(maxProduct+2), g.tsLit(), id)
		}
	case 12: // multi-row update, relative to the old value
		if !inTx || g.overlap {
			return fmt.Sprintf("UPDATE orders SET qty = qty + 1 WHERE product_id = %d", 1+g.r.IntN(maxProduct))
		}
	case 13:
		if !inTx || g.overlap {
			return fmt.Sprintf("UPDATE orders SET status = 'shipped', discount = NULL WHERE status = 'open' AND customer_id = %d", 1+g.r.IntN(maxCustomer))
		}
	case 14: // move a customer between regions / vip groups
		if id, ok := g.someKey("customers", k.customers, maxCustomer); ok {
			return fmt.Sprintf("UPDATE customers SET region = %s, vip = %s, credit = %s WHERE id = %d", g.pick(regions), g.boolLit(), g.creditLit(), id)
		}
	case 15:
		if id, ok := g.someKey("customers", k.customers, maxCustomer); ok {
			return fmt.Sprintf("UPDATE customers SET name = '%s', signup = %s WHERE id = %d", g.pick(names), g.dateLit(), id)
		}
	case 16:
		if id, ok := g.someKey("products", k.products, maxProduct); ok {
			return fmt.Sprintf("UPDATE products SET price = %s, category = '%s', active = %v WHERE id = %d", g.priceLit(), g.pick(categories), g.chance(0.7), id)
		}
	case 17: // primary-key-changing update
		old, ok := g.someKey("customers", k.customers, maxCustomer)
		if !ok || !k.customers[old] {
			return ""
		}
		if id, ok := g.freeKey("customers", k.customers, maxCustomer); ok {
			delete(k.customers, old)
			k.customers[id] = true
			return fmt.Sprintf("UPDATE customers SET id = %d WHERE id = %d", id, old)
		}
	case 18, 19:
		if id, ok := g.someKey("orders", k.orders, maxOrder); ok {
			delete(k.orders, id)
			return fmt.Sprintf("DELETE FROM orders WHERE id = %d", id)
		}
	case 20: // range delete
		if !inTx || g.overlap {
			return fmt.Sprintf("DELETE FROM orders WHERE customer_id = %d AND qty < %d", 1+g.r.IntN(maxCustomer), 2+g.r.IntN(4))
		}
	case 21:
		if len(k.customers) < 12 {
			return ""
		}
		if id, ok := g.someKey("customers", k.customers, maxCustomer); ok {
			delete(k.customers, id)
			return fmt.Sprintf("DELETE FROM customers WHERE id = %d", id)
		}
	case 22:
		if len(k.products) > 4 {
			if id, ok := g.someKey("products", k.products, maxProduct); ok {
				delete(k.products, id)
				return fmt.Sprintf("DELETE FROM products WHERE id = %d", id)
			}
		}
	case 23:
		var es [][2]int
		for e := range k.edges {
			es = append(es, e)
		}
		if len(es) < 6 { // keep the graph from emptying
			return ""
		}
		sort.Slice(es, func(i, j int) bool { return es[i][0] < es[j][0] || es[i][0] == es[j][0] && es[i][1] < es[j][1] })
		e := es[g.r.IntN(len(es))]
		if g.claim("edges", e[0]*1000+e[1]) {
			delete(k.edges, e)
			return fmt.Sprintf("DELETE FROM edges WHERE src = %d AND dst = %d", e[0], e[1])
		}
	}
	return ""
}

// batch returns the units of one batch of about n statements.
func (g *gen) batch(n int) []unit {
	var out []unit
	for i := 0; i < n; {
		if g.chance(0.25) {
			u := unit{tx: true, rollback: g.chance(0.15)}
			var saved keys
			if u.rollback {
				saved = g.k.clone()
			}
			if !g.overlap {
				g.touched = map[string]map[int]bool{}
			}
			n := 2 + g.r.IntN(4)
			if g.chance(0.1) { // now and then a large transaction
				n = 10 + g.r.IntN(20)
			}
			for range n {
				if s := g.stmt(); s != "" {
					u.stmts = append(u.stmts, s)
				}
			}
			g.touched = nil
			if u.rollback {
				g.k = saved
			}
			i += len(u.stmts)
			if len(u.stmts) > 0 {
				out = append(out, u)
			}
			continue
		}
		if s := g.stmt(); s != "" {
			out = append(out, unit{stmts: []string{s}})
		}
		i++
	}
	return out
}
