package sqllogictest

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of a record in a sqllogictest file.
type Kind int

const (
	// KindStatement runs SQL and checks that it succeeds, fails, or
	// affects a number of rows.
	KindStatement Kind = iota
	// KindQuery runs SQL and compares its rows with the expected result.
	KindQuery
	// KindSimple runs SQL over the simple query protocol and compares its
	// textual output (rows, then "COMPLETE n", per statement).
	KindSimple
	// KindHashThreshold sets the number of values above which results are
	// printed as a hash.
	KindHashThreshold
	// KindHalt stops the file.
	KindHalt
	// KindMode switches between "standard" and "cockroach" formatting.
	KindMode
	// KindSleep pauses the runner.
	KindSleep
	// KindInvalid is a record the parser could not understand; running it
	// reports Error as a failure at Line.
	KindInvalid
)

func (k Kind) String() string {
	switch k {
	case KindStatement:
		return "statement"
	case KindQuery:
		return "query"
	case KindSimple:
		return "simple"
	case KindHashThreshold:
		return "hash-threshold"
	case KindHalt:
		return "halt"
	case KindMode:
		return "mode"
	case KindSleep:
		return "sleep"
	default:
		return "invalid"
	}
}

// SortMode says how query results are ordered before comparison.
type SortMode int

const (
	// NoSort compares rows in the order the server returned them.
	NoSort SortMode = iota
	// RowSort sorts rows, comparing formatted values column by column.
	RowSort
	// ValueSort sorts all values individually, ignoring row boundaries.
	ValueSort
)

func (s SortMode) String() string {
	switch s {
	case RowSort:
		return "rowsort"
	case ValueSort:
		return "valuesort"
	default:
		return "nosort"
	}
}

// Mode is the result formatting dialect.
type Mode int

const (
	// ModeStandard is SQLite's format: one value per line, floats with
	// three decimals, integers truncated.
	ModeStandard Mode = iota
	// ModeCockroach keeps floats and decimals as the server prints them and
	// rounds decimals in integer columns.
	ModeCockroach
)

func (m Mode) String() string {
	if m == ModeCockroach {
		return "cockroach"
	}
	return "standard"
}

// Condition is a skipif/onlyif line that applies to the record after it.
type Condition struct {
	Only   bool   // onlyif (true) or skipif (false)
	Engine string // lower case
}

// Record is one record of a sqllogictest file.
type Record struct {
	Kind       Kind
	Line       int // 1-based line of the record's first line
	Conditions []Condition

	// SQL is the statement or query text (lines joined by "\n").
	SQL string

	// Statements and queries: expected error. ErrorRegex may be empty,
	// meaning any error. ErrorCode is a SQLSTATE ("pgcode XXXXX").
	ExpectError bool
	ErrorRegex  string
	ErrorCode   string

	// Statements: "statement count N".
	HasCount bool
	Count    int64

	// Queries.
	Types    string // one letter per column: I, R, T, B, O, F
	Sort     SortMode
	Label    string
	ColNames bool // first expected line holds column names
	Retry    bool // retry until the result matches or the timeout passes
	// HasResult is set when the record has a "----" separator.
	HasResult bool
	// Expected holds the expected result lines verbatim (for queries: values
	// one per line, or rows with whitespace-separated values; for simple
	// blocks: the output lines; for statement/query error: the message).
	Expected []string
	// ExpectedHash and ExpectedHashCount hold "N values hashing to H".
	ExpectedHash      string
	ExpectedHashCount int

	// Directives.
	Threshold int           // hash-threshold
	Mode      Mode          // mode
	Sleep     time.Duration // sleep
	Options   string        // simple: the options after "simple"

	// Error is the parse error of an invalid record.
	Error string
}

// Applies reports whether the record runs on engine, given its
// skipif/onlyif conditions.
func (r *Record) Applies(engine string) bool {
	engine = strings.ToLower(engine)
	for _, c := range r.Conditions {
		if c.Only && c.Engine != engine {
			return false
		}
		if !c.Only && c.Engine == engine {
			return false
		}
	}
	return true
}

var hashLine = regexp.MustCompile(`^(\d+) values hashing to ([0-9a-f]{32})$`)

// Parse reads a sqllogictest file. Lines may end in "\n" or "\r\n". Records
// the parser does not understand become KindInvalid records so that a runner
// can report them with their line and go on; Parse fails only on I/O errors.
func Parse(r io.Reader) ([]Record, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sqllogictest: reading: %w", err)
	}
	p := parser{lines: lines}
	return p.parse(), nil
}

// ParseString parses a sqllogictest file held in a string.
func ParseString(s string) []Record {
	recs, _ := Parse(strings.NewReader(s)) // a strings.Reader never fails
	return recs
}

type parser struct {
	lines []string
	pos   int // index of the next line
}

