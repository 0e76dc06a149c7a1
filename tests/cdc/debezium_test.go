package cdc

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Debezium PostgreSQL connector events, shaped like the connector's
// documentation: JsonConverter with schemas enabled for customers (so the
// source derives its columns from the schema block, and its primary key
// from the key's), and without the schema block for orders (declared
// columns). Decimals in the schema'd table use Debezium's default
// decimal.handling.mode=precise (base64 of the unscaled two's-complement
// value); timestamps io.debezium.time.MicroTimestamp.

const dbzServer = "dbserver1"

type customer struct {
	id                 int
	first, last, email string
	creditCents        int64 // numeric(10,2)
	createdMicros      int64 // timestamp
}

type order struct {
	id, customerID, quantity int
	product                  string
	priceCents               int64 // numeric(10,2)
}

// decimalB64 renders an unscaled value the way Kafka Connect's Decimal
// logical type does: big-endian two's complement, base64.
func decimalB64(unscaled int64) string {
	b := big.NewInt(unscaled).Bytes()
	if unscaled >= 0 {
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
	} else {
		// two's complement of a negative value
		n := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), uint(8*(len(b)+1))), big.NewInt(unscaled))
		b = n.Bytes()
		for len(b) > 1 && b[0] == 0xff && b[1]&0x80 != 0 {
			b = b[1:]
		}
	}
	return base64.StdEncoding.EncodeToString(b)
}

const customersRowSchema = `{"type":"struct","fields":[` +
	`{"type":"int32","optional":false,"default":0,"field":"id"},` +
	`{"type":"string","optional":false,"field":"first_name"},` +
	`{"type":"string","optional":false,"field":"last_name"},` +
	`{"type":"string","optional":false,"field":"email"},` +
	`{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"credit_limit"},` +
	`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"created_at"}` +
	`],"optional":true,"name":"dbserver1.public.customers.Value","field":"%s"}`

var customersSchema = `{"type":"struct","fields":[` +
	fmt.Sprintf(customersRowSchema, "before") + `,` +
	fmt.Sprintf(customersRowSchema, "after") + `,` +
	`{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,last,false,incremental"},"default":"false","field":"snapshot"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},{"type":"int64","optional":true,"field":"xmin"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"},` +
	`{"type":"string","optional":false,"field":"op"},` +
	`{"type":"int64","optional":true,"field":"ts_ms"},` +
	`{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}` +
	`],"optional":false,"name":"dbserver1.public.customers.Envelope","version":1}`

const customersKeySchema = `{"type":"struct","fields":[{"type":"int32","optional":false,"default":0,"field":"id"}],"optional":false,"name":"dbserver1.public.customers.Key"}`

func (c customer) json() string {
	return fmt.Sprintf(`{"id":%d,"first_name":%q,"last_name":%q,"email":%q,"credit_limit":%q,"created_at":%d}`,
		c.id, c.first, c.last, c.email, decimalB64(c.creditCents), c.createdMicros)
}

func (o order) json() string {
	return fmt.Sprintf(`{"id":%d,"customer_id":%d,"product":%q,"quantity":%d,"price":%d.%02d}`,
		o.id, o.customerID, o.product, o.quantity, o.priceCents/100, o.priceCents%100)
}

// dbzSource is the payload's source block.
func dbzSource(table string, snapshot string, txID, lsn int64) string {
	return fmt.Sprintf(`{"version":"2.5.4.Final","connector":"postgresql","name":%q,"ts_ms":1559033904863,"snapshot":%q,"db":"postgres","sequence":"[\"24023119\",\"%d\"]","schema":"public","table":%q,"txId":%d,"lsn":%d,"xmin":null}`,
		dbzServer, snapshot, lsn, table, txID, lsn)
}

