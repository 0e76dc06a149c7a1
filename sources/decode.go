package sources

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Format is how a message's value (or key) is encoded.
type Format uint8

// Formats.
const (
	FormatJSON Format = iota
	FormatText
	FormatBytes
)

// Envelope is how a message's value describes a change.
type Envelope uint8

// Envelopes.
const (
	EnvelopeNone      Envelope = iota // append-only: each message one row
	EnvelopeDebezium                  // before/after change events
	EnvelopeMaxwell                   // Maxwell's daemon row events
	EnvelopeCockroach                 // CockroachDB changefeed (envelope=wrapped)
	EnvelopeUpsert                    // key -> latest value
)

func (e Envelope) String() string {
	return [...]string{"NONE", "DEBEZIUM", "MAXWELL", "COCKROACHDB", "UPSERT"}[e]
}

// Include selects metadata columns appended after the value's columns
// (INCLUDE KEY, PARTITION, OFFSET, TIMESTAMP), in that order.
type Include struct {
	Key, Partition, Offset, Timestamp bool
}

// SourceSpec declares one source collection read from one topic.
type SourceSpec struct {
	ID   CollectionID
	Name string // for messages and status
	// Topic is the Kafka topic the collection's records are on.
	Topic string
	// Format of message values and KeyFormat of message keys.
	Format, KeyFormat Format
	Envelope          Envelope
	// Desc holds the declared columns, with the PRIMARY KEY as Keys[0].
	// For ENVELOPE DEBEZIUM a nil Desc is derived from the first event's
	// schema block (see DeriveDebeziumDesc). For the other envelopes, nil
	// means the defaults: NONE gives one column `data` (jsonb, text or
	// bytea by Format); UPSERT gives `key` and `data`.
	Desc *repr.RelationDesc
	// Collection is the upstream table: Debezium's data collection as its
	// transaction metadata names it ("public.accounts"); Maxwell's
	// "database.table" (records of other tables on the topic belong to
	// other sources); unused for the other envelopes.
	Collection string
	Include    Include
	// InlineErrors (UPSERT, VALUE DECODING ERRORS = INLINE) appends a
	// nullable text column `error`: a value that fails to decode becomes a
	// row with the error instead of erroring the source.
	InlineErrors bool
	// StartOffsets gives START OFFSET per partition; absent partitions start
	// at the beginning.
	StartOffsets map[int32]int64
}

// Message is one Kafka record as a decoder sees it. A nil Value is a
// tombstone.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp time.Time
}

// decoded is what a decoder makes of one message.
type decoded struct {
	ops []op
	// txnID is the upstream transaction the record belongs to ("": none).
	txnID string
	// collection is the upstream data collection the record belongs to,
	// for Debezium's per-collection event counts and Maxwell routing.
	collection string
	// Maxwell: the record ends its transaction; xoffset is its index in
	// the transaction (-1 when absent).
	commit  bool
	xoffset int64
	// CockroachDB: the row's HLC, or a resolved message's.
	hlc      hlc
	resolved bool
	// skip: the record carries nothing for this source (a tombstone after
	// a Debezium delete, another table's Maxwell record).
	skip bool
	// snap marks a Debezium snapshot read (op "r" outside a
	// transaction): snapRead, or snapLast for the snapshot's last record.
	snap uint8
}

// Debezium snapshot marks (decoded.snap).
const (
	snapRead uint8 = 1
	snapLast uint8 = 2
)

// decoder decodes the messages of one source. Decoders are shared by the
// decode workers: decode may run concurrently for messages of different
// partitions, each call with its worker's workspace, and keeps no
// per-message state in the decoder.
type decoder interface {
	decode(m *Message, w *workspace) (decoded, error)
	// desc is the relation the decoder produces (known once the first
	// message is decoded when derived from upstream schemas).
	desc() (repr.RelationDesc, bool)
	// keyCols is the primary key the collection's state is kept by.
	keyCols() []int
	// tracked reports whether the collection keeps state (every envelope
	// but NONE).
	tracked() bool
}

// workspace is one decode worker's scratch, reused from message to
// message: the JSON scanner, a packer, the spans of the values being
// decoded, and what Debezium decoders remember between the messages this
// worker decodes (the semantics of the last schema block per collection).
// A workspace is used by one goroutine at a time.
type workspace struct {
	sc   jsonScanner
	pk   repr.Packer
	vals [][]byte
	ds   []repr.Datum
	sems map[CollectionID]*schemaSems
	ops  []op // a slab the records' ops are cut from
	// strs holds the last few strings kept past a message (transaction
	// ids, collection names): consecutive records share them.
	strs [4]string
	next int
	tmp  []byte
	// rows is the chunk keep copies rows into, full the chunks filled
	// since the last recycleRows, free the chunks it made reusable.
	rows []byte
	full [][]byte
	free [][]byte
}

