package differential

// schema is executed, statement by statement, on both servers.
var schema = []string{
	`CREATE TABLE customers (
		id      int PRIMARY KEY,
		name    text NOT NULL,
		region  text,
		vip     bool,
		signup  date NOT NULL,
		credit  bigint
	)`,
	`CREATE TABLE products (
		id       int PRIMARY KEY,
		title    text NOT NULL,
		category text NOT NULL,
		price    numeric(10,2) NOT NULL,
		active   bool NOT NULL
	)`,
	`CREATE TABLE orders (
		id          bigint PRIMARY KEY,
		customer_id int,
		product_id  int NOT NULL,
		qty         int NOT NULL,
		discount    numeric(5,2),
		placed_at   timestamp NOT NULL,
		status      text NOT NULL
	)`,
	`CREATE TABLE edges (
		src int NOT NULL,
		dst int NOT NULL,
		w   int NOT NULL,
		PRIMARY KEY (src, dst)
	)`,
}

// A view is one query, created as a MATERIALIZED VIEW in viewd and as a
// plain VIEW in PostgreSQL. Every query is deterministic in PostgreSQL
// (ORDER BY in DISTINCT ON, TopK, window frames and string_agg is total).
type view struct {
	name    string
	feature string // what of issue 3 it covers
	sql     string
}

