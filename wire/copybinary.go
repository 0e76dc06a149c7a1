package wire

import (
	"bytes"
	"encoding/binary"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Binary COPY (PostgreSQL's "binary format" of COPY): an 11-byte
// signature, a 32-bit flags word (bit 16: rows carry OIDs, which viewd
// neither writes nor accepts), a 32-bit header-extension length and that
// many bytes; then each row as a 16-bit field count followed by each
// field as a 32-bit length (-1 for NULL) and the type's binary send form
// (appendBinary / decodeBinary); a field count of -1 ends the data.
// All integers are big-endian.

// binaryCopySignature opens every binary COPY stream.
var binaryCopySignature = []byte("PGCOPY\n\xff\r\n\x00")

// binaryCopyOIDs is the flags bit saying rows carry an OID field.
const binaryCopyOIDs = 1 << 16

// appendBinaryCopyHeader appends the signature, zero flags and an empty
// header extension.
func appendBinaryCopyHeader(buf []byte) []byte {
	buf = append(buf, binaryCopySignature...)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	return binary.BigEndian.AppendUint32(buf, 0)
}

// appendBinaryCopyRow appends row, of desc's types, as one binary COPY
// tuple.
func appendBinaryCopyRow(buf []byte, row repr.Row, desc repr.RelationDesc) ([]byte, error) {
	n := desc.Arity()
	buf = binary.BigEndian.AppendUint16(buf, uint16(n))
	err := eachCopyDatum(row, n, func(i int, d repr.Datum) error {
		if d.IsNull() {
			buf = binary.BigEndian.AppendUint32(buf, 0xFFFFFFFF)
			return nil
		}
		at := len(buf)
		buf = binary.BigEndian.AppendUint32(buf, 0) // length, set below
		var err error
		if buf, err = appendBinary(buf, d, desc.Types[i].Type); err != nil {
			return pgcode.New(pgcode.InternalError, "COPY BINARY column %d: %v", i+1, err)
		}
		binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		return nil
	})
	return buf, err
}

// nextBinary is next for the binary format: it returns the next complete
// tuple of p.buf as a row, ok=false when more input is needed (or the
// trailer was seen). With final, an incomplete tuple is an error.
func (p *copyParser) nextBinary(final bool) (repr.Row, bool, error) {
	if p.ended {
		p.buf = p.buf[:0]
		return nil, false, nil
	}
	if !p.sawHeader {
		consumed, ok, err := readBinaryCopyHeader(p.buf)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, p.binaryEOF(final)
		}
		p.buf, p.sawHeader = p.buf[consumed:], true
	}
	if len(p.buf) < 2 {
		return nil, false, p.binaryEOF(final)
	}
	count := int16(binary.BigEndian.Uint16(p.buf))
	if count == -1 {
		p.ended = true
		p.buf = p.buf[:0]
		return nil, false, nil
	}
	p.line++
	n := p.desc.Arity()
	if int(count) != n {
		return nil, false, p.errAt(errCopyFormat("row field count is %d, expected %d", count, n), "")
	}
	// Find the tuple's end before decoding, so that a tuple split across
	// CopyData messages is decoded once, whole.
	fields := p.binFields[:0]
	pos := 2
	for range n {
		if len(p.buf) < pos+4 {
			p.line--
			return nil, false, p.binaryEOF(final)
		}
		l := int32(binary.BigEndian.Uint32(p.buf[pos:]))
		pos += 4
		if l < -1 {
			return nil, false, p.errAt(errCopyFormat("invalid field size"), "")
		}
		if l == -1 {
			fields = append(fields, nil)
			continue
		}
		if len(p.buf) < pos+int(l) {
			p.line--
			return nil, false, p.binaryEOF(final)
		}
		fields = append(fields, p.buf[pos:pos+int(l):pos+int(l)])
		pos += int(l)
	}
	p.binFields = fields
	p.pack.Reset()
	for i, f := range fields {
		if f == nil {
			p.pack.Push(repr.Null)
			continue
		}
		t := p.desc.Types[i].Type
		d, err := decodeBinary(f, t, t.Oid())
		if err != nil {
			name := ""
			if i < len(p.desc.Names) {
				name = p.desc.Names[i]
			}
			return nil, false, p.errAt(err, name)
		}
		p.pack.Push(d)
	}
	p.buf = p.buf[pos:]
	start := len(p.slab)
	p.slab = append(p.slab, p.pack.Row()...)
	return repr.Row(p.slab[start:len(p.slab):len(p.slab)]), true, nil
}

// binaryEOF is the error for input that ends inside the header or a
// tuple: none until the input is final.
func (p *copyParser) binaryEOF(final bool) error {
	if !final || (len(p.buf) == 0 && p.sawHeader) {
		return nil
	}
	if !p.sawHeader && len(p.buf) < len(binaryCopySignature) {
		return errCopyFormat("COPY file signature not recognized")
	}
	return errCopyFormat("unexpected EOF in COPY data")
}

// readBinaryCopyHeader checks the header at the start of b and returns
// its length; ok=false when b does not hold all of it yet.
func readBinaryCopyHeader(b []byte) (int, bool, error) {
	sig := binaryCopySignature
	if !bytes.HasPrefix(b, sig[:min(len(b), len(sig))]) {
		return 0, false, errCopyFormat("COPY file signature not recognized")
	}
	if len(b) < len(sig)+8 {
		return 0, false, nil
	}
	flags := binary.BigEndian.Uint32(b[len(sig):])
	if flags&binaryCopyOIDs != 0 {
		return 0, false, pgcode.New(pgcode.FeatureNotSupported, "COPY BINARY input with OIDs is not supported")
	}
	if flags&0xFFFF0000&^binaryCopyOIDs != 0 {
		return 0, false, errCopyFormat("unrecognized critical flags in COPY file header")
	}
	ext := binary.BigEndian.Uint32(b[len(sig)+4:])
	end := len(sig) + 8 + int(ext)
	if int32(ext) < 0 {
		return 0, false, errCopyFormat("invalid COPY file header (wrong length)")
	}
	if len(b) < end {
		return 0, false, nil
	}
	return end, true, nil
}
