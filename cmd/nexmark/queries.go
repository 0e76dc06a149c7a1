package main

// query is one Nexmark query as viewd runs it: the views to create (the
// last is the one whose answer is checked), in the standard query's words
// as far as viewd's SQL allows.
type query struct {
	name string
	// what the query computes, for the table.
	what string
	// views are the statements that define the query's views, in order;
	// the last one is named like the query and is a materialized view.
	views []string
	// check, when set, is a query over the view (as {v}) whose answer is
	// compared with the same query over the recomputation, instead of the
	// whole answer: for views as large as their input.
	check string
}

// windowOrigin is where tumbling and hopping windows are counted from:
// the generator's epoch, so that windows start at whole multiples of
// their size after it.
const windowOrigin = "TIMESTAMPTZ '2024-01-01 00:00:00+00'"

// tumble is the 10-second tumbling window holding column col.
func tumble(col string) string {
	return "date_bin(INTERVAL '10 seconds', " + col + ", " + windowOrigin + ")"
}

// rankStats are q15's and q16's columns: bids, bidders and auctions,
// in all and per price rank.
const rankStats = `count(*) AS total_bids,
	count(*) FILTER (WHERE price < 10000) AS rank1_bids,
	count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
	count(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
	count(DISTINCT bidder) AS total_bidders,
	count(DISTINCT bidder) FILTER (WHERE price < 10000) AS rank1_bidders,
	count(DISTINCT bidder) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bidders,
	count(DISTINCT bidder) FILTER (WHERE price >= 1000000) AS rank3_bidders,
	count(DISTINCT auction) AS total_auctions,
	count(DISTINCT auction) FILTER (WHERE price < 10000) AS rank1_auctions,
	count(DISTINCT auction) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_auctions,
	count(DISTINCT auction) FILTER (WHERE price >= 1000000) AS rank3_auctions`

