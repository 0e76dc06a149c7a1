package cdc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func dbzPlain(op, before, after string) string {
	return fmt.Sprintf(`{"before":%s,"after":%s,"source":{"connector":"postgresql","name":"bad","db":"bad","schema":"public","table":"t","txId":1,"lsn":1},"op":%q,"ts_ms":0}`, before, after, op)
}

// TestBadInput: garbage bytes, JSON that does not fit the declared
// columns, and changes to rows that are not there never crash the server
// and are never dropped silently: the source's status says error with
// topic, partition and offset, reads of it and of views over it fail with
// that error, and other sources go on.
func TestBadInput(t *testing.T) {
	srv, c := startKafka(t)
	cl := producer(t, srv.KafkaAddr)
	good := func(i int) rec { return kv("good", "", fmt.Sprintf(`{"n":%d}`, i)) }
	ins := func(topic string, id int, v string) rec {
		return kv(topic, fmt.Sprintf(`{"id":%d}`, id), dbzPlain("c", "null", fmt.Sprintf(`{"id":%d,"v":%s}`, id, v)))
	}
	produceSync(t, cl, good(1), good(2),
		// garbage: offset 1 is not JSON at all.
		ins("garbage", 1, `"one"`), rec{topic: "garbage", key: []byte(`{"id":2}`), value: []byte("\x00\x01\xfe not json {")}, ins("garbage", 3, `"three"`),
		// mismatch: offset 2's v is not an int.
		ins("mismatch", 1, "10"), ins("mismatch", 2, "20"), ins("mismatch", 3, `"lots"`),
		// ghost_update (primary key): offset 1 updates id 7, which was never inserted.
		ins("ghost_update", 1, "1"), kv("ghost_update", `{"id":7}`, dbzPlain("u", `{"id":7,"v":1}`, `{"id":7,"v":2}`)),
		// ghost_delete (no key): offset 1 deletes a row that is not there.
		ins("ghost_delete", 1, "1"), kv("ghost_delete", `{"id":8}`, dbzPlain("d", `{"id":8,"v":8}`, "null")),
		// ghost_upsert (no key, NONE would keep no state): a before image that differs from the row.
		ins("ghost_before", 1, "1"), kv("ghost_before", `{"id":1}`, dbzPlain("u", `{"id":1,"v":99}`, `{"id":1,"v":2}`)),
	)
	exec1(t, c, "CREATE SOURCE good FROM KAFKA CONNECTION k (TOPIC 'good') FORMAT JSON ENVELOPE NONE")
	bad := []struct {
		name, cols string
		offset     int
		code       string // expected SQLSTATE ("" any)
	}{
		{"garbage", "(id int, v text, PRIMARY KEY (id))", 1, ""},
		{"mismatch", "(id int, v int, PRIMARY KEY (id))", 2, ""},
		{"ghost_update", "(id int, v int, PRIMARY KEY (id))", 1, ""},
		{"ghost_delete", "(id int, v int)", 1, ""},
		{"ghost_before", "(id int, v int)", 1, ""},
	}
	for _, b := range bad {
		exec1(t, c, fmt.Sprintf("CREATE SOURCE %s %s FROM KAFKA CONNECTION k (TOPIC '%s') FORMAT JSON ENVELOPE DEBEZIUM", b.name, b.cols, b.name))
		exec1(t, c, fmt.Sprintf("CREATE MATERIALIZED VIEW %s_count AS SELECT count(*) AS n FROM %s", b.name, b.name))
		exec1(t, c, fmt.Sprintf("CREATE VIEW %s_joined AS SELECT g.data, x.id FROM good g JOIN %s x ON (g.data->>'n')::int = x.id", b.name, b.name))
	}
	eventually(t, c, 20*time.Second, "SELECT count(*) FROM good", []string{"2"})
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			waitFor(t, 20*time.Second, "status of "+b.name, func() string {
				s := statuses(t, c)[b.name]
				if s.status != "error" {
					return fmt.Sprintf("%+v", s)
				}
				return ""
			})
			s := statuses(t, c)[b.name]
			t.Logf("mz_source_statuses: %s: %s", s.status, s.err)
			// Where the bad record is: see also
			// TestSourceStatusErrorLocation.
			if !strings.Contains(s.err, b.name) || !strings.Contains(s.err, "offset") {
				t.Errorf("status error %q does not name the source", s.err)
			}
			for _, q := range []string{
				"SELECT * FROM " + b.name,
				"SELECT count(*) FROM " + b.name,
				"SELECT n FROM " + b.name + "_count",
				"SELECT * FROM " + b.name + "_joined",
			} {
				got, err := query(c, q)
				if err == nil {
					t.Errorf("%s: no error, got %q", q, got)
					continue
				}
				var pe *pgconn.PgError
				if !errors.As(err, &pe) {
					t.Errorf("%s: %v", q, err)
					continue
				}
				if !strings.Contains(pe.Message, b.name) || !strings.Contains(pe.Detail, fmt.Sprintf("topic %s partition 0 offset %d", b.name, b.offset)) {
					t.Errorf("%s: error %s %q detail %q does not name the source and its position", q, pe.Code, pe.Message, pe.Detail)
				}
				if pe.Code == "XX000" || pe.Code == "" {
					t.Errorf("%s: SQLSTATE %q", q, pe.Code)
				}
			}
		})
	}
	// The server is up, and the good source goes on.
	produceSync(t, cl, good(3), good(4))
	eventually(t, c, 20*time.Second, "SELECT count(*), sum((data->>'n')::int) FROM good", []string{"4|10"})
	st := statuses(t, c)
	if st["good"].status != "running" || st["good"].err != "" {
		t.Errorf("good: %+v", st["good"])
	}
	// A view over the good source only still reads.
	exec1(t, c, "CREATE MATERIALIZED VIEW good_sum AS SELECT sum((data->>'n')::int) AS s FROM good")
	eventually(t, c, 10*time.Second, "SELECT s FROM good_sum", []string{"10"})
}
