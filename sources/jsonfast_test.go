package sources

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// decodeBothWays decodes msg with decodeObject (the in-order fast path,
// else the general path) and with the general path alone, and fails the
// test unless both give the same row bytes or the same error text. It
// returns decodeObject's row and error, and whether the fast path took
// the message.
func decodeBothWays(t testing.TB, rd *rowDecoder, w *workspace, msg []byte, extra ...repr.Datum) (repr.Row, error, bool) {
	t.Helper()
	s := w.begin(msg)
	fast := s.peek() == '{' && rd.packInOrder(s, w, extra)
	var fastRow repr.Row
	if fast {
		fastRow = w.pk.Clone()
	}
	row, err := rd.decodeObject(w, msg, extra...)
	var want repr.Row
	var werr error
	if c := w.begin(msg).peek(); c != '{' {
		werr = notObject(bytes.TrimSpace(msg))
	} else if werr = rd.packObject(w, msg, extra); werr == nil {
		want = w.pk.Clone()
	}
	switch {
	case (err == nil) != (werr == nil):
		t.Fatalf("message %q: decodeObject %v, general path %v", msg, err, werr)
	case err != nil && err.Error() != werr.Error():
		t.Fatalf("message %q: decodeObject error %q, general path %q", msg, err, werr)
	case err == nil && !bytes.Equal(row, want):
		t.Fatalf("message %q: decodeObject %s, general path %s", msg, row, want)
	case fast && !bytes.Equal(fastRow, want):
		t.Fatalf("message %q: fast path %s, general path %s (%v)", msg, fastRow, want, werr)
	}
	return row, err, fast
}

// TestPackInOrderAgreesWithGeneralPath: on random objects (columns of
// every type in order, missing, repeated, unknown, with values of every
// type and edge cases, some damaged), decodeObject gives what the general
// path gives, and the fast path takes the messages it can.
func TestPackInOrderAgreesWithGeneralPath(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	w := newWorkspace()
	fastN, okN, total := 0, 0, 0
	for c := 0; c < 3000; c++ {
		desc := oracleDesc(rng)
		rd := newRowDecoder(*desc)
		var extra []repr.Datum
		if rng.Intn(3) == 0 {
			extra = []repr.Datum{repr.Int8Datum(rng.Int63()), repr.TextDatum("meta")}
		}
		for i := 0; i < 10; i++ {
			var msg string
			if rng.Intn(2) == 0 {
				msg = randRow(rng, desc.Names)
			} else {
				msg = inOrderRow(rng, desc)
			}
			_, err, fast := decodeBothWays(t, rd, w, []byte(corrupt(rng, msg)), extra...)
			total++
			if err == nil {
				okN++
			}
			if fast {
				fastN++
			}
		}
	}
	t.Logf("%d messages, %d decoded, %d on the fast path", total, okN, fastN)
	if fastN < okN/2 {
		t.Errorf("only %d of %d rows decoded on the fast path", fastN, okN)
	}
}

// inOrderRow returns an object with every column once, in order, with a
// value that suits its type most of the time.
func inOrderRow(rng *rand.Rand, desc *repr.RelationDesc) string {
	var b strings.Builder
	b.WriteString("{")
	for i, name := range desc.Names {
		if i > 0 {
			b.WriteString([]string{",", ", ", " ,\n"}[rng.Intn(3)])
		}
		v := randValue(rng)
		if rng.Intn(3) > 0 {
			switch desc.Types[i].Type.Kind {
			case repr.KindInt2, repr.KindInt4, repr.KindInt8:
				v = []string{"0", "-0", "7", "-32768", "32767", "32768", "-2147483649", "2147483647", "999999999999999999", "-999999999999999999",
					"1000000000000000000", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "01", "1.0", "1e2", "-", "1x"}[rng.Intn(19)]
			case repr.KindText:
				v = []string{`""`, `"plain"`, `"caf\u00e9"`, `"tab\there"`, "\"bad \xff utf8\"", `"\ud83d\ude00"`, `"\ud800 lone"`, `"` + strings.Repeat("long ", 20) + `"`}[rng.Intn(8)]
			case repr.KindTimestamp, repr.KindTimestampTz:
				v = []string{`"2015-07-15T00:00:00.034Z"`, `"2024-01-02 03:04:05"`, `"2024-01-02T03:04:05+05:30"`, `"2024-02-30T00:00:00Z"`,
					`"2024-01-02T03:04:05.1234567Z"`, `"2024-01-02T03:04:05\u005a"`, `"2024-01-02"`, `"not a time"`, `1700000000000000`}[rng.Intn(9)]
			}
		}
		fmt.Fprintf(&b, "%q:%s", name, v)
	}
	b.WriteString("}")
	return b.String()
}