var views = []view{
	// Joins.
	{"j_inner", "inner equi-join", `SELECT o.id AS oid, c.name, o.qty FROM orders o JOIN customers c ON o.customer_id = c.id`},
	{"j_left", "left join", `SELECT c.id, c.name, o.id AS oid, o.status FROM customers c LEFT JOIN orders o ON o.customer_id = c.id`},
	{"j_right", "right join with extra ON condition", `SELECT p.id, p.title, o.id AS oid, o.qty FROM orders o RIGHT JOIN products p ON o.product_id = p.id AND o.qty > 2`},
	{"j_full", "full outer join", `SELECT c.id AS cid, c.region, o.id AS oid, o.customer_id FROM customers c FULL JOIN orders o ON o.customer_id = c.id`},
	{"j_cross", "cross join + group by", `SELECT c.region, p.category, count(*) AS n, sum(p.price) AS s FROM customers c CROSS JOIN products p WHERE p.active GROUP BY c.region, p.category`},
	{"j_nonequi", "inner non-equi join (BETWEEN)", `SELECT o.id AS oid, p.id AS pid FROM orders o JOIN products p ON o.qty BETWEEN p.id - 1 AND p.id + 1 WHERE p.category = 'tools'`},
	{"j_left_nonequi", "left join with equi + non-equi condition, date vs timestamp", `SELECT c.id, count(o.id) AS n, max(o.placed_at) AS last FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.placed_at >= c.signup GROUP BY c.id`},
	{"j_full_nonequi", "full join on an equi condition plus a one-sided non-equi condition", `SELECT c.id AS cid, c.name, o.id AS oid, o.qty FROM customers c FULL JOIN orders o ON o.customer_id = c.id AND o.qty > 3`},
	{"j_three_way", "3-way join, group by, having", `SELECT c.region, count(*) AS n, avg(o.qty) AS aq, sum(p.price * o.qty) AS revenue FROM orders o JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = o.product_id GROUP BY c.region HAVING sum(o.qty) > 10`},
	{"j_lateral", "LATERAL with ORDER BY/LIMIT (per-group TopK)", `SELECT c.id, t.oid, t.qty FROM customers c, LATERAL (SELECT o.id AS oid, o.qty FROM orders o WHERE o.customer_id = c.id ORDER BY o.qty DESC, o.id LIMIT 2) t`},
	{"j_left_lateral", "LEFT JOIN LATERAL with aggregate", `SELECT p.id, s.n, s.total FROM products p LEFT JOIN LATERAL (SELECT count(*) AS n, sum(o.qty) AS total FROM orders o WHERE o.product_id = p.id AND o.status <> 'cancelled') s ON true`},

	// Aggregates.
	{"agg_all", "count, count(distinct), sum, avg, min, max, bool_and, bool_or", `SELECT customer_id, count(*) AS n, count(DISTINCT product_id) AS np, count(discount) AS nd, sum(qty) AS sq, avg(qty) AS aq, min(placed_at) AS first, max(discount) AS maxd, min(status) AS mins, bool_and(qty > 2) AS all_big, bool_or(discount IS NULL) AS any_nodisc FROM orders GROUP BY customer_id`},
	{"agg_having", "GROUP BY/HAVING", `SELECT product_id, sum(qty) AS sq, count(*) AS n FROM orders GROUP BY product_id HAVING count(*) > 3 AND sum(qty) < 200`},
	{"agg_string_agg", "string_agg with ORDER BY", `SELECT customer_id, string_agg(status, ',' ORDER BY id) AS statuses, string_agg(DISTINCT status, '|' ORDER BY status) AS kinds FROM orders GROUP BY customer_id`},
	{"agg_global", "global aggregate (one row on empty input)", `SELECT count(*) AS n, sum(qty) AS sq, avg(discount) AS ad, min(customer_id) AS minc, max(placed_at) AS maxt, sum(discount) AS sd FROM orders WHERE status = 'lost'`},
	{"agg_numeric", "sum/avg/min/max of numeric, group by text", `SELECT category, count(*) AS n, sum(price) AS sp, avg(price) AS ap, min(price) AS mnp, max(price) AS mxp, min(title) AS mt, max(title) AS xt, count(DISTINCT price) AS dp FROM products GROUP BY category`},
	{"agg_expr_group", "group by expressions (date_trunc), sum of product", `SELECT date_trunc('month', placed_at) AS m, status, count(*) AS n, sum(qty * discount) AS sd FROM orders GROUP BY 1, 2`},

	// DISTINCT.
	{"dist_plain", "SELECT DISTINCT with NULLs", `SELECT DISTINCT region, vip FROM customers`},
	{"dist_on", "DISTINCT ON", `SELECT DISTINCT ON (customer_id) customer_id, id, qty FROM orders ORDER BY customer_id, qty DESC, id`},

	// Set operations.
	{"set_union", "UNION", `SELECT customer_id AS x FROM orders UNION SELECT id FROM customers WHERE vip`},
	{"set_union_all", "UNION ALL", `SELECT region AS r FROM customers UNION ALL SELECT category FROM products`},
	{"set_except", "EXCEPT (with NULLs)", `SELECT id AS x FROM customers EXCEPT SELECT customer_id FROM orders`},
	{"set_except_all", "EXCEPT ALL", `SELECT product_id AS x FROM orders EXCEPT ALL SELECT id FROM products WHERE active`},
	{"set_intersect", "INTERSECT", `SELECT customer_id AS x FROM orders WHERE qty > 3 INTERSECT SELECT id FROM customers WHERE region = 'eu'`},
	{"set_intersect_all", "INTERSECT ALL", `SELECT product_id AS x FROM orders WHERE status = 'open' INTERSECT ALL SELECT product_id FROM orders WHERE qty > 2`},

	// Subqueries.
	{"sq_in_corr", "correlated IN", `SELECT c.id, c.name FROM customers c WHERE c.id IN (SELECT o.customer_id FROM orders o WHERE o.qty > c.credit % 7)`},
	{"sq_not_in_nulls", "NOT IN over a nullable column", `SELECT c.id FROM customers c WHERE c.id NOT IN (SELECT o.customer_id FROM orders o WHERE o.status = 'cancelled')`},
	{"sq_not_in_corr", "correlated NOT IN with NULLs on both sides", `SELECT o.id FROM orders o WHERE o.customer_id NOT IN (SELECT c.id FROM customers c WHERE c.region = 'eu' AND c.credit > o.qty)`},
	{"sq_exists", "correlated EXISTS", `SELECT p.id FROM products p WHERE EXISTS (SELECT 1 FROM orders o WHERE o.product_id = p.id AND o.qty > 4)`},
	{"sq_not_exists", "correlated NOT EXISTS", `SELECT c.id, c.region FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status <> 'cancelled')`},
	{"sq_scalar", "correlated scalar subqueries in SELECT", `SELECT c.id, (SELECT max(o.qty) FROM orders o WHERE o.customer_id = c.id) AS mq, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) AS n FROM customers c`},
	{"sq_scalar_where", "uncorrelated scalar subquery in WHERE", `SELECT id, qty FROM orders WHERE qty > (SELECT avg(qty) FROM orders)`},
	{"sq_scalar_pred", "correlated scalar subquery compared in WHERE", `SELECT c.id FROM customers c WHERE (SELECT max(o.qty) FROM orders o WHERE o.customer_id = c.id) > 5`},
	{"sq_all", "> ALL (correlated)", `SELECT p.id FROM products p WHERE p.price > ALL (SELECT o.qty * 10 FROM orders o WHERE o.product_id = p.id)`},
	{"sq_any", "= ANY (uncorrelated, nullable)", `SELECT c.id FROM customers c WHERE c.credit = ANY (SELECT o.qty * 100 FROM orders o WHERE o.discount IS NOT NULL)`},

	// CTEs and VALUES.
	{"cte", "WITH (CTE) used twice", `WITH big AS (SELECT customer_id, sum(qty) AS s FROM orders GROUP BY customer_id) SELECT c.name, b.s, (SELECT max(s) FROM big) AS top FROM customers c JOIN big b ON b.customer_id = c.id WHERE b.s > 5`},
	{"values_join", "VALUES joined to a table", `SELECT v.code, v.label, count(o.id) AS n FROM (VALUES ('open', 'Open'), ('shipped', 'Shipped'), ('cancelled', 'Cancelled'), ('lost', 'Lost')) AS v(code, label) LEFT JOIN orders o ON o.status = v.code GROUP BY v.code, v.label`},

	// TopK.
	{"topk_limit_offset", "ORDER BY + LIMIT/OFFSET", `SELECT id, qty, placed_at FROM orders ORDER BY qty DESC, id LIMIT 5 OFFSET 2`},
	{"topk_agg", "TopK over an aggregate", `SELECT customer_id, sum(qty) AS s FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY s DESC, customer_id LIMIT 3`},

	// Window functions.
	{"win_rank", "row_number, rank, dense_rank", `SELECT id, customer_id, row_number() OVER (PARTITION BY customer_id ORDER BY placed_at, id) AS rn, rank() OVER (PARTITION BY customer_id ORDER BY qty) AS rk, dense_rank() OVER (PARTITION BY customer_id ORDER BY qty) AS drk FROM orders`},
	{"win_lag_lead", "lag, lead, running sum OVER", `SELECT id, customer_id, lag(qty) OVER (PARTITION BY customer_id ORDER BY id) AS prev, lead(qty, 1, 0) OVER (PARTITION BY customer_id ORDER BY id) AS next, sum(qty) OVER (PARTITION BY customer_id ORDER BY id) AS running FROM orders`},
	{"win_partition_sum", "sum OVER (PARTITION BY) without ORDER BY", `SELECT id, product_id, sum(qty) OVER (PARTITION BY product_id) AS total, count(*) OVER () AS all_rows FROM orders`},

	// Recursion.
	{"rec_reach", "WITH RECURSIVE transitive closure (UNION)", `WITH RECURSIVE reach(src, dst) AS (SELECT src, dst FROM edges UNION SELECT r.src, e.dst FROM reach r JOIN edges e ON e.src = r.dst) SELECT src, dst FROM reach`},
	{"rec_depth", "WITH RECURSIVE bounded depth (UNION ALL)", `WITH RECURSIVE p(n, d) AS (SELECT 1, 0 UNION ALL SELECT e.dst, p.d + 1 FROM p JOIN edges e ON e.src = p.n WHERE p.d < 3) SELECT n, d, count(*) AS paths FROM p GROUP BY n, d`},

	// Scalar functions.
	{"fn_case", "CASE, COALESCE, NULLIF", `SELECT id, CASE WHEN qty >= 5 THEN 'big' WHEN qty >= 2 THEN 'mid' ELSE 'small' END AS size, COALESCE(discount, 0) AS d, NULLIF(status, 'open') AS st, COALESCE(customer_id, -1) AS cid, CASE status WHEN 'lost' THEN NULL ELSE qty * 2 END AS dq FROM orders`},
	{"fn_string", "string functions and LIKE", `SELECT id, upper(name) AS u, lower(name) AS l, length(name) AS len, substr(name, 2, 3) AS sub, name || '-' || coalesce(region, '?') AS cat, replace(name, 'a', 'A') AS rep, trim(both ' ' from '  ' || name || ' ') AS tr, position('a' in name) AS pos, left(name, 2) AS lft, concat(name, region) AS cc FROM customers WHERE name LIKE '%a%' OR region ILIKE 'E%'`},
	{"fn_date", "date/timestamp functions", `SELECT id, date_trunc('day', placed_at) AS day, extract(year FROM placed_at) AS y, extract(hour FROM placed_at) AS h, placed_at::date AS d, placed_at + interval '1 day' AS tomorrow, placed_at::date - date '2024-01-01' AS days FROM orders WHERE placed_at < timestamp '2024-03-01'`},
	{"fn_date2", "date arithmetic and comparison", `SELECT id, signup + 30 AS due, extract(month FROM signup) AS m, date_trunc('month', signup) AS ms, signup > date '2023-06-01' AS recent FROM customers`},
	// More joins.
	{"j_self", "self-join with a non-equi condition", `SELECT o1.customer_id, count(*) AS pairs FROM orders o1 JOIN orders o2 ON o1.customer_id = o2.customer_id AND o1.id < o2.id GROUP BY o1.customer_id`},
	{"j_expr_key", "join on an expression", `SELECT c.id, o.id AS oid FROM customers c JOIN orders o ON o.customer_id + 1 = c.id WHERE o.qty > 5`},
	{"j_anti_left", "anti-join via LEFT JOIN ... IS NULL", `SELECT p.id, p.title FROM products p LEFT JOIN orders o ON o.product_id = p.id AND o.status = 'open' WHERE o.id IS NULL`},
	{"j_generate_series", "LATERAL table function (flat map)", `SELECT o.id, g.n FROM orders o, LATERAL generate_series(1, o.qty) AS g(n) WHERE o.customer_id BETWEEN 1 AND 6`},
	{"j_view_on_view", "a materialized view over another (aggregate of a join view)", `SELECT name, count(*) AS n, sum(qty) AS sq FROM j_inner GROUP BY name`},
	{"j_view_join_view", "a materialized view joining a view with a table", `SELECT a.customer_id, a.n, a.sq, c.name, c.region FROM agg_all a JOIN customers c ON c.id = a.customer_id WHERE a.n >= 2`},
	{"j_ts_interval", "join condition with timestamp and interval arithmetic", `SELECT c.id, count(o.id) AS late FROM customers c JOIN orders o ON o.customer_id = c.id AND o.placed_at > c.signup + interval '700 days' GROUP BY c.id`},

	// More aggregates.
	{"agg_filter", "aggregate FILTER (WHERE ...)", `SELECT product_id, count(*) FILTER (WHERE status = 'open') AS open, sum(qty) FILTER (WHERE discount IS NOT NULL) AS disc_qty, count(*) AS n FROM orders GROUP BY product_id`},
	{"agg_multi_distinct", "several DISTINCT aggregates", `SELECT customer_id, count(DISTINCT product_id) AS np, count(DISTINCT status) AS ns, sum(DISTINCT qty) AS sdq, avg(DISTINCT qty) AS adq FROM orders GROUP BY customer_id`},
	{"agg_case_sum", "sum of CASE, avg of bigint, nullable group key", `SELECT region, sum(CASE WHEN vip THEN 1 ELSE 0 END) AS vips, avg(credit) AS ac, sum(credit) AS sc, count(credit) AS nc, max(signup) AS last FROM customers GROUP BY region`},
	{"agg_having_subq", "HAVING with an uncorrelated scalar subquery", `SELECT customer_id, sum(qty) AS s FROM orders GROUP BY customer_id HAVING sum(qty) > (SELECT avg(qty) * 3 FROM orders)`},
	{"agg_having_nogroup", "HAVING without GROUP BY", `SELECT count(*) AS n, sum(qty) AS s FROM orders HAVING count(*) > 130`},
	{"agg_round", "round/trunc of aggregates, numeric division", `SELECT category, round(avg(price), 2) AS ap, trunc(sum(price) / 3, 4) AS third, round(sum(price * 1.1), 1) AS plus FROM products GROUP BY category`},
	{"agg_exists_or", "EXISTS inside OR", `SELECT c.id FROM customers c WHERE c.vip OR EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.qty >= 7)`},

	// More DISTINCT / TopK / set operations.
	{"dist_on_nulls", "DISTINCT ON with DESC NULLS LAST", `SELECT DISTINCT ON (region) region, id, credit FROM customers ORDER BY region, credit DESC NULLS LAST, id`},
	{"topk_nulls_desc", "TopK ordering NULLs first under DESC", `SELECT id, discount FROM orders ORDER BY discount DESC, id LIMIT 4`},
	{"topk_offset_only", "OFFSET without LIMIT", `SELECT id FROM orders ORDER BY id OFFSET 150`},
	{"topk_distinct", "DISTINCT + ORDER BY + LIMIT", `SELECT DISTINCT status, qty FROM orders ORDER BY qty DESC, status LIMIT 5`},
	{"set_union_topk", "UNION then ORDER BY/LIMIT", `(SELECT customer_id AS x FROM orders WHERE qty = 8 UNION SELECT id FROM customers WHERE vip IS NULL) ORDER BY x NULLS FIRST LIMIT 6`},
	{"set_except_nulls", "EXCEPT over rows with NULLs", `SELECT region, vip FROM customers EXCEPT SELECT region, NULL::bool FROM customers WHERE credit > 500`},
	{"set_union_types", "UNION ALL of int and bigint and numeric", `SELECT id::int AS x FROM customers UNION ALL SELECT id FROM orders WHERE qty = 1 UNION ALL SELECT price FROM products WHERE price < 10`},
	{"values_only", "a constant VALUES view", `SELECT * FROM (VALUES (1, 'a', NULL::numeric), (2, NULL, 2.50), (2, NULL, 2.50)) AS v(a, b, c)`},

	// More scalar functions.
	{"fn_bool_null", "three-valued logic, IS DISTINCT FROM, IN list with NULL", `SELECT id, vip AND credit > 100 AS a, vip OR credit IS NULL AS o, NOT vip AS n, vip IS DISTINCT FROM true AS d, region IN ('eu', NULL) AS inl, region NOT IN ('us', 'apac') AS nin FROM customers`},
	{"fn_arith", "integer division, modulo, casts, greatest/least", `SELECT id, qty / 3 AS q3, qty % 3 AS m3, -qty AS neg, qty::numeric / 7 AS div7, greatest(qty, 4) AS g, least(discount, 0.2) AS l, abs(qty - 5) AS ab, qty::text || 'x' AS t, customer_id::bigint * 1000000000 AS big FROM orders`},
	{"fn_string2", "lpad, split_part, reverse, initcap, LIKE with _", `SELECT id, lpad(name, 6, '*') AS lp, split_part(name || '-' || coalesce(region, ''), '-', 2) AS sp, reverse(name) AS rv, initcap(name) AS ic, name LIKE '_a%' AS lk, starts_with(name, 'a') AS sw FROM customers`},
	{"fn_date3", "to_char, extract epoch/dow, date_trunc week", `SELECT id, to_char(placed_at, 'YYYY-MM-DD HH24:MI') AS tc, extract(epoch FROM placed_at) AS ep, extract(dow FROM placed_at) AS dow, date_trunc('week', placed_at) AS wk, placed_at - interval '2 hours' AS earlier FROM orders WHERE qty <= 2`},
	// The quantified subqueries above again, written as (...) IS TRUE: the
	// same rows, but the predicate is no longer a bare IN/ANY/ALL, which
	// viewd plans differently.
	{"sq_in_corr_istrue", "correlated IN, as (...) IS TRUE", `SELECT c.id, c.name FROM customers c WHERE (c.id IN (SELECT o.customer_id FROM orders o WHERE o.qty > c.credit % 7)) IS TRUE`},
	{"sq_not_in_nulls_istrue", "NOT IN over a nullable column, as (...) IS TRUE", `SELECT c.id FROM customers c WHERE (c.id NOT IN (SELECT o.customer_id FROM orders o WHERE o.status = 'cancelled')) IS TRUE`},
	{"sq_not_in_corr_istrue", "correlated NOT IN with NULLs, as (...) IS TRUE", `SELECT o.id FROM orders o WHERE (o.customer_id NOT IN (SELECT c.id FROM customers c WHERE c.region = 'eu' AND c.credit > o.qty)) IS TRUE`},
	{"sq_all_istrue", "> ALL (correlated), as (...) IS TRUE", `SELECT p.id FROM products p WHERE (p.price > ALL (SELECT o.qty * 10 FROM orders o WHERE o.product_id = p.id)) IS TRUE`},
	{"sq_any_istrue", "= ANY (uncorrelated, nullable), as (...) IS TRUE", `SELECT c.id FROM customers c WHERE (c.credit = ANY (SELECT o.qty * 100 FROM orders o WHERE o.discount IS NOT NULL)) IS TRUE`},
	{"sq_in_select_list", "IN / NOT IN / ANY as values in the SELECT list (three-valued)", `SELECT c.id, c.id IN (SELECT o.customer_id FROM orders o WHERE o.status = 'lost') AS in_lost, c.id NOT IN (SELECT o.customer_id FROM orders o WHERE o.qty = 1) AS not_in_q1, c.credit >= ALL (SELECT o.qty * 100 FROM orders o WHERE o.customer_id = c.id) AS ge_all FROM customers c`},
	// Edge cases of the above.
	{"j_full_using", "FULL JOIN USING (merged key column)", `SELECT id, c.name, p.title FROM (SELECT id, name FROM customers WHERE id <= 15) c FULL JOIN (SELECT id, title FROM products) p USING (id)`},
	{"j_left_lateral_limit", "LEFT JOIN LATERAL with ORDER BY/LIMIT 1", `SELECT c.id, l.id AS last_order, l.placed_at FROM customers c LEFT JOIN LATERAL (SELECT o.id, o.placed_at FROM orders o WHERE o.customer_id = c.id ORDER BY o.placed_at DESC, o.id DESC LIMIT 1) l ON true`},
	{"sq_not_exists_max", "NOT EXISTS with a non-equi correlation (argmax with ties)", `SELECT o.customer_id, o.id, o.qty FROM orders o WHERE NOT EXISTS (SELECT 1 FROM orders o2 WHERE o2.customer_id = o.customer_id AND o2.qty > o.qty)`},
	{"sq_exists_uncorr", "uncorrelated EXISTS toggling the whole result", `SELECT p.id, p.title FROM products p WHERE EXISTS (SELECT 1 FROM orders WHERE status = 'lost' AND qty = 8)`},
	{"sq_scalar_empty", "uncorrelated scalar subquery that may be NULL, in arithmetic", `SELECT id, qty - (SELECT min(qty) FROM orders WHERE status = 'lost' AND discount > 0.4) AS d FROM orders WHERE customer_id = 3`},
	{"agg_nested", "aggregate over an aggregate subquery", `SELECT count(*) AS groups, avg(s) AS avg_s, max(s) AS max_s, min(s) AS min_s FROM (SELECT customer_id, sum(qty) AS s FROM orders GROUP BY customer_id) t`},
	{"agg_nulls_distinct", "count(DISTINCT) and string_agg over NULLs, DESC NULLS FIRST", `SELECT vip, count(DISTINCT region) AS nr, string_agg(region, ',' ORDER BY region DESC NULLS FIRST, id) AS regions, string_agg(name, '' ORDER BY name DESC, id) AS names FROM customers GROUP BY vip`},
	{"agg_interval", "interval-valued aggregate arithmetic", `SELECT customer_id, max(placed_at) - min(placed_at) AS span FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id`},
	{"dist_on_expr", "DISTINCT ON an expression", `SELECT DISTINCT ON (date_trunc('month', placed_at)) date_trunc('month', placed_at) AS m, id, qty FROM orders ORDER BY date_trunc('month', placed_at), qty DESC, id`},
	{"topk_text", "TopK on text (C collation: upper before lower case)", `SELECT name, id FROM customers ORDER BY name DESC, id LIMIT 3`},
	{"set_intersect_rows", "INTERSECT of rows with NULLs", `SELECT customer_id, discount FROM orders WHERE qty > 4 INTERSECT SELECT customer_id, discount FROM orders WHERE status <> 'open'`},
	{"j_four_way", "4-way join with a self-join", `SELECT c.region, p.category, count(*) AS n FROM orders o1 JOIN orders o2 ON o2.customer_id = o1.customer_id AND o2.product_id <> o1.product_id JOIN customers c ON c.id = o1.customer_id JOIN products p ON p.id = o2.product_id GROUP BY c.region, p.category`},
}
