package coord

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/viewd/viewd/repr"
)

// BenchmarkInsertValues: 1,000-row INSERT ... VALUES statements into a
// table with a primary key, through a session as the wire layer drives it
// (Prepare, then Execute), each statement a durable commit.
func BenchmarkInsertValues(b *testing.B) {
	c := openTest(b, Config{})
	s := newTestSession(b, c)
	s.exec("CREATE TABLE t (id int PRIMARY KEY, k int, v text)")
	const per = 1000
	stmt := func(n int) string {
		var sb strings.Builder
		sb.WriteString("INSERT INTO t VALUES ")
		for i := range per {
			if i > 0 {
				sb.WriteString(", ")
			}
			id := n*per + i
			fmt.Fprintf(&sb, "(%d, %d, 'v%031d')", id, id%1000, id)
		}
		return sb.String()
	}
	stmts := make([]string, b.N)
	for i := range stmts {
		stmts[i] = stmt(i)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := s.run(context.Background(), stmts[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/row")
}

// BenchmarkCopyFrom: COPY FROM STDIN of 200,000 rows into a fresh table
// with a primary key, rows handed over in the wire layer's batches.
func BenchmarkCopyFrom(b *testing.B) {
	c := openTest(b, Config{})
	s := newTestSession(b, c)
	const n = 200_000
	rows := make([][]repr.Datum, n)
	for i := range rows {
		rows[i] = []repr.Datum{repr.Int4Datum(int32(i)), repr.Int4Datum(int32(i % 1000)), repr.TextDatum(fmt.Sprintf("v%031d", i))}
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		s.exec(fmt.Sprintf("CREATE TABLE c%d (id int PRIMARY KEY, k int, v text)", i))
		b.StartTimer()
		if err := s.copyIn(fmt.Sprintf("COPY c%d FROM STDIN", i), rows, 1024, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(0, "ns/op")
}
