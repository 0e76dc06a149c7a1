package repr

import (
	"fmt"
	"strings"
)

// Kind is the kind of a scalar type, and of a Datum. KindNull is the kind of
// the NULL datum and of an untyped NULL literal.
type Kind uint8

// The scalar kinds. The order is part of the Row encoding (tags): append new
// kinds at the end.
const (
	KindNull Kind = iota
	KindBool
	KindInt2
	KindInt4
	KindInt8
	KindFloat4
	KindFloat8
	KindNumeric
	KindText
	KindVarchar
	KindChar
	KindBytea
	KindDate
	KindTime
	KindTimestamp
	KindTimestampTz
	KindInterval
	KindUUID
	KindJsonb
	KindArray
	KindOid
	KindRecord // an anonymous row type; its datum is a packed Row
	kindCount
)

var kindNames = [...]string{
	KindNull:        "unknown",
	KindBool:        "boolean",
	KindInt2:        "smallint",
	KindInt4:        "integer",
	KindInt8:        "bigint",
	KindFloat4:      "real",
	KindFloat8:      "double precision",
	KindNumeric:     "numeric",
	KindText:        "text",
	KindVarchar:     "character varying",
	KindChar:        "character",
	KindBytea:       "bytea",
	KindDate:        "date",
	KindTime:        "time without time zone",
	KindTimestamp:   "timestamp without time zone",
	KindTimestampTz: "timestamp with time zone",
	KindInterval:    "interval",
	KindUUID:        "uuid",
	KindJsonb:       "jsonb",
	KindArray:       "array",
	KindOid:         "oid",
	KindRecord:      "record",
}

// String returns PostgreSQL's canonical name of the kind (format_type).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// IsInteger reports whether k is int2, int4 or int8.
func (k Kind) IsInteger() bool { return k == KindInt2 || k == KindInt4 || k == KindInt8 }

// IsNumeric reports whether k is one of the numeric kinds (integers, floats,
// numeric).
func (k Kind) IsNumeric() bool {
	return k.IsInteger() || k == KindFloat4 || k == KindFloat8 || k == KindNumeric
}

// IsString reports whether k is text, varchar or char.
func (k Kind) IsString() bool { return k == KindText || k == KindVarchar || k == KindChar }

// NoTypmod marks a ScalarType without a type modifier.
const NoTypmod int32 = -1

// ScalarType is a SQL type: its kind, its type modifier (the length of
// varchar(n)/char(n); precision<<16|scale for numeric(p,s); NoTypmod when
// absent) and, for arrays, the element type.
type ScalarType struct {
	Kind   Kind
	Typmod int32
	Elem   *ScalarType
}

// Scalar types without modifiers, for convenience.
var (
	TypeUnknown     = ScalarType{Kind: KindNull, Typmod: NoTypmod}
	TypeBool        = ScalarType{Kind: KindBool, Typmod: NoTypmod}
	TypeInt2        = ScalarType{Kind: KindInt2, Typmod: NoTypmod}
	TypeInt4        = ScalarType{Kind: KindInt4, Typmod: NoTypmod}
	TypeInt8        = ScalarType{Kind: KindInt8, Typmod: NoTypmod}
	TypeFloat4      = ScalarType{Kind: KindFloat4, Typmod: NoTypmod}
	TypeFloat8      = ScalarType{Kind: KindFloat8, Typmod: NoTypmod}
	TypeNumeric     = ScalarType{Kind: KindNumeric, Typmod: NoTypmod}
	TypeText        = ScalarType{Kind: KindText, Typmod: NoTypmod}
	TypeVarchar     = ScalarType{Kind: KindVarchar, Typmod: NoTypmod}
	TypeChar        = ScalarType{Kind: KindChar, Typmod: NoTypmod}
	TypeBytea       = ScalarType{Kind: KindBytea, Typmod: NoTypmod}
	TypeDate        = ScalarType{Kind: KindDate, Typmod: NoTypmod}
	TypeTime        = ScalarType{Kind: KindTime, Typmod: NoTypmod}
	TypeTimestamp   = ScalarType{Kind: KindTimestamp, Typmod: NoTypmod}
	TypeTimestampTz = ScalarType{Kind: KindTimestampTz, Typmod: NoTypmod}
	TypeInterval    = ScalarType{Kind: KindInterval, Typmod: NoTypmod}
	TypeUUID        = ScalarType{Kind: KindUUID, Typmod: NoTypmod}
	TypeJsonb       = ScalarType{Kind: KindJsonb, Typmod: NoTypmod}
	TypeOid         = ScalarType{Kind: KindOid, Typmod: NoTypmod}
	TypeRecord      = ScalarType{Kind: KindRecord, Typmod: NoTypmod}
)

