package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// copyFormat is CopyOptions with defaults applied.
type copyFormat struct {
	csv    bool
	binary bool
	delim  byte
	null   string
	header bool
	quote  byte
	escape byte
}

func resolveCopyOptions(o CopyOptions) (copyFormat, error) {
	if o.Format == CopyBinary {
		for _, opt := range []struct {
			name string
			set  bool
		}{{"DELIMITER", o.Delimiter != ""}, {"NULL", o.Null != ""}, {"HEADER", o.Header}, {"QUOTE", o.Quote != ""}, {"ESCAPE", o.Escape != ""}} {
			if opt.set {
				return copyFormat{}, pgcode.New(pgcode.SyntaxError, "cannot specify %s in BINARY mode", opt.name)
			}
		}
		return copyFormat{binary: true}, nil
	}
	f := copyFormat{csv: o.Format == CopyCSV, delim: '\t', null: `\N`, header: o.Header, quote: '"'}
	if f.csv {
		f.delim, f.null = ',', ""
	}
	if o.Null != "" {
		f.null = o.Null
	}
	one := func(name, v string, dst *byte) error {
		if v == "" {
			return nil
		}
		if len(v) != 1 {
			return pgcode.New(pgcode.FeatureNotSupported, "COPY %s must be a single one-byte character", name)
		}
		*dst = v[0]
		return nil
	}
	if err := one("delimiter", o.Delimiter, &f.delim); err != nil {
		return f, err
	}
	if err := one("quote", o.Quote, &f.quote); err != nil {
		return f, err
	}
	f.escape = f.quote
	if err := one("escape", o.Escape, &f.escape); err != nil {
		return f, err
	}
	if f.delim == '\n' || f.delim == '\r' || (!f.csv && f.delim == '\\') {
		return f, pgcode.New(pgcode.InvalidParameterValue, "COPY delimiter cannot be newline, carriage return or backslash")
	}
	return f, nil
}

// appendCopyText appends one field in COPY text format: backslash escapes
// for backslash, the delimiter and control characters.
func appendCopyText(buf []byte, s string, delim byte) []byte {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\v':
			buf = append(buf, '\\', 'v')
		default:
			if ch == delim {
				buf = append(buf, '\\')
			}
			buf = append(buf, ch)
		}
	}
	return buf
}

// appendCopyCSV appends one field in CSV format, quoted when it holds the
// delimiter, quote, a line break, or would read back as NULL.
func appendCopyCSV(buf []byte, s string, f copyFormat) []byte {
	needs := s == f.null || strings.IndexByte(s, f.delim) >= 0 || strings.IndexByte(s, f.quote) >= 0 ||
		strings.ContainsAny(s, "\r\n") || (s == `\.`)
	if !needs {
		return append(buf, s...)
	}
	buf = append(buf, f.quote)
	for i := 0; i < len(s); i++ {
		if s[i] == f.quote || s[i] == f.escape {
			buf = append(buf, f.escape)
		}
		buf = append(buf, s[i])
	}
	return append(buf, f.quote)
}

// copyOut sends a COPY TO STDOUT: one CopyData per row.
func (c *conn) copyOut(ctx context.Context, co *CopyOut) error {
	defer co.Rows.Close()
	f, err := resolveCopyOptions(co.Options)
	if err != nil {
		return err
	}
	n := co.Desc.Arity()
	overall, codes := copyFormatCodes(f, n)
	c.be.Send(&pgproto3.CopyOutResponse{OverallFormat: overall, ColumnFormatCodes: codes})
	streaming := false
	if s, ok := co.Rows.(Streaming); ok {
		streaming = s.Streaming()
	}
	if err := c.flush(); err != nil {
		return errClientGone
	}
	var line, val []byte
	if f.binary {
		line = appendBinaryCopyHeader(line)
	}
	if f.csv && f.header {
		for i := range n {
			if i > 0 {
				line = append(line, f.delim)
			}
			name := ""
			if i < len(co.Desc.Names) {
				name = co.Desc.Names[i]
			}
			line = appendCopyCSV(line, name, f)
		}
		line = append(line, '\n')
		c.be.Send(&pgproto3.CopyData{Data: line})
	}
	count := 0
	for {
		row, err := co.Rows.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return classify(ctx, err)
		}
		if f.binary {
			if line, err = appendBinaryCopyRow(line, row, co.Desc); err != nil {
				return err
			}
		} else if line, err = c.appendTextCopyRow(line[:0], &val, row, co.Desc, f); err != nil {
			return err
		}
		c.drainPending()
		c.be.Send(&pgproto3.CopyData{Data: line})
		count++
		c.unflushed += len(line) + 5
		line = line[:0]
		if streaming || c.unflushed >= flushThreshold {
			// A source that does not watch its context (rows already
			// computed) still stops at the next flush.
			if err := ctx.Err(); err != nil {
				return classify(ctx, err)
			}
			if err := c.flush(); err != nil {
				return errClientGone
			}
		}
	}
	if f.binary {
		c.be.Send(&pgproto3.CopyData{Data: binary.BigEndian.AppendUint16(line, 0xFFFF)})
	}
	c.be.Send(&pgproto3.CopyDone{})
	c.drainPending()
	c.be.Send(&pgproto3.CommandComplete{CommandTag: fmt.Appendf(nil, "COPY %d", count)})
	return nil
}

