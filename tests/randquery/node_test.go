package randquery

import "strings"

// A node is one piece of a generated query: an expression, a clause or a
// list. Its SQL is its parts (strings and nodes) concatenated; a list's
// items are joined by sep. Nodes carry what the shrinker needs: the SQL
// type of an expression (so that it can be replaced by a sub-expression or
// a literal of the same type) and whether a clause or list item may be
// dropped. The tree is immutable once generated; the shrinker works on
// copies (clone).
type node struct {
	t     typ   // an expression's type; tNone for clauses and keywords
	parts []any // string or *node
	// list: parts are *node items joined by sep, of which at least min
	// stay.
	list bool
	sep  string
	min  int
	// drop: the node may be removed (an optional clause renders as "",
	// a list item leaves the list).
	drop bool
	// leaf: a column or literal, nothing to simplify.
	leaf bool
	// unwrap lists parts (*node) that may replace the node: a set
	// operation by one of its sides, ORDER BY ... LIMIT by its query.
	unwrap []int
}

// n builds an expression node of type t.
func n(t typ, parts ...any) *node { return &node{t: t, parts: parts} }

// clause builds an optional clause.
func clause(parts ...any) *node { return &node{parts: parts, drop: true} }

// lst builds a list node.
func lst(sep string, min int, items ...*node) *node {
	ps := make([]any, len(items))
	for i, it := range items {
		ps[i] = it
	}
	return &node{list: true, sep: sep, min: min, parts: ps}
}

func leaf(t typ, s string) *node { return &node{t: t, parts: []any{s}, leaf: true} }

// sql renders the node.
func (x *node) sql() string {
	var b strings.Builder
	x.write(&b)
	return b.String()
}

func (x *node) write(b *strings.Builder) {
	for i, p := range x.parts {
		if x.list && i > 0 {
			b.WriteString(x.sep)
		}
		switch p := p.(type) {
		case string:
			b.WriteString(p)
		case *node:
			p.write(b)
		}
	}
}

func (x *node) clone() *node {
	c := *x
	c.parts = make([]any, len(x.parts))
	for i, p := range x.parts {
		if pn, ok := p.(*node); ok {
			c.parts[i] = pn.clone()
		} else {
			c.parts[i] = p
		}
	}
	return &c
}

// count returns the number of nodes in the tree (preorder positions).
func (x *node) count() int {
	k := 1
	for _, p := range x.parts {
		if pn, ok := p.(*node); ok {
			k += pn.count()
		}
	}
	return k
}

// at returns the i'th node in preorder and its parent (nil for the root)
// with its index in the parent's parts.
func (x *node) at(i int) (nd, parent *node, idx int) {
	var walk func(cur, par *node, pi int) bool
	k := 0
	walk = func(cur, par *node, pi int) bool {
		if k == i {
			nd, parent, idx = cur, par, pi
			return true
		}
		k++
		for j, p := range cur.parts {
			if pn, ok := p.(*node); ok && walk(pn, cur, j) {
				return true
			}
		}
		return false
	}
	walk(x, nil, -1)
	return
}

// subexprs returns the expression nodes of type t strictly below x,
// nearest first (breadth first).
func (x *node) subexprs(t typ) []*node {
	var out []*node
	queue := []*node{x}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, p := range cur.parts {
			if pn, ok := p.(*node); ok {
				if pn.t == t {
					out = append(out, pn)
				}
				queue = append(queue, pn)
			}
		}
	}
	return out
}

// simplifications returns smaller variants of the tree rooted at root,
// each a fresh copy: a droppable node removed, an expression replaced by
// one of its sub-expressions of the same type or by a literal of its
// type. Variants come in preorder of the node they change, so that big
// removals near the root are tried first.
func simplifications(root *node) []*node {
	var out []*node
	total := root.count()
	for _, k := range root.unwrap {
		out = append(out, root.parts[k].(*node).clone())
	}
	for i := 1; i < total; i++ {
		nd, parent, _ := root.at(i)
		if nd.drop && (!parent.list || countNodes(parent) > parent.min) {
			c := root.clone()
			_, cp, ci := c.at(i)
			if cp.list {
				cp.parts = append(cp.parts[:ci:ci], cp.parts[ci+1:]...)
			} else {
				cp.parts[ci] = ""
			}
			out = append(out, c)
		}
		for _, k := range nd.unwrap {
			c := root.clone()
			cn, cp, ci := c.at(i)
			sub := cn.parts[k].(*node)
			sub.drop = cn.drop
			cp.parts[ci] = sub
			out = append(out, c)
		}
		if nd.t == tNone || nd.leaf {
			continue
		}
		var repl []*node
		subs := nd.subexprs(nd.t)
		if len(subs) > 3 {
			subs = subs[:3]
		}
		repl = append(repl, subs...)
		repl = append(repl, simpleLiteral(nd.t), leaf(nd.t, "NULL::"+nd.t.String()))
		for _, r := range repl {
			c := root.clone()
			_, cp, ci := c.at(i)
			keepDrop := cp.parts[ci].(*node).drop
			rc := r.clone()
			rc.drop = keepDrop
			cp.parts[ci] = rc
			out = append(out, c)
		}
	}
	return out
}

func countNodes(x *node) int {
	k := 0
	for _, p := range x.parts {
		if _, ok := p.(*node); ok {
			k++
		}
	}
	return k
}
