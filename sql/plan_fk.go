package sql

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Foreign-key actions and match types, as pg_constraint's confupdtype,
// confdeltype and confmatchtype spell them.
const (
	FKNoAction    byte = 'a'
	FKRestrict    byte = 'r'
	FKCascade     byte = 'c'
	FKSetNull     byte = 'n'
	FKSetDefault  byte = 'd'
	FKMatchSimple byte = 's'
	FKMatchFull   byte = 'f'
)

// ForeignKeyDef is a FOREIGN KEY constraint of CREATE TABLE: the
// referencing columns Columns of the new table reference RefColumns of Ref,
// which are a PRIMARY KEY or UNIQUE key of Ref (RefKey is its index in
// Ref's keys: Desc.Keys of Ref, the plan's Keys when the table references
// itself).
type ForeignKeyDef struct {
	Name    string
	Columns []int
	// Ref is the referenced table; nil when the new table references
	// itself.
	Ref        *CatalogItem
	RefName    string // the referenced table's name, as pg_get_constraintdef prints it
	RefColumns []int
	RefKey     int
	OnUpdate   byte // FKNoAction, FKRestrict, FKCascade, FKSetNull, FKSetDefault
	OnDelete   byte
	Match      byte // FKMatchSimple or FKMatchFull
	// ToRef converts referencing column i's value (Column 0 of a one-datum
	// row) to the referenced column's type; nil where the two are of one
	// kind. Exact reports, per column, that the conversion is exact
	// (implicit); a value whose inexact conversion does not convert back
	// to itself (FromRef) references nothing.
	ToRef []expr.Scalar
	Exact []bool
	// FromRef converts referenced column i's value to the referencing
	// column's type (for ON UPDATE CASCADE); nil where of one kind.
	FromRef []expr.Scalar
}

// fkDecl is a FOREIGN KEY as declared: a table constraint, or a column's
// REFERENCES (column set).
type fkDecl struct {
	con    *pg_query.Constraint
	column string
}

// planForeignKeys plans the FOREIGN KEY constraints of CREATE TABLE name
// (columns cols, keys keys of which pk is the primary key) as PostgreSQL
// does: referenced columns default to the referenced table's primary key,
// must match one of its PRIMARY KEY or UNIQUE keys (42830), must be of
// compatible types (42804), and only tables can be referenced (42809).
func planForeignKeys(scx *StatementContext, name PartialName, cols []ColumnDef, keys [][]int, pk []int, decls []fkDecl) ([]ForeignKeyDef, error) {
	index := map[string]int{}
	for i, c := range cols {
		index[c.Name] = i
	}
	taken := map[string]bool{}
	for _, k := range keys {
		taken[keyConstraintName(name.Item, cols, k, pk != nil && sameIntSlice(k, pk))] = true
	}
	var out []ForeignKeyDef
	for _, d := range decls {
		con := d.con
		fk := ForeignKeyDef{OnUpdate: fkAction(con.FkUpdAction), OnDelete: fkAction(con.FkDelAction), Match: FKMatchSimple}
		switch con.FkMatchtype {
		case "f":
			fk.Match = FKMatchFull
		case "p":
			return nil, pgcode.New(pgcode.FeatureNotSupported, "MATCH PARTIAL not yet implemented")
		}
		if con.Deferrable || con.Initdeferred {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "deferrable foreign keys are not supported")
		}
		if len(con.FkDelSetCols) > 0 {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "ON DELETE SET NULL/SET DEFAULT with a column list is not supported")
		}
		fkNames := []string{d.column}
		if d.column == "" {
			fkNames = stringList(con.FkAttrs)
		}
		for _, n := range fkNames {
			i, ok := index[n]
			if !ok {
				return nil, pgcode.New(pgcode.UndefinedColumn, "column %q referenced in foreign key constraint does not exist", n)
			}
			fk.Columns = append(fk.Columns, i)
		}
		// The referenced table: this one, or a table of the catalog.
		refName := nameParts(con.Pktable)
		self := refName.Item == name.Item && (refName.Schema == "" || refName.Schema == name.Schema || (name.Schema == "" && refName.Schema == "public"))
		refDesc := repr.RelationDesc{Keys: keys}
		refPK := pk
		if self {
			for _, c := range cols {
				refDesc.Names = append(refDesc.Names, c.Name)
				refDesc.Types = append(refDesc.Types, c.Type)
			}
			fk.RefName = quoteIdent(name.Item)
		} else {
			ref, err := scx.Catalog.ResolveItem(refName, scx.SearchPath())
			if err != nil {
				return nil, err
			}
			if ref.Kind != KindTable {
				return nil, pgcode.New(pgcode.WrongObjectType, "referenced relation %q is not a table", ref.Name.Item)
			}
			fk.Ref, refDesc, refPK = ref, ref.Desc, ref.PrimaryKey
			fk.RefName = quoteIdent(ref.Name.Item)
			if refName.Schema != "" {
				fk.RefName = quoteIdent(ref.Name.Schema) + "." + fk.RefName
			}
		}
		refIndex := map[string]int{}
		for i, n := range refDesc.Names {
			refIndex[n] = i
		}
		if len(con.PkAttrs) == 0 {
			if refPK == nil {
				return nil, pgcode.New(pgcode.InvalidForeignKey, "there is no primary key for referenced table %q", refName.Item)
			}
			fk.RefColumns = append([]int(nil), refPK...)
		} else {
			for _, n := range stringList(con.PkAttrs) {
				i, ok := refIndex[n]
				if !ok {
					return nil, pgcode.New(pgcode.UndefinedColumn, "column %q referenced in foreign key constraint does not exist", n)
				}
				fk.RefColumns = append(fk.RefColumns, i)
			}
		}
		if len(fk.Columns) != len(fk.RefColumns) {
			return nil, pgcode.New(pgcode.InvalidForeignKey, "number of referencing and referenced columns for foreign key disagree")
		}
		fk.RefKey = -1
		for i, k := range refDesc.Keys {
			if sameColumnSet(k, fk.RefColumns) {
				fk.RefKey = i
				break
			}
		}
		if fk.RefKey < 0 {
			return nil, pgcode.New(pgcode.InvalidForeignKey, "there is no unique constraint matching given keys for referenced table %q", refName.Item)
		}
		var colNames []string
		for _, c := range fk.Columns {
			colNames = append(colNames, cols[c].Name)
		}
		fk.Name = con.Conname
		if fk.Name == "" {
			base := name.Item + "_" + strings.Join(colNames, "_") + "_fkey"
			fk.Name = base
			for n := 1; taken[fk.Name]; n++ {
				fk.Name = base + strconv.Itoa(n)
			}
		} else if taken[fk.Name] {
			return nil, pgcode.New(pgcode.DuplicateObject, "constraint %q for relation %q already exists", fk.Name, name.Item)
		}
		taken[fk.Name] = true
		for i, c := range fk.Columns {
			ct, rt := cols[c].Type.Type, refDesc.Types[fk.RefColumns[i]].Type
			to, from, exact, ok := fkConversion(ct, rt)
			if !ok {
				return nil, pgcode.New(pgcode.DatatypeMismatch, "foreign key constraint %q cannot be implemented", fk.Name).
					WithDetail("Key columns %q and %q are of incompatible types: %s and %s.", cols[c].Name, refDesc.Names[fk.RefColumns[i]], ct.WithoutTypmod(), rt.WithoutTypmod())
			}
			fk.ToRef, fk.FromRef, fk.Exact = append(fk.ToRef, to), append(fk.FromRef, from), append(fk.Exact, exact)
		}
		out = append(out, fk)
	}
	return out, nil
}

