package tpch

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// gen generates TPC-H rows as SQL INSERT statements, following dbgen's
// distributions (specification 4.2.3) closely enough that every query has
// rows to find: key ranges and sparse order keys, the partsupp supplier
// formula, p_name from the 92 colours, p_type, p_container, brands and
// segments from the specification's lists, prices from the retail price
// formula, dates from the order date window with ship, commit and
// receipt offsets, return flags and line status from CURRENTDATE, order
// status and total price from the order's lineitems. Deviations: comments
// are random words from dbgen's grammar vocabulary rather than its
// grammar; 5% of suppliers (dbgen: 5 per 10,000) carry "Customer ...
// Complaints" so that q16's NOT IN removes some at small scale factors.
//
// The same seed gives the same statements.
type gen struct {
	sf                                  float64
	rng                                 *rand.Rand
	parts, supps, custs, orders, clerks int
	live                                []int // keys of the orders inserted and not deleted
	nextOrder                           int   // index (1-based) of the next order to generate
}

var (
	startDate   = time.Date(1992, 1, 1, 0, 0, 0, 0, time.UTC)
	currentDate = time.Date(1995, 6, 17, 0, 0, 0, 0, time.UTC)
	// Order dates are uniform in [STARTDATE, ENDDATE - 151 days].
	orderDays = int(time.Date(1998, 12, 31, 0, 0, 0, 0, time.UTC).Sub(startDate).Hours()/24) - 151

	regions = []string{"AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"}
	nations = []struct {
		name   string
		region int
	}{{"ALGERIA", 0}, {"ARGENTINA", 1}, {"BRAZIL", 1}, {"CANADA", 1}, {"EGYPT", 4}, {"ETHIOPIA", 0}, {"FRANCE", 3},
		{"GERMANY", 3}, {"INDIA", 2}, {"INDONESIA", 2}, {"IRAN", 4}, {"IRAQ", 4}, {"JAPAN", 2}, {"JORDAN", 4}, {"KENYA", 0},
		{"MOROCCO", 0}, {"MOZAMBIQUE", 0}, {"PERU", 1}, {"CHINA", 2}, {"ROMANIA", 3}, {"SAUDI ARABIA", 4}, {"VIETNAM", 2},
		{"RUSSIA", 3}, {"UNITED KINGDOM", 3}, {"UNITED STATES", 1}}
	colors = strings.Fields(`almond antique aquamarine azure beige bisque black blanched blue blush brown burlywood
		burnished chartreuse chiffon chocolate coral cornflower cornsilk cream cyan dark deep dim dodger drab firebrick
		floral forest frosted gainsboro ghost goldenrod green grey honeydew hot indian ivory khaki lace lavender lawn
		lemon light lime linen magenta maroon medium metallic midnight mint misty moccasin navajo navy olive orange
		orchid pale papaya peach peru pink plum powder puff purple red rose rosy royal saddle salmon sandy seashell
		sienna sky slate smoke snow spring steel tan thistle tomato turquoise violet wheat white yellow`)
	types1      = []string{"STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"}
	types2      = []string{"ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"}
	types3      = []string{"TIN", "NICKEL", "BRASS", "STEEL", "COPPER"}
	containers1 = []string{"SM", "LG", "MED", "JUMBO", "WRAP"}
	containers2 = []string{"CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"}
	segments    = []string{"AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"}
	priorities  = []string{"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"}
	instructs   = []string{"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"}
	modes       = []string{"REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"}
	words       = strings.Fields(`foxes ideas theodolites pinto beans instructions dependencies excuses platelets
		asymptotes courts dolphins multipliers sauternes warthogs frets dinos attainments somas patterns forges braids
		frays warhorses dugouts notornis epitaphs pearls tithes waters orbits gifts sheaves depths sentiments decoys
		realms pains grouches escapades packages requests accounts deposits sleep wake are cajole haggle nag use boost
		affix detect integrate maintain nod was lose sublate solve thrash promise engage hinder print x-ray breach eat
		grow impress mold poach serve run dazzle snooze doze unwind kindle play hang believe doubt furious sly careful
		blithe quick fluffy slow quiet ruthless thin close dogged daring brave stealthy permanent enticing idle busy
		regular final ironic even bold silent special pending express unusual furiously slyly carefully blithely
		quickly fluffily slowly quietly about above according across after against along alongside among around at
		atop before behind beneath beside besides between beyond by despite during except for from in inside instead
		of into near of on outside over past since through throughout to toward under until up upon without with within`)
)

