package loadgen

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/repr"
)

// tpch is TPCH: the benchmark's eight tables at SCALE FACTOR sf (row counts
// of the specification times sf; region and nation fixed), with valid keys
// and foreign keys (a lineitem's part and supplier are a partsupp row, as
// the specification's supplier formula guarantees). After the initial
// load, each tick is one transaction in the manner of the refresh
// functions: a new order with its lineitems inserted, the oldest order and
// its lineitems deleted.
type tpch struct {
	opts      Options
	rng       *rand.Rand
	parts     int64
	suppliers int64
	customers int64
	nextOrder int64
	live      []liveOrder // FIFO, oldest first
}

type liveOrder struct {
	order repr.Row
	lines []repr.Row
}

const (
	tRegion = iota
	tNation
	tPart
	tSupplier
	tPartsupp
	tCustomer
	tOrders
	tLineitem
)

var (
	tpchRegions = []string{"AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"}
	tpchNations = []struct {
		name   string
		region int64
	}{{"ALGERIA", 0}, {"ARGENTINA", 1}, {"BRAZIL", 1}, {"CANADA", 1}, {"EGYPT", 4}, {"ETHIOPIA", 0}, {"FRANCE", 3}, {"GERMANY", 3}, {"INDIA", 2}, {"INDONESIA", 2}, {"IRAN", 4}, {"IRAQ", 4}, {"JAPAN", 2}, {"JORDAN", 4}, {"KENYA", 0}, {"MOROCCO", 0}, {"MOZAMBIQUE", 0}, {"PERU", 1}, {"CHINA", 2}, {"ROMANIA", 3}, {"SAUDI ARABIA", 4}, {"VIETNAM", 2}, {"RUSSIA", 3}, {"UNITED KINGDOM", 3}, {"UNITED STATES", 1}}
	tpchSegments = []string{"AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"}
	tpchPrios    = []string{"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"}
	tpchInstr    = []string{"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"}
	tpchModes    = []string{"REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"}
	tpchCont     = []string{"SM CASE", "SM BOX", "MED BAG", "MED BOX", "LG CASE", "LG BOX", "JUMBO PACK", "WRAP DRUM"}
	tpchTypes    = []string{"STANDARD ANODIZED TIN", "SMALL PLATED COPPER", "PROMO BURNISHED NICKEL", "LARGE BRUSHED STEEL", "ECONOMY POLISHED BRASS"}
	tpchColors   = []string{"almond", "antique", "aquamarine", "azure", "beige", "bisque", "black", "blanched", "blue", "blush", "brown", "burlywood"}
)

func newTPCH(opts Options) *tpch {
	sf := opts.ScaleFactor
	atLeast := func(v float64) int64 { return max(1, int64(v)) }
	return &tpch{
		opts: opts, rng: rand.New(rand.NewSource(opts.Seed)),
		parts: atLeast(200_000 * sf), suppliers: max(4, atLeast(10_000*sf)), customers: atLeast(150_000 * sf),
	}
}

func money(cents int64) repr.Datum { return repr.NumericDatum(apd.New(cents, -2)) }

var moneyType = repr.NumericType(15, 2)

func (t *tpch) collections() []Collection {
	i4t, i8t, tx, d := repr.TypeInt4, repr.TypeInt8, repr.TypeText, repr.TypeDate
	return []Collection{
		{Name: "region", Desc: desc([]int{0}, "r_regionkey", i4t, "r_name", tx, "r_comment", tx)},
		{Name: "nation", Desc: desc([]int{0}, "n_nationkey", i4t, "n_name", tx, "n_regionkey", i4t, "n_comment", tx)},
		{Name: "part", Desc: desc([]int{0}, "p_partkey", i4t, "p_name", tx, "p_mfgr", tx, "p_brand", tx, "p_type", tx, "p_size", i4t,
			"p_container", tx, "p_retailprice", moneyType, "p_comment", tx)},
		{Name: "supplier", Desc: desc([]int{0}, "s_suppkey", i4t, "s_name", tx, "s_address", tx, "s_nationkey", i4t, "s_phone", tx,
			"s_acctbal", moneyType, "s_comment", tx)},
		{Name: "partsupp", Desc: desc([]int{0, 1}, "ps_partkey", i4t, "ps_suppkey", i4t, "ps_availqty", i4t, "ps_supplycost", moneyType, "ps_comment", tx)},
		{Name: "customer", Desc: desc([]int{0}, "c_custkey", i4t, "c_name", tx, "c_address", tx, "c_nationkey", i4t, "c_phone", tx,
			"c_acctbal", moneyType, "c_mktsegment", tx, "c_comment", tx)},
		{Name: "orders", Desc: desc([]int{0}, "o_orderkey", i8t, "o_custkey", i4t, "o_orderstatus", tx, "o_totalprice", moneyType,
			"o_orderdate", d, "o_orderpriority", tx, "o_clerk", tx, "o_shippriority", i4t, "o_comment", tx)},
		{Name: "lineitem", Desc: desc([]int{0, 3}, "l_orderkey", i8t, "l_partkey", i4t, "l_suppkey", i4t, "l_linenumber", i4t,
			"l_quantity", moneyType, "l_extendedprice", moneyType, "l_discount", moneyType, "l_tax", moneyType,
			"l_returnflag", tx, "l_linestatus", tx, "l_shipdate", d, "l_commitdate", d, "l_receiptdate", d,
			"l_shipinstruct", tx, "l_shipmode", tx, "l_comment", tx)},
	}
}

// partSupplier is the i-th (0..3) supplier of part p: the
// specification's formula without its (p-1)/S term, which repeats
// suppliers when there are few of them; four distinct suppliers per part
// for any S >= 4.
func (t *tpch) partSupplier(p int64, i int64) int64 {
	s := t.suppliers
	return (p+i*(s/4))%s + 1
}

