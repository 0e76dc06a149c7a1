package sqllogictest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// RunMode says how queries are executed.
type RunMode int

const (
	// SelectMode runs each query as written.
	SelectMode RunMode = iota
	// ViewMode creates each query as a materialized view as early as
	// possible (before the data it reads is written) and reads the view at
	// the query's place in the file; see viewmode.go.
	ViewMode
)

func (m RunMode) String() string {
	if m == ViewMode {
		return "view"
	}
	return "select"
}

// ParseRunMode parses "select" or "view".
func ParseRunMode(s string) (RunMode, error) {
	switch s {
	case "select":
		return SelectMode, nil
	case "view":
		return ViewMode, nil
	}
	return 0, fmt.Errorf("sqllogictest: unknown run mode %q (want select or view)", s)
}

// DefaultTimeout bounds each statement and query.
const DefaultTimeout = 30 * time.Second

// Config configures a run.
type Config struct {
	// Engine is the name skipif/onlyif lines are matched against.
	Engine string
	Mode   RunMode
	// Timeout bounds each record; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxFailures stops a file after this many unexpected failures; zero
	// means no limit.
	MaxFailures int
	// Expected lists known failures; nil means none.
	Expected *ExpectedFailures
	// Log receives progress and diagnostics; nil means slog.Default().
	Log *slog.Logger
	// Verbose logs every failure, known failure and view fallback.
	Verbose bool
	// LateViews makes view mode create each view right before its query
	// instead of before the data is written. It checks view creation and
	// reading without maintenance, which is how the runner's view mode is
	// itself tested against PostgreSQL (whose materialized views are not
	// maintained).
	LateViews bool
	// DropCreated drops, at the end of the file, every relation the file
	// created (CASCADE), for runs that share one database.
	DropCreated bool
}

// Failure is one failed record.
type Failure struct {
	Path string
	Line int
	SQL  string
	Msg  string
	// Known is set when the failure is listed in the expected failures,
	// with Reason the listed reason.
	Known  bool
	Reason string
}

func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: ", f.Path, f.Line)
	if f.Known {
		fmt.Fprintf(&b, "(known: %s) ", f.Reason)
	}
	b.WriteString(f.Msg)
	if f.SQL != "" {
		b.WriteString("\nsql: ")
		b.WriteString(strings.ReplaceAll(f.SQL, "\n", "\n     "))
	}
	return b.String()
}

// FileResult summarises one file run in one mode.
type FileResult struct {
	Path string
	Mode RunMode
	// Passed, Failed and Skipped count statement, query and simple
	// records. Failed counts unexpected failures only; Known counts listed
	// failures; Fixed counts listed records that passed.
	Passed, Failed, Known, Skipped, Fixed int
	// View mode: queries checked through a view created early (before the
	// data), late (just before the query), or run as plain SELECTs.
	ViewsEarly, ViewsLate, SelectFallback int
	// FixedLines are the lines of the records counted in Fixed.
	FixedLines []int
	// ViewRefused counts the queries PostgreSQL can keep as materialized
	// views whose view viewd refused (each also a failure, known or not).
	ViewRefused int
	Elapsed     time.Duration
	Failures    []Failure
	// Halted is set when a halt record ended the file; Stopped when
	// MaxFailures did.
	Halted, Stopped bool
	// Err is set when the file could not be run at all.
	Err error
}

// Ran is the number of records run (passed or failed).
func (r *FileResult) Ran() int { return r.Passed + r.Failed + r.Known }

// QPS is the number of records run per second.
func (r *FileResult) QPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ran()) / r.Elapsed.Seconds()
}

// RunFile parses and runs one file against the database dial connects to.
func RunFile(ctx context.Context, cfg Config, path string, dial Dialer) *FileResult {
	f, err := os.Open(path)
	if err != nil {
		return &FileResult{Path: path, Mode: cfg.Mode, Err: fmt.Errorf("sqllogictest: %w", err)}
	}
	defer f.Close()
	recs, err := Parse(f)
	if err != nil {
		return &FileResult{Path: path, Mode: cfg.Mode, Err: fmt.Errorf("sqllogictest: %s: %w", path, err)}
	}
	return RunRecords(ctx, cfg, path, recs, dial)
}

