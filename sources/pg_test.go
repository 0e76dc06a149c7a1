package sources

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCopyFields: COPY's text format, with NULL, empty fields and escapes.
func TestCopyFields(t *testing.T) {
	fs, err := copyFields([]byte("1\t\\N\t\ta\\tb\\\\c\\n\\101\\x41"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		if f == nil {
			got = append(got, "NULL")
		} else {
			got = append(got, fmt.Sprintf("%q", f))
		}
	}
	if want := `"1" NULL "" "a\tb\\c\nAA"`; strings.Join(got, " ") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, " "), want)
	}
}

// TestPGTxnSpill: a transaction's messages replay in order from memory,
// and from the spill file once past the bound; close removes the file.
func TestPGTxnSpill(t *testing.T) {
	for _, limit := range []int{1 << 20, 64} {
		tx := &pgTxn{}
		var want []string
		for i := 0; i < 100; i++ {
			m := fmt.Sprintf("message %d", i)
			want = append(want, m)
			if err := tx.add([]byte(m), limit, t.TempDir()); err != nil {
				t.Fatal(err)
			}
		}
		if spilled := tx.file != nil; spilled != (limit == 64) {
			t.Fatalf("limit %d: spilled %v", limit, spilled)
		}
		var got []string
		if err := tx.each(func(b []byte) error { got = append(got, string(b)); return nil }); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("limit %d: replayed %v", limit, got)
		}
		name := ""
		if tx.file != nil {
			name = tx.file.Name()
		}
		tx.close()
		if name != "" {
			if _, err := os.Stat(name); !os.IsNotExist(err) {
				t.Fatalf("spill file %s left after close: %v", name, err)
			}
		}
	}
}

// TestPGScalarType: upstream type OIDs and modifiers map to viewd's types.
func TestPGScalarType(t *testing.T) {
	for _, c := range []struct {
		oid    uint32
		typmod int32
		want   string
	}{
		{1700, (10<<16 | 3) + 4, "numeric(10,3)"},
		{1700, -1, "numeric"},
		{1043, 5 + 4, "character varying(5)"},
		{1231, (12<<16 | 2) + 4, "numeric(12,2)[]"},
		{114, -1, "jsonb"},
		{1007, -1, "integer[]"},
		{2950, -1, "uuid"},
		{1184, -1, "timestamp with time zone"},
	} {
		got, ok := PGScalarType(c.oid, c.typmod)
		if !ok || got.String() != c.want {
			t.Errorf("PGScalarType(%d, %d) = %s %v, want %s", c.oid, c.typmod, got, ok, c.want)
		}
	}
	if _, ok := PGScalarType(869, -1); ok { // inet
		t.Errorf("inet mapped")
	}
}
