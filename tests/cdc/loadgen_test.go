package cdc

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/internal/viewdtest"
)

// TestLoadGenerators: AUCTION and TPCH feed join views whose results stay
// referentially consistent at every read while the generators tick.
func TestLoadGenerators(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE SOURCE auction FROM LOAD GENERATOR AUCTION (TICK INTERVAL '100ms') FOR ALL TABLES")
	exec1(t, c, "CREATE SOURCE tpch FROM LOAD GENERATOR TPCH (TICK INTERVAL '100ms', SCALE FACTOR 0.01) FOR ALL TABLES")

	// Every bid joined with its auction, its bidder, the seller, and their
	// organizations; and the bids whose auction or bidder is missing.
	exec1(t, c, `CREATE MATERIALIZED VIEW bid_detail AS
		SELECT b.id AS bid_id, b.amount, a.id AS auction_id, a.item, buyer.name AS buyer, seller.name AS seller, o.name AS buyer_org
		FROM bids b
		JOIN auctions a ON a.id = b.auction_id
		JOIN users buyer ON buyer.id = b.buyer
		JOIN users seller ON seller.id = a.seller
		JOIN organizations o ON o.id = buyer.org_id`)
	exec1(t, c, `CREATE MATERIALIZED VIEW orphan_bids AS
		SELECT b.id FROM bids b WHERE NOT EXISTS (SELECT 1 FROM auctions a WHERE a.id = b.auction_id)
		UNION ALL
		SELECT b.id FROM bids b WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = b.buyer)`)
	exec1(t, c, `CREATE MATERIALIZED VIEW auction_stats AS
		SELECT a.id, count(b.id) AS bids, max(b.amount) AS top
		FROM auctions a LEFT JOIN bids b ON b.auction_id = a.id GROUP BY a.id`)

	// TPC-H: lineitem joined with orders and customer (Q3-like revenue by
	// segment), plus orphan checks.
	exec1(t, c, `CREATE MATERIALIZED VIEW segment_revenue AS
		SELECT c.c_mktsegment, count(*) AS lines, count(DISTINCT o.o_orderkey) AS orders, sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue
		FROM lineitem l JOIN orders o ON o.o_orderkey = l.l_orderkey JOIN customer c ON c.c_custkey = o.o_custkey
		GROUP BY c.c_mktsegment`)
	exec1(t, c, `CREATE MATERIALIZED VIEW tpch_orphans AS
		SELECT 'lineitem without order' AS what, count(*) AS n FROM lineitem l WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.o_orderkey = l.l_orderkey)
		UNION ALL SELECT 'order without lineitem', count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM lineitem l WHERE l.l_orderkey = o.o_orderkey)
		UNION ALL SELECT 'order without customer', count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM customer c WHERE c.c_custkey = o.o_custkey)
		UNION ALL SELECT 'lineitem without partsupp', count(*) FROM lineitem l WHERE NOT EXISTS (SELECT 1 FROM partsupp ps WHERE ps.ps_partkey = l.l_partkey AND ps.ps_suppkey = l.l_suppkey)`)

	eventually(t, c, 30*time.Second, "SELECT count(*) > 0 FROM bid_detail", []string{"t"})
	eventually(t, c, 30*time.Second, "SELECT count(*) > 0 FROM segment_revenue", []string{"t"})

	var lastBids, lastMaxOrder int64
	var maxOrders0 int64 = -1
	for round := 0; round < 5; round++ {
		// Auction: every bid is in the join (its auction, buyer, seller and
		// org exist), and there are no orphans.
		got := rows(t, c, "SELECT (SELECT count(*) FROM bids), (SELECT count(*) FROM bid_detail), (SELECT count(*) FROM orphan_bids), (SELECT count(*) FROM auctions), (SELECT coalesce(sum(bids), 0) FROM auction_stats)")
		f := strings.Split(got[0], "|")
		bids, _ := strconv.ParseInt(f[0], 10, 64)
		if f[0] != f[1] || f[2] != "0" || f[4] != f[0] {
			t.Errorf("round %d: bids %s, in bid_detail %s, orphans %s, counted per auction %s", round, f[0], f[1], f[2], f[4])
		}
		// The same in one ad-hoc join at the read timestamp.
		got = rows(t, c, "SELECT count(*) FROM bids b LEFT JOIN auctions a ON a.id = b.auction_id WHERE a.id IS NULL")
		if got[0] != "0" {
			t.Errorf("round %d: %s bids without their auction", round, got[0])
		}
		if bids < lastBids {
			t.Logf("round %d: bids went from %d to %d (auctions and their bids expire)", round, lastBids, bids)
		}
		lastBids = bids

		// TPC-H: the join's aggregates agree with the base tables at the
		// same timestamp.
		got = rows(t, c, `SELECT (SELECT count(*) FROM lineitem), (SELECT sum(lines) FROM segment_revenue),
			(SELECT count(*) FROM orders), (SELECT sum(orders) FROM segment_revenue), (SELECT max(o_orderkey) FROM orders),
			(SELECT count(*) FROM segment_revenue WHERE revenue <= 0)`)
		f = strings.Split(got[0], "|")
		if f[0] != f[1] || f[2] != f[3] || f[5] != "0" {
			t.Errorf("round %d: lineitem %s vs joined %s, orders %s vs joined %s, non-positive revenue %s", round, f[0], f[1], f[2], f[3], f[5])
		}
		orders, _ := strconv.ParseInt(f[2], 10, 64)
		maxOrder, _ := strconv.ParseInt(f[4], 10, 64)
		if maxOrder < lastMaxOrder {
			t.Errorf("round %d: max(o_orderkey) went back from %d to %d", round, lastMaxOrder, maxOrder)
		}
		lastMaxOrder = maxOrder
		// Each tick inserts an order and deletes the oldest: the count of
		// live orders holds steady.
		if maxOrders0 < 0 {
			maxOrders0 = orders
		} else if orders != maxOrders0 {
			t.Errorf("round %d: %d orders, was %d", round, orders, maxOrders0)
		}
		for _, l := range rows(t, c, "SELECT what, n FROM tpch_orphans") {
			if !strings.HasSuffix(l, "|0") {
				t.Errorf("round %d: %s", round, l)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if lastMaxOrder == 0 {
		t.Error("no orders")
	}
	first := rows(t, c, "SELECT max(o_orderkey) FROM orders")
	time.Sleep(time.Second)
	eventually(t, c, 10*time.Second, "SELECT max(o_orderkey) > "+first[0]+" FROM orders", []string{"t"})
	for name, s := range statuses(t, c) {
		if s.status != "running" || s.err != "" {
			t.Errorf("status of %s: %+v", name, s)
		}
	}
}