// RunRecords runs parsed records. A failing record never stops the file
// (only halt and MaxFailures do).
func RunRecords(ctx context.Context, cfg Config, path string, recs []Record, dial Dialer) *FileResult {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Engine == "" {
		cfg.Engine = "postgresql"
	}
	r := &fileRun{
		cfg:    cfg,
		path:   path,
		recs:   recs,
		dial:   dial,
		res:    &FileResult{Path: path, Mode: cfg.Mode},
		labels: make(map[string]labelHash),
	}
	start := time.Now()
	defer func() {
		r.res.Elapsed = time.Since(start)
		if r.conn != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = r.conn.Close(closeCtx)
		}
	}()
	if err := r.connect(ctx); err != nil {
		r.res.Err = err
		return r.res
	}
	if cfg.Mode == ViewMode {
		r.views = planViews(recs, cfg.Engine, cfg.LateViews)
	}
	r.run(ctx)
	if cfg.DropCreated {
		r.dropCreated(ctx)
	}
	return r.res
}

// dropCreated drops the relations the file's statements created, so that
// the next file can run in the same database. Errors are ignored: the
// relation may not exist, or be of another kind.
func (r *fileRun) dropCreated(ctx context.Context) {
	seen := make(map[string]bool)
	var names []string
	for _, rec := range r.recs {
		if rec.Kind != KindStatement {
			continue
		}
		if kind, n := classifyDDL(scanSQL(rec.SQL)); kind == ddlCreate && !seen[n[0]] {
			seen[n[0]] = true
			names = append(names, n[0])
		}
	}
	for i := len(names) - 1; i >= 0; i-- {
		q := quoteIdent(names[i])
		for _, kind := range []string{"MATERIALIZED VIEW", "VIEW", "TABLE", "SOURCE"} {
			if _, err := r.exec(ctx, "DROP "+kind+" IF EXISTS "+q+" CASCADE"); err == nil {
				break
			}
		}
	}
}

// quoteIdent quotes an identifier for PostgreSQL.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

type labelHash struct {
	hash string
	line int
}

type fileRun struct {
	cfg  Config
	path string
	recs []Record
	dial Dialer
	conn Conn
	res  *FileResult

	mode   Mode
	labels map[string]labelHash
	views  *viewPlans
}

func (r *fileRun) connect(ctx context.Context) error {
	// Connecting is not a record: a short record timeout (a test's
	// 300 ms) must not fail the connection on a loaded machine.
	cctx, cancel := context.WithTimeout(ctx, max(r.cfg.Timeout, DefaultTimeout))
	defer cancel()
	c, err := r.dial(cctx)
	if err != nil {
		return fmt.Errorf("sqllogictest: %s: %w", r.path, err)
	}
	r.conn = c
	return nil
}

// ensureConn reconnects after a connection broke (for example when a
// statement timed out and the server ignored the cancel request).
func (r *fileRun) ensureConn(ctx context.Context) error {
	if r.conn != nil && !r.conn.Broken() {
		return nil
	}
	r.cfg.Log.Warn("sqllogictest: connection lost, reconnecting", "file", r.path)
	return r.connect(ctx)
}

func (r *fileRun) exec(ctx context.Context, sql string) (*Rows, error) {
	if err := r.ensureConn(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	rows, err := r.conn.Exec(ctx, sql)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %s: %w", r.cfg.Timeout, err)
	}
	return rows, err
}

func (r *fileRun) run(ctx context.Context) {
	for i := range r.recs {
		if ctx.Err() != nil {
			r.res.Err = fmt.Errorf("sqllogictest: %s: %w", r.path, ctx.Err())
			return
		}
		rec := &r.recs[i]
		if r.views != nil {
			r.views.flushDeferred(ctx, r)
		}
		runnable := rec.Kind == KindStatement || rec.Kind == KindQuery || rec.Kind == KindSimple
		if !rec.Applies(r.cfg.Engine) {
			if runnable {
				r.res.Skipped++
			}
			continue
		}
		if r.cfg.MaxFailures > 0 && r.res.Failed >= r.cfg.MaxFailures {
			r.res.Stopped = true
			r.skipRest(i)
			return
		}
		switch rec.Kind {
		case KindHalt:
			r.res.Halted = true
			r.skipRest(i + 1)
			return
		case KindHashThreshold:
			// Only matters when writing results; expected results say
			// themselves whether they are hashed.
		case KindMode:
			r.mode = rec.Mode
		case KindSleep:
			select {
			case <-time.After(rec.Sleep):
			case <-ctx.Done():
			}
		case KindInvalid:
			r.outcome(rec, "", fmt.Errorf("invalid record: %s", rec.Error))
		case KindStatement:
			r.statement(ctx, i, rec)
		case KindQuery:
			r.outcome(rec, rec.SQL, r.query(ctx, i, rec))
		case KindSimple:
			r.outcome(rec, rec.SQL, r.simple(ctx, rec))
		}
	}
}

