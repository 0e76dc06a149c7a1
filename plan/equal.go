package plan

import (
	"bytes"
	"reflect"
)

// Equal reports whether two plans are the same tree: the same node types
// with equal fields, scalar expressions and literals. Functions (resolved
// overloads, table functions, aggregates) are equal when they are the same
// object. It is what the optimiser's fixpoint asks after each rule, and
// costs a walk of both trees, with no printing or allocation.
//
// Equal(a, b) implies Explain(a) == Explain(b); the converse may not hold
// (a printer may omit a field), which only costs the fixpoint a pass.
func Equal(a, b Rel) bool {
	return deepEqual(reflect.ValueOf(a), reflect.ValueOf(b), 0)
}

// maxEqualDepth bounds the recursion (plans are trees, never cyclic).
const maxEqualDepth = 10000

func deepEqual(a, b reflect.Value, depth int) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	if a.Type() != b.Type() || depth > maxEqualDepth {
		return false
	}
	switch a.Kind() {
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float() || (a.Float() != a.Float() && b.Float() != b.Float())
	case reflect.String:
		return a.String() == b.String()
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return a.Pointer() == b.Pointer()
	case reflect.Pointer:
		if a.Pointer() == b.Pointer() {
			return true
		}
		if a.IsNil() || b.IsNil() || hasFunc(a.Type().Elem()) {
			// Resolved functions are compared by identity.
			return false
		}
		return deepEqual(a.Elem(), b.Elem(), depth+1)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return deepEqual(a.Elem(), b.Elem(), depth+1)
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return a.Len() == 0 && b.Len() == 0
		}
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return true
		}
		if a.Type().Elem().Kind() == reflect.Uint8 {
			// Packed rows and other bytes: compare them at once.
			return bytes.Equal(a.Bytes(), b.Bytes())
		}
		fallthrough
	case reflect.Array:
		for i := range a.Len() {
			if !deepEqual(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !deepEqual(a.Field(i), b.Field(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		if a.Pointer() == b.Pointer() {
			return true
		}
		it := a.MapRange()
		for it.Next() {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !deepEqual(it.Value(), bv, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// hasFunc reports whether values of struct type t hold func fields
// directly (a resolved function descriptor).
func hasFunc(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		if t.Field(i).Type.Kind() == reflect.Func {
			return true
		}
	}
	return false
}
