package wire

import (
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// columns is a result description with the format chosen for each column,
// and the buffers to encode rows with it.
type columns struct {
	desc    *repr.RelationDesc
	formats []int16
	buf     []byte
	ends    []int // end offset in buf of each value; -1 for NULL
}

// newColumns checks the result format codes (as Bind gives them) against
// desc.
func newColumns(desc *repr.RelationDesc, codes []int16) (*columns, error) {
	n := desc.Arity()
	// buf is never nil: an empty non-NULL value must be a non-nil slice.
	c := &columns{desc: desc, formats: make([]int16, n), buf: make([]byte, 0, 256)}
	for i := range n {
		f := formatFor(codes, i)
		if f != 0 && f != 1 {
			return nil, pgcode.New(pgcode.ProtocolViolation, "unsupported format code: %d", f)
		}
		c.formats[i] = f
	}
	return c, nil
}

// pgTypmod returns the atttypmod PostgreSQL reports: the declared length
// plus 4 (VARHDRSZ) for varchar/char, (p<<16|s)+4 for numeric, -1 else.
func pgTypmod(t repr.ScalarType) int32 {
	switch t.Kind {
	case repr.KindVarchar, repr.KindChar, repr.KindNumeric:
		if t.Typmod >= 0 {
			return t.Typmod + 4
		}
	}
	return -1
}

func (c *columns) rowDescription() *pgproto3.RowDescription {
	fields := make([]pgproto3.FieldDescription, c.desc.Arity())
	for i, ct := range c.desc.Types {
		name := "?column?"
		if i < len(c.desc.Names) && c.desc.Names[i] != "" {
			name = c.desc.Names[i]
		}
		fields[i] = pgproto3.FieldDescription{
			Name:         []byte(name),
			DataTypeOID:  ct.Type.Oid(),
			DataTypeSize: ct.Type.TypLen(),
			TypeModifier: pgTypmod(ct.Type),
			Format:       c.formats[i],
		}
		if i < len(c.desc.Origins) {
			fields[i].TableOID = c.desc.Origins[i].TableOID
			fields[i].TableAttributeNumber = uint16(c.desc.Origins[i].Attnum)
		}
	}
	return &pgproto3.RowDescription{Fields: fields}
}

// encode fills dr with row's values in the columns' formats and returns
// the encoded size. dr's values alias c's buffer until the next call.
func (c *columns) encode(dr *pgproto3.DataRow, row repr.Row, tf *textFormatter) (int, error) {
	c.buf = c.buf[:0]
	c.ends = c.ends[:0]
	it := row.Iter()
	for i := 0; ; i++ {
		d, ok := it.Next()
		if !ok {
			if it.Err() != nil {
				return 0, pgcode.Wrap(it.Err(), pgcode.InternalError, "malformed result row")
			}
			if i != c.desc.Arity() {
				return 0, pgcode.New(pgcode.InternalError, "result row has %d columns, expected %d", i, c.desc.Arity())
			}
			break
		}
		if i >= c.desc.Arity() {
			return 0, pgcode.New(pgcode.InternalError, "result row has more than %d columns", c.desc.Arity())
		}
		if d.IsNull() {
			c.ends = append(c.ends, -1)
			continue
		}
		t := c.desc.Types[i].Type
		if c.formats[i] == 1 {
			var err error
			if c.buf, err = appendBinary(c.buf, d, t); err != nil {
				return 0, err
			}
		} else {
			c.buf = tf.appendText(c.buf, d, t)
		}
		c.ends = append(c.ends, len(c.buf))
	}
	dr.Values = dr.Values[:0]
	start := 0
	for _, end := range c.ends {
		if end < 0 {
			dr.Values = append(dr.Values, nil)
			continue
		}
		dr.Values = append(dr.Values, c.buf[start:end:end])
		start = end
	}
	return len(c.buf) + 4*len(c.ends), nil
}
