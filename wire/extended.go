package wire

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// prepared is a named or unnamed prepared statement (Parse).
type prepared struct {
	sql        string
	stmt       Statement
	paramTypes []repr.ScalarType
	paramOIDs  []uint32 // as declared by the client (0: inferred)
}

// portal is a bound statement (Bind), executed by Execute, possibly in
// several row-limited steps.
type portal struct {
	stmt   *prepared
	params []repr.Datum
	cols   *columns // nil when the statement returns no rows

	started bool
	done    bool
	res     Result // a suspended row stream once started
}

func (c *conn) closePortal(name string) {
	p := c.portals[name]
	if p == nil {
		return
	}
	if p.started && !p.done && p.res.Rows != nil {
		p.res.Rows.Close()
	}
	delete(c.portals, name)
}

// handleExtended handles Parse, Bind, Describe, Execute and Close. Errors
// put the connection in skip-to-Sync state.
func (c *conn) handleExtended(msg pgproto3.FrontendMessage) (fatal bool) {
	var err error
	sql := ""
	switch m := msg.(type) {
	case *pgproto3.Parse:
		sql = m.Query
		err = c.handleParse(m)
	case *pgproto3.Bind:
		err = c.handleBind(m)
	case *pgproto3.Describe:
		err = c.handleDescribe(m)
	case *pgproto3.Execute:
		var p *portal
		p, err = c.handleExecute(m)
		if p != nil {
			sql = p.stmt.sql
		}
	case *pgproto3.Close:
		switch m.ObjectType {
		case 'S':
			delete(c.stmts, m.Name)
		case 'P':
			c.closePortal(m.Name)
		default:
			err = pgcode.New(pgcode.ProtocolViolation, "invalid CLOSE message subtype %d", m.ObjectType)
		}
		if err == nil {
			c.be.Send(&pgproto3.CloseComplete{})
		}
	case *pgproto3.FunctionCall:
		err = pgcode.New(pgcode.FeatureNotSupported, "fastpath function calls are not supported")
	default:
		err = pgcode.New(pgcode.ProtocolViolation, "invalid frontend message type %T", msg)
	}
	if err == nil {
		return false
	}
	c.skipToSync = true
	return c.sendError(err, sql, 0)
}

// handleSync ends an extended-protocol unit: it leaves the error state,
// lets the session end its implicit transaction and sends ReadyForQuery.
// Portals do not outlive their transaction.
func (c *conn) handleSync() (fatal bool) {
	c.skipToSync = false
	ctx, done := c.beginRun()
	err := c.sess.Sync(ctx, c.failed)
	done()
	if err != nil && c.sendError(classify(ctx, err), "", 0) {
		return true
	}
	c.failed = false
	if c.sess.TxnStatus() == TxnIdle {
		c.closeAll()
	}
	c.drainPending()
	c.sendReady()
	return c.flush() != nil
}

func (c *conn) handleParse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return pgcode.New(pgcode.DuplicatePreparedStatement, "prepared statement %q already exists", m.Name)
		}
	} else {
		delete(c.stmts, "")
	}
	ctx, done := c.beginRun()
	defer done()
	stmt, err := c.sess.Prepare(ctx, m.Query, m.ParameterOIDs)
	if err != nil {
		return classify(ctx, err)
	}
	types := stmt.ParamTypes()
	if len(types) < len(m.ParameterOIDs) {
		return pgcode.New(pgcode.ProtocolViolation, "statement takes %d parameters, but %d parameter types were declared", len(types), len(m.ParameterOIDs))
	}
	p := &prepared{sql: m.Query, stmt: stmt, paramTypes: types, paramOIDs: make([]uint32, len(types))}
	copy(p.paramOIDs, m.ParameterOIDs)
	c.stmts[m.Name] = p
	c.be.Send(&pgproto3.ParseComplete{})
	return nil
}

// formatFor returns the format code of item i given a Bind format list:
// none means text for all, one applies to all, else one per item.
func formatFor(codes []int16, i int) int16 {
	switch len(codes) {
	case 0:
		return 0
	case 1:
		return codes[0]
	}
	return codes[i]
}

