package expr

import (
	"testing"

	"github.com/viewd/viewd/repr"
)

func TestFormatType(t *testing.T) {
	for _, c := range []struct {
		oid    uint32
		typmod int32
		want   string
	}{
		{23, -1, "integer"},
		{1043, 24, "character varying(20)"},
		{1043, -1, "character varying"},
		{1700, 10<<16 | 2 + 4, "numeric(10,2)"},
		{1700, -1, "numeric"},
		{1184, -1, "timestamp with time zone"},
		{1009, -1, "text[]"},
		{2205, -1, "regclass"},
		{0, -1, "-"},
		{999999, -1, "???"},
	} {
		if got := FormatType(c.oid, c.typmod); got != c.want {
			t.Errorf("FormatType(%d, %d) = %q, want %q", c.oid, c.typmod, got, c.want)
		}
	}
}

func TestSizePretty(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0 bytes"}, {10239, "10239 bytes"}, {10240, "10 kB"}, {123456789, "118 MB"}, {-20480, "-20 kB"},
	} {
		if got := SizePretty(c.v); got != c.want {
			t.Errorf("SizePretty(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestPgCatalogFuncs(t *testing.T) {
	call := func(name string, args ...repr.Datum) repr.Datum {
		t.Helper()
		types := make([]repr.ScalarType, len(args))
		for i, a := range args {
			types[i] = repr.TypeText
			if a.Kind() == repr.KindOid {
				types[i] = repr.TypeOid
			} else if a.Kind() == repr.KindInt4 {
				types[i] = repr.TypeInt4
			}
		}
		res, err := Resolve(name, LookupFunc(name), types)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d, err := res.Func.Eval(&EvalCtx{}, args)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return d
	}
	if got := call("version").Str(); got != ServerVersion {
		t.Errorf("version() = %q", got)
	}
	if got := call("pg_get_userbyid", repr.OidDatum(10)).Str(); got != SuperuserName {
		t.Errorf("pg_get_userbyid(10) = %q", got)
	}
	if got := call("pg_get_expr", repr.TextDatum("'x'"), repr.OidDatum(1)).Str(); got != "'x'" {
		t.Errorf("pg_get_expr = %q", got)
	}
	if got := call("obj_description", repr.OidDatum(1), repr.TextDatum("pg_class")); !got.IsNull() {
		t.Errorf("obj_description = %v, want NULL", got)
	}
	if got := call("pg_encoding_to_char", repr.Int4Datum(6)).Str(); got != "UTF8" {
		t.Errorf("pg_encoding_to_char(6) = %q", got)
	}
	if got := call("has_table_privilege", repr.TextDatum("t"), repr.TextDatum("select")); !got.Bool() {
		t.Errorf("has_table_privilege = %v", got)
	}
}
