package repr

import (
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