// skipRest counts the runnable records from index i on as skipped.
func (r *fileRun) skipRest(i int) {
	for _, rec := range r.recs[i:] {
		if rec.Kind == KindStatement || rec.Kind == KindQuery || rec.Kind == KindSimple {
			r.res.Skipped++
		}
	}
}

// outcome records a pass (err == nil) or a failure.
func (r *fileRun) outcome(rec *Record, sql string, err error) {
	reason, known := r.cfg.Expected.Lookup(r.path, rec.Line, r.cfg.Mode)
	if err == nil {
		r.res.Passed++
		if known {
			r.res.Fixed++
			r.res.FixedLines = append(r.res.FixedLines, rec.Line)
			r.cfg.Log.Info("sqllogictest: listed as an expected failure but passed",
				"file", r.path, "line", rec.Line, "mode", r.cfg.Mode)
		}
		return
	}
	f := Failure{Path: r.path, Line: rec.Line, SQL: sql, Msg: err.Error(), Known: known, Reason: reason}
	r.res.Failures = append(r.res.Failures, f)
	if known {
		r.res.Known++
	} else {
		r.res.Failed++
	}
	if r.cfg.Verbose {
		r.cfg.Log.Info("sqllogictest: failure", "failure", f.String())
	}
}

func (r *fileRun) statement(ctx context.Context, i int, rec *Record) {
	if r.views != nil {
		r.views.beforeStatement(ctx, r, i)
	}
	rows, err := r.exec(ctx, rec.SQL)
	r.outcome(rec, rec.SQL, checkStatement(rec, rows, err))
	if r.views != nil {
		r.views.afterStatement(ctx, r, i)
	}
}

// checkStatement compares a statement's outcome with the record.
func checkStatement(rec *Record, rows *Rows, err error) error {
	if rec.ExpectError {
		return checkError(rec, err)
	}
	if err != nil {
		return err
	}
	if rec.HasCount && rows.RowsAffected != rec.Count {
		return fmt.Errorf("expected %d rows affected, got %d (%s)", rec.Count, rows.RowsAffected, rows.Tag)
	}
	return nil
}

// checkError checks that err is the error the record expects: any error
// when no regular expression is given, else one whose message matches it
// (or its full text "ERROR: message (SQLSTATE code)", or the message as
// lib/pq or Materialize's runner print it), and the SQLSTATE when a pgcode
// is given. Expected message lines after "----" must occur in the
// message.
func checkError(rec *Record, err error) error {
	if err == nil {
		return errors.New("expected an error, but the statement succeeded")
	}
	var se *ServerError
	if !errors.As(err, &se) {
		return fmt.Errorf("expected a server error, got: %w", err)
	}
	if rec.ErrorCode != "" && se.Code != rec.ErrorCode {
		return fmt.Errorf("expected SQLSTATE %s, got: %w", rec.ErrorCode, err)
	}
	if rec.ErrorRegex != "" {
		re, cerr := regexp.Compile(rec.ErrorRegex)
		if cerr != nil {
			return fmt.Errorf("bad error regex %q: %w", rec.ErrorRegex, cerr)
		}
		// Dialects spell errors differently: CockroachDB's files match
		// lib/pq's "pq: message", Materialize's "db error: ERROR: message".
		candidates := []string{se.Message, se.Error(), "pq: " + se.Message, "db error: ERROR: " + se.Message}
		if !slices.ContainsFunc(candidates, re.MatchString) {
			return fmt.Errorf("expected an error matching %q, got: %w", rec.ErrorRegex, err)
		}
	}
	if len(rec.Expected) > 0 {
		want := strings.Join(rec.Expected, "\n")
		if !strings.Contains(se.Error(), want) {
			return fmt.Errorf("expected error text %q, got: %w", want, err)
		}
	}
	return nil
}