// rowSlab is the size of the chunks keep cuts rows from, and rowOwn the
// size past which a row gets an allocation of its own; maxFreeChunks
// bounds the chunks a workspace keeps for reuse.
const (
	rowSlab       = 64 << 10
	rowOwn        = rowSlab / 8
	maxFreeChunks = 64
)

// keep returns a copy of row cut from a slab chunk, so that a message
// costs no allocation of its own for its row (a chunk serves hundreds). A
// chunk is not written again once a row is cut from it until
// recycleRows says none of its rows is in use: keep is for rows dropped
// within a few polls, and copied out when released (Assembler.pack).
func (w *workspace) keep(row repr.Row) repr.Row {
	if len(row) > rowOwn {
		return append(repr.Row(nil), row...)
	}
	if cap(w.rows)-len(w.rows) < len(row) {
		if w.rows != nil && len(w.full) < maxFreeChunks {
			// Past maxFreeChunks (or while records stay pending and
			// nothing is recycled) a chunk is left to the GC.
			w.full = append(w.full, w.rows)
		}
		if n := len(w.free); n > 0 {
			w.rows, w.free[n-1] = w.free[n-1][:0], nil
			w.free = w.free[:n-1]
		} else {
			w.rows = make([]byte, 0, rowSlab)
		}
	}
	n := len(w.rows)
	w.rows = append(w.rows, row...)
	return repr.Row(w.rows[n:len(w.rows):len(w.rows)])
}

// recycleRows makes the chunks keep cut rows from reusable (up to
// maxFreeChunks of them). The caller guarantees that none of those rows
// is referenced any more.
func (w *workspace) recycleRows() {
	for _, c := range w.full {
		if len(w.free) < maxFreeChunks {
			w.free = append(w.free, c[:0])
		}
	}
	clear(w.full)
	w.full = w.full[:0]
	w.rows = w.rows[:0]
}

// intern returns a copy of s that outlives the message, shared with the
// previous records that carried the same text.
func (w *workspace) intern(s string) string {
	for _, k := range w.strs {
		if k == s {
			return k
		}
	}
	k := strings.Clone(s)
	w.strs[w.next] = k
	w.next = (w.next + 1) % len(w.strs)
	return k
}

// oneOp returns o as a record's one op, cut from a slab so that a record
// costs no allocation of its own for it. A slab lives as long as any of
// its records' ops: records are released in a few polls.
func (w *workspace) oneOp(o op) []op {
	if len(w.ops) == 0 {
		w.ops = make([]op, 128)
	}
	ops := w.ops[:1:1]
	w.ops = w.ops[1:]
	ops[0] = o
	return ops
}

func newWorkspace() *workspace { return &workspace{sems: map[CollectionID]*schemaSems{}} }

// begin starts decoding msg: the spans and scratch of the previous
// message are released.
func (w *workspace) begin(msg []byte) *jsonScanner {
	clear(w.vals)
	w.vals = w.vals[:0]
	w.sc.reset(msg)
	return &w.sc
}

// spans returns n empty value spans, valid until the next begin.
func (w *workspace) spans(n int) [][]byte {
	start := len(w.vals)
	for i := 0; i < n; i++ {
		w.vals = append(w.vals, nil)
	}
	return w.vals[start:len(w.vals):len(w.vals)]
}

// schemaSems is what one worker remembers of a Debezium collection's
// schema blocks: the column semantics of each schema text seen (a few
// distinct ones at most: a schema changes rarely), and the last one's
// text and semantics, which apply to events without a schema block.
type schemaSems struct {
	cache    map[string][]semantic
	lastText string
	cur      []semantic
}

func (w *workspace) schemaState(id CollectionID) *schemaSems {
	st := w.sems[id]
	if st == nil {
		st = &schemaSems{cache: map[string][]semantic{}}
		w.sems[id] = st
	}
	return st
}

// lastSchema returns the text of the last schema block seen for id.
func (w *workspace) lastSchema(id CollectionID) string { return w.schemaState(id).lastText }

// debeziumSems returns the column semantics for an event of collection id
// with the given schema block (nil: none, the last one's apply).
func (w *workspace) debeziumSems(id CollectionID, schema []byte, rows *rowDecoder) ([]semantic, error) {
	st := w.schemaState(id)
	if schema == nil || aliasString(schema) == st.lastText {
		return st.cur, nil
	}
	sems, ok := st.cache[string(schema)]
	if !ok {
		byName, err := debeziumSemantics(schema)
		if err != nil {
			return nil, err
		}
		if len(st.cache) >= 64 {
			clear(st.cache)
		}
		sems = rows.semantics(byName)
		st.cache[string(schema)] = sems
	}
	st.cur, st.lastText = sems, string(schema)
	return sems, nil
}