func newGen(sf float64, seed uint64) *gen {
	atLeast := func(n float64, min int) int { return max(min, int(n)) }
	g := &gen{
		sf: sf, rng: rand.New(rand.NewPCG(seed, 0x7d9c)),
		parts: atLeast(200_000*sf, 1), supps: atLeast(10_000*sf, 4), custs: atLeast(150_000*sf, 3),
		orders: atLeast(1_500_000*sf, 1), clerks: atLeast(1_000*sf, 1), nextOrder: 1,
	}
	return g
}

func (g *gen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// between returns a uniform integer in [lo, hi].
func (g *gen) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

func (g *gen) text(minWords, maxWords int) string {
	n := g.between(minWords, maxWords)
	ws := make([]string, n)
	for i := range ws {
		ws[i] = g.pick(words)
	}
	return strings.Join(ws, " ")
}

// address is dbgen's V-string: random alphanumerics of 10 to 40 characters.
func (g *gen) address() string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,. "
	b := make([]byte, g.between(10, 40))
	for i := range b {
		b[i] = chars[g.rng.IntN(len(chars))]
	}
	return string(b)
}

func (g *gen) phone(nation int) string {
	return fmt.Sprintf("%d-%d-%d-%d", nation+10, g.between(100, 999), g.between(100, 999), g.between(1000, 9999))
}

// money prints cents as a numeric literal.
func money(cents int) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func date(t time.Time) string { return "'" + t.Format("2006-01-02") + "'" }

// retailCents is the specification's P_RETAILPRICE of part p, in cents.
func retailCents(p int) int { return 90000 + (p/10)%20001 + 100*(p%1000) }

// partSupp is the i-th (0..3) supplier of part p: the specification's
// formula, or, where at a small scale factor it repeats a supplier, the
// formula without its (p-1)/S term.
func (g *gen) partSupp(p, i int) int {
	s := g.supps
	step := s/4 + (p-1)/s
	for j := 1; j < 4; j++ {
		if j*step%s == 0 {
			step = s / 4
			break
		}
	}
	return (p+i*step)%s + 1
}

// inserts batches rows (each a parenthesised tuple) into INSERT
// statements of at most rowsPerInsert rows.
const rowsPerInsert = 500

func inserts(table string, rows []string) []string {
	var out []string
	for len(rows) > 0 {
		n := min(len(rows), rowsPerInsert)
		out = append(out, "INSERT INTO "+table+" VALUES "+strings.Join(rows[:n], ", "))
		rows = rows[n:]
	}
	return out
}