// query runs a query record in the file's run mode.
func (r *fileRun) query(ctx context.Context, i int, rec *Record) error {
	if rec.ExpectError {
		if r.views != nil {
			r.res.SelectFallback++
		}
		_, err := r.exec(ctx, rec.SQL)
		return checkError(rec, err)
	}
	if r.views != nil {
		return r.views.query(ctx, r, i, rec)
	}
	return r.selectQuery(ctx, rec)
}

// selectQuery runs the query as written and checks its result, retrying
// until the deadline when the record asks for it.
func (r *fileRun) selectQuery(ctx context.Context, rec *Record) error {
	deadline := time.Now().Add(r.cfg.Timeout)
	for {
		rows, err := r.exec(ctx, rec.SQL)
		if err == nil {
			_, err = r.checkRows(rec, rows)
		}
		if err == nil || !rec.Retry || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// formatRows formats a result with the record's column types.
func (r *fileRun) formatRows(rec *Record, rows *Rows) ([][]string, error) {
	if len(rows.Columns) != len(rec.Types) {
		return nil, fmt.Errorf("expected %d columns (%s), got %d", len(rec.Types), rec.Types, len(rows.Columns))
	}
	out := make([][]string, len(rows.Values))
	for i, row := range rows.Values {
		f := make([]string, len(row))
		for j, v := range row {
			f[j] = FormatValue(rec.Types[j], rows.Columns[j].OID, v, r.mode)
		}
		out[i] = f
	}
	return out, nil
}

// checkRows formats rows and compares them with the record, including its
// column names and label. It returns the formatted rows.
func (r *fileRun) checkRows(rec *Record, rows *Rows) ([][]string, error) {
	f, err := r.formatRows(rec, rows)
	if err != nil {
		return nil, err
	}
	expected := rec.Expected
	if rec.ColNames && rec.HasResult && rec.ExpectedHash == "" {
		if len(expected) == 0 {
			return nil, errors.New("colnames: expected a line of column names")
		}
		var names []string
		for _, c := range rows.Columns {
			names = append(names, c.Name)
		}
		if !slices.Equal(strings.Fields(expected[0]), names) {
			return nil, fmt.Errorf("column names: expected %q, got %q", expected[0], strings.Join(names, " "))
		}
		expected = expected[1:]
	}
	rc := checkResult(rec, expected, f)
	if !rc.ok {
		return f, errors.New(rc.msg)
	}
	return f, r.checkLabel(rec, rc.hash)
}

// checkLabel checks that queries sharing a label have the same result.
func (r *fileRun) checkLabel(rec *Record, hash string) error {
	if rec.Label == "" {
		return nil
	}
	prev, ok := r.labels[rec.Label]
	if !ok {
		r.labels[rec.Label] = labelHash{hash: hash, line: rec.Line}
		return nil
	}
	if prev.hash != hash {
		return fmt.Errorf("label %s: result hash %s differs from %s at line %d", rec.Label, hash, prev.hash, prev.line)
	}
	return nil
}

// simple runs a simple-protocol block and compares its output: each row's
// values joined by ",", "COMPLETE n" after each statement, and an error as
// "db error: ERROR: message".
func (r *fileRun) simple(ctx context.Context, rec *Record) error {
	if err := r.ensureConn(ctx); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	results, err := r.conn.ExecSimple(cctx, rec.SQL)
	got := formatSimple(results, err)
	if !rec.HasResult {
		return err
	}
	if !slices.Equal(got, rec.Expected) {
		var b strings.Builder
		b.WriteString("output mismatch\nexpected:\n")
		writeValues(&b, rec.Expected)
		b.WriteString("got:\n")
		writeValues(&b, got)
		return errors.New(strings.TrimRight(b.String(), "\n"))
	}
	return nil
}

func formatSimple(results []*Rows, err error) []string {
	var out []string
	for _, res := range results {
		for _, row := range res.Values {
			vals := make([]string, len(row))
			for i, v := range row {
				if v == nil {
					vals[i] = "NULL"
				} else {
					vals[i] = string(v)
				}
			}
			out = append(out, strings.Join(vals, ","))
		}
		out = append(out, fmt.Sprintf("COMPLETE %d", res.RowsAffected))
	}
	if err != nil {
		var se *ServerError
		if errors.As(err, &se) {
			out = append(out, "db error: ERROR: "+se.Message)
		} else {
			out = append(out, "error: "+err.Error())
		}
	}
	return out
}