// fkConversion returns how a referencing value of type child compares
// with a referenced key of type parent: of one kind (nil conversions), or
// through casts when one of the two converts to the other implicitly, as
// PostgreSQL requires an equality operator between them. exact reports
// that child converts to parent implicitly (every child value has one
// parent value).
func fkConversion(child, parent repr.ScalarType) (to, from expr.Scalar, exact, ok bool) {
	if child.SameKind(parent) {
		return nil, nil, true, true
	}
	up, okUp := expr.LookupCast(child, parent)
	down, okDown := expr.LookupCast(parent, child)
	if !(okUp && up.Context == expr.Implicit) && !(okDown && down.Context == expr.Implicit) {
		return nil, nil, false, false
	}
	var err error
	if to, err = expr.NewCast(expr.Column{Index: 0}, child, parent, expr.Explicit); err != nil {
		return nil, nil, false, false
	}
	if from, err = expr.NewCast(expr.Column{Index: 0}, parent, child, expr.Explicit); err != nil {
		return nil, nil, false, false
	}
	return to, from, okUp && up.Context == expr.Implicit, true
}

// fkAction maps pg_query's action letter to pg_constraint's.
func fkAction(a string) byte {
	if a == "" {
		return FKNoAction
	}
	return a[0]
}

// keyConstraintName is the name PostgreSQL gives a PRIMARY KEY
// (<table>_pkey) or UNIQUE (<table>_<cols>_key) constraint.
func keyConstraintName(table string, cols []ColumnDef, key []int, primary bool) string {
	if primary {
		return table + "_pkey"
	}
	var names []string
	for _, c := range key {
		names = append(names, cols[c].Name)
	}
	return table + "_" + strings.Join(names, "_") + "_key"
}

func stringList(ns []*pg_query.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.GetString_().GetSval())
	}
	return out
}

func sameIntSlice(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sameColumnSet reports whether a and b hold the same columns in any
// order.
func sameColumnSet(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// FKActionText is an action as pg_get_constraintdef and
// information_schema spell it ("NO ACTION", "SET NULL", ...).
func FKActionText(a byte) string {
	switch a {
	case FKRestrict:
		return "RESTRICT"
	case FKCascade:
		return "CASCADE"
	case FKSetNull:
		return "SET NULL"
	case FKSetDefault:
		return "SET DEFAULT"
	}
	return "NO ACTION"
}