// dimensions returns the statements that load region, nation, part,
// supplier, partsupp and customer.
func (g *gen) dimensions() []string {
	var out []string
	var rows []string
	for i, r := range regions {
		rows = append(rows, fmt.Sprintf("(%d, %s, %s)", i, lit(r), lit(g.text(5, 12))))
	}
	out = append(out, inserts("region", rows)...)
	rows = nil
	for i, n := range nations {
		rows = append(rows, fmt.Sprintf("(%d, %s, %d, %s)", i, lit(n.name), n.region, lit(g.text(5, 12))))
	}
	out = append(out, inserts("nation", rows)...)
	var parts, ps []string
	for p := 1; p <= g.parts; p++ {
		name := make([]string, 0, 5)
		for len(name) < 5 {
			c := g.pick(colors)
			dup := false
			for _, x := range name {
				dup = dup || x == c
			}
			if !dup {
				name = append(name, c)
			}
		}
		m := g.between(1, 5)
		parts = append(parts, fmt.Sprintf("(%d, %s, %s, %s, %s, %d, %s, %s, %s)", p, lit(strings.Join(name, " ")),
			lit(fmt.Sprintf("Manufacturer#%d", m)), lit(fmt.Sprintf("Brand#%d%d", m, g.between(1, 5))),
			lit(g.pick(types1)+" "+g.pick(types2)+" "+g.pick(types3)), g.between(1, 50),
			lit(g.pick(containers1)+" "+g.pick(containers2)), money(retailCents(p)), lit(g.text(2, 5))))
		for i := range 4 {
			ps = append(ps, fmt.Sprintf("(%d, %d, %d, %s, %s)", p, g.partSupp(p, i), g.between(1, 9999),
				money(g.between(100, 100_000)), lit(g.text(8, 20))))
		}
	}
	out = append(out, inserts("part", parts)...)
	rows = nil
	for s := 1; s <= g.supps; s++ {
		n := g.between(0, 24)
		comment := g.text(4, 12)
		switch r := g.rng.IntN(100); {
		case r < 5:
			comment = g.text(1, 3) + " Customer " + g.text(1, 3) + " Complaints " + g.text(1, 3)
		case r < 10:
			comment = g.text(1, 3) + " Customer " + g.text(1, 3) + " Recommends " + g.text(1, 3)
		}
		rows = append(rows, fmt.Sprintf("(%d, %s, %s, %d, %s, %s, %s)", s, lit(fmt.Sprintf("Supplier#%09d", s)),
			lit(g.address()), n, lit(g.phone(n)), money(g.between(-99_999, 999_999)), lit(comment)))
	}
	out = append(out, inserts("supplier", rows)...)
	out = append(out, inserts("partsupp", ps)...)
	rows = nil
	for c := 1; c <= g.custs; c++ {
		n := g.between(0, 24)
		rows = append(rows, fmt.Sprintf("(%d, %s, %s, %d, %s, %s, %s, %s)", c, lit(fmt.Sprintf("Customer#%09d", c)),
			lit(g.address()), n, lit(g.phone(n)), money(g.between(-99_999, 999_999)), lit(g.pick(segments)), lit(g.text(6, 16))))
	}
	out = append(out, inserts("customer", rows)...)
	return out
}

// orderKey is the key of the i-th order (1-based): dbgen's sparse keys,
// the first 8 of every 32.
func orderKey(i int) int { return (i-1)/8*32 + (i-1)%8 + 1 }

// moreOrders returns the statements that insert the next n orders with
// their lineitems.
func (g *gen) moreOrders(n int) []string {
	var os, ls []string
	for range n {
		key := orderKey(g.nextOrder)
		g.nextOrder++
		cust := g.between(1, g.custs)
		for cust%3 == 0 && g.custs >= 3 {
			cust = g.between(1, g.custs)
		}
		od := startDate.AddDate(0, 0, g.rng.IntN(orderDays+1))
		lines := g.between(1, 7)
		total, nF, nO := 0, 0, 0
		for ln := 1; ln <= lines; ln++ {
			p := g.between(1, g.parts)
			s := g.partSupp(p, g.rng.IntN(4))
			qty := g.between(1, 50)
			ext := qty * retailCents(p)
			disc, tax := g.between(0, 10), g.between(0, 8)
			ship := od.AddDate(0, 0, g.between(1, 121))
			commit := od.AddDate(0, 0, g.between(30, 90))
			receipt := ship.AddDate(0, 0, g.between(1, 30))
			flag := "N"
			if !receipt.After(currentDate) {
				flag = []string{"R", "A"}[g.rng.IntN(2)]
			}
			status := "O"
			if !ship.After(currentDate) {
				status = "F"
				nF++
			} else {
				nO++
			}
			total += ext * (100 + tax) / 100 * (100 - disc) / 100
			ls = append(ls, fmt.Sprintf("(%d, %d, %d, %d, %d, %s, %s, %s, '%s', '%s', %s, %s, %s, %s, %s, %s)",
				key, p, s, ln, qty, money(ext), money(disc), money(tax), flag, status, date(ship), date(commit),
				date(receipt), lit(g.pick(instructs)), lit(g.pick(modes)), lit(g.text(2, 6))))
		}
		status := "P"
		switch {
		case nO == 0:
			status = "F"
		case nF == 0:
			status = "O"
		}
		os = append(os, fmt.Sprintf("(%d, %d, '%s', %s, %s, %s, %s, 0, %s)", key, cust, status, money(total), date(od),
			lit(g.pick(priorities)), lit(fmt.Sprintf("Clerk#%09d", g.between(1, g.clerks))), lit(g.text(4, 14))))
		g.live = append(g.live, key)
	}
	return append(inserts("orders", os), inserts("lineitem", ls)...)
}