// TestDecodeObjectEdgeCases pins down what decodeObject makes of the
// values and shapes the fast path handles itself or hands back.
func TestDecodeObjectEdgeCases(t *testing.T) {
	desc := mkDesc(nil, "id", ct(repr.TypeInt8), "name", nct(repr.TypeText), "at", nct(repr.TypeTimestampTz),
		"small", nct(repr.TypeInt2), "ts", nct(repr.TypeTimestamp))
	rd := newRowDecoder(*desc)
	w := newWorkspace()
	at := repr.TimestampTzDatum(1436918400034000) // 2015-07-15T00:00:00.034Z
	row := func(ds ...repr.Datum) repr.Row {
		for len(ds) < 5 {
			ds = append(ds, repr.Null)
		}
		return repr.PackRow(ds...)
	}
	for _, c := range []struct {
		msg  string
		want repr.Row // nil: an error with code
		code pgcode.Code
		fast bool
	}{
		{msg: `{"id":1,"name":"a","at":"2015-07-15T00:00:00.034Z","small":2,"ts":"2015-07-15T00:00:00.034Z"}`,
			want: row(repr.Int8Datum(1), repr.TextDatum("a"), at, repr.IntDatum(repr.KindInt2, 2), repr.TimestampDatum(1436918400034000)), fast: true},
		{msg: " {\n\"id\" : -0 , \"name\" : \"\" }\t", want: row(repr.Int8Datum(0), repr.TextDatum("")), fast: true},
		// Escapes and Unicode: unescaped as encoding/json does.
		{msg: `{"id":1,"name":"q\"b\\s\/n\nt\tu\u00e9"}`, want: row(repr.Int8Datum(1), repr.TextDatum("q\"b\\s/n\nt\tu\u00e9")), fast: true},
		{msg: `{"id":1,"name":"\ud83d\ude00 😀"}`, want: row(repr.Int8Datum(1), repr.TextDatum("😀 😀")), fast: true},
		{msg: `{"id":1,"name":"\ud800x"}`, want: row(repr.Int8Datum(1), repr.TextDatum("\ufffdx")), fast: true},
		{msg: "{\"id\":1,\"name\":\"a\xffb\"}", want: row(repr.Int8Datum(1), repr.TextDatum("a\ufffdb")), fast: true},
		{msg: `{"\u0069d":1,"n\u0061me":"k"}`, want: row(repr.Int8Datum(1), repr.TextDatum("k")), fast: true},
		// Numbers: 18 digits are parsed as scanned, longer ones, fractions
		// and exponents by the general converter.
		{msg: `{"id":-999999999999999999}`, want: row(repr.Int8Datum(-999999999999999999)), fast: true},
		{msg: `{"id":9223372036854775807}`, want: row(repr.Int8Datum(9223372036854775807)), fast: true},
		{msg: `{"id":-9223372036854775808}`, want: row(repr.Int8Datum(-9223372036854775808)), fast: true},
		{msg: `{"id":1.0}`, want: row(repr.Int8Datum(1)), fast: true},
		{msg: `{"id":1e2}`, want: row(repr.Int8Datum(100)), fast: true},
		{msg: `{"id":9223372036854775808}`, code: pgcode.NumericValueOutOfRange},
		{msg: `{"id":1,"small":32768}`, code: pgcode.NumericValueOutOfRange},
		{msg: `{"id":1,"small":-32768}`, want: row(repr.Int8Datum(1), repr.Null, repr.Null, repr.IntDatum(repr.KindInt2, -32768)), fast: true},
		{msg: `{"id":1.5}`, code: pgcode.InvalidTextRepresentation},
		{msg: `{"id":01}`, code: pgcode.InvalidJSONText},
		{msg: `{"id":-}`, code: pgcode.InvalidJSONText},
		{msg: `{"id":1x}`, code: pgcode.InvalidJSONText},
		{msg: `{"id":"7"}`, want: row(repr.Int8Datum(7)), fast: true},
		{msg: `{"id":true}`, code: pgcode.DatatypeMismatch},
		// Nulls and missing columns.
		{msg: `{"id":1,"name":null,"at":null}`, want: row(repr.Int8Datum(1)), fast: true},
		{msg: `{"id":1}`, want: row(repr.Int8Datum(1)), fast: true},
		{msg: `{"id":null}`, code: pgcode.NotNullViolation},
		{msg: `{"name":"a"}`, code: pgcode.NotNullViolation},
		{msg: `{}`, code: pgcode.NotNullViolation},
		// Extra, repeated and reordered keys: the general path's answers.
		{msg: `{"x":{"a":[1,{"b":null}]},"id":1,"y":"z","name":"a","Name":"b"}`, want: row(repr.Int8Datum(1), repr.TextDatum("a")), fast: true},
		{msg: `{"id":1,"name":"a","id":2}`, want: row(repr.Int8Datum(2), repr.TextDatum("a"))},
		{msg: `{"id":1,"at":"2015-07-15T00:00:00.034Z","name":"a"}`, want: row(repr.Int8Datum(1), repr.TextDatum("a"), at)},
		{msg: `{"id":1,"ts":"2015-07-15T00:00:00.034Z"}`, want: row(repr.Int8Datum(1), repr.Null, repr.Null, repr.Null, repr.TimestampDatum(1436918400034000)), fast: true},
		{msg: `{"name":"a","id":1}`, want: row(repr.Int8Datum(1), repr.TextDatum("a"))},
		// Timestamps the fast parser does not take.
		{msg: `{"id":1,"at":"2015-07-15 00:00:00.034+00"}`, want: row(repr.Int8Datum(1), repr.Null, at), fast: true},
		{msg: `{"id":1,"at":"2015-07-15T00:00:00.034\u005a"}`, want: row(repr.Int8Datum(1), repr.Null, at), fast: true},
		{msg: `{"id":1,"at":"2015-02-30T00:00:00Z"}`, code: pgcode.DatetimeFieldOverflow},
		{msg: `{"id":1,"at":"soon"}`, code: pgcode.InvalidDatetimeFormat},
		// Bad input: a clear error, whichever value comes first.
		{msg: `{"id":1,"name":"a"`, code: pgcode.InvalidJSONText},
		{msg: `{"id":1,"name":"a"} x`, code: pgcode.InvalidJSONText},
		{msg: `{"id":"x","name":"a"`, code: pgcode.InvalidJSONText},
		{msg: `{"id":1,"name":"a\u12"}`, code: pgcode.InvalidJSONText},
		{msg: "{\"id\":1,\"name\":\"a\x01\"}", code: pgcode.InvalidJSONText},
		{msg: `{"id":1,"name":7}`, want: row(repr.Int8Datum(1), repr.TextDatum("7")), fast: true},
		{msg: `[1]`, code: pgcode.InvalidJSONText},
		{msg: ``, code: pgcode.InvalidJSONText},
		{msg: `{`, code: pgcode.InvalidJSONText},
	} {
		got, err, fast := decodeBothWays(t, rd, w, []byte(c.msg))
		switch {
		case c.want == nil && err == nil:
			t.Errorf("%s: got %s, want an error %s", c.msg, got, c.code)
		case c.want == nil && pgcode.Of(err) != c.code:
			t.Errorf("%s: got error %v (%s), want code %s", c.msg, err, pgcode.Of(err), c.code)
		case c.want != nil && err != nil:
			t.Errorf("%s: got error %v, want %s", c.msg, err, c.want)
		case c.want != nil && !bytes.Equal(got, c.want):
			t.Errorf("%s: got %s, want %s", c.msg, got, c.want)
		case fast != c.fast:
			t.Errorf("%s: fast path %v, want %v", c.msg, fast, c.fast)
		}
	}
}

// FuzzPackInOrder: on any bytes, decodeObject and the general path agree
// exactly (row bytes, error text), for columns of every fast kind.
func FuzzPackInOrder(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x","c":"2015-07-15T00:00:00.034Z","d":2,"e":"2024-01-02 03:04:05"}`,
		`{"a":-12,"b":"\u00e9\"","c":null,"d":32767}`,
		`{"b":"x","a":1}`, `{"a":1,"a":2}`, `{"a":1e3,"z":[1,{}],"b":7}`, `{"a":01}`, "{\"a\":1,\"b\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	desc := mkDesc(nil, "a", ct(repr.TypeInt8), "b", nct(repr.TypeText), "c", nct(repr.TypeTimestampTz),
		"d", nct(repr.TypeInt2), "e", nct(repr.TypeTimestamp), "f", nct(repr.TypeFloat8))
	rd := newRowDecoder(*desc)
	w := newWorkspace()
	f.Fuzz(func(t *testing.T, msg []byte) {
		decodeBothWays(t, rd, w, msg, repr.Int4Datum(3))
	})
}
