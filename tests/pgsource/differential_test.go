package pgsource

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// diffQueries are answered by PostgreSQL over its tables and by viewd
// over the subsources; after each batch of random DML their answers must
// be equal.
var diffQueries = []string{
	"SELECT count(*) FROM customers",
	"SELECT count(*), sum(amount), min(amount), max(amount) FROM orders",
	"SELECT region, count(*) FROM customers GROUP BY region",
	"SELECT tier, count(*), sum(tier) FROM customers GROUP BY tier",
	"SELECT status, count(*), sum(amount) FROM orders GROUP BY status",
	"SELECT cust, count(*), sum(amount) FROM orders GROUP BY cust",
	"SELECT c.region, sum(o.amount) FROM customers c JOIN orders o ON o.cust = c.id GROUP BY c.region",
	"SELECT c.id, count(o.id) FROM customers c LEFT JOIN orders o ON o.cust = c.id GROUP BY c.id",
	"SELECT o.id, c.region FROM orders o JOIN customers c ON c.id = o.cust WHERE o.amount > 50",
	"SELECT o.id FROM orders o LEFT JOIN customers c ON c.id = o.cust WHERE c.id IS NULL",
	"SELECT DISTINCT region FROM customers",
	"SELECT DISTINCT status, cust % 5 FROM orders",
	"SELECT id, amount FROM orders WHERE status = 'open' AND amount BETWEEN 20 AND 80",
	"SELECT cust FROM orders GROUP BY cust HAVING count(*) > 2",
	"SELECT region, max(tier), min(tier) FROM customers GROUP BY region",
	"SELECT i.sku, sum(i.qty) FROM items i GROUP BY i.sku",
	"SELECT count(*), sum(qty) FROM items",
	"SELECT o.status, sum(i.qty) FROM orders o JOIN items i ON i.order_id = o.id GROUP BY o.status",
	"SELECT c.region, count(DISTINCT i.sku) FROM customers c JOIN orders o ON o.cust = c.id JOIN items i ON i.order_id = o.id GROUP BY c.region",
	"SELECT id FROM customers EXCEPT SELECT cust FROM orders",
	"SELECT cust FROM orders INTERSECT SELECT id FROM customers WHERE tier > 2",
	"SELECT id, 'c' FROM customers WHERE tier = 1 UNION ALL SELECT id, 'o' FROM orders WHERE amount < 10",
	"SELECT CASE WHEN amount >= 50 THEN 'big' ELSE 'small' END AS size, count(*) FROM orders GROUP BY 1",
	"SELECT coalesce(note, '-'), count(*) FROM orders GROUP BY 1",
	"SELECT upper(region), length(name) FROM customers",
	"SELECT count(*) FROM orders WHERE note IS NULL",
	"SELECT cust, max(amount) FROM orders WHERE status <> 'cancelled' GROUP BY cust",
	"SELECT c.tier, count(*) FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.cust = c.id AND o.amount > 90) GROUP BY c.tier",
	"SELECT id FROM customers WHERE id IN (SELECT cust FROM orders WHERE status = 'shipped')",
	"SELECT o.cust, o.id, i.sku, i.qty FROM orders o JOIN items i ON i.order_id = o.id WHERE i.qty > 8",
	"SELECT region, sum(amount) FILTER (WHERE status = 'open') FROM customers c JOIN orders o ON o.cust = c.id GROUP BY region",
	"SELECT count(*) FROM (SELECT cust, sum(amount) s FROM orders GROUP BY cust) t WHERE s > 200",
}