// Windows: the standard texts use Flink's TUMBLE and HOP table-valued
// functions. viewd has neither; a tumbling window is date_bin (the start
// of the 10-second bin holding the event), a hopping window (10 seconds,
// sliding by 2) is generate_series over the five window starts that hold
// the event, in a lateral join.
var queries = []query{
	{name: "q0", what: "pass-through of bids",
		views: []string{`SELECT auction, bidder, price, date_time, extra FROM bid`},
		check: "SELECT count(*), sum(auction), sum(bidder), sum(price), max(date_time), sum(length(extra)) FROM {v}"},
	{name: "q1", what: "bids in euros",
		views: []string{`SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM bid`},
		check: "SELECT count(*), sum(auction), sum(price), max(date_time) FROM {v}"},
	{name: "q2", what: "bids on some auctions",
		views: []string{`SELECT auction, price FROM bid WHERE auction % 123 = 0`}},
	{name: "q3", what: "local item suggestion (join)",
		views: []string{`SELECT p.name, p.city, p.state, a.id
			FROM auction AS a JOIN person AS p ON a.seller = p.id
			WHERE a.category = 10 AND (p.state = 'OR' OR p.state = 'ID' OR p.state = 'CA')`}},
	{name: "q4", what: "average winning bid per category",
		views: []string{`SELECT q.category, avg(q.final) AS avg_final
			FROM (SELECT max(b.price) AS final, a.category
			      FROM auction a, bid b
			      WHERE a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires
			      GROUP BY a.id, a.category) q
			GROUP BY q.category`}},
	{name: "q5", what: "hot items (hopping windows)",
		views: []string{
			`CREATE VIEW q5_hop AS SELECT b.auction, w AS starttime
			 FROM bid b, generate_series(date_bin(INTERVAL '2 seconds', b.date_time, ` + windowOrigin + `) - INTERVAL '8 seconds',
			                             date_bin(INTERVAL '2 seconds', b.date_time, ` + windowOrigin + `), INTERVAL '2 seconds') AS w`,
			`CREATE VIEW q5_counts AS SELECT auction, starttime, count(*) AS num FROM q5_hop GROUP BY auction, starttime`,
			`SELECT c.auction, c.num, c.starttime
			 FROM q5_counts c JOIN (SELECT starttime, max(num) AS maxn FROM q5_counts GROUP BY starttime) m
			   ON c.starttime = m.starttime
			 WHERE c.num >= m.maxn`}},
	{name: "q6", what: "average price of a seller's last 10 auctions",
		views: []string{
			`CREATE VIEW q6_final AS SELECT a.id, a.seller, a.expires, max(b.price) AS final
			 FROM auction a JOIN bid b ON a.id = b.auction
			 WHERE b.date_time BETWEEN a.date_time AND a.expires
			 GROUP BY a.id, a.seller, a.expires`,
			`SELECT seller, avg(final) AS avg_final
			 FROM (SELECT seller, final, row_number() OVER (PARTITION BY seller ORDER BY expires DESC, id DESC) AS rn FROM q6_final) r
			 WHERE rn <= 10
			 GROUP BY seller`}},
	{name: "q7", what: "highest bid per 10-second window",
		views: []string{`SELECT b.auction, b.price, b.bidder, b.date_time, b.extra
			FROM bid b
			JOIN (SELECT ` + tumble("date_time") + ` AS starttime, max(price) AS maxprice FROM bid GROUP BY 1) w
			  ON ` + tumble("b.date_time") + ` = w.starttime AND b.price = w.maxprice`}},
	{name: "q8", what: "new sellers per 10-second window",
		views: []string{`SELECT p.id, p.name, p.starttime
			FROM (SELECT id, name, ` + tumble("date_time") + ` AS starttime FROM person GROUP BY id, name, 3) p
			JOIN (SELECT seller, ` + tumble("date_time") + ` AS starttime FROM auction GROUP BY seller, 2) a
			  ON p.id = a.seller AND p.starttime = a.starttime`}},
	{name: "q9", what: "winning bid of each auction",
		views: []string{`SELECT id, item_name, description, initial_bid, reserve, date_time, expires, seller, category, extra,
			       auction, bidder, price, bid_date_time, bid_extra
			FROM (SELECT a.*, b.auction, b.bidder, b.price, b.date_time AS bid_date_time, b.extra AS bid_extra,
			             row_number() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.date_time ASC) AS rownum
			      FROM auction a JOIN bid b ON a.id = b.auction
			      WHERE b.date_time BETWEEN a.date_time AND a.expires) r
			WHERE rownum <= 1`}},
	{name: "q15", what: "bidding statistics per day",
		views: []string{`SELECT to_char(date_time, 'YYYY-MM-DD') AS day,
			  ` + rankStats + `
			FROM bid GROUP BY 1`}},
	{name: "q16", what: "channel statistics per day",
		views: []string{`SELECT channel, to_char(date_time, 'YYYY-MM-DD') AS day,
			  max(to_char(date_time, 'HH24:MI')) AS minute,
			  ` + rankStats + `
			FROM bid GROUP BY 1, 2`}},
	{name: "q18", what: "last bid of each bidder on each auction",
		views: []string{`SELECT auction, bidder, price, channel, url, date_time, extra
			FROM (SELECT *, row_number() OVER (PARTITION BY bidder, auction ORDER BY date_time DESC) AS rank_number FROM bid) r
			WHERE rank_number <= 1`}},
	{name: "q19", what: "top 10 bids of each auction",
		views: []string{`SELECT auction, bidder, price, channel, url, date_time, extra, rank_number
			FROM (SELECT *, row_number() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid) r
			WHERE rank_number <= 10`},
		check: "SELECT count(*), sum(price), sum(auction) FROM {v}"},
	{name: "q20", what: "bids with their auction, category 10",
		views: []string{`SELECT b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra,
			       a.item_name, a.description, a.initial_bid, a.reserve, a.date_time AS auction_date_time, a.expires, a.seller, a.category, a.extra AS auction_extra
			FROM bid b JOIN auction a ON b.auction = a.id
			WHERE a.category = 10`},
		check: "SELECT count(*), sum(price), sum(auction), sum(seller), sum(length(extra)), sum(length(auction_extra)) FROM {v}"},
}

// statements returns the DDL of q: every view but the last as written
// (CREATE VIEW ...), the last as CREATE MATERIALIZED VIEW q.name.
func (q query) statements() []string {
	out := make([]string, len(q.views))
	for i, v := range q.views {
		if i < len(q.views)-1 {
			out[i] = v
			continue
		}
		out[i] = "CREATE MATERIALIZED VIEW " + q.name + " AS " + v
	}
	return out
}

// recompute is the query whose answer the view's must equal: the view's
// defining query run as a plain SELECT over the sources as they are now.
func (q query) recompute() string { return q.views[len(q.views)-1] }
