package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/viewd/viewd/repr"
)

// RecordType says what a log record holds.
type RecordType uint8

// Record types.
const (
	// RecCatalog is an opaque catalog record owned by the coordinator
	// (object creation, drop, rename), applied in log order.
	RecCatalog RecordType = 1
	// RecTableWrite is a set of table updates at one timestamp.
	RecTableWrite RecordType = 2
	// RecBinding binds a source's upstream positions to a timestamp.
	RecBinding RecordType = 3
	// RecTimestamp raises the timestamp oracle's durable high water mark.
	RecTimestamp RecordType = 4
	// RecTableDrop forgets a table's contents.
	RecTableDrop RecordType = 5
	// RecTableSnapshot names a table's file in a snapshot (its size,
	// checksum, counts and digest). It appears in snapshots only.
	RecTableSnapshot RecordType = 6
	// RecSourceWrite is a source's updates at one timestamp together with
	// the bindings of its upstream positions to that timestamp: one frame,
	// so a crash keeps both or neither (two records could keep the rows
	// without the binding, and a restart would read them again).
	RecSourceWrite RecordType = 7
	// RecSourceChunk is part of a source's transaction that is not
	// complete yet: updates that count only once a RecSourceWrite binding
	// the same source follows (the commit), or that an abort chunk (no
	// updates) discards. Replay drops chunks left without either.
	RecSourceChunk RecordType = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// TableUpdate is one change to a durable table.
type TableUpdate struct {
	Table uint64
	Row   repr.Row
	Diff  repr.Diff
}

// Binding records that a source's upstream positions (opaque bytes owned by
// the source) are complete at Time.
type Binding struct {
	Source    uint64
	Time      repr.Timestamp
	Positions []byte
}

// frameHeader is the size of a record's frame before its payload: the
// body length, the checksum, and the record type.
const frameHeader = 9

// frame appends a framed record of type t with payload p to buf.
func frame(buf []byte, t RecordType, p []byte) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, frameHeader)...)
	buf = append(buf, p...)
	finishFrame(buf[start:], t)
	return buf
}

// finishFrame fills in the header of rec, a record of type t whose
// payload follows frameHeader reserved bytes, so that a large record is
// built in place rather than copied behind its header.
func finishFrame(rec []byte, t RecordType) {
	rec[8] = byte(t)
	binary.LittleEndian.PutUint32(rec[0:4], uint32(len(rec)-8))
	binary.LittleEndian.PutUint32(rec[4:8], crc32.Checksum(rec[8:], castagnoli))
}

// errTorn means the bytes at some offset are not a whole record with a
// matching checksum: the end of the log.
var errTorn = errors.New("storage: torn record")

func encodeTableWrite(ts repr.Timestamp, ups []TableUpdate) []byte {
	return tableWriteRecord(ts, ups)[frameHeader:]
}

// tableWriteRecord is the framed table write record of ups at ts.
func tableWriteRecord(ts repr.Timestamp, ups []TableUpdate) []byte {
	size := frameHeader + 20
	for _, u := range ups {
		size += len(u.Row) + 14
	}
	p := make([]byte, frameHeader, size)
	p = binary.AppendUvarint(p, uint64(ts))
	p = binary.AppendUvarint(p, uint64(len(ups)))
	for _, u := range ups {
		p = appendTableUpdate(p, u)
	}
	finishFrame(p, RecTableWrite)
	return p
}