// newDecoder builds the decoder of spec.
func newDecoder(spec *SourceSpec) (decoder, error) {
	switch spec.Envelope {
	case EnvelopeNone:
		return newNoneDecoder(spec)
	case EnvelopeDebezium:
		return newDebeziumDecoder(spec)
	case EnvelopeMaxwell:
		return newMaxwellDecoder(spec)
	case EnvelopeCockroach:
		return newCockroachDecoder(spec)
	case EnvelopeUpsert:
		return newUpsertDecoder(spec)
	}
	return nil, pgcode.New(pgcode.FeatureNotSupported, "sources: unknown envelope %d", spec.Envelope)
}

// metadataColumns returns the names and types of the INCLUDE columns.
func metadataColumns(spec *SourceSpec) ([]string, []repr.ColumnType) {
	var names []string
	var types []repr.ColumnType
	if spec.Include.Key {
		names = append(names, "key")
		types = append(types, repr.ColumnType{Type: formatType(spec.KeyFormat), Nullable: true})
	}
	if spec.Include.Partition {
		names = append(names, "partition")
		types = append(types, repr.ColumnType{Type: repr.TypeInt4})
	}
	if spec.Include.Offset {
		names = append(names, "offset")
		types = append(types, repr.ColumnType{Type: repr.TypeInt8})
	}
	if spec.Include.Timestamp {
		names = append(names, "timestamp")
		types = append(types, repr.ColumnType{Type: repr.TypeTimestampTz, Nullable: true})
	}
	return names, types
}

// metadataDatums returns the INCLUDE columns' values for m.
func metadataDatums(spec *SourceSpec, m *Message) ([]repr.Datum, error) {
	var ds []repr.Datum
	if spec.Include.Key {
		d, err := formatDatum(m.Key, spec.KeyFormat)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		ds = append(ds, d)
	}
	if spec.Include.Partition {
		ds = append(ds, repr.Int4Datum(m.Partition))
	}
	if spec.Include.Offset {
		ds = append(ds, repr.Int8Datum(m.Offset))
	}
	if spec.Include.Timestamp {
		if m.Timestamp.IsZero() {
			ds = append(ds, repr.Null)
		} else {
			ds = append(ds, repr.TimestampTzDatum(m.Timestamp.UnixMicro()))
		}
	}
	return ds, nil
}

func formatType(f Format) repr.ScalarType {
	switch f {
	case FormatText:
		return repr.TypeText
	case FormatBytes:
		return repr.TypeBytea
	}
	return repr.TypeJsonb
}

// formatDatum decodes raw bytes of format f as one datum (nil -> NULL).
func formatDatum(b []byte, f Format) (repr.Datum, error) {
	if b == nil {
		return repr.Null, nil
	}
	switch f {
	case FormatText:
		if !utf8.Valid(b) {
			return repr.Null, pgcode.New(pgcode.CharacterNotInRepertoire, "invalid UTF-8 text")
		}
		return repr.TextDatum(string(b)), nil
	case FormatBytes:
		return repr.ByteaDatum(b), nil
	}
	c, err := repr.CanonicalJSON(string(b))
	if err != nil {
		return repr.Null, err
	}
	return repr.JsonbDatum(c), nil
}

// noneDecoder is ENVELOPE NONE: each message appends one row.
type noneDecoder struct {
	spec *SourceSpec
	d    repr.RelationDesc
	rows *rowDecoder // declared columns from a JSON object; nil: one `data` column
}

func newNoneDecoder(spec *SourceSpec) (*noneDecoder, error) {
	nd := &noneDecoder{spec: spec}
	if spec.Desc != nil {
		if spec.Format != FormatJSON {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "sources: declared columns need FORMAT JSON")
		}
		nd.d = *spec.Desc
		nd.rows = newRowDecoder(*spec.Desc)
	} else {
		nd.d = repr.RelationDesc{Names: []string{"data"}, Types: []repr.ColumnType{{Type: formatType(spec.Format), Nullable: true}}}
	}
	names, types := metadataColumns(spec)
	nd.d.Names = append(append([]string(nil), nd.d.Names...), names...)
	nd.d.Types = append(append([]repr.ColumnType(nil), nd.d.Types...), types...)
	return nd, nil
}

func (nd *noneDecoder) desc() (repr.RelationDesc, bool) { return nd.d, true }
func (nd *noneDecoder) keyCols() []int                  { return nil }
func (nd *noneDecoder) tracked() bool                   { return false }

func (nd *noneDecoder) decode(m *Message, w *workspace) (decoded, error) {
	if m.Value == nil {
		return decoded{skip: true}, nil
	}
	meta, err := metadataDatums(nd.spec, m)
	if err != nil {
		return decoded{}, err
	}
	var row repr.Row
	if nd.rows != nil {
		row, err = nd.rows.decodeObject(w, m.Value, meta...)
	} else {
		var d repr.Datum
		d, err = formatDatum(m.Value, nd.spec.Format)
		row = repr.PackRow(append([]repr.Datum{d}, meta...)...)
	}
	if err != nil {
		return decoded{}, err
	}
	return decoded{ops: w.oneOp(op{kind: opAppend, coll: nd.spec.ID, after: row})}, nil
}
