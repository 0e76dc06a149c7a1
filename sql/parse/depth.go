package parse

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/pgcode"
)

// MaxNestingDepth bounds the nesting estimate of one statement (see
// nestingDepth). PostgreSQL's grammar is not recursive, but what runs on
// the tree it builds is: in pg_query, the C functions that turn the tree
// into protobuf recurse once per level with no stack check (a left-deep
// chain `1 + 1 + ...` of about 25,000 terms overflows an 8 MB thread
// stack and kills the process); in Go, the protobuf decoder refuses
// trees deeper than 10,000 messages, and the planner and the optimiser
// take time quadratic in the depth. PostgreSQL itself answers 54001 past
// its max_stack_depth (2 MB): `1 + 1 + ...` passes with 3,000 terms and
// fails with 10,000; 1,000 nested scalar subqueries pass, 3,000 fail.
// 5,000 lets through a chain of 2,500 terms and 2,500 nested brackets,
// far below what crashes the C code even on a 2 MB thread stack.
const MaxNestingDepth = 5000

// ErrTooComplex is PostgreSQL's answer (54001) to a statement whose
// processing would recurse past max_stack_depth; the planner gives it too.
func ErrTooComplex() *pgcode.Error {
	e := pgcode.New(pgcode.StatementTooComplex, "stack depth limit exceeded")
	e.Hint = "The statement nests expressions, operators or subqueries too deeply for viewd; " +
		"rewrite long operator chains as lists (IN (...), VALUES, ARRAY[...]) or split the statement."
	return e
}

// depthFrame is one open bracket of nestingDepth's scan.
type depthFrame struct {
	caseExpr bool // opened by CASE (closed by END) rather than ( or [
	count    int  // the enclosing frame's count when this one opened
}

// nestingDepth returns an upper estimate of the depth of the tree the
// parser builds for toks (one statement, or several: a ; outside brackets resets the count).
// Each token other than a list separator counts one level within its
// bracket: `a + b + c` is as deep as it is long, because operators nest
// to the left. A separator starts the count again, because what it
// separates are siblings in the tree: a comma (argument, IN and VALUES
// lists), AND and OR (PostgreSQL's grammar flattens their chains into
// one list), and WHEN/THEN/ELSE inside CASE. An open bracket ( [ or CASE
// adds its enclosing count plus one to the depth of what it holds.
// The scan is linear in the tokens and allocates one frame per open
// bracket.
func nestingDepth(toks []token) int {
	var stack []depthFrame
	outer, count, maxDepth := 0, 0, 0
	open := func(caseExpr bool) {
		stack = append(stack, depthFrame{caseExpr: caseExpr, count: count})
		outer += count + 1
		count = 0
	}
	closeFrame := func() {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		outer -= f.count + 1
		count = f.count
	}
	for _, t := range toks {
		switch {
		case t.punct("(") || t.punct("["):
			open(false)
			continue
		case t.punct(")") || t.punct("]"):
			// Close CASE frames left open inside the bracket (a syntax
			// error the parser reports), then the bracket itself.
			for len(stack) > 0 && stack[len(stack)-1].caseExpr {
				closeFrame()
			}
			if len(stack) > 0 {
				closeFrame()
			}
		case t.punct(";") && len(stack) == 0:
			// Parse splits statements here (not at a ; inside brackets).
			count = 0
			continue
		case t.punct(","), t.is("and"), t.is("or"):
			count = 0
			continue
		case t.is("case"):
			count++
			open(true)
			continue
		case t.is("end") && len(stack) > 0 && stack[len(stack)-1].caseExpr:
			closeFrame()
		case (t.is("when") || t.is("then") || t.is("else")) && len(stack) > 0 && stack[len(stack)-1].caseExpr:
			count = 0
			continue
		}
		count++
		if d := outer + count; d > maxDepth {
			maxDepth = d
		}
	}
	return maxDepth
}

// checkDepth refuses, with 54001, a statement whose nesting estimate
// passes MaxNestingDepth: it must not reach pg_query's C code.
func checkDepth(toks []token) error {
	if nestingDepth(toks) > MaxNestingDepth {
		return ErrTooComplex()
	}
	return nil
}

// ParseRaw is pg_query.Parse behind the nesting guard, for SQL text that
// did not come through Parse as a whole statement (a type name written as
// a string constant, '...'::regtype, is parsed as "NULL::" + the string).
// Errors are *pgcode.Error: 42601 (with pg_query's message), 54001.
func ParseRaw(text string) (*pg_query.ParseResult, error) {
	toks, err := scan(text)
	if err != nil {
		return nil, err
	}
	if err := checkDepth(toks); err != nil {
		return nil, err
	}
	res, err := pg_query.Parse(text)
	if err != nil {
		return nil, convertError(err, text, 0)
	}
	return res, nil
}

// isRecursionLimit reports whether err is the protobuf decoder's refusal
// of a tree deeper than its recursion limit (pg_query_go decodes the C
// parser's output with protobuf's default limit of 10,000 messages).
func isRecursionLimit(err error) bool {
	return err != nil && strings.Contains(err.Error(), "exceeded maximum recursion depth")
}
