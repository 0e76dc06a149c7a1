package coord

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMonotonicPlans: over an append-only source (the NEXMARK generator)
// max and the row_number() top-k idiom are planned monotonic (bounded
// state), and give what the same queries give over a table holding the
// same rows (planned as before); over the table they are not monotonic.
// The materialized views exist before the generator's rows arrive, so
// they are maintained incrementally through its steps.
func TestMonotonicPlans(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	queries := map[string]string{
		"maxbid": "SELECT auction, max(price) AS m, min(date_time) AS first, count(*) AS n FROM %s GROUP BY auction",
		"top2": `SELECT auction, bidder, price, date_time FROM (SELECT *, row_number() OVER (PARTITION BY auction
			ORDER BY price DESC, date_time) AS rn FROM %s) r WHERE rn <= 2`,
		"last": `SELECT bidder, auction, price, rn FROM (SELECT *, row_number() OVER (PARTITION BY bidder, auction
			ORDER BY date_time DESC) AS rn FROM %s) r WHERE rn = 1`,
		"top3cat": `SELECT category, price, auction, bidder FROM (SELECT a.category, b.price, b.auction, b.bidder, row_number() OVER
			(PARTITION BY a.category ORDER BY b.price DESC, b.auction, b.bidder) AS rn FROM auction a JOIN %s b ON a.id = b.auction) x
			WHERE rn <= 3`,
	}
	names := []string{"maxbid", "top2", "last", "top3cat"}
	s.exec("CREATE SOURCE nex FROM LOAD GENERATOR NEXMARK (RATE UNLIMITED, UP TO 20000, SEED 5) FOR ALL TABLES")
	for _, n := range names {
		s.exec("CREATE MATERIALIZED VIEW " + n + "_src AS " + strings.ReplaceAll(queries[n], "%s", "bid"))
	}
	waitFor(t, 60*time.Second, "the generator's 20000 events", func() bool {
		return s.one("SELECT (SELECT count(*) FROM person) + (SELECT count(*) FROM auction) + (SELECT count(*) FROM bid)") == "20000"
	})
	s.exec("CREATE TABLE bidt (auction int8, bidder int8, price int8, channel text, url text, date_time timestamptz, extra text)",
		"INSERT INTO bidt SELECT * FROM bid")
	for _, n := range names {
		q := queries[n]
		src := s.query("SELECT * FROM " + n + "_src")
		tab := s.query(strings.ReplaceAll(q, "%s", "bidt"))
		slices.Sort(src)
		slices.Sort(tab)
		if len(src) == 0 || !slices.Equal(src, tab) {
			t.Fatalf("%s: %d rows over the source, %d over the table; first differences:\n%v\n%v", n, len(src), len(tab), head(src), head(tab))
		}
		plan := strings.Join(s.query("EXPLAIN PHYSICAL PLAN FOR "+strings.ReplaceAll(q, "%s", "bid")), "\n")
		if !strings.Contains(plan, "monotonic") {
			t.Errorf("%s over the source is not planned monotonic:\n%s", n, plan)
		}
		plan = strings.Join(s.query("EXPLAIN PHYSICAL PLAN FOR "+strings.ReplaceAll(q, "%s", "bidt")), "\n")
		if strings.Contains(plan, "monotonic") {
			t.Errorf("%s over a table is planned monotonic:\n%s", n, plan)
		}
	}
}

func head(rows []string) []string { return rows[:min(len(rows), 5)] }
