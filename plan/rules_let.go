package plan

// InlineLet removes Let bindings that are not used, inlines bindings used
// once (unless that use is inside a LetRec value, where inlining would move
// work into the loop) and bindings whose value is a plain Get or the empty
// collection (FoldConstants then folds what reads it: a left join with an
// empty relation, such as psql's and JDBC's joins with pg_description, loses
// the branches that match nothing), and drops
// LetRec bindings not reachable from the LetRec's body.
type InlineLet struct{}

// Name implements Rule.
func (InlineLet) Name() string { return "inline-let" }

// Transform implements Rule.
func (InlineLet) Transform(rel Rel) (Rel, error) {
	return Rewrite(rel, func(r Rel) (Rel, error) {
		switch r := r.(type) {
		case Let:
			uses, inLoop := countUses(r.Body, r.ID, false)
			_, trivial := r.Value.(Get)
			trivial = trivial || asEmpty(r.Value)
			if uses == 0 {
				return r.Body, nil
			}
			if trivial || (uses == 1 && !inLoop) {
				return substituteLocal(r.Body, r.ID, r.Value), nil
			}
		case LetRec:
			return pruneLetRec(r), nil
		}
		return r, nil
	})
}

// countUses counts the Gets of local id in rel, and reports whether one of
// them is inside a LetRec value.
func countUses(rel Rel, id LocalID, inLoop bool) (int, bool) {
	switch r := rel.(type) {
	case Get:
		if r.Local == id && r.Local != 0 {
			return 1, inLoop
		}
		return 0, false
	case LetRec:
		n, loop := 0, false
		for _, v := range r.Values {
			c, l := countUses(v, id, true)
			n, loop = n+c, loop || l
		}
		c, l := countUses(r.Body, id, inLoop)
		return n + c, loop || l
	}
	n, loop := 0, false
	for _, c := range Children(rel) {
		k, l := countUses(c, id, inLoop)
		n, loop = n+k, loop || l
	}
	return n, loop
}

// substituteLocal replaces every Get of local id in rel with value.
func substituteLocal(rel Rel, id LocalID, value Rel) Rel {
	if g, ok := rel.(Get); ok && g.Local == id && g.Local != 0 {
		return value
	}
	cs := Children(rel)
	if len(cs) == 0 {
		return rel
	}
	out := make([]Rel, len(cs))
	for i, c := range cs {
		out[i] = substituteLocal(c, id, value)
	}
	return mustWithChildren(rel, out)
}

func pruneLetRec(r LetRec) Rel {
	live := map[LocalID]bool{}
	var mark func(Rel)
	mark = func(rel Rel) {
		Visit(rel, func(x Rel) {
			g, ok := x.(Get)
			if !ok || g.Local == 0 || live[g.Local] {
				return
			}
			for i, id := range r.IDs {
				if id == g.Local {
					live[id] = true
					if i < len(r.Values) {
						mark(r.Values[i])
					}
				}
			}
		})
	}
	mark(r.Body)
	var out LetRec
	for i, id := range r.IDs {
		if !live[id] {
			continue
		}
		out.IDs = append(out.IDs, id)
		if i < len(r.Names) {
			out.Names = append(out.Names, r.Names[i])
		}
		if i < len(r.Values) {
			out.Values = append(out.Values, r.Values[i])
		}
		if i < len(r.Types) {
			out.Types = append(out.Types, r.Types[i])
		}
	}
	if len(out.IDs) == 0 {
		return r.Body
	}
	out.Body = r.Body
	return out
}
