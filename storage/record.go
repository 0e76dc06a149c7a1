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

// frame appends a framed record of type t with payload p to buf.
func frame(buf []byte, t RecordType, p []byte) []byte {
	body := len(p) + 1
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(body))
	crc := crc32.Update(0, castagnoli, []byte{byte(t)})
	crc = crc32.Update(crc, castagnoli, p)
	binary.LittleEndian.PutUint32(hdr[4:8], crc)
	buf = append(buf, hdr[:]...)
	buf = append(buf, byte(t))
	return append(buf, p...)
}

// errTorn means the bytes at some offset are not a whole record with a
// matching checksum: the end of the log.
var errTorn = errors.New("storage: torn record")

func encodeTableWrite(ts repr.Timestamp, ups []TableUpdate) []byte {
	size := 20
	for _, u := range ups {
		size += len(u.Row) + 14
	}
	p := make([]byte, 0, size)
	p = binary.AppendUvarint(p, uint64(ts))
	p = binary.AppendUvarint(p, uint64(len(ups)))
	for _, u := range ups {
		p = appendTableUpdate(p, u)
	}
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
	r := reader{b: p}
	ts := repr.Timestamp(r.uvarint())
	n := r.uvarint()
	if r.err != nil {
		return 0, nil, r.err
	}
	if n > uint64(len(p)) {
		return 0, nil, fmt.Errorf("storage: corrupt table write")
	}
	ups := make([]TableUpdate, 0, n)
	for i := uint64(0); i < n; i++ {
		t := r.uvarint()
		d := r.varint()
		row := r.bytes()
		if r.err != nil {
			return 0, nil, r.err
		}
		ups = append(ups, TableUpdate{Table: t, Row: repr.Row(row), Diff: repr.Diff(d)})
	}
	return ts, ups, nil
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
