package repr

import (
	"strings"
	"sync"
)

// Record types with field names. A record's ScalarType carries no field
// list; like PostgreSQL's "blessed" anonymous record types, a record
// whose fields are known (a multi-column set-returning function called
// in a select list, such as information_schema._pg_expandarray) is given
// a Typmod that indexes a process-wide registry of field names and
// types, so that (rec).field can be planned wherever the value goes.
// The registry only grows; it holds one entry per distinct field list.

var recordTypes struct {
	sync.Mutex
	byKey  map[string]int32
	fields []recordFields
}

type recordFields struct {
	names []string
	types []ColumnType
}

// RecordTypeOf returns the record type with these fields.
func RecordTypeOf(names []string, types []ColumnType) ScalarType {
	var b strings.Builder
	for i, n := range names {
		b.WriteString(n)
		b.WriteByte(0)
		b.WriteString(types[i].Type.String())
		b.WriteByte(0)
	}
	key := b.String()
	recordTypes.Lock()
	defer recordTypes.Unlock()
	if recordTypes.byKey == nil {
		recordTypes.byKey = map[string]int32{}
	}
	id, ok := recordTypes.byKey[key]
	if !ok {
		id = int32(len(recordTypes.fields))
		recordTypes.fields = append(recordTypes.fields, recordFields{names: append([]string(nil), names...), types: append([]ColumnType(nil), types...)})
		recordTypes.byKey[key] = id
	}
	return ScalarType{Kind: KindRecord, Typmod: id}
}

// RecordField finds field name of record type t: its position and type.
// ok is false when t is not a record with known fields or has no such
// field.
func RecordField(t ScalarType, name string) (int, ColumnType, bool) {
	if t.Kind != KindRecord || t.Typmod < 0 {
		return 0, ColumnType{}, false
	}
	recordTypes.Lock()
	defer recordTypes.Unlock()
	if int(t.Typmod) >= len(recordTypes.fields) {
		return 0, ColumnType{}, false
	}
	f := recordTypes.fields[t.Typmod]
	for i, n := range f.names {
		if n == name {
			return i, f.types[i], true
		}
	}
	return 0, ColumnType{}, false
}
