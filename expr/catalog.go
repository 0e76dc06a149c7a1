package expr

import (
	"sort"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// ParamKind says what argument types a parameter accepts.
type ParamKind uint8

// Parameter kinds, after PostgreSQL's polymorphic pseudo-types.
const (
	// ParamExact accepts exactly Type (modifiers ignored).
	ParamExact ParamKind = iota
	// ParamAnyElement accepts any type; every anyelement and anyarray
	// parameter of one call must agree on the element type.
	ParamAnyElement
	// ParamAnyArray accepts any array type, its element agreeing with
	// anyelement parameters.
	ParamAnyArray
	// ParamAnyCompatible accepts any type; the actual arguments are cast
	// to their common type (select_common_type) before the call.
	ParamAnyCompatible
	// ParamAnyCompatibleArray is the array form of ParamAnyCompatible.
	ParamAnyCompatibleArray
	// ParamAny accepts any type independently ("any": concat, to_jsonb,
	// jsonb_build_object).
	ParamAny
)

// ParamType is one parameter (or the return type) of an overload.
type ParamType struct {
	Kind ParamKind
	Type repr.ScalarType // for ParamExact
}

// Exact returns the parameter type that accepts exactly t.
func Exact(t repr.ScalarType) ParamType { return ParamType{Kind: ParamExact, Type: t} }

// Parameter types of the polymorphic pseudo-types.
var (
	AnyElement          = ParamType{Kind: ParamAnyElement}
	AnyArray            = ParamType{Kind: ParamAnyArray}
	AnyCompatible       = ParamType{Kind: ParamAnyCompatible}
	AnyCompatibleArray  = ParamType{Kind: ParamAnyCompatibleArray}
	Any                 = ParamType{Kind: ParamAny}
	polymorphicElemKind = map[ParamKind]bool{ParamAnyElement: true, ParamAnyCompatible: true}
)

// String prints the parameter as PostgreSQL names it.
func (p ParamType) String() string {
	switch p.Kind {
	case ParamAnyElement:
		return "anyelement"
	case ParamAnyArray:
		return "anyarray"
	case ParamAnyCompatible:
		return "anycompatible"
	case ParamAnyCompatibleArray:
		return "anycompatiblearray"
	case ParamAny:
		return "any"
	}
	return p.Type.String()
}

// IsPolymorphic reports whether p is one of the pseudo-types.
func (p ParamType) IsPolymorphic() bool { return p.Kind != ParamExact }

// Overload is one signature of a function or operator. A concrete overload
// has Func; a polymorphic one has Make, which builds the function for the
// actual argument types (after the resolver has bound the polymorphic
// parameters and applied casts).
type Overload struct {
	Params []ParamType
	// Ret is the return type; polymorphic returns follow the binding of
	// anyelement/anyarray (or anycompatible) parameters.
	Ret ParamType
	// Variadic: the last parameter may repeat zero or more times (for
	// a ParamAny variadic, each repetition may have its own type).
	Variadic bool
	Func     *Func
	Make     func(argTypes []repr.ScalarType) (*Func, error)
}

// String prints the signature, e.g. "(integer, bigint) -> bigint".
func (o Overload) String() string {
	parts := make([]string, len(o.Params))
	for i, p := range o.Params {
		parts[i] = p.String()
		if o.Variadic && i == len(o.Params)-1 {
			parts[i] = "variadic " + parts[i]
		}
	}
	return "(" + strings.Join(parts, ", ") + ") -> " + o.Ret.String()
}

// Instantiate returns the function for actual argument types, which must
// already match the overload's parameters (see Match).
func (o Overload) Instantiate(argTypes []repr.ScalarType) (*Func, error) {
	if o.Func != nil {
		return o.Func, nil
	}
	if o.Make == nil {
		return nil, errorf(pgcode.InternalError, "expr: overload %s has no implementation", o)
	}
	return o.Make(argTypes)
}

// paramAt returns the parameter matched by argument i.
func (o Overload) paramAt(i int) (ParamType, bool) {
	if i < len(o.Params) {
		return o.Params[i], true
	}
	if o.Variadic && len(o.Params) > 0 {
		return o.Params[len(o.Params)-1], true
	}
	return ParamType{}, false
}

// arityOK reports whether n arguments fit the overload: a variadic
// parameter takes one or more arguments, as in PostgreSQL.
func (o Overload) arityOK(n int) bool {
	if o.Variadic {
		return n >= len(o.Params)
	}
	return n == len(o.Params)
}

// Match reports whether argTypes fit the overload exactly (no casts), with
// polymorphic parameters bound consistently. unknown (KindNull) arguments
// match any parameter.
func (o Overload) Match(argTypes []repr.ScalarType) bool {
	if !o.arityOK(len(argTypes)) {
		return false
	}
	var elem *repr.ScalarType
	bind := func(t repr.ScalarType) bool {
		if elem == nil {
			elem = &t
			return true
		}
		return elem.SameKind(t)
	}
	for i, a := range argTypes {
		p, _ := o.paramAt(i)
		if a.Kind == repr.KindNull {
			continue
		}
		switch p.Kind {
		case ParamExact:
			if !p.Type.SameKind(a) && !(p.Type.Kind == repr.KindArray && p.Type.Elem == nil && a.Kind == repr.KindArray) {
				return false
			}
		case ParamAnyElement, ParamAnyCompatible:
			if !bind(a) {
				return false
			}
		case ParamAnyArray, ParamAnyCompatibleArray:
			if a.Kind != repr.KindArray || a.Elem == nil || !bind(*a.Elem) {
				return false
			}
		}
	}
	return true
}

// ReturnType computes the overload's return type for actual argument
// types.
func (o Overload) ReturnType(argTypes []repr.ScalarType) (repr.ScalarType, error) {
	if o.Ret.Kind == ParamExact {
		return o.Ret.Type, nil
	}
	elem, ok := bindElem(o, argTypes)
	if !ok {
		return repr.ScalarType{}, errorf(pgcode.DatatypeMismatch, "could not determine polymorphic type because input has type unknown")
	}
	switch o.Ret.Kind {
	case ParamAnyArray, ParamAnyCompatibleArray:
		return repr.ArrayOf(elem), nil
	}
	return elem, nil
}

// bindElem finds the element type bound by the polymorphic arguments.
func bindElem(o Overload, argTypes []repr.ScalarType) (repr.ScalarType, bool) {
	var elems []repr.ScalarType
	for i, a := range argTypes {
		p, _ := o.paramAt(i)
		if a.Kind == repr.KindNull {
			continue
		}
		switch p.Kind {
		case ParamAnyElement, ParamAnyCompatible:
			elems = append(elems, a)
		case ParamAnyArray, ParamAnyCompatibleArray:
			if a.Elem != nil {
				elems = append(elems, *a.Elem)
			}
		}
	}
	if len(elems) == 0 {
		return repr.ScalarType{}, false
	}
	if len(elems) > 1 {
		if t, err := CommonType(elems); err == nil {
			return t, true
		}
	}
	return elems[0], true
}

var (
	funcCatalog  = map[string][]Overload{}
	binopCatalog = map[string][]Overload{}
	unopCatalog  = map[string][]Overload{}
)

// LookupFunc returns the overloads of the function name (lower case,
// unqualified), or nil.
func LookupFunc(name string) []Overload { return funcCatalog[strings.ToLower(name)] }

// LookupBinaryOp returns the overloads of a binary operator: "+", "=",
// "~~" (LIKE), "@>", "->>", and the keyword forms "IS DISTINCT FROM", "IS
// NOT DISTINCT FROM", "= ANY", "<> ALL" and the like (array comparisons).
func LookupBinaryOp(op string) []Overload { return binopCatalog[strings.ToUpper(op)] }

// LookupUnaryOp returns the overloads of a prefix operator ("-", "+",
// "NOT") or a postfix test ("IS NULL", "IS NOT NULL", "IS TRUE", "IS NOT
// TRUE", "IS FALSE", "IS NOT FALSE", "IS UNKNOWN", "IS NOT UNKNOWN").
func LookupUnaryOp(op string) []Overload { return unopCatalog[strings.ToUpper(op)] }

// FuncNames returns the names of every catalogued function, sorted.
func FuncNames() []string {
	names := make([]string, 0, len(funcCatalog))
	for n := range funcCatalog {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type evalFn = func(ctx *EvalCtx, args []repr.Datum) (repr.Datum, error)

func addOverload(m map[string][]Overload, name string, o Overload) {
	m[name] = append(m[name], o)
}

func exactParams(ts []repr.ScalarType) []ParamType {
	ps := make([]ParamType, len(ts))
	for i, t := range ts {
		ps[i] = Exact(t)
	}
	return ps
}

// defFunc registers a strict, immutable function with exact parameters.
func defFunc(name string, params []repr.ScalarType, ret repr.ScalarType, eval evalFn) *Func {
	f := &Func{Name: name, Ret: ret, Strict: true, Eval: eval}
	addOverload(funcCatalog, name, Overload{Params: exactParams(params), Ret: Exact(ret), Func: f})
	return f
}

// defBinOp registers a strict, immutable infix operator.
func defBinOp(op string, l, r, ret repr.ScalarType, eval evalFn) *Func {
	f := &Func{Name: op, Infix: true, Ret: ret, Strict: true, Eval: eval}
	addOverload(binopCatalog, op, Overload{Params: exactParams([]repr.ScalarType{l, r}), Ret: Exact(ret), Func: f})
	return f
}

// defUnOp registers a strict, immutable prefix operator.
func defUnOp(op string, arg, ret repr.ScalarType, eval evalFn) *Func {
	f := &Func{Name: op, Ret: ret, Strict: true, Eval: eval}
	addOverload(unopCatalog, op, Overload{Params: exactParams([]repr.ScalarType{arg}), Ret: Exact(ret), Func: f})
	return f
}

// defPoly registers a polymorphic overload in m.
func defPoly(m map[string][]Overload, name string, params []ParamType, ret ParamType, variadic bool, mk func(argTypes []repr.ScalarType, ret repr.ScalarType) (*Func, error)) {
	var o Overload
	o = Overload{Params: params, Ret: ret, Variadic: variadic}
	o.Make = func(argTypes []repr.ScalarType) (*Func, error) {
		rt, err := o.ReturnType(argTypes)
		if err != nil {
			return nil, err
		}
		return mk(argTypes, rt)
	}
	addOverload(m, name, o)
}

// TypeCategory returns pg_type.typcategory for t: 'N' numeric, 'S'
// string, 'D' datetime, 'T' timespan, 'B' boolean, 'A' array, 'U' user
// (bytea, uuid, jsonb), 'P' pseudo (record), 'X' unknown.
func TypeCategory(t repr.ScalarType) byte {
	switch t.Kind {
	case repr.KindInt2, repr.KindInt4, repr.KindInt8, repr.KindFloat4, repr.KindFloat8, repr.KindNumeric, repr.KindOid:
		return 'N'
	case repr.KindText, repr.KindVarchar, repr.KindChar:
		return 'S'
	case repr.KindDate, repr.KindTime, repr.KindTimestamp, repr.KindTimestampTz:
		return 'D'
	case repr.KindInterval:
		return 'T'
	case repr.KindBool:
		return 'B'
	case repr.KindArray:
		return 'A'
	case repr.KindRecord:
		return 'P'
	case repr.KindNull:
		return 'X'
	}
	return 'U'
}

// IsPreferredType returns pg_type.typispreferred for t: float8 and oid
// (numeric), text (string), timestamptz (datetime), interval (timespan),
// bool (boolean).
func IsPreferredType(t repr.ScalarType) bool {
	switch t.Kind {
	case repr.KindFloat8, repr.KindOid, repr.KindText, repr.KindTimestampTz, repr.KindInterval, repr.KindBool:
		return true
	}
	return false
}

// CanCoerceImplicitly reports whether a value of type from may be used
// where to is expected without an explicit cast: same type (modifiers
// aside), an unknown literal, or an implicit cast in the catalog.
func CanCoerceImplicitly(from, to repr.ScalarType) bool {
	if from.Kind == repr.KindNull || from.SameKind(to) {
		return true
	}
	c, ok := LookupCast(from, to)
	return ok && c.Context == Implicit
}

// CommonType implements PostgreSQL's select_common_type for UNION, CASE,
// VALUES, ARRAY[] and the like: the first non-unknown type, replaced by a
// later one of the same category when the later one is preferred or the
// earlier one converts implicitly to it but not the reverse. All unknown
// gives text. Mixed categories are 42804 "types %s and %s cannot be
// matched". The modifier is kept only when every input has the same one.
func CommonType(types []repr.ScalarType) (repr.ScalarType, error) {
	var ptype repr.ScalarType
	found := false
	for _, t := range types {
		if t.Kind == repr.KindNull {
			continue
		}
		if !found {
			ptype, found = t, true
			continue
		}
		if t.SameKind(ptype) {
			continue
		}
		if TypeCategory(t) != TypeCategory(ptype) {
			return repr.ScalarType{}, errorf(pgcode.DatatypeMismatch, "types %s and %s cannot be matched", ptype.WithoutTypmod(), t.WithoutTypmod())
		}
		if !IsPreferredType(ptype) && CanCoerceImplicitly(ptype, t) && !CanCoerceImplicitly(t, ptype) {
			ptype = t
		}
	}
	if !found {
		return repr.TypeText, nil
	}
	sameTypmod := true
	for _, t := range types {
		if t.Kind == repr.KindNull {
			continue
		}
		if !CanCoerceImplicitly(t, ptype) {
			return repr.ScalarType{}, errorf(pgcode.DatatypeMismatch, "could not convert type %s to %s", t.WithoutTypmod(), ptype.WithoutTypmod())
		}
		if !t.Equal(ptype) {
			sameTypmod = false
		}
	}
	if !sameTypmod {
		ptype = ptype.WithoutTypmod()
	}
	return ptype, nil
}

// Resolution is the outcome of overload resolution: the chosen overload,
// the types each argument must be cast to, and the instantiated function.
type Resolution struct {
	Overload Overload
	ArgTypes []repr.ScalarType
	Func     *Func
}

// Resolve chooses among overloads for the argument types as PostgreSQL's
// func_select_candidate does: an exact match wins; otherwise candidates
// whose parameters every argument reaches by implicit cast are narrowed by
// most exact matches, then most preferred-type matches, then (for unknown
// arguments) by category agreement, preferring string. name is used in
// the 42883/42725 errors.
func Resolve(name string, overloads []Overload, argTypes []repr.ScalarType) (Resolution, error) {
	type cand struct {
		o       Overload
		targets []repr.ScalarType
		exact   int
		pref    int
	}
	var cands []cand
	for _, o := range overloads {
		if !o.arityOK(len(argTypes)) {
			continue
		}
		targets, ok := coerceTargets(o, argTypes)
		if !ok {
			continue
		}
		// Like PostgreSQL, only declared (non-polymorphic) parameter types
		// count as exact matches.
		c := cand{o: o, targets: targets}
		for i, a := range argTypes {
			p, _ := o.paramAt(i)
			if p.Kind == ParamExact && a.Kind != repr.KindNull && a.SameKind(targets[i]) {
				c.exact++
			}
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return Resolution{}, noCandidate(name, argTypes, false)
	}
	best := func(score func(cand) int) {
		max := -1
		for _, c := range cands {
			if s := score(c); s > max {
				max = s
			}
		}
		out := cands[:0]
		for _, c := range cands {
			if score(c) == max {
				out = append(out, c)
			}
		}
		cands = out
	}
	// Binary operators with one unknown argument: assume it has the
	// other argument's type and look for an exact match (binary_oper_exact).
	if len(cands) > 1 && len(argTypes) == 2 && (argTypes[0].Kind == repr.KindNull) != (argTypes[1].Kind == repr.KindNull) {
		known := argTypes[0]
		if known.Kind == repr.KindNull {
			known = argTypes[1]
		}
		for _, c := range cands {
			if c.targets[0].SameKind(known) && c.targets[1].SameKind(known) {
				cands = []cand{c}
				break
			}
		}
	}
	if len(cands) > 1 {
		best(func(c cand) int { return c.exact })
	}
	if len(cands) > 1 {
		// Preferred types (of the argument's category) where a conversion
		// is needed; polymorphic parameters are never preferred.
		best(func(c cand) int {
			n := 0
			for i, a := range argTypes {
				p, _ := c.o.paramAt(i)
				if p.Kind == ParamExact && a.Kind != repr.KindNull && !a.SameKind(c.targets[i]) &&
					IsPreferredType(c.targets[i]) && TypeCategory(a) == TypeCategory(c.targets[i]) {
					n++
				}
			}
			return n
		})
	}
	if len(cands) > 1 {
		cands = narrowUnknowns(cands, argTypes, func(c cand) []repr.ScalarType { return c.targets })
	}
	if len(cands) > 1 {
		// Known arguments all of one type: assume the unknown ones have it
		// too, and keep the candidates that accept it there.
		var known *repr.ScalarType
		same, anyUnknown := true, false
		for i := range argTypes {
			a := argTypes[i]
			if a.Kind == repr.KindNull {
				anyUnknown = true
				continue
			}
			if known == nil {
				known = &argTypes[i]
			} else if !known.SameKind(a) {
				same = false
			}
		}
		if anyUnknown && known != nil && same {
			var keep []cand
			for _, c := range cands {
				ok := true
				for i, a := range argTypes {
					if a.Kind == repr.KindNull && !CanCoerceImplicitly(*known, c.targets[i]) {
						ok = false
					}
				}
				if ok {
					keep = append(keep, c)
				}
			}
			if len(keep) == 1 {
				cands = keep
			}
		}
	}
	if len(cands) > 1 {
		// Prefer concrete over polymorphic signatures.
		best(func(c cand) int {
			n := 0
			for _, p := range c.o.Params {
				if !p.IsPolymorphic() {
					n++
				}
			}
			return n
		})
	}
	if len(cands) > 1 {
		return Resolution{}, noCandidate(name, argTypes, true)
	}
	c := cands[0]
	if unboundAnyElement(c.o, argTypes) {
		// PostgreSQL's enforce_generic_type_consistency: anyelement and
		// anyarray bind no type from unknown arguments alone
		// (anycompatible ones default to text).
		return Resolution{}, errorf(pgcode.DatatypeMismatch, "could not determine polymorphic type because input has type unknown")
	}
	f, err := c.o.Instantiate(c.targets)
	if err != nil {
		return Resolution{}, err
	}
	return Resolution{Overload: c.o, ArgTypes: c.targets, Func: f}, nil
}

// unboundAnyElement reports whether o has anyelement or anyarray
// parameters (and no anycompatible ones) whose arguments are all of
// unknown type.
func unboundAnyElement(o Overload, argTypes []repr.ScalarType) bool {
	poly, bound := false, false
	for i, a := range argTypes {
		p, _ := o.paramAt(i)
		switch p.Kind {
		case ParamAnyCompatible, ParamAnyCompatibleArray:
			return false
		case ParamAnyElement, ParamAnyArray:
			poly = true
			if a.Kind != repr.KindNull {
				bound = true
			}
		}
	}
	return poly && !bound
}

// isOperatorName reports whether name is an operator (symbols, or the
// keyword forms "IS DISTINCT FROM", "= ANY", "IS NULL", ...) rather than a
// function name.
func isOperatorName(name string) bool {
	if name == "" {
		return false
	}
	if strings.HasPrefix(name, "IS ") || strings.HasSuffix(name, " ANY") || strings.HasSuffix(name, " ALL") || name == "NOT" {
		return true
	}
	return strings.Trim(name, "+-*/<>=~!@#%^&|`?") == ""
}

// noCandidate returns PostgreSQL's 42883 (no match) or 42725 (ambiguous)
// error for a function or operator call.
func noCandidate(name string, argTypes []repr.ScalarType, ambiguous bool) error {
	if isOperatorName(name) {
		var sig string
		switch len(argTypes) {
		case 1:
			sig = name + " " + argTypes[0].String()
			if strings.HasPrefix(name, "IS ") {
				sig = argTypes[0].String() + " " + name
			}
		case 2:
			sig = argTypes[0].String() + " " + name + " " + argTypes[1].String()
		default:
			sig = name + "(" + joinTypes(argTypes) + ")"
		}
		if ambiguous {
			return errorf(pgcode.AmbiguousFunction, "operator is not unique: %s", sig).
				WithHint("Could not choose a best candidate operator. You might need to add explicit type casts.")
		}
		return errorf(pgcode.UndefinedFunction, "operator does not exist: %s", sig).
			WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
	}
	sig := name + "(" + joinTypes(argTypes) + ")"
	if ambiguous {
		return errorf(pgcode.AmbiguousFunction, "function %s is not unique", sig).
			WithHint("Could not choose a best candidate function. You might need to add explicit type casts.")
	}
	return errorf(pgcode.UndefinedFunction, "function %s does not exist", sig).
		WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

// narrowUnknowns applies func_select_candidate's rule for unknown
// arguments: at each unknown position, choose the string category if any
// candidate takes one there, else the category all candidates agree on
// (none if they disagree); drop candidates of other categories, and if
// some candidate takes that category's preferred type there, drop those
// that take a non-preferred one.
func narrowUnknowns[C any](cands []C, argTypes []repr.ScalarType, targets func(C) []repr.ScalarType) []C {
	for i, a := range argTypes {
		if a.Kind != repr.KindNull {
			continue
		}
		cat := byte(0)
		conflict := false
		for _, c := range cands {
			tc := TypeCategory(targets(c)[i])
			switch {
			case tc == 'S':
				cat = 'S'
			case cat == 0:
				cat = tc
			case cat != tc && cat != 'S':
				conflict = true
			}
		}
		if conflict && cat != 'S' {
			return cands
		}
		var keep []C
		havePreferred := false
		for _, c := range cands {
			t := targets(c)[i]
			if TypeCategory(t) == cat {
				keep = append(keep, c)
				if IsPreferredType(t) {
					havePreferred = true
				}
			}
		}
		if havePreferred {
			var pref []C
			for _, c := range keep {
				if IsPreferredType(targets(c)[i]) {
					pref = append(pref, c)
				}
			}
			keep = pref
		}
		if len(keep) > 0 {
			cands = keep
		}
	}
	return cands
}

func joinTypes(ts []repr.ScalarType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, ", ")
}

// coerceTargets returns the type each argument is cast to for overload o,
// or false when some argument cannot reach its parameter implicitly.
func coerceTargets(o Overload, argTypes []repr.ScalarType) ([]repr.ScalarType, bool) {
	targets := make([]repr.ScalarType, len(argTypes))
	// Bind the polymorphic element type.
	var elems []repr.ScalarType
	for i, a := range argTypes {
		p, _ := o.paramAt(i)
		if a.Kind == repr.KindNull {
			continue
		}
		switch p.Kind {
		case ParamAnyElement, ParamAnyCompatible:
			elems = append(elems, a)
		case ParamAnyArray, ParamAnyCompatibleArray:
			if a.Kind != repr.KindArray || a.Elem == nil {
				return nil, false
			}
			elems = append(elems, *a.Elem)
		}
	}
	var elem repr.ScalarType
	haveElem := len(elems) > 0
	if haveElem {
		elem = elems[0]
		compatible := false
		for _, p := range o.Params {
			if p.Kind == ParamAnyCompatible || p.Kind == ParamAnyCompatibleArray {
				compatible = true
			}
		}
		if compatible {
			t, err := CommonType(elems)
			if err != nil {
				return nil, false
			}
			elem = t
		} else {
			for _, e := range elems[1:] {
				if !e.SameKind(elem) {
					return nil, false
				}
			}
		}
	}
	for i, a := range argTypes {
		p, _ := o.paramAt(i)
		switch p.Kind {
		case ParamExact:
			targets[i] = p.Type
			if p.Type.Kind == repr.KindArray && p.Type.Elem == nil {
				targets[i] = a
			}
		case ParamAny:
			targets[i] = a
			if a.Kind == repr.KindNull {
				targets[i] = repr.TypeText
			}
		case ParamAnyElement, ParamAnyCompatible:
			if !haveElem {
				targets[i] = repr.TypeText
			} else {
				targets[i] = elem
			}
		case ParamAnyArray, ParamAnyCompatibleArray:
			if !haveElem {
				// Unknown arguments only: anycompatiblearray is text[]
				// (as anycompatible is text); an anyarray left unbound
				// is refused once the overload is chosen
				// (unboundAnyElement), as PostgreSQL does.
				targets[i] = repr.ArrayOf(repr.TypeText)
			} else {
				targets[i] = repr.ArrayOf(elem)
			}
		}
		if !CanCoerceImplicitly(a, targets[i]) {
			return nil, false
		}
	}
	return targets, true
}

// shortName is a type's short name for cast function names.
func shortName(t repr.ScalarType) string {
	switch t.Kind {
	case repr.KindNull:
		return "unknown"
	case repr.KindBool:
		return "bool"
	case repr.KindInt2:
		return "int2"
	case repr.KindInt4:
		return "int4"
	case repr.KindInt8:
		return "int8"
	case repr.KindFloat4:
		return "float4"
	case repr.KindFloat8:
		return "float8"
	case repr.KindChar:
		return "bpchar"
	case repr.KindTime:
		return "time"
	case repr.KindTimestamp:
		return "timestamp"
	case repr.KindTimestampTz:
		return "timestamptz"
	case repr.KindArray:
		if t.Elem != nil {
			return shortName(*t.Elem) + "_array"
		}
		return "array"
	}
	return t.Kind.String()
}

// typeName prints t for messages.
func typeName(t repr.ScalarType) string { return t.String() }

// OperatorNames returns the symbolic binary operators ("+", "=", "~~",
// "@>", ...), sorted: those pg_operator lists. The keyword forms (IS
// DISTINCT FROM, = ANY) are not operators of their own in PostgreSQL.
func OperatorNames() []string { return symbolicNames(binopCatalog) }

// PrefixOperatorNames returns the symbolic prefix operators ("-", "~",
// ...), sorted.
func PrefixOperatorNames() []string { return symbolicNames(unopCatalog) }

func symbolicNames(cat map[string][]Overload) []string {
	var names []string
	for n := range cat {
		if n != "" && strings.Trim(n, "+-*/<>=~!@#%^&|`?") == "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
