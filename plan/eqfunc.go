package plan

import (
	"sync"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// Rules that move equivalences into filters, and join lowering, build
// `a = b`. The equality overload for a type comes from expr's operator
// catalog; SetEqualityResolver replaces the lookup (for tests or a
// session-specific catalog).

var (
	eqMu       sync.RWMutex
	eqResolver func(t repr.ScalarType) *expr.Func = catalogEquality
)

// catalogEquality resolves "=" for two arguments of type t in expr's
// catalog.
func catalogEquality(t repr.ScalarType) *expr.Func {
	res, err := expr.Resolve("=", expr.LookupBinaryOp("="), []repr.ScalarType{t, t})
	if err != nil {
		return nil
	}
	return res.Func
}

// SetEqualityResolver replaces the function returning the "=" overload
// for two arguments of scalar type t (nil when there is none); nil
// restores expr's catalog. Without an overload, rules that would need to
// build an equality keep the equivalence in the join instead.
func SetEqualityResolver(f func(t repr.ScalarType) *expr.Func) {
	if f == nil {
		f = catalogEquality
	}
	eqMu.Lock()
	eqResolver = f
	eqMu.Unlock()
}

// mkEquality builds `a = b` with a and b typed over cols, or reports false
// when no equality overload is known.
func mkEquality(a, b expr.Scalar, cols []repr.ColumnType) (expr.Scalar, bool) {
	eqMu.RLock()
	r := eqResolver
	eqMu.RUnlock()
	t := a.Type(cols).Type
	if t.Kind == repr.KindNull {
		t = b.Type(cols).Type
	}
	f := r(t)
	if f == nil {
		return nil, false
	}
	return expr.Call{Func: f, Args: []expr.Scalar{a, b}}, true
}