// copyFormatCodes are the overall and per-column format codes that
// CopyOutResponse and CopyInResponse announce for n columns: 0 (text) or
// 1 (binary).
func copyFormatCodes(f copyFormat, n int) (byte, []uint16) {
	codes := make([]uint16, n)
	if !f.binary {
		return 0, codes
	}
	for i := range codes {
		codes[i] = 1
	}
	return 1, codes
}

// appendTextCopyRow appends row as one line of COPY text or CSV; *val is
// scratch space for each value's text.
func (c *conn) appendTextCopyRow(line []byte, val *[]byte, row repr.Row, desc repr.RelationDesc, f copyFormat) ([]byte, error) {
	err := eachCopyDatum(row, desc.Arity(), func(i int, d repr.Datum) error {
		if i > 0 {
			line = append(line, f.delim)
		}
		if d.IsNull() {
			line = append(line, f.null...)
			return nil
		}
		*val = c.text.appendText((*val)[:0], d, desc.Types[i].Type)
		if f.csv {
			line = appendCopyCSV(line, string(*val), f)
		} else {
			line = appendCopyText(line, string(*val), f.delim)
		}
		return nil
	})
	return append(line, '\n'), err
}

// eachCopyDatum calls fn for each datum of row, which must have n.
func eachCopyDatum(row repr.Row, n int, fn func(i int, d repr.Datum) error) error {
	it := row.Iter()
	for i := 0; ; i++ {
		d, ok := it.Next()
		if !ok {
			if it.Err() != nil || i != n {
				return pgcode.New(pgcode.InternalError, "malformed COPY row: %d columns, expected %d", i, n)
			}
			return nil
		}
		if i >= n {
			return pgcode.New(pgcode.InternalError, "COPY row has more than %d columns", n)
		}
		if err := fn(i, d); err != nil {
			return err
		}
	}
}

// copyBatch is the number of rows handed to a CopySink at once.
const copyBatch = 1024

// copyIn receives a COPY FROM STDIN. On error the sink is aborted and the
// error returned; the client's remaining CopyData messages are then
// ignored by the main loop.
func (c *conn) copyIn(ctx context.Context, ci *CopyIn) (err error) {
	f, err := resolveCopyOptions(ci.Options)
	if err != nil {
		ci.Sink.Abort(err)
		return err
	}
	defer func() {
		if err != nil {
			ci.Sink.Abort(err)
		}
	}()
	n := ci.Desc.Arity()
	overall, codes := copyFormatCodes(f, n)
	c.be.Send(&pgproto3.CopyInResponse{OverallFormat: overall, ColumnFormatCodes: codes})
	if err := c.flush(); err != nil {
		return errClientGone
	}
	p := copyParser{f: f, desc: &ci.Desc, skipHeader: f.csv && f.header}
	var batch []repr.Row
	count := 0
	emit := func(final bool) error {
		for {
			row, ok, err := p.next(final)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			batch = append(batch, row)
			count++
		}
		if len(batch) >= copyBatch || (final && len(batch) > 0) {
			if err := ci.Sink.Append(ctx, batch); err != nil {
				return classify(ctx, err)
			}
			batch = batch[:0]
			p.slab = make([]byte, 0, cap(p.slab))
		}
		return nil
	}
	for {
		msg, err := c.be.Receive()
		if err != nil {
			if ce := classify(ctx, err); ce != err {
				return ce
			}
			return errClientGone
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			p.buf = append(p.buf, m.Data...)
			if err := emit(false); err != nil {
				return err
			}
		case *pgproto3.CopyDone:
			if err := emit(true); err != nil {
				return err
			}
			if err := ci.Sink.Commit(ctx); err != nil {
				return classify(ctx, err)
			}
			c.drainPending()
			c.be.Send(&pgproto3.CommandComplete{CommandTag: fmt.Appendf(nil, "COPY %d", count)})
			return nil
		case *pgproto3.CopyFail:
			return pgcode.New(pgcode.QueryCanceled, "COPY from stdin failed: %s", m.Message)
		case *pgproto3.Flush, *pgproto3.Sync:
			// Ignored during COPY FROM STDIN, as in PostgreSQL.
		case *pgproto3.Terminate:
			return errTerminate
		default:
			return pgcode.New(pgcode.ProtocolViolation, "unexpected message type %T during COPY from stdin", msg)
		}
		if ctx.Err() != nil {
			return classify(ctx, ctx.Err())
		}
	}
}

