package repr

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkPackRow packs (int8, text, int8, numeric-free) rows.
func BenchmarkPackRow(b *testing.B) {
	ds := []Datum{Int8Datum(123456), TextDatum("customer-123456"), Int4Datum(42)}
	var p Packer
	n := 0
	for range b.N {
		p.Reset()
		p.PushAll(ds)
		n += p.Len()
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/row")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkUnpackRow decodes the same rows.
func BenchmarkUnpackRow(b *testing.B) {
	row := PackRow(Int8Datum(123456), TextDatum("customer-123456"), Int4Datum(42))
	buf := make([]Datum, 0, 4)
	for range b.N {
		buf = row.Unpack(buf[:0])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAppendKey builds memcomparable keys of (int8, text).
func BenchmarkAppendKey(b *testing.B) {
	ds := make([]Datum, 1024)
	for i := range ds {
		ds[i] = TextDatum(fmt.Sprintf("name-%d", i))
	}
	var buf []byte
	n := 0
	for i := range b.N {
		buf = AppendKey(buf[:0], Int8Datum(int64(i)), SortOrder{})
		buf = AppendKey(buf, ds[i%len(ds)], SortOrder{})
		n += len(buf)
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/key")
}

// numericBenchRow is (int8, numeric(12,2) value, numeric(12,2) value with a
// trailing zero, text): a lineitem-like row whose numerics keep a display
// scale.
func numericBenchRow(i int) []Datum {
	return []Datum{
		Int8Datum(int64(i)),
		mustNumeric(fmt.Sprintf("%d.%02d", 1000+i%9000, i%100)),
		mustNumeric(fmt.Sprintf("%d.%d0", i%500, i%10)),
		TextDatum("lineitem-comment"),
	}
}

// BenchmarkPackNumericRow packs rows holding numerics with display scales.
func BenchmarkPackNumericRow(b *testing.B) {
	rows := make([][]Datum, 1024)
	for i := range rows {
		rows[i] = numericBenchRow(i)
	}
	var p Packer
	n := 0
	for i := range b.N {
		p.Reset()
		p.PushAll(rows[i%len(rows)])
		n += p.Len()
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/row")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkUnpackNumericRow decodes them.
func BenchmarkUnpackNumericRow(b *testing.B) {
	rows := make([]Row, 1024)
	for i := range rows {
		rows[i] = PackRow(numericBenchRow(i)...)
	}
	buf := make([]Datum, 0, 4)
	for i := range b.N {
		buf = rows[i%len(rows)].Unpack(buf[:0])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCompareNumericRows compares packed rows holding numerics by
// bytes, as consolidation and arrangement keys do.
func BenchmarkCompareNumericRows(b *testing.B) {
	rows := make([]Row, 1024)
	for i := range rows {
		rows[i] = PackRow(numericBenchRow(i)...)
	}
	c := 0
	for i := range b.N {
		c += bytes.Compare(rows[i%len(rows)], rows[(i*7+1)%len(rows)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "compares/s")
	sinkInt = c
}

var sinkInt int

func mustNumeric(s string) Datum {
	n, err := ParseNumeric(s)
	if err != nil {
		panic(err)
	}
	return NumericDatum(n)
}

// jsonbBenchDocs are small jsonb documents of the shapes an event table
// holds: objects of a few scalar members, a nested array.
func jsonbBenchDocs() []Datum {
	ds := make([]Datum, 1024)
	for i := range ds {
		ds[i] = JsonbDatum(fmt.Sprintf(`{"id": %d, "kind": "k%d", "tags": ["a", "b%d"], "price": %d.50}`, i, i%7, i%3, i%100))
	}
	return ds
}

// BenchmarkCompareJSONB compares jsonb datums in jsonb's order (each
// comparison parses both documents).
func BenchmarkCompareJSONB(b *testing.B) {
	ds := jsonbBenchDocs()
	n := 0
	for i := range b.N {
		n += Compare(ds[i%len(ds)], ds[(i+1)%len(ds)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "compares/s")
}

// BenchmarkAppendKeyJSONB builds memcomparable keys of jsonb datums.
func BenchmarkAppendKeyJSONB(b *testing.B) {
	ds := jsonbBenchDocs()
	var buf []byte
	for i := range b.N {
		buf = AppendKey(buf[:0], ds[i%len(ds)], SortOrder{})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
