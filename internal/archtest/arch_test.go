// Package archtest checks the import directions of DESIGN.md.
package archtest

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/viewd/viewd/"

// allowed maps a component to the components it may depend on
// (transitively). A component is the first path element under the module,
// except dataflow/render, which is its own.
var allowed = map[string][]string{
	"repr":               {"pgcode"}, // parse errors carry SQLSTATEs; pgcode is the only true leaf
	"pgcode":             {},
	"expr":               {"repr", "pgcode"},
	"plan":               {"expr", "repr", "pgcode"},
	"sql":                {"plan", "expr", "repr", "pgcode"},
	"dataflow":           {"expr", "repr", "pgcode"},
	"dataflow/render":    {"dataflow", "plan", "expr", "repr", "pgcode"},
	"sources":            {"repr", "pgcode"},
	"storage":            {"repr", "pgcode"},
	"wire":               {"repr", "pgcode"},
	"coord":              {"sql", "plan", "dataflow", "dataflow/render", "sources", "storage", "wire", "expr", "repr", "pgcode"},
	"cmd":                {"coord", "sql", "plan", "dataflow", "dataflow/render", "sources", "storage", "wire", "expr", "repr", "pgcode", "internal/pgtest", "internal/testenv", "internal/procstat"}, // cmd/servebench starts a private PostgreSQL
	"tests":              {"internal/pgtest", "internal/viewdtest", "internal/testenv", "repr", "pgcode"},
	"internal/pgtest":    {"internal/testenv"},
	"internal/testenv":   {},
	"internal/archtest":  {},
	"internal/testutil":  {"coord", "sql", "plan", "dataflow", "dataflow/render", "sources", "storage", "wire", "expr", "repr", "pgcode", "internal/pgtest", "internal/testenv"},
	"internal/benchcmp":  {},
	"internal/procstat":  {},
	"internal/viewdtest": {"coord", "sql", "plan", "dataflow", "dataflow/render", "sources", "storage", "wire", "expr", "repr", "pgcode", "internal/pgtest", "internal/testenv"},
}

func component(pkg string) string {
	rel := strings.TrimPrefix(pkg, module)
	parts := strings.Split(rel, "/")
	switch {
	case len(parts) >= 2 && parts[0] == "dataflow" && parts[1] == "render":
		return "dataflow/render"
	case parts[0] == "internal" && len(parts) >= 2:
		return "internal/" + parts[1]
	}
	return parts[0]
}

func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "github.com/viewd/viewd/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var violations []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := fields[0]
		from := component(pkg)
		ok, known := allowed[from]
		if !known {
			violations = append(violations, pkg+": component "+from+" has no entry in the import rules")
			continue
		}
		set := map[string]bool{from: true}
		for _, c := range ok {
			set[c] = true
		}
		for _, dep := range fields[1:] {
			if !strings.HasPrefix(dep, module) {
				continue
			}
			if to := component(dep); !set[to] {
				violations = append(violations, pkg+" depends on "+dep)
			}
		}
	}
	sort.Strings(violations)
	for _, v := range violations {
		t.Error(v)
	}
}