// TypmodVector marks an array of int2 or oid that is PostgreSQL's
// int2vector or oidvector (pg_index.indkey, pg_proc.proargtypes): the
// same values as the array, but its own type OID, and its text form is
// the elements separated by spaces ("1 2"), as clients parse it.
const TypmodVector int32 = -2

// VectorOf returns int2vector (elem int2) or oidvector (elem oid).
func VectorOf(elem ScalarType) ScalarType {
	t := ArrayOf(elem)
	t.Typmod = TypmodVector
	return t
}

// IsVector reports whether t is int2vector or oidvector.
func (t ScalarType) IsVector() bool { return t.Kind == KindArray && t.Typmod == TypmodVector }

// ArrayOf returns the one-dimensional array type of elem.
func ArrayOf(elem ScalarType) ScalarType {
	e := elem
	return ScalarType{Kind: KindArray, Typmod: NoTypmod, Elem: &e}
}

// NumericType returns numeric(precision, scale).
func NumericType(precision, scale int32) ScalarType {
	return ScalarType{Kind: KindNumeric, Typmod: precision<<16 | scale}
}

// NumericPrecisionScale returns numeric(p,s)'s precision and scale; ok is
// false for unconstrained numeric.
func (t ScalarType) NumericPrecisionScale() (precision, scale int32, ok bool) {
	if t.Kind != KindNumeric || t.Typmod < 0 {
		return 0, 0, false
	}
	return t.Typmod >> 16, t.Typmod & 0xffff, true
}

// Equal reports whether t and u are the same type, modifiers included.
func (t ScalarType) Equal(u ScalarType) bool {
	if t.Kind != u.Kind || t.Typmod != u.Typmod {
		return false
	}
	if t.Kind == KindArray {
		if t.Elem == nil || u.Elem == nil {
			return t.Elem == u.Elem
		}
		return t.Elem.Equal(*u.Elem)
	}
	return true
}

// SameKind reports whether t and u are the same type ignoring modifiers.
func (t ScalarType) SameKind(u ScalarType) bool {
	if t.Kind != u.Kind {
		return false
	}
	if t.Kind == KindArray && t.Elem != nil && u.Elem != nil {
		return t.Elem.SameKind(*u.Elem)
	}
	return true
}

// WithoutTypmod returns t with its modifier (and its element's) removed.
func (t ScalarType) WithoutTypmod() ScalarType {
	t.Typmod = NoTypmod
	if t.Elem != nil {
		e := t.Elem.WithoutTypmod()
		t.Elem = &e
	}
	return t
}

// String returns the type as PostgreSQL's format_type prints it, e.g.
// "character varying(10)", "numeric(10,2)", "integer[]".
func (t ScalarType) String() string {
	switch t.Kind {
	case KindArray:
		if t.Elem == nil {
			return "anyarray"
		}
		if t.IsVector() && t.Elem.Kind == KindInt2 {
			return "int2vector"
		}
		if t.IsVector() && t.Elem.Kind == KindOid {
			return "oidvector"
		}
		return t.Elem.String() + "[]"
	case KindVarchar, KindChar:
		if t.Typmod >= 0 {
			return fmt.Sprintf("%s(%d)", t.Kind, t.Typmod)
		}
		if t.Kind == KindChar {
			return "bpchar"
		}
	case KindNumeric:
		if p, s, ok := t.NumericPrecisionScale(); ok {
			return fmt.Sprintf("numeric(%d,%d)", p, s)
		}
	case KindInterval:
		return intervalTypeString(t)
	}
	return t.Kind.String()
}

// ColumnType is a scalar type and whether the column may hold NULL.
type ColumnType struct {
	Type     ScalarType
	Nullable bool
}

// String prints the type with a " null" suffix when nullable.
func (c ColumnType) String() string {
	if c.Nullable {
		return c.Type.String() + "?"
	}
	return c.Type.String()
}

// RelationDesc names and types the columns of a relation. Keys lists sets of
// columns known to be unique (a primary key first, if any).
type RelationDesc struct {
	Names []string
	Types []ColumnType
	Keys  [][]int
	// Origins says, for a query's result, which columns come straight
	// from a column of a catalog relation (RowDescription's table OID
	// and attribute number); nil, or a zero ColumnOrigin, when not.
	Origins []ColumnOrigin
}

// ColumnOrigin is the relation (by OID) and column number (from 1) a
// result column was read from.
type ColumnOrigin struct {
	TableOID uint32
	Attnum   int16
}

// Arity is the number of columns.
func (d RelationDesc) Arity() int { return len(d.Types) }

// String prints "(name type, ...)".
func (d RelationDesc) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, t := range d.Types {
		if i > 0 {
			b.WriteString(", ")
		}
		if i < len(d.Names) {
			b.WriteString(d.Names[i])
			b.WriteByte(' ')
		}
		b.WriteString(t.String())
	}
	b.WriteByte(')')
	return b.String()
}
