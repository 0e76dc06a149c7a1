package parse

import (
	"fmt"
	"reflect"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
)

// Dump prints a statement deterministically, for golden tests and
// debugging: PostgreSQL statements as their node type and pg_query's
// deparsed text, viewd statements field by field (zero fields omitted,
// embedded queries and expressions as their source text).
func Dump(st Statement) string {
	var b strings.Builder
	dump(&b, reflect.ValueOf(st), 0)
	return b.String()
}

var spanType = reflect.TypeOf(Span{})

func dump(b *strings.Builder, v reflect.Value, indent int) {
	pad := strings.Repeat("  ", indent)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case PG:
		tree := &pg_query.ParseResult{Stmts: []*pg_query.RawStmt{{Stmt: x.Raw.Stmt}}}
		text, err := pg_query.Deparse(tree)
		if err != nil {
			text = "<" + err.Error() + ">"
		}
		fmt.Fprintf(b, "PG %s: %s", nodeName(x.Raw.Stmt), text)
		return
	case Query:
		fmt.Fprintf(b, "query %q", x.Text)
		return
	case Expr:
		fmt.Fprintf(b, "expr %q", x.Text)
		return
	case pg_query.CreateStmt:
		tree := &pg_query.ParseResult{Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_CreateStmt{CreateStmt: &x}}}}}
		text, _ := pg_query.Deparse(tree)
		fmt.Fprintf(b, "%q", strings.TrimPrefix(text, "CREATE TABLE t "))
		return
	case Value:
		b.WriteString(formatValue(x))
		return
	case Option:
		b.WriteString(formatOption(x))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		fmt.Fprintf(b, "%s", v.Type().Name())
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if v.Type().Field(i).Type == spanType || f.IsZero() {
				continue
			}
			fmt.Fprintf(b, "\n%s  %s: ", pad, v.Type().Field(i).Name)
			dump(b, f, indent+1)
		}
	case reflect.Slice:
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			dump(b, v.Index(i), indent+1)
		}
		b.WriteByte(']')
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%v", v.Interface())
	}
}

func nodeName(n *pg_query.Node) string {
	if n == nil || n.Node == nil {
		return "nil"
	}
	t := reflect.TypeOf(n.Node).Elem().Name()
	return strings.TrimPrefix(t, "Node_")
}

func formatValue(v Value) string {
	prefix := ""
	if len(v.Words) > 0 {
		prefix = strings.Join(v.Words, " ") + " "
	}
	switch v.Kind {
	case ValueNone:
		return ""
	case ValueString:
		return prefix + "'" + strings.ReplaceAll(v.Str, "'", "''") + "'"
	case ValueNumber, ValueWord:
		return prefix + v.Str
	case ValueList:
		parts := make([]string, len(v.Items))
		for i, it := range v.Items {
			parts[i] = formatValue(it)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case ValueOptions:
		parts := make([]string, len(v.Options))
		for i, o := range v.Options {
			parts[i] = formatOption(o)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return "?"
}

func formatOption(o Option) string {
	if o.Value.Kind == ValueNone {
		return o.Name
	}
	return o.Name + " = " + formatValue(o.Value)
}