func (c *conn) handleBind(m *pgproto3.Bind) error {
	ps := c.stmts[m.PreparedStatement]
	if ps == nil {
		return pgcode.New(pgcode.InvalidSQLStatementName, "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, ok := c.portals[m.DestinationPortal]; ok {
			return pgcode.New(pgcode.DuplicateCursor, "portal %q already exists", m.DestinationPortal)
		}
	} else {
		c.closePortal("")
	}
	if len(m.Parameters) != len(ps.paramTypes) {
		return pgcode.New(pgcode.ProtocolViolation, "bind message supplies %d parameters, but prepared statement %q requires %d",
			len(m.Parameters), m.PreparedStatement, len(ps.paramTypes))
	}
	if n := len(m.ParameterFormatCodes); n > 1 && n != len(m.Parameters) {
		return pgcode.New(pgcode.ProtocolViolation, "bind message has %d parameter formats but %d parameters", n, len(m.Parameters))
	}
	params := make([]repr.Datum, len(m.Parameters))
	for i, raw := range m.Parameters {
		if raw == nil {
			continue
		}
		t := ps.paramTypes[i]
		var d repr.Datum
		var err error
		switch formatFor(m.ParameterFormatCodes, i) {
		case 0:
			if err = checkUTF8(raw); err == nil {
				if t.Kind == repr.KindNull {
					t = repr.TypeText
				}
				d, err = repr.ParseText(string(raw), t)
			}
		case 1:
			d, err = decodeBinary(raw, t, ps.paramOIDs[i])
		default:
			return pgcode.New(pgcode.ProtocolViolation, "unsupported format code: %d", formatFor(m.ParameterFormatCodes, i))
		}
		if err != nil {
			pe := pgcode.As(err)
			return &pgcode.Error{Code: pe.Code, Message: pe.Message, Hint: pe.Hint,
				Detail: fmt.Sprintf("while decoding parameter $%d", i+1)}
		}
		params[i] = d
	}
	p := &portal{stmt: ps, params: params}
	if desc := ps.stmt.Columns(); desc != nil {
		if n := len(m.ResultFormatCodes); n > 1 && n != desc.Arity() {
			return pgcode.New(pgcode.ProtocolViolation, "bind message has %d result formats but query has %d columns", n, desc.Arity())
		}
		cols, err := newColumns(desc, m.ResultFormatCodes)
		if err != nil {
			return err
		}
		p.cols = cols
	}
	c.portals[m.DestinationPortal] = p
	c.be.Send(&pgproto3.BindComplete{})
	return nil
}

func (c *conn) handleDescribe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		ps := c.stmts[m.Name]
		if ps == nil {
			return pgcode.New(pgcode.InvalidSQLStatementName, "prepared statement %q does not exist", m.Name)
		}
		oids := make([]uint32, len(ps.paramTypes))
		for i, t := range ps.paramTypes {
			oids[i] = t.Oid()
			if oids[i] == repr.OidUnknown {
				// An untyped parameter is sent and received as text.
				oids[i] = repr.OidText
			}
		}
		c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: oids})
		desc := ps.stmt.Columns()
		if desc == nil {
			c.be.Send(&pgproto3.NoData{})
			return nil
		}
		cols, err := newColumns(desc, nil)
		if err != nil {
			return err
		}
		c.be.Send(cols.rowDescription())
	case 'P':
		p := c.portals[m.Name]
		if p == nil {
			return pgcode.New(pgcode.InvalidCursorName, "portal %q does not exist", m.Name)
		}
		if p.cols == nil {
			c.be.Send(&pgproto3.NoData{})
			return nil
		}
		c.be.Send(p.cols.rowDescription())
	default:
		return pgcode.New(pgcode.ProtocolViolation, "invalid DESCRIBE message subtype %d", m.ObjectType)
	}
	return nil
}

// handleExecute runs a portal, or resumes a suspended one, sending at most
// m.MaxRows rows.
func (c *conn) handleExecute(m *pgproto3.Execute) (*portal, error) {
	p := c.portals[m.Portal]
	if p == nil {
		return nil, pgcode.New(pgcode.InvalidCursorName, "portal %q does not exist", m.Portal)
	}
	ctx, done := c.beginRun()
	defer done()
	if p.done {
		// PostgreSQL runs a completed portal again as an empty fetch.
		if p.cols != nil {
			c.be.Send(&pgproto3.CommandComplete{CommandTag: fmt.Appendf(nil, "%s 0", rowsTag(p.res.Tag))})
		} else {
			c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(p.res.Tag)})
		}
		return p, nil
	}
	if !p.started {
		res, err := c.sess.Execute(ctx, p.stmt.stmt, p.params, ExecuteOptions{Protocol: ProtocolExtended, StatementsInQuery: 1})
		if err != nil {
			p.done = true
			return p, classify(ctx, err)
		}
		p.started = true
		p.res = res
		c.drainPending()
		if res.Rows != nil && p.cols == nil {
			res.Rows.Close()
			p.done = true
			return p, errNoColumns()
		}
	}
	suspended, err := c.sendResult(ctx, p.res, p.cols, int(m.MaxRows))
	if !suspended {
		p.done = true
	}
	if err != nil {
		return p, err
	}
	return p, nil
}
