package main

import (
	"fmt"
	"io"
	"math"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/viewd/viewd/internal/procstat"
)

// sense says which way a row's headline figure is better.
type sense int

const (
	higherBetter sense = iota // throughput: the ratio is viewd / PostgreSQL
	lowerBetter               // time, latency, bytes: the ratio is PostgreSQL / viewd
	noRatio
)

// cell is one server's result for a row: the printed text and, when the
// measurement succeeded, the headline figure used for the ratio.
type cell struct {
	text  string
	value float64
	ok    bool
}

func figure(v float64, text string) cell {
	return cell{text: text, value: v, ok: v > 0 && !math.IsInf(v, 0)}
}
func failed(text string) cell { return cell{text: text} }

// row is one line of the table.
type row struct {
	num   int
	what  string
	sense sense
	viewd cell
	pg    cell
}

func (r row) ratio() string {
	if r.sense == noRatio || !r.viewd.ok || !r.pg.ok {
		return "-"
	}
	q := r.viewd.value / r.pg.value
	if r.sense == lowerBetter {
		q = r.pg.value / r.viewd.value
	}
	return sig3(q) + "×"
}

// report collects rows and notes, and prints them as Markdown.
type report struct {
	rows  map[int]*row
	notes []string
}

func (rep *report) set(r row) { rep.rows[r.num] = &r }

func (rep *report) notef(format string, args ...any) {
	rep.notes = append(rep.notes, fmt.Sprintf(format, args...))
}

// gitDescribe names the checked-out commit of the module, or "".
func gitDescribe() string {
	root, err := moduleRoot()
	if err != nil {
		return ""
	}
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// header is what the report says about the run.
type header struct {
	cfg        config
	date       time.Time
	start, end procstat.Machine
	viewdBin   string
	commit     string
	pgVersion  string
}

func (rep *report) print(w io.Writer, h header) {
	cfg := h.cfg
	fmt.Fprintf(w, "servebench, %s UTC: %s rows in t(id int primary key, k int, v text), k = id %% %d, v 32 characters; timed rows run %s each.\n\n",
		h.date.UTC().Format("2006-01-02 15:04"), commas(int64(cfg.rows)), cfg.keys, cfg.duration)
	model := ""
	if h.start.Model != "" {
		model = " (" + h.start.Model + ")"
	}
	fmt.Fprintf(w, "Machine: %d cores%s, %s memory (%s available at the start); load average %s at start, %s at end.\n",
		h.start.CPUs, model, gib(h.start.Memory), gib(h.start.Avail), h.start.LoadAvg, h.end.LoadAvg)
	version := h.viewdBin
	if h.commit != "" {
		version = "commit " + h.commit
	}
	durability := "fsync, synchronous_commit and full_page_writes on (viewd, too, acknowledges only durable writes)"
	if !cfg.pgDurable {
		durability = "fsync, synchronous_commit and full_page_writes OFF (-pg-durable=false), while viewd syncs every acknowledged write"
	}
	fmt.Fprintf(w, "viewd: %s. %s: %s; its materialized view is not maintained (it is computed once by CREATE MATERIALIZED VIEW and would need REFRESH), viewd's is.\n\n",
		version, nonEmpty(h.pgVersion, "PostgreSQL"), durability)
	fmt.Fprintln(w, "| # | measurement | viewd | PostgreSQL | ratio (>1: viewd better) |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	var nums []int
	for n := range rep.rows {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		r := rep.rows[n]
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s |\n", r.num, r.what, cellText(r.viewd.text), cellText(r.pg.text), r.ratio())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios are viewd ÷ PostgreSQL for rates and PostgreSQL ÷ viewd for times, latencies and sizes, so that above 1 always means viewd does better.")
	for _, n := range rep.notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

func cellText(s string) string {
	if s == "" {
		return "-"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sig3 prints a number with three significant digits, without an
// exponent for everyday magnitudes.
func sig3(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if math.Abs(v) >= 999.5 {
		return commas(int64(math.Round(v)))
	}
	digits := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	if digits < 0 {
		digits = 0
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// commas prints an integer with thousands separators.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func seconds(d time.Duration) string { return sig3(d.Seconds()) + " s" }

// latency prints a duration in ms (or µs below 0.1 ms).
func latency(d time.Duration) string {
	if d < 100*time.Microsecond {
		return sig3(float64(d)/float64(time.Microsecond)) + " µs"
	}
	return sig3(float64(d)/float64(time.Millisecond)) + " ms"
}

func mib(b int64) string { return sig3(float64(b)/(1<<20)) + " MiB" }
func gib(b int64) string { return sig3(float64(b)/(1<<30)) + " GiB" }

// percentile returns the p-th percentile (0 < p <= 1) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}