// dbzEvent is a change event's value; schema "" leaves the schema block
// out (schemas.enable=false).
func dbzEvent(schema, table, op, before, after string, txID, lsn int64) string {
	snap := "false"
	if op == "r" {
		snap = "true"
	}
	payload := fmt.Sprintf(`{"before":%s,"after":%s,"source":%s,"op":%q,"ts_ms":1559033904961,"transaction":null}`,
		before, after, dbzSource(table, snap, txID, lsn), op)
	if schema == "" {
		return payload
	}
	return fmt.Sprintf(`{"schema":%s,"payload":%s}`, schema, payload)
}

// debeziumModel holds the upstream tables and renders Debezium records of
// their changes.
type debeziumModel struct {
	customers map[int]customer
	orders    map[int]order
	lsn       int64
	recs      []rec
}

func newDebeziumModel() *debeziumModel {
	return &debeziumModel{customers: map[int]customer{}, orders: map[int]order{}, lsn: 24023128}
}

func (m *debeziumModel) next() int64 { m.lsn += 8; return m.lsn }

func custKey(id int) string {
	return fmt.Sprintf(`{"schema":%s,"payload":{"id":%d}}`, customersKeySchema, id)
}
func orderKey(id int) string { return fmt.Sprintf(`{"id":%d}`, id) }

const (
	custTopic  = dbzServer + ".public.customers"
	orderTopic = dbzServer + ".public.orders"
)

func (m *debeziumModel) putCustomer(op string, c customer) {
	before := "null"
	if old, ok := m.customers[c.id]; ok {
		before = old.json()
	}
	lsn := m.next()
	m.recs = append(m.recs, kv(custTopic, custKey(c.id), dbzEvent(customersSchema, "customers", op, before, c.json(), 555+lsn, lsn)))
	m.customers[c.id] = c
}

func (m *debeziumModel) deleteCustomer(id int) {
	old := m.customers[id]
	lsn := m.next()
	m.recs = append(m.recs,
		kv(custTopic, custKey(id), dbzEvent(customersSchema, "customers", "d", old.json(), "null", 555+lsn, lsn)),
		kv(custTopic, custKey(id), "")) // the tombstone that follows a delete
	delete(m.customers, id)
}

// putOrder writes an order; fullBefore false sends an update without a
// before image (REPLICA IDENTITY DEFAULT).
func (m *debeziumModel) putOrder(op string, o order, fullBefore bool) {
	before := "null"
	if old, ok := m.orders[o.id]; ok && fullBefore {
		before = old.json()
	}
	lsn := m.next()
	m.recs = append(m.recs, kv(orderTopic, orderKey(o.id), dbzEvent("", "orders", op, before, o.json(), 555+lsn, lsn)))
	m.orders[o.id] = o
}

// deleteOrder deletes an order; keyOnly sends the before image of
// REPLICA IDENTITY DEFAULT: the key, other columns null.
func (m *debeziumModel) deleteOrder(id int, keyOnly bool) {
	before := m.orders[id].json()
	if keyOnly {
		before = fmt.Sprintf(`{"id":%d,"customer_id":null,"product":null,"quantity":null,"price":null}`, id)
	}
	lsn := m.next()
	m.recs = append(m.recs,
		kv(orderTopic, orderKey(id), dbzEvent("", "orders", "d", before, "null", 555+lsn, lsn)),
		kv(orderTopic, orderKey(id), ""))
	delete(m.orders, id)
}

func (m *debeziumModel) flush(t *testing.T, cl *kgo.Client) {
	produceSync(t, cl, m.recs...)
	m.recs = nil
}

