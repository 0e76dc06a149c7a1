package expr

// Golden tests of MapFilterProject: building, composing, optimising and
// applying MFPs written as
//
//	mfp cols=int4,int4?,text       (input column types; ? = nullable)
//	map <expr over #i>             (appends a column)
//	filter <predicate>
//	project 2,0
//	row 1,NULL,abc                 (apply directive only: an input row)
//
// Directives: "mfp" prints the MFP as built, its Optimize()d form and its
// Demand(); "apply" applies the optimised MFP to each row and prints the
// output row, "dropped", or the error.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/viewd/viewd/repr"
)

func TestMFPGolden(t *testing.T) {
	datadriven.RunTest(t, "testdata/mfp", func(t *testing.T, d *datadriven.TestData) string {
		var cols []repr.ColumnType
		for _, a := range d.CmdArgs {
			if a.Key != "cols" {
				continue
			}
			for _, v := range a.Vals {
				for _, name := range strings.Split(v, ",") {
					nullable := strings.HasSuffix(name, "?")
					_, typ, err := planSQL("null::" + strings.TrimSuffix(name, "?"))
					if err != nil {
						t.Fatalf("type %q: %v", name, err)
					}
					cols = append(cols, repr.ColumnType{Type: typ, Nullable: nullable})
				}
			}
		}
		m := Identity(len(cols))
		var rows [][]repr.Datum
		for _, line := range nonEmptyLines(d.Input) {
			verb, rest, _ := strings.Cut(line, " ")
			types := m.OutputTypes(cols)
			switch verb {
			case "map":
				e, _, err := planSQLCols(rest, types)
				if err != nil {
					return "error: " + err.Error()
				}
				m = m.Map(e)
			case "filter":
				e, _, err := planSQLCols(rest, types)
				if err != nil {
					return "error: " + err.Error()
				}
				m = m.Filter(e)
			case "project":
				var idx []int
				for _, f := range strings.Split(rest, ",") {
					i, err := strconv.Atoi(strings.TrimSpace(f))
					if err != nil {
						t.Fatalf("project %q", rest)
					}
					idx = append(idx, i)
				}
				m = m.Project(idx...)
			case "row":
				fields := strings.Split(rest, ",")
				if len(fields) != len(cols) {
					t.Fatalf("row %q: want %d fields", rest, len(cols))
				}
				row := make([]repr.Datum, len(cols))
				for i, f := range fields {
					if f == "NULL" {
						continue
					}
					v, err := repr.ParseText(f, cols[i].Type)
					if err != nil {
						t.Fatalf("row %q: %v", rest, err)
					}
					row[i] = v
				}
				rows = append(rows, row)
			default:
				t.Fatalf("unknown line %q", line)
			}
		}
		opt := m
		opt.Expressions = append([]Scalar(nil), m.Expressions...)
		opt.Predicates = append([]Predicate(nil), m.Predicates...)
		opt.Projection = append([]int(nil), m.Projection...)
		opt.Optimize()
		var b strings.Builder
		switch d.Cmd {
		case "mfp":
			fmt.Fprintf(&b, "built:     %s\n", m.String())
			fmt.Fprintf(&b, "optimized: %s\n", opt.String())
			fmt.Fprintf(&b, "demand:    %v\n", opt.Demand())
			outTypes := opt.OutputTypes(cols)
			parts := make([]string, len(outTypes))
			for i, ct := range outTypes {
				parts[i] = ct.String()
			}
			fmt.Fprintf(&b, "types:     (%s)\n", strings.Join(parts, ", "))
		case "apply":
			ctx := goldenCtx()
			var scratch []repr.Datum
			var out repr.Packer
			for _, row := range rows {
				out.Reset()
				keep, err := opt.Apply(ctx, row, &scratch, &out)
				// The unoptimised MFP must agree.
				var out2 repr.Packer
				keep2, err2 := m.Apply(ctx, row, &scratch, &out2)
				if keep != keep2 || (err == nil) != (err2 == nil) || !repr.SameBytes(out.Row(), out2.Row()) {
					t.Errorf("optimised and built MFPs disagree on %v", row)
				}
				switch {
				case err != nil:
					b.WriteString(formatErr(err) + "\n")
				case !keep:
					b.WriteString("dropped\n")
				default:
					b.WriteString(out.Row().String() + "\n")
				}
			}
		default:
			t.Fatalf("unknown directive %q", d.Cmd)
		}
		return b.String()
	})
}
