package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/viewd/viewd/pgcode"
)

// TestDataDriven runs the golden files under testdata. Commands:
//
//	define          declare tables: (table t ((a int8) (b int8?)) (key 0) (index 0))
//	build           parse a relation and print it (Explain)
//	typ             print the relation's type
//	rule name=R     apply one rule once and print the result
//	batch name=B    apply one batch of the pipeline to a fixed point
//	opt             run the whole pipeline and print the result
//	trace           run the pipeline, printing the plan after each change
//	lir [raw]       optimise (unless raw), lower and print the LIR
//
// Each relation-taking command reparses its input with the current catalog.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		cat := newTestCatalog()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := runCommand(t, cat, d)
			if err != nil {
				return "error: " + errString(err) + "\n"
			}
			return out
		})
	})
}

func errString(err error) string {
	if pe, ok := err.(*pgcode.Error); ok {
		return fmt.Sprintf("%s (%s)", pe.Message, pe.Code)
	}
	return err.Error()
}

func parseRel(cat *testCatalog, src string) (Rel, error) {
	xs, err := parseSexps(src)
	if err != nil {
		return nil, err
	}
	if len(xs) != 1 {
		return nil, fmt.Errorf("expected one relation, got %d", len(xs))
	}
	p := &mirParser{cat: cat, locals: map[string]Get{}}
	return p.rel(xs[0])
}

func runCommand(t *testing.T, cat *testCatalog, d *datadriven.TestData) (string, error) {
	if d.Cmd == "define" {
		xs, err := parseSexps(d.Input)
		if err != nil {
			return "", err
		}
		for _, x := range xs {
			if err := cat.define(x); err != nil {
				return "", err
			}
		}
		return "ok\n", nil
	}
	rel, err := parseRel(cat, d.Input)
	if err != nil {
		return "", err
	}
	switch d.Cmd {
	case "build":
		return Explain(rel), nil
	case "typ":
		return ExplainType(rel.Typ()) + "\n", nil
	case "rule":
		var name string
		d.ScanArgs(t, "name", &name)
		r, ok := Rules(cat)[name]
		if !ok {
			return "", fmt.Errorf("unknown rule %q", name)
		}
		out, err := r.Transform(rel)
		if err != nil {
			return "", err
		}
		return Explain(out), nil
	case "batch":
		var name string
		d.ScanArgs(t, "name", &name)
		for _, b := range Optimizations(cat) {
			if b.Name == name {
				out, err := b.Apply(rel)
				if err != nil {
					return "", err
				}
				return Explain(out), nil
			}
		}
		return "", fmt.Errorf("unknown batch %q", name)
	case "opt":
		out, err := Optimize(rel, cat)
		if err != nil {
			return "", err
		}
		return Explain(out), nil
	case "trace":
		_, steps, err := OptimizeTrace(rel, cat)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, s := range steps {
			fmt.Fprintf(&b, "=== %s\n%s", s.Rule, s.After)
		}
		return b.String(), nil
	case "lir":
		if !d.HasArg("raw") {
			if rel, err = Optimize(rel, cat); err != nil {
				return "", err
			}
		}
		n, err := Lower(rel, cat)
		if err != nil {
			return "", err
		}
		return ExplainLIR(n), nil
	case "monotonic":
		opt, err := Optimize(rel, cat)
		if err != nil {
			return "", err
		}
		return fmt.Sprintln(Monotonic(opt, cat)), nil
	case "peek":
		opt, err := Optimize(rel, cat)
		if err != nil {
			return "", err
		}
		n, err := Lower(opt, cat)
		if err != nil {
			return "", err
		}
		return PlanPeek(n).String() + "\n" + ExplainLIR(n), nil
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}
