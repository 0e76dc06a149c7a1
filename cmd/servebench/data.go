package main

import (
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// splitmix64 is a fast, well-mixed hash of a counter.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// appendValue appends row id's v: 32 hex characters, the same in every run
// and in both servers.
func appendValue(b []byte, id int) []byte {
	var raw [16]byte
	a, c := splitmix64(uint64(id)), splitmix64(uint64(id)^0x5bd1e9955bd1e995)
	for i := range 8 {
		raw[i] = byte(a >> (8 * i))
		raw[8+i] = byte(c >> (8 * i))
	}
	return hex.AppendEncode(b, raw[:])
}

// randomValue is a fresh 32-character v for an UPDATE.
func randomValue(r *rand.Rand) string {
	var raw [16]byte
	a, c := r.Uint64(), r.Uint64()
	for i := range 8 {
		raw[i] = byte(a >> (8 * i))
		raw[8+i] = byte(c >> (8 * i))
	}
	return hex.EncodeToString(raw[:])
}

// rowReader streams rows first..last of t as COPY text format
// ("id\tk\tv\n"), generated as they are read.
type rowReader struct {
	next, last, keys int
	buf              []byte
	off              int
}

func newRowReader(first, last, keys int) *rowReader {
	return &rowReader{next: first, last: last, keys: keys, buf: make([]byte, 0, 64<<10)}
}

func (r *rowReader) Read(p []byte) (int, error) {
	for r.off >= len(r.buf) {
		if r.next > r.last {
			return 0, io.EOF
		}
		r.buf, r.off = r.buf[:0], 0
		for i := 0; i < 1000 && r.next <= r.last; i++ {
			id := r.next
			r.buf = strconv.AppendInt(r.buf, int64(id), 10)
			r.buf = append(r.buf, '\t')
			r.buf = strconv.AppendInt(r.buf, int64(id%r.keys), 10)
			r.buf = append(r.buf, '\t')
			r.buf = appendValue(r.buf, id)
			r.buf = append(r.buf, '\n')
			r.next++
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// insertStatement is one INSERT of rows first..last as a VALUES list.
func insertStatement(table string, first, last, keys int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" VALUES ")
	buf := make([]byte, 0, 64)
	for id := first; id <= last; id++ {
		if id > first {
			b.WriteByte(',')
		}
		buf = append(buf[:0], '(')
		buf = strconv.AppendInt(buf, int64(id), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(id%keys), 10)
		buf = append(buf, ",'"...)
		buf = appendValue(buf, id)
		buf = append(buf, "')"...)
		b.Write(buf)
	}
	return b.String()
}
