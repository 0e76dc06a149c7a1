package sql

import (
	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// walkNodes calls f for n and every node below it, depth first; f
// returning false skips the node's children.
func walkNodes(n *pg_query.Node, f func(*pg_query.Node) bool) {
	if n == nil || n.Node == nil {
		return
	}
	if !f(n) {
		return
	}
	walkMessage(n.ProtoReflect(), f)
}

var nodeDesc = (&pg_query.Node{}).ProtoReflect().Descriptor()

func walkMessage(m protoreflect.Message, f func(*pg_query.Node) bool) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		visit := func(mv protoreflect.Message) {
			if mv.Descriptor() == nodeDesc {
				if n, ok := mv.Interface().(*pg_query.Node); ok {
					walkNodes(n, f)
				}
				return
			}
			walkMessage(mv, f)
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visit(l.Get(i).Message())
			}
		} else if !fd.IsMap() {
			visit(v.Message())
		}
		return true
	})
}

// containsAgg reports whether n calls an aggregate outside subqueries and
// window specifications.
func containsAgg(n *pg_query.Node) bool { return containsAggOf(n, nil) }

// containsAggOf reports whether n calls an aggregate outside subqueries
// and window specifications that belongs to the query level of e's scope
// (one whose arguments read only enclosing levels' columns belongs to
// another, see aggLevel); with e nil, any aggregate.
func containsAggOf(n *pg_query.Node, e *ectx) bool {
	found := false
	walkNodes(n, func(x *pg_query.Node) bool {
		if found || x.GetSubLink() != nil {
			return false
		}
		if fc := x.GetFuncCall(); fc != nil {
			if fc.Over != nil {
				// The arguments of a window function may contain
				// aggregates of the enclosing aggregation.
				for _, a := range fc.Args {
					if containsAggOf(a, e) {
						found = true
					}
				}
				return false
			}
			if _, ok := aggFuncs[calledName(fc)]; ok {
				if e == nil {
					found = true
				} else if level, _ := e.aggLevel(fc); level == 0 {
					found = true
				}
				// An outer aggregate's arguments hold no aggregate of
				// this level (they would read its columns).
				return false
			}
		}
		return true
	})
	return found
}

// containsSubLink reports whether a subquery appears in nodes.
func containsSubLink(nodes []*pg_query.Node) bool {
	return anyNode(nodes, func(x *pg_query.Node) bool { return x.GetSubLink() != nil })
}

// anyNode reports whether pred holds for a node at or below one of nodes.
func anyNode(nodes []*pg_query.Node, pred func(*pg_query.Node) bool) bool {
	found := false
	for _, n := range nodes {
		walkNodes(n, func(x *pg_query.Node) bool {
			if pred(x) {
				found = true
			}
			return !found
		})
	}
	return found
}

// containsWindow reports whether n calls a window function outside
// subqueries.
func containsWindow(n *pg_query.Node) bool {
	found := false
	walkNodes(n, func(x *pg_query.Node) bool {
		if found || x.GetSubLink() != nil {
			return false
		}
		if fc := x.GetFuncCall(); fc != nil && fc.Over != nil {
			found = true
		}
		return !found
	})
	return found
}

func containsAggOrWindow(n *pg_query.Node) bool { return containsAgg(n) || containsWindow(n) }

// nodeLocation returns the location of the first located node at or
// below n, or -1.
func nodeLocation(n *pg_query.Node) int32 {
	loc := int32(-1)
	walkNodes(n, func(x *pg_query.Node) bool {
		if loc >= 0 {
			return false
		}
		m := x.ProtoReflect()
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Kind() == protoreflect.MessageKind && !fd.IsList() {
				inner := v.Message()
				if f := inner.Descriptor().Fields().ByName("location"); f != nil {
					if l := int32(inner.Get(f).Int()); l >= 0 {
						loc = l
					}
				}
			}
			return loc < 0
		})
		return loc < 0
	})
	return loc
}