// copyParser splits COPY input into records and records into typed rows.
type copyParser struct {
	f          copyFormat
	desc       *repr.RelationDesc
	buf        []byte
	line       int // number of the record being parsed (1-based)
	skipHeader bool
	ended      bool // saw the \. end-of-data marker
	fields     []copyField
	pack       repr.Packer
	slab       []byte   // the current batch's rows
	sawHeader  bool     // binary: the header was read
	binFields  [][]byte // binary: the current tuple's fields (nil: NULL)
}

type copyField struct {
	val  string
	null bool
}

// next returns the next complete row in p.buf. With final, the rest of
// the buffer is the last record even without a line terminator.
func (p *copyParser) next(final bool) (repr.Row, bool, error) {
	if p.f.binary {
		return p.nextBinary(final)
	}
	for {
		if p.ended {
			p.buf = p.buf[:0]
			return nil, false, nil
		}
		p.line++ // the line the record starts on, for errors
		fields, consumed, ok, err := p.record(final)
		if err != nil {
			return nil, false, p.errAt(err, "")
		}
		if !ok {
			p.line--
			return nil, false, nil
		}
		p.buf = p.buf[consumed:]
		if fields == nil {
			// End-of-data marker.
			p.ended = true
			continue
		}
		if p.skipHeader {
			p.skipHeader = false
			continue
		}
		row, err := p.row(fields)
		return row, err == nil, err
	}
}

// errAt adds the COPY line (and column) to an input error.
func (p *copyParser) errAt(err error, column string) error {
	pe := pgcode.As(err)
	where := fmt.Sprintf("COPY line %d", p.line)
	if column != "" {
		where += fmt.Sprintf(", column %s", column)
	}
	out := &pgcode.Error{Code: pe.Code, Message: pe.Message, Hint: pe.Hint, Detail: where}
	if pe.Detail != "" {
		out.Detail = pe.Detail + "\n" + where
	}
	return out
}

func errCopyFormat(format string, args ...any) error {
	return pgcode.New("22P04", format, args...) // bad_copy_file_format
}

// row converts a record's fields to a row of the target's types.
func (p *copyParser) row(fields []copyField) (repr.Row, error) {
	n := p.desc.Arity()
	colName := func(i int) string {
		if i < len(p.desc.Names) {
			return p.desc.Names[i]
		}
		return fmt.Sprint(i + 1)
	}
	if len(fields) > n {
		return nil, p.errAt(errCopyFormat("extra data after last expected column"), "")
	}
	if len(fields) < n {
		return nil, p.errAt(errCopyFormat("missing data for column %q", colName(len(fields))), colName(len(fields)))
	}
	p.pack.Reset()
	for i, fl := range fields {
		if fl.null {
			p.pack.Push(repr.Null)
			continue
		}
		if !utf8.ValidString(fl.val) {
			return nil, p.errAt(errInvalidUTF8(), colName(i))
		}
		d, err := repr.ParseText(fl.val, p.desc.Types[i].Type)
		if err != nil {
			return nil, p.errAt(err, colName(i))
		}
		p.pack.Push(d)
	}
	// Rows of a batch share one slab, which the sink takes with the
	// batch.
	start := len(p.slab)
	p.slab = append(p.slab, p.pack.Row()...)
	return repr.Row(p.slab[start:len(p.slab):len(p.slab)]), nil
}