// deleteOrders returns the statements that delete about one live order
// in m, those whose key is r modulo m for a random r, with their
// lineitems (refresh function RF2). A predicate on the key rather than a
// list of keys: viewd evaluates x IN (list) as a chain of ORs, which at
// thousands of keys makes the DELETE take minutes.
func (g *gen) deleteOrders(m int) []string {
	r := g.rng.IntN(m)
	kept := g.live[:0]
	for _, k := range g.live {
		if k%m != r {
			kept = append(kept, k)
		}
	}
	g.live = kept
	return []string{
		fmt.Sprintf("DELETE FROM lineitem WHERE l_orderkey %% %d = %d", m, r),
		fmt.Sprintf("DELETE FROM orders WHERE o_orderkey %% %d = %d", m, r),
	}
}

// updates returns statements that change existing rows the queries read:
// prices, quantities, dates, flags, names and comments, each for a
// random slice of keys (by a modulus on the key, so that both servers
// change the same rows).
func (g *gen) updates() []string {
	m := func(lo, hi int) int { return g.between(lo, hi) }
	return []string{
		fmt.Sprintf("UPDATE partsupp SET ps_supplycost = ps_supplycost + 1.25, ps_availqty = ps_availqty / 2 WHERE ps_partkey %% %d = %d", m(5, 9), m(0, 4)),
		fmt.Sprintf("UPDATE part SET p_brand = 'Brand#23', p_container = 'MED BOX' WHERE p_partkey %% %d = 0", m(40, 60)),
		fmt.Sprintf("UPDATE part SET p_type = 'LARGE PLATED BRASS', p_size = 15 WHERE p_partkey %% %d = 1", m(40, 60)),
		fmt.Sprintf("UPDATE supplier SET s_comment = 'Customer slyly Complaints', s_acctbal = s_acctbal + 100 WHERE s_suppkey %% %d = 2", m(7, 13)),
		fmt.Sprintf("UPDATE customer SET c_mktsegment = 'BUILDING', c_acctbal = c_acctbal - 17.5 WHERE c_custkey %% %d = 3", m(7, 13)),
		fmt.Sprintf("UPDATE lineitem SET l_quantity = l_quantity + 20, l_receiptdate = l_receiptdate + 40 WHERE l_orderkey %% %d = 5", m(11, 17)),
		fmt.Sprintf("UPDATE lineitem SET l_suppkey = (l_suppkey %% %d) + 1 WHERE l_partkey %% %d = 7", g.supps, m(11, 17)),
		fmt.Sprintf("UPDATE orders SET o_orderstatus = 'F', o_comment = 'special foxes requests' WHERE o_orderkey %% %d = 6", m(11, 17)),
		fmt.Sprintf("DELETE FROM customer WHERE c_custkey %% %d = 4", m(40, 60)),
	}
}
