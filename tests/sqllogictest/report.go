package sqllogictest

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"
)

// Totals sums file results.
type Totals struct {
	Files                                 int
	Passed, Failed, Known, Skipped, Fixed int
	ViewsEarly, ViewsLate, SelectFallback int
	ViewRefused                           int
	Errors                                int // files that could not run
	Elapsed                               time.Duration
}

// Add adds one file's result.
func (t *Totals) Add(r *FileResult) {
	t.Files++
	t.Passed += r.Passed
	t.Failed += r.Failed
	t.Known += r.Known
	t.Skipped += r.Skipped
	t.Fixed += r.Fixed
	t.ViewsEarly += r.ViewsEarly
	t.ViewsLate += r.ViewsLate
	t.SelectFallback += r.SelectFallback
	t.ViewRefused += r.ViewRefused
	t.Elapsed += r.Elapsed
	if r.Err != nil {
		t.Errors++
	}
}

// PassRate is passed / (passed + failed + known), in percent.
func (t *Totals) PassRate() float64 {
	n := t.Passed + t.Failed + t.Known
	if n == 0 {
		return 0
	}
	return 100 * float64(t.Passed) / float64(n)
}

// QPS is records run per second of file run time.
func (t *Totals) QPS() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Passed+t.Failed+t.Known) / t.Elapsed.Seconds()
}

// Summary is the one-line summary the command ends with.
func (t *Totals) Summary() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", t.Passed, t.Failed, t.Skipped)
}

// WriteReport writes a markdown table of pass rates and throughput by
// directory and mode.
func WriteReport(w io.Writer, results []*FileResult) error {
	type key struct {
		dir  string
		mode RunMode
	}
	groups := make(map[key]*Totals)
	var all [2]Totals
	for _, r := range results {
		k := key{dir: filepath.ToSlash(filepath.Dir(r.Path)), mode: r.Mode}
		if groups[k] == nil {
			groups[k] = &Totals{}
		}
		groups[k].Add(r)
		all[r.Mode].Add(r)
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].dir != keys[j].dir {
			return keys[i].dir < keys[j].dir
		}
		return keys[i].mode < keys[j].mode
	})
	if _, err := fmt.Fprintf(w, "| directory | mode | files | passed | failed | known | skipped | pass rate | views early/late | select fallback | view refused | records/s |\n"+
		"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"); err != nil {
		return fmt.Errorf("sqllogictest: writing report: %w", err)
	}
	row := func(dir string, mode RunMode, t *Totals) error {
		views := "-"
		if mode == ViewMode {
			views = fmt.Sprintf("%d/%d", t.ViewsEarly, t.ViewsLate)
		}
		_, err := fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %.1f%% | %s | %d | %d | %.0f |\n",
			dir, mode, t.Files, t.Passed, t.Failed, t.Known, t.Skipped, t.PassRate(), views, t.SelectFallback, t.ViewRefused, t.QPS())
		if err != nil {
			return fmt.Errorf("sqllogictest: writing report: %w", err)
		}
		return nil
	}
	for _, k := range keys {
		if err := row(k.dir, k.mode, groups[k]); err != nil {
			return err
		}
	}
	for m := SelectMode; m <= ViewMode; m++ {
		if all[m].Files > 0 {
			if err := row("**total**", m, &all[m]); err != nil {
				return err
			}
		}
	}
	return nil
}