// record splits the next record off p.buf. It returns nil fields for the
// end-of-data marker, ok=false when the record is not complete yet.
func (p *copyParser) record(final bool) (fields []copyField, consumed int, ok bool, err error) {
	b := p.buf
	if len(b) == 0 {
		return nil, 0, false, nil
	}
	if p.f.csv {
		return p.csvRecord(b, final)
	}
	end := bytes.IndexByte(b, '\n')
	next := end + 1
	if end < 0 {
		if !final {
			return nil, 0, false, nil
		}
		end, next = len(b), len(b)
	}
	line := b[:end]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if string(line) == `\.` {
		return nil, next, true, nil
	}
	p.fields = p.fields[:0]
	start := 0
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] == '\\' {
			i++ // an escaped byte never ends a field
			continue
		}
		if i == len(line) || line[i] == p.f.delim {
			// The field's bytes are not copied: the record is parsed and
			// packed (copied) into its row before p.buf changes.
			raw := unsafe.String(unsafe.SliceData(line[start:i]), i-start)
			if raw == p.f.null {
				p.fields = append(p.fields, copyField{null: true})
			} else {
				v, err := unescapeCopyText(raw)
				if err != nil {
					return nil, 0, false, err
				}
				p.fields = append(p.fields, copyField{val: v})
			}
			start = i + 1
		}
	}
	return p.fields, next, true, nil
}

// unescapeCopyText undoes COPY text escapes (repr.UnescapeCopyText).
func unescapeCopyText(s string) (string, error) {
	out, ok := repr.UnescapeCopyText(s)
	if !ok {
		return "", errCopyFormat("unterminated escape sequence at end of line")
	}
	return out, nil
}

// csvRecord splits one CSV record; quoted fields may span lines.
func (p *copyParser) csvRecord(b []byte, final bool) ([]copyField, int, bool, error) {
	f := p.f
	p.fields = p.fields[:0]
	var val []byte
	quoted, inQuotes, fieldStart := false, false, true
	i := 0
	endField := func() {
		s := string(val)
		if !quoted && s == f.null {
			p.fields = append(p.fields, copyField{null: true})
		} else {
			p.fields = append(p.fields, copyField{val: s})
		}
		val, quoted, fieldStart = val[:0], false, true
	}
	for {
		if i >= len(b) {
			if !final {
				return nil, 0, false, nil
			}
			if inQuotes {
				return nil, 0, false, errCopyFormat("unterminated CSV quoted field")
			}
			if fieldStart && len(p.fields) == 0 && len(val) == 0 {
				return nil, i, false, nil
			}
			endField()
			return p.fields, i, true, nil
		}
		ch := b[i]
		switch {
		case inQuotes:
			switch {
			case ch == f.escape && f.escape != f.quote && i+1 < len(b) && (b[i+1] == f.quote || b[i+1] == f.escape):
				val = append(val, b[i+1])
				i += 2
				continue
			case ch == f.escape && f.escape == f.quote && i+1 < len(b) && b[i+1] == f.quote:
				val = append(val, f.quote)
				i += 2
				continue
			case ch == f.quote:
				if i+1 >= len(b) && !final {
					return nil, 0, false, nil // "" may continue in the next chunk
				}
				inQuotes = false
			default:
				val = append(val, ch)
			}
		case ch == f.quote && fieldStart && len(val) == 0:
			inQuotes, quoted = true, true
		case ch == f.delim:
			endField()
			i++
			continue
		case ch == '\n' || ch == '\r':
			if len(p.fields) == 0 && !quoted && string(val) == `\.` {
				return nil, i + lineEndLen(b, i), true, nil
			}
			n := lineEndLen(b, i)
			if ch == '\r' && i+1 >= len(b) && !final {
				return nil, 0, false, nil // maybe \r\n across chunks
			}
			endField()
			return p.fields, i + n, true, nil
		default:
			val = append(val, ch)
		}
		fieldStart = false
		i++
	}
}

func lineEndLen(b []byte, i int) int {
	if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
		return 2
	}
	return 1
}
