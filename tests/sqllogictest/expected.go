package sqllogictest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ExpectedFailures is a list of records known to fail. Each line of its
// file reads
//
//	[mode] path:line reason
//
// where path is matched as a suffix of the file's path at a directory
// boundary ("evidence/in1.test" matches ".../test/evidence/in1.test"), mode
// is optional ("[select]" or "[view]"; without it the entry applies to both
// modes) and the reason is free text. Blank lines and lines starting with
// '#' are ignored.
type ExpectedFailures struct {
	byLine map[int][]expectedEntry
	n      int
}

type expectedEntry struct {
	path   string
	mode   string // "" for any
	reason string
}

// LoadExpectedFailures reads an expected-failures file.
func LoadExpectedFailures(path string) (*ExpectedFailures, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sqllogictest: expected failures: %w", err)
	}
	defer f.Close()
	e, err := ParseExpectedFailures(f)
	if err != nil {
		return nil, fmt.Errorf("sqllogictest: %s: %w", path, err)
	}
	return e, nil
}

// ParseExpectedFailures parses the expected-failures format.
func ParseExpectedFailures(r io.Reader) (*ExpectedFailures, error) {
	e := &ExpectedFailures{byLine: make(map[int][]expectedEntry)}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ent := expectedEntry{}
		if strings.HasPrefix(l, "[") {
			end := strings.Index(l, "]")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unclosed mode bracket", n)
			}
			ent.mode = l[1:end]
			if ent.mode != "select" && ent.mode != "view" {
				return nil, fmt.Errorf("line %d: unknown mode %q", n, ent.mode)
			}
			l = strings.TrimSpace(l[end+1:])
		}
		loc, reason, _ := strings.Cut(l, " ")
		i := strings.LastIndex(loc, ":")
		if i < 0 {
			return nil, fmt.Errorf("line %d: want path:line reason, got %q", n, l)
		}
		line, err := strconv.Atoi(loc[i+1:])
		if err != nil {
			return nil, fmt.Errorf("line %d: bad line number in %q", n, loc)
		}
		ent.path = filepath.ToSlash(filepath.Clean(loc[:i]))
		ent.reason = strings.TrimSpace(reason)
		e.byLine[line] = append(e.byLine[line], ent)
		e.n++
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return e, nil
}

// Len is the number of entries.
func (e *ExpectedFailures) Len() int {
	if e == nil {
		return 0
	}
	return e.n
}

// Lookup reports whether the record at path:line is expected to fail in
// mode, and why. A nil list expects nothing.
func (e *ExpectedFailures) Lookup(path string, line int, mode RunMode) (string, bool) {
	if e == nil {
		return "", false
	}
	p := filepath.ToSlash(filepath.Clean(path))
	for _, ent := range e.byLine[line] {
		if ent.mode != "" && ent.mode != mode.String() {
			continue
		}
		if p == ent.path || strings.HasSuffix(p, "/"+ent.path) {
			return ent.reason, true
		}
	}
	return "", false
}