func (t *tpch) phone(nation int64) string {
	return fmt.Sprintf("%d-%03d-%03d-%04d", nation+10, t.rng.Intn(900)+100, t.rng.Intn(900)+100, t.rng.Intn(9000)+1000)
}

func (t *tpch) tick(i int64, b *batch) {
	if i == 0 {
		t.load(b)
		return
	}
	// Refresh: a new order in, the oldest out, in one transaction.
	t.newOrder(b, t.opts.Epoch.Add(time.Duration(i)*t.opts.TickInterval))
	if len(t.live) > 1 {
		old := t.live[0]
		t.live = t.live[1:]
		b.delete(tOrders, old.order)
		for _, l := range old.lines {
			b.delete(tLineitem, l)
		}
	}
}

func (t *tpch) load(b *batch) {
	for r, name := range tpchRegions {
		b.insert(tRegion, i4(int64(r)), txt(name), txt(sentence(t.rng, 5)))
	}
	for n, nat := range tpchNations {
		b.insert(tNation, i4(int64(n)), txt(nat.name), i4(nat.region), txt(sentence(t.rng, 6)))
	}
	for p := int64(1); p <= t.parts; p++ {
		m := 1 + t.rng.Intn(5)
		b.insert(tPart, i4(p), txt(pick(t.rng, tpchColors)+" "+pick(t.rng, tpchColors)), txt(fmt.Sprintf("Manufacturer#%d", m)),
			txt(fmt.Sprintf("Brand#%d%d", m, 1+t.rng.Intn(5))), txt(pick(t.rng, tpchTypes)), i4(int64(1+t.rng.Intn(50))),
			txt(pick(t.rng, tpchCont)), money(90000+(p/10)%20001+100*(p%1000)), txt(sentence(t.rng, 3)))
		for k := int64(0); k < 4; k++ {
			b.insert(tPartsupp, i4(p), i4(t.partSupplier(p, k)), i4(int64(1+t.rng.Intn(9999))), money(int64(100+t.rng.Intn(99901))), txt(sentence(t.rng, 8)))
		}
	}
	for s := int64(1); s <= t.suppliers; s++ {
		nat := int64(t.rng.Intn(len(tpchNations)))
		b.insert(tSupplier, i4(s), txt(fmt.Sprintf("Supplier#%09d", s)), txt(sentence(t.rng, 2)), i4(nat), txt(t.phone(nat)),
			money(int64(t.rng.Intn(1_100_000)-100_000)), txt(sentence(t.rng, 6)))
	}
	for c := int64(1); c <= t.customers; c++ {
		nat := int64(t.rng.Intn(len(tpchNations)))
		b.insert(tCustomer, i4(c), txt(fmt.Sprintf("Customer#%09d", c)), txt(sentence(t.rng, 2)), i4(nat), txt(t.phone(nat)),
			money(int64(t.rng.Intn(1_100_000)-100_000)), txt(pick(t.rng, tpchSegments)), txt(sentence(t.rng, 6)))
	}
	orders := max(1, t.customers*10)
	start := time.Date(1992, 1, 1, 0, 0, 0, 0, time.UTC)
	for o := int64(0); o < orders; o++ {
		t.newOrder(b, start.Add(time.Duration(t.rng.Intn(2400))*24*time.Hour))
	}
}

func days(tm time.Time) repr.Datum { return repr.DateDatum(int32(tm.Unix() / 86400)) }

func (t *tpch) newOrder(b *batch, date time.Time) {
	t.nextOrder++
	// The specification leaves gaps in order keys (8 of every 32 used).
	key := (t.nextOrder-1)/8*32 + (t.nextOrder-1)%8 + 1
	cust := 1 + t.rng.Int63n(t.customers)
	if cust%3 == 0 { // a third of customers never order
		cust = cust%t.customers + 1
	}
	n := 1 + t.rng.Intn(7)
	var total int64
	lo := liveOrder{}
	for l := 1; l <= n; l++ {
		part := 1 + t.rng.Int63n(t.parts)
		supp := t.partSupplier(part, int64(t.rng.Intn(4)))
		qty := int64(1 + t.rng.Intn(50))
		price := qty * (90000 + (part/10)%20001 + 100*(part%1000)) // cents
		disc, tax := int64(t.rng.Intn(11)), int64(t.rng.Intn(9))
		total += price * (100 - disc) * (100 + tax) / 10000
		ship := date.Add(time.Duration(1+t.rng.Intn(121)) * 24 * time.Hour)
		row := repr.PackRow(i8(key), i4(part), i4(supp), i4(int64(l)), money(qty*100), money(price), money(disc), money(tax),
			txt(pick(t.rng, []string{"R", "A", "N"})), txt(pick(t.rng, []string{"O", "F"})), days(ship),
			days(date.Add(time.Duration(30+t.rng.Intn(61))*24*time.Hour)), days(ship.Add(time.Duration(1+t.rng.Intn(30))*24*time.Hour)),
			txt(pick(t.rng, tpchInstr)), txt(pick(t.rng, tpchModes)), txt(sentence(t.rng, 4)))
		lo.lines = append(lo.lines, row)
	}
	lo.order = repr.PackRow(i8(key), i4(cust), txt(pick(t.rng, []string{"O", "F", "P"})), money(total), days(date),
		txt(pick(t.rng, tpchPrios)), txt(fmt.Sprintf("Clerk#%09d", 1+t.rng.Intn(1000))), i4(0), txt(sentence(t.rng, 5)))
	b.insertRow(tOrders, lo.order)
	for _, l := range lo.lines {
		b.insertRow(tLineitem, l)
	}
	t.live = append(t.live, lo)
}
