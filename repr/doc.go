// Package repr defines how viewd represents data: SQL types, datums, packed
// rows, and the (time, diff) of an update.
//
// # Types
//
// A ScalarType is a SQL type (Kind plus a type modifier and, for arrays, an
// element type). A ColumnType adds nullability; a RelationDesc names and types
// the columns of a relation.
//
// # Datums
//
// A Datum is one SQL value held by value for evaluation. Its Kind is the
// scalar kind of the value (KindNull for NULL). Text-like datums may alias the
// bytes of the Row they were read from: rows are immutable once packed, so
// this is safe as long as the row's slab outlives the datum.
//
// # Rows
//
// A Row is a packed byte encoding of a sequence of datums: a tag byte per datum
// followed by a compact payload (zig-zag varints for integers and temporal
// values, length-prefixed bytes for strings). Rows are what arrangements and
// batches store, back to back in large slabs, so the garbage collector sees
// one pointer per slab rather than one per value.
//
// Two rows are byte-equal exactly when their datums are equal in the sense of
// IS NOT DISTINCT FROM for the same types, with five exceptions: numerics,
// float -0, intervals, jsonb, and arrays and records holding them. Packing canonicalises NaNs; it keeps -0.0, which
// PostgreSQL prints ("-0") although -0 = 0, and keys fold it to +0.
// A numeric keeps its display scale (PostgreSQL prints 1.10 and 1.1
// differently although they are equal): its value packs canonically
// (trailing zeros folded into the exponent) and a scale larger than the
// canonical value's follows as a flagged suffix, so 1.1 packs as it always
// did and 1.10 as 1.1 plus "scale 2". Keys strip the suffix: Row.Canonical,
// AppendCanonical and Packer.PushKey give the canonical packing, which is
// byte-equal for equal values; whatever keys, groups, deduplicates or
// joins by packed bytes builds its keys with them (dataflow's keyer does).
// Intervals are the other exception: an interval keeps its fields (months, days, microseconds),
// which it prints, so '1 day' and '24 hours' pack differently although they
// are equal (PostgreSQL compares spans with 30-day months). Whatever groups,
// deduplicates or joins by packed bytes must key an interval by its span
// (Interval.SpanMicros; the sql planner does, see its doc), and the
// memcomparable key of key.go orders by span. jsonb is the third: a jsonb
// datum holds its canonical text, which keeps a number's trailing zeros
// ('[1.0]' prints so) although '[1.0]' = '[1]'; the canonical packing
// (AppendCanonical, PushKey) reduces its numbers, and PreferShown picks
// which of equal jsonb values a group shows. jsonb orders as PostgreSQL's
// compareJsonbContainers does, not by its text (jsonbkey.go): Compare and
// AppendKey agree on it. An array or record packs its elements as they
// print (ARRAY[1.50]); its canonical packing packs them canonically
// (ARRAY[1.5]), an interval element in its span form (0 <= microseconds <
// a day, 0 <= days < 30, months the rest), so ARRAY['1 day'] and
// ARRAY['24 hours'] key alike. Byte order of rows is a
// total order used for consolidation, not SQL's ORDER BY; ordering keys use
// the memcomparable encoding in key.go.
//
// # Time
//
// Timestamp is a uint64 (milliseconds, like mz_timestamp); Diff an int64. An
// update is (row, time, diff); a collection is the sum of its updates.
package repr