func appendTableUpdate(p []byte, u TableUpdate) []byte {
	p = binary.AppendUvarint(p, u.Table)
	p = binary.AppendVarint(p, int64(u.Diff))
	p = binary.AppendUvarint(p, uint64(len(u.Row)))
	return append(p, u.Row...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("storage: corrupt record")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("storage: corrupt record")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if uint64(len(r.b)) < n {
		r.err = fmt.Errorf("storage: corrupt record")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func decodeTableWrite(p []byte) (repr.Timestamp, []TableUpdate, error) {
	ts, ups, _, err := decodeTableWriteRest(p)
	return ts, ups, err
}

// decodeTableWriteRest decodes a table write payload and returns what
// follows it.
func decodeTableWriteRest(p []byte) (repr.Timestamp, []TableUpdate, []byte, error) {
	r := reader{b: p}
	ts := repr.Timestamp(r.uvarint())
	n := r.uvarint()
	if r.err != nil {
		return 0, nil, nil, r.err
	}
	if n > uint64(len(p)) {
		return 0, nil, nil, fmt.Errorf("storage: corrupt table write")
	}
	ups := make([]TableUpdate, 0, n)
	for i := uint64(0); i < n; i++ {
		t := r.uvarint()
		d := r.varint()
		row := r.bytes()
		if r.err != nil {
			return 0, nil, nil, r.err
		}
		ups = append(ups, TableUpdate{Table: t, Row: repr.Row(row), Diff: repr.Diff(d)})
	}
	return ts, ups, r.b, nil
}

// sourceWriteRecord is the framed source write record: the table write
// payload followed by the bindings.
func sourceWriteRecord(ts repr.Timestamp, ups []TableUpdate, bs []Binding) []byte {
	p := tableWriteRecord(ts, ups)
	p = binary.AppendUvarint(p, uint64(len(bs)))
	for _, b := range bs {
		e := encodeBinding(b)
		p = binary.AppendUvarint(p, uint64(len(e)))
		p = append(p, e...)
	}
	finishFrame(p, RecSourceWrite)
	return p
}

// decodeSourceWrite decodes a source write record's payload.
func decodeSourceWrite(p []byte) (repr.Timestamp, []TableUpdate, []Binding, error) {
	ts, ups, rest, err := decodeTableWriteRest(p)
	if err != nil {
		return 0, nil, nil, err
	}
	r := reader{b: rest}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(rest)) {
		return 0, nil, nil, fmt.Errorf("storage: corrupt source write")
	}
	bs := make([]Binding, 0, n)
	for i := uint64(0); i < n; i++ {
		e := r.bytes()
		if r.err != nil {
			return 0, nil, nil, r.err
		}
		b, err := decodeBinding(e)
		if err != nil {
			return 0, nil, nil, err
		}
		bs = append(bs, b)
	}
	return ts, ups, bs, nil
}

func encodeBinding(b Binding) []byte {
	p := binary.AppendUvarint(nil, b.Source)
	p = binary.AppendUvarint(p, uint64(b.Time))
	p = binary.AppendUvarint(p, uint64(len(b.Positions)))
	return append(p, b.Positions...)
}

func decodeBinding(p []byte) (Binding, error) {
	r := reader{b: p}
	b := Binding{Source: r.uvarint(), Time: repr.Timestamp(r.uvarint())}
	b.Positions = r.bytes()
	return b, r.err
}

// Chunk kinds.
const (
	chunkData  = 0
	chunkAbort = 1
)

// sourceChunkRecord is the framed source chunk record of source's updates
// ups (kind chunkData), or the abort of its pending chunks (chunkAbort,
// no updates).
func sourceChunkRecord(source uint64, kind byte, ups []TableUpdate) []byte {
	size := frameHeader + 22
	for _, u := range ups {
		size += len(u.Row) + 14
	}
	p := make([]byte, frameHeader, size)
	p = binary.AppendUvarint(p, source)
	p = append(p, kind)
	p = binary.AppendUvarint(p, uint64(len(ups)))
	for _, u := range ups {
		p = appendTableUpdate(p, u)
	}
	finishFrame(p, RecSourceChunk)
	return p
}

// decodeSourceChunk decodes a source chunk record's payload. The rows
// alias p.
func decodeSourceChunk(p []byte) (source uint64, kind byte, ups []TableUpdate, err error) {
	r := reader{b: p}
	source = r.uvarint()
	if r.err != nil || len(r.b) == 0 {
		return 0, 0, nil, fmt.Errorf("storage: corrupt source chunk")
	}
	kind = r.b[0]
	r.b = r.b[1:]
	n := r.uvarint()
	if r.err != nil || kind > chunkAbort || n > uint64(len(p)) || (kind == chunkAbort && n != 0) {
		return 0, 0, nil, fmt.Errorf("storage: corrupt source chunk")
	}
	ups = make([]TableUpdate, 0, n)
	for i := uint64(0); i < n; i++ {
		t := r.uvarint()
		d := r.varint()
		row := r.bytes()
		if r.err != nil {
			return 0, 0, nil, r.err
		}
		ups = append(ups, TableUpdate{Table: t, Row: repr.Row(row), Diff: repr.Diff(d)})
	}
	if len(r.b) != 0 {
		return 0, 0, nil, fmt.Errorf("storage: corrupt source chunk")
	}
	return source, kind, ups, nil
}