// TestDifferential: random inserts, updates (keys included) and deletes
// in PostgreSQL, in transactions spanning tables; after each batch every
// query in diffQueries, as a view (every third a materialized view) in
// viewd read with real_time_recency on, equals PostgreSQL's answer to the
// same query at the same LSN (no writes run between the two reads).
func TestDifferential(t *testing.T) {
	t.Parallel()
	batches := 12
	if *long {
		batches = 100
	}
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, region text, tier int)")
	exec1(t, up, "CREATE TABLE orders (id int PRIMARY KEY, cust int, amount int, status text, note text)")
	exec1(t, up, "CREATE TABLE items (order_id int, sku int, qty int)")
	exec1(t, up, "ALTER TABLE items REPLICA IDENTITY FULL")
	exec1(t, up, "CREATE PUBLICATION pub FOR ALL TABLES")
	rng := rand.New(rand.NewSource(9))
	ctx := ctxT(t, 10*time.Minute)
	regions := []string{"north", "south", "east", "west"}
	statuses := []string{"open", "shipped", "cancelled"}
	batch := func(nTxn int) {
		for x := 0; x < nTxn; x++ {
			err := pgx.BeginFunc(ctx, up, func(tx pgx.Tx) error {
				for k := 0; k < 1+rng.Intn(6); k++ {
					var q string
					var args []any
					switch rng.Intn(11) {
					case 0, 1:
						q, args = "INSERT INTO customers VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET tier = excluded.tier",
							[]any{rng.Intn(60), fmt.Sprint("name", rng.Intn(1000)), regions[rng.Intn(4)], 1 + rng.Intn(4)}
					case 2, 3, 4:
						var note any
						if rng.Intn(3) == 0 {
							note = fmt.Sprint("n", rng.Intn(3))
						}
						q, args = "INSERT INTO orders VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, status = excluded.status",
							[]any{rng.Intn(300), rng.Intn(70), rng.Intn(100), statuses[rng.Intn(3)], note}
					case 5:
						q, args = "UPDATE orders SET status = $1, amount = amount + 1 WHERE id % 17 = $2", []any{statuses[rng.Intn(3)], rng.Intn(17)}
					case 6:
						q, args = "DELETE FROM orders WHERE id = $1", []any{rng.Intn(300)}
					case 7:
						q, args = "UPDATE customers SET region = $1 WHERE id = $2", []any{regions[rng.Intn(4)], rng.Intn(60)}
					case 8:
						q, args = "INSERT INTO items SELECT $1, $2, $3 FROM generate_series(1, $4)", []any{rng.Intn(300), rng.Intn(10), rng.Intn(10), 1 + rng.Intn(2)}
					case 9:
						q, args = "DELETE FROM items WHERE ctid IN (SELECT ctid FROM items WHERE sku = $1 LIMIT 1)", []any{rng.Intn(10)}
					case 10:
						// A key change.
						q, args = "UPDATE orders SET id = id + 1000 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM orders WHERE id = $1 + 1000)", []any{rng.Intn(300)}
					}
					if _, err := tx.Exec(ctx, q, args...); err != nil {
						return fmt.Errorf("%s: %w", q, err)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	batch(40)
	_, v := startViewd(t, "")
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	for i, q := range diffQueries {
		kind := "VIEW"
		if i%3 == 0 {
			kind = "MATERIALIZED VIEW"
		}
		exec1(t, v, fmt.Sprintf("CREATE %s dq%d AS %s", kind, i, q))
	}
	exec1(t, v, "SET real_time_recency = on")
	sorted := func(c *pgx.Conn, q string) ([]string, error) {
		out, err := query(c, q)
		sort.Strings(out)
		return out, err
	}
	compare := func(b int) {
		for i, q := range diffQueries {
			want, err := sorted(up, q)
			if err != nil {
				t.Fatalf("upstream %s: %v", q, err)
			}
			got, err := sorted(v, fmt.Sprintf("SELECT * FROM dq%d", i))
			if err != nil {
				t.Fatalf("batch %d: dq%d (%s): %v", b, i, q, err)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("batch %d: dq%d (%s):\nviewd    %s\npostgres %s", b, i, q, abbrev(got), abbrev(want))
			}
		}
	}
	compare(0)
	for b := 1; b <= batches; b++ {
		batch(10 + rng.Intn(20))
		compare(b)
	}
	t.Logf("%d batches of random DML; after each, %d views equal PostgreSQL's answers", batches, len(diffQueries))
}