func (p *parser) more() bool { return p.pos < len(p.lines) }

// block reads lines up to (not including) a blank line or, if sep is set,
// a "----" line. It reports whether it stopped at "----".
func (p *parser) block(sep bool) (lines []string, sawSep bool) {
	for p.more() {
		l := p.lines[p.pos]
		if strings.TrimSpace(l) == "" {
			return lines, false
		}
		p.pos++
		if sep && l == "----" {
			return lines, true
		}
		lines = append(lines, l)
	}
	return lines, false
}

// stripComment removes a trailing "# comment" from a directive line.
func stripComment(l string) string {
	if i := strings.Index(l, "#"); i >= 0 {
		return l[:i]
	}
	return l
}

func (p *parser) parse() []Record {
	var recs []Record
	var conds []Condition
	for p.more() {
		raw := p.lines[p.pos]
		lineNo := p.pos + 1
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			p.pos++
			continue
		}
		p.pos++
		fields := strings.Fields(stripComment(raw))
		if len(fields) == 0 {
			continue
		}
		rec := Record{Line: lineNo}
		switch fields[0] {
		case "skipif", "onlyif":
			if len(fields) < 2 {
				rec.Kind, rec.Error = KindInvalid, fields[0]+" needs an engine name"
				break
			}
			conds = append(conds, Condition{Only: fields[0] == "onlyif", Engine: strings.ToLower(fields[1])})
			continue
		case "statement":
			p.statement(&rec, raw, fields)
		case "query":
			p.query(&rec, raw, fields)
		case "simple":
			rec.Kind = KindSimple
			rec.Options = strings.Join(fields[1:], " ")
			sql, sep := p.block(true)
			rec.SQL = strings.Join(sql, "\n")
			if sep {
				rec.HasResult = true
				rec.Expected, _ = p.block(false)
			}
		case "hash-threshold":
			rec.Kind = KindHashThreshold
			if len(fields) != 2 {
				rec.Kind, rec.Error = KindInvalid, "hash-threshold needs one number"
				break
			}
			n, err := strconv.Atoi(fields[1])
			if err != nil || n < 0 {
				rec.Kind, rec.Error = KindInvalid, fmt.Sprintf("bad hash-threshold %q", fields[1])
				break
			}
			rec.Threshold = n
		case "halt":
			rec.Kind = KindHalt
		case "mode":
			rec.Kind = KindMode
			switch {
			case len(fields) == 2 && fields[1] == "cockroach":
				rec.Mode = ModeCockroach
			case len(fields) == 2 && fields[1] == "standard":
				rec.Mode = ModeStandard
			default:
				rec.Kind, rec.Error = KindInvalid, fmt.Sprintf("unknown mode %q", strings.Join(fields[1:], " "))
			}
		case "sleep":
			rec.Kind = KindSleep
			d, err := time.ParseDuration(strings.Join(fields[1:], ""))
			if err != nil {
				rec.Kind, rec.Error = KindInvalid, fmt.Sprintf("bad sleep duration: %v", err)
				break
			}
			rec.Sleep = d
		case "subtest":
			continue // a label for humans
		default:
			rec.Kind, rec.Error = KindInvalid, fmt.Sprintf("unknown record type %q", fields[0])
			p.block(false)
		}
		rec.Conditions, conds = conds, nil
		recs = append(recs, rec)
	}
	return recs
}

// errorSpec parses what follows "error" on a statement or query line:
// an optional "pgcode XXXXX" and a regular expression.
func errorSpec(rec *Record, rest string) {
	rec.ExpectError = true
	rest = strings.TrimSpace(rest)
	if f := strings.Fields(rest); len(f) >= 2 && f[0] == "pgcode" {
		rec.ErrorCode = f[1]
		rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(rest, "pgcode")), f[1]))
	}
	rec.ErrorRegex = rest
	if rest != "" {
		if _, err := regexp.Compile(rest); err != nil {
			rec.Kind, rec.Error = KindInvalid, fmt.Sprintf("bad error regex %q: %v", rest, err)
		}
	}
}

// afterWord returns the text of line after the first occurrence of word.
func afterWord(line, word string) string {
	i := strings.Index(line, word)
	if i < 0 {
		return ""
	}
	return line[i+len(word):]
}