func cents(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// expectedJoin is the join view's contents: one row per order of a
// customer that exists, ordered by order id.
func (m *debeziumModel) expectedJoin() []string {
	var ids []int
	for id := range m.orders {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := []string{}
	for _, id := range ids {
		o := m.orders[id]
		c, ok := m.customers[o.customerID]
		if !ok {
			continue
		}
		out = append(out, fmt.Sprintf("%d|%s %s|%s|%s|%d|%s", o.id, c.first, c.last, c.email, o.product, o.quantity, cents(int64(o.quantity)*o.priceCents)))
	}
	return out
}

// expectedTotals is the aggregate view: per customer with orders, the
// order count, the spend and the credit left.
func (m *debeziumModel) expectedTotals() []string {
	type agg struct {
		n     int
		spend int64
	}
	by := map[int]*agg{}
	for _, o := range m.orders {
		if _, ok := m.customers[o.customerID]; !ok {
			continue
		}
		a := by[o.customerID]
		if a == nil {
			a = &agg{}
			by[o.customerID] = a
		}
		a.n++
		a.spend += int64(o.quantity) * o.priceCents
	}
	var ids []int
	for id := range by {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := []string{}
	for _, id := range ids {
		c := m.customers[id]
		out = append(out, fmt.Sprintf("%d|%s|%d|%s|%s", id, c.email, by[id].n, cents(by[id].spend), cents(c.creditCents-by[id].spend)))
	}
	return out
}

func (m *debeziumModel) expectedCustomers() []string {
	var ids []int
	for id := range m.customers {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := []string{}
	for _, id := range ids {
		c := m.customers[id]
		ts := time.UnixMicro(c.createdMicros).UTC().Format("2006-01-02 15:04:05.999999")
		out = append(out, fmt.Sprintf("%d|%s|%s|%s|%s|%s", c.id, c.first, c.last, c.email, cents(c.creditCents), ts))
	}
	return out
}

const (
	joinQuery   = "SELECT * FROM customer_orders ORDER BY order_id"
	totalsQuery = "SELECT * FROM customer_totals ORDER BY id"
	custQuery   = "SELECT id, first_name, last_name, email, credit_limit, created_at FROM customers ORDER BY id"
)

// debeziumViews creates the sources and views over the two topics.
func debeziumViews(t *testing.T, c *pgx.Conn) {
	exec1(t, c, "CREATE SOURCE customers FROM KAFKA CONNECTION k (TOPIC '"+custTopic+"') FORMAT JSON ENVELOPE DEBEZIUM")
	exec1(t, c, "CREATE SOURCE orders (id int, customer_id int, product text, quantity int, price numeric(10,2), PRIMARY KEY (id)) "+
		"FROM KAFKA CONNECTION k (TOPIC '"+orderTopic+"') FORMAT JSON ENVELOPE DEBEZIUM")
	exec1(t, c, `CREATE MATERIALIZED VIEW customer_orders AS
		SELECT o.id AS order_id, c.first_name || ' ' || c.last_name AS name, c.email, o.product, o.quantity, (o.quantity * o.price)::numeric(12,2) AS amount
		FROM orders o JOIN customers c ON c.id = o.customer_id`)
	exec1(t, c, `CREATE MATERIALIZED VIEW customer_totals AS
		SELECT c.id, c.email, count(*) AS n, sum(o.quantity * o.price)::numeric(12,2) AS spend, (c.credit_limit - sum(o.quantity * o.price))::numeric(12,2) AS credit_left
		FROM customers c JOIN orders o ON o.customer_id = c.id
		GROUP BY c.id, c.email, c.credit_limit`)
}

func (m *debeziumModel) check(t *testing.T, c *pgx.Conn, step string) {
	t.Helper()
	t.Logf("checking after %s", step)
	eventually(t, c, 20*time.Second, custQuery, m.expectedCustomers())
	eventually(t, c, 20*time.Second, joinQuery, m.expectedJoin())
	eventually(t, c, 20*time.Second, totalsQuery, m.expectedTotals())
}

// debeziumBatches applies the scripted changes batch by batch, calling
// after with each batch's name once it is produced.
func debeziumBatches(m *debeziumModel, after func(step string)) {
	base := time.Date(2024, 3, 1, 9, 30, 0, 123456000, time.UTC).UnixMicro()
	// Batch 1 (the snapshot, op=r) is produced before the sources exist.
	// Batch 2: inserts.
	m.putCustomer("c", customer{5, "Eve", "Ng", "eve@example.com", 300000, base + 5e6})
	m.putOrder("c", order{10005, 5, 2, "espresso machine", 24999}, true)
	m.putOrder("c", order{10006, 1, 10, "filter", 199}, true)
	m.putOrder("c", order{10007, 99, 1, "orphan", 100}, true) // no such customer (yet)
	after("inserts")
	// Batch 3: updates with before and after, and without a before image.
	c1 := m.customers[1]
	c1.email = "annek@example.org"
	m.putCustomer("u", c1)
	o := m.orders[10001]
	o.quantity = 3
	m.putOrder("u", o, true)
	o = m.orders[10002]
	o.customerID = 3 // moves to another customer
	m.putOrder("u", o, false)
	o = m.orders[10006]
	o.priceCents = 250
	m.putOrder("u", o, false)
	c2 := m.customers[2]
	c2.creditCents = -5000 // negative decimals
	m.putCustomer("u", c2)
	after("updates")
	// Batch 4: deletes (full before image, key-only before image), each
	// with its tombstone; and the orphan's customer appears.
	m.deleteOrder(10003, false)
	m.deleteOrder(10006, true)
	m.deleteCustomer(4)
	m.putCustomer("c", customer{99, "Late", "Comer", "late@example.com", 1000, base + 99e6})
	after("deletes")
	// Batch 5: a key deleted and inserted again, and several changes to
	// one row in a row.
	m.deleteCustomer(5)
	m.putCustomer("c", customer{5, "Eve", "Ng-Smith", "eve@example.com", 400000, base + 6e6})
	for q := 1; q <= 5; q++ {
		o = m.orders[10005]
		o.quantity = q
		m.putOrder("u", o, q%2 == 0)
	}
	after("reinsert")
}

func debeziumSnapshot(m *debeziumModel) {
	base := time.Date(2024, 3, 1, 9, 30, 0, 123456000, time.UTC).UnixMicro()
	for _, c := range []customer{
		{1, "Sally", "Thomas", "sally.thomas@acme.com", 500000, base + 1e6},
		{2, "George", "Bailey", "gbailey@foobar.com", 125050, base + 2e6},
		{3, "Edward", "Walker", "ed@walker.com", 999999, base + 3e6},
		{4, "Anne", "Kretchmar", "annek@noanswer.org", 0, base + 4e6},
	} {
		m.putCustomer("r", c)
	}
	for _, o := range []order{
		{10001, 1, 1, "car battery", 8999},
		{10002, 2, 2, "jacket", 4950},
		{10003, 2, 1, "spare tire", 12000},
		{10004, 4, 1, "hammer", 1299},
	} {
		m.putOrder("r", o, true)
	}
}

// TestDebeziumJoin: Debezium events for two tables keep a join view and
// an aggregate over the join equal to the model after each batch.
func TestDebeziumJoin(t *testing.T) {
	srv, c := startKafka(t)
	cl := producer(t, srv.KafkaAddr)
	m := newDebeziumModel()
	debeziumSnapshot(m)
	m.flush(t, cl) // before CREATE SOURCE: customers' columns come from its schema block
	debeziumViews(t, c)
	// The derived columns and key.
	if got := rows(t, c, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'customers' ORDER BY ordinal_position"); len(got) != 6 {
		t.Logf("customers columns: %q", got)
	}
	m.check(t, c, "snapshot")
	debeziumBatches(m, func(step string) {
		m.flush(t, cl)
		m.check(t, c, step)
	})
	st := statuses(t, c)
	for _, name := range []string{"customers", "orders"} {
		if st[name].status != "running" || st[name].err != "" {
			t.Errorf("status of %s: %+v", name, st[name])
		}
	}
	if got := rows(t, c, "SELECT count(*) FROM customers"); got[0] != fmt.Sprint(len(m.customers)) {
		t.Errorf("count %v", got)
	}
}