func (p *parser) statement(rec *Record, raw string, fields []string) {
	rec.Kind = KindStatement
	if len(fields) < 2 {
		rec.Kind, rec.Error = KindInvalid, "statement needs ok, error or count"
		p.block(false)
		return
	}
	switch fields[1] {
	case "ok":
	case "error":
		errorSpec(rec, afterWord(raw, "error"))
	case "count":
		n, err := strconv.ParseInt(strings.TrimSpace(stripComment(afterWord(raw, "count"))), 10, 64)
		if err != nil {
			rec.Kind, rec.Error = KindInvalid, fmt.Sprintf("bad statement count: %v", err)
		}
		rec.HasCount, rec.Count = true, n
	default:
		rec.Kind, rec.Error = KindInvalid, fmt.Sprintf("unknown statement kind %q", fields[1])
	}
	sql, sep := p.block(true)
	rec.SQL = strings.Join(sql, "\n")
	if sep {
		rec.HasResult = true
		rec.Expected, _ = p.block(false)
	}
	if rec.SQL == "" && rec.Kind != KindInvalid {
		rec.Kind, rec.Error = KindInvalid, "statement without SQL"
	}
}

func (p *parser) query(rec *Record, raw string, fields []string) {
	rec.Kind = KindQuery
	if len(fields) < 2 {
		rec.Kind, rec.Error = KindInvalid, "query needs column types"
		p.block(false)
		return
	}
	if fields[1] == "error" {
		errorSpec(rec, afterWord(raw, "error"))
	} else {
		rec.Types = fields[1]
		for _, c := range rec.Types {
			if !strings.ContainsRune("IRTBOF", c) {
				rec.Kind, rec.Error = KindInvalid, fmt.Sprintf("unknown column type %q in %q", c, rec.Types)
			}
		}
		for _, f := range fields[2:] {
			for _, opt := range strings.Split(f, ",") {
				switch opt {
				case "":
				case "nosort":
					rec.Sort = NoSort
				case "rowsort":
					rec.Sort = RowSort
				case "valuesort":
					rec.Sort = ValueSort
				case "colnames":
					rec.ColNames = true
				case "retry":
					rec.Retry = true
				default:
					if rec.Label != "" {
						rec.Kind, rec.Error = KindInvalid, fmt.Sprintf("unknown query option %q", opt)
					}
					rec.Label = opt
				}
			}
		}
	}
	sql, sep := p.block(true)
	rec.SQL = strings.Join(sql, "\n")
	if sep {
		rec.HasResult = true
		rec.Expected, _ = p.block(false)
		if len(rec.Expected) == 1 && !rec.ExpectError {
			if m := hashLine.FindStringSubmatch(rec.Expected[0]); m != nil {
				n, err := strconv.Atoi(m[1])
				if err == nil {
					rec.ExpectedHashCount, rec.ExpectedHash = n, m[2]
					rec.Expected = nil
				}
			}
		}
	}
	if rec.SQL == "" && rec.Kind != KindInvalid {
		rec.Kind, rec.Error = KindInvalid, "query without SQL"
	}
}

// String prints the record deterministically (used by golden tests).
func (r *Record) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d: %s", r.Line, r.Kind)
	for _, c := range r.Conditions {
		if c.Only {
			fmt.Fprintf(&b, " onlyif=%s", c.Engine)
		} else {
			fmt.Fprintf(&b, " skipif=%s", c.Engine)
		}
	}
	switch r.Kind {
	case KindStatement, KindQuery:
		if r.Kind == KindQuery && !r.ExpectError {
			fmt.Fprintf(&b, " types=%s sort=%s", r.Types, r.Sort)
			if r.Label != "" {
				fmt.Fprintf(&b, " label=%s", r.Label)
			}
			if r.ColNames {
				b.WriteString(" colnames")
			}
			if r.Retry {
				b.WriteString(" retry")
			}
		}
		if r.ExpectError {
			fmt.Fprintf(&b, " error=%q", r.ErrorRegex)
			if r.ErrorCode != "" {
				fmt.Fprintf(&b, " pgcode=%s", r.ErrorCode)
			}
		}
		if r.HasCount {
			fmt.Fprintf(&b, " count=%d", r.Count)
		}
	case KindSimple:
		if r.Options != "" {
			fmt.Fprintf(&b, " options=%q", r.Options)
		}
	case KindHashThreshold:
		fmt.Fprintf(&b, " %d", r.Threshold)
	case KindMode:
		fmt.Fprintf(&b, " %s", r.Mode)
	case KindSleep:
		fmt.Fprintf(&b, " %s", r.Sleep)
	case KindInvalid:
		fmt.Fprintf(&b, " %s", r.Error)
	}
	b.WriteString("\n")
	if r.SQL != "" {
		for _, l := range strings.Split(r.SQL, "\n") {
			fmt.Fprintf(&b, "  sql: %s\n", l)
		}
	}
	if r.HasResult {
		if r.ExpectedHash != "" {
			fmt.Fprintf(&b, "  hash: %d %s\n", r.ExpectedHashCount, r.ExpectedHash)
		}
		for _, l := range r.Expected {
			fmt.Fprintf(&b, "  want: %s\n", l)
		}
		if r.ExpectedHash == "" && len(r.Expected) == 0 {
			b.WriteString("  want: (nothing)\n")
		}
	}
	return b.String()
}
